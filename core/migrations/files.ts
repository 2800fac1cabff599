/**
 * Migration files on disk: naming rules, checksums, reading a directory and
 * creating new files. Validation reports every problem at once.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { UsageError } from "../errors.ts";

export const FILE_PATTERN = /^(\d{14})_([a-z0-9_]+)\.sql$/;
const DIRECTIVE_NO_TX = /^\s*--\s*eve:no-transaction\b/;

export interface MigrationFile {
  /** File name, e.g. 20260101120000_create_users.sql (the history key). */
  name: string;
  /** The 14-digit version. */
  version: string;
  description: string;
  path: string;
  /** sha256 hex of the file's bytes. */
  checksum: string;
  /** sha256 hex after removing a BOM and turning CRLF into LF. */
  normalizedChecksum: string;
  /** File text (UTF-8, BOM removed). */
  text: string;
  /** First line is `-- eve:no-transaction`. */
  noTransactionDirective: boolean;
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function normalizeText(text: string): string {
  return text.replace(/^\uFEFF/, "").replace(/\r\n/g, "\n");
}

/** Problems with a list of file names: bad patterns and duplicate versions. */
export function validateNames(names: string[]): string[] {
  const problems: string[] = [];
  const byVersion = new Map<string, string[]>();
  for (const n of names) {
    const m = FILE_PATTERN.exec(n);
    if (!m) {
      problems.push(`${n}: name must match YYYYMMDDHHmmss_description.sql (lowercase a-z, 0-9, _)`);
      continue;
    }
    byVersion.set(m[1]!, [...(byVersion.get(m[1]!) ?? []), n]);
  }
  for (const [v, files] of byVersion) {
    if (files.length > 1) problems.push(`version ${v} is used by ${files.length} files: ${files.join(", ")}`);
  }
  return problems;
}

/**
 * Read and validate every *.sql file of a directory, sorted by version.
 * Throws a UsageError listing every bad name before any database work.
 */
export async function readMigrationDir(dir: string): Promise<MigrationFile[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(
      code === "ENOENT"
        ? `migrations directory not found: ${dir}`
        : code === "ENOTDIR"
          ? `migrations directory ${dir} is a file, not a directory`
          : `cannot read migrations directory ${dir}: ${(e as Error).message}`,
      { hint: "pass --path DIR or set MIGRATIONS_DIR; create it with `eve db new <description>`" },
    );
  }
  const names = entries.filter((n) => n.toLowerCase().endsWith(".sql")).sort();
  const problems = validateNames(names);
  if (problems.length) {
    throw new UsageError(`${problems.length} invalid migration file name${problems.length > 1 ? "s" : ""} in ${dir}: ${problems.join("; ")}`, {
      hint: "rename the files (example: 20260128100000_create_users.sql); nothing was applied",
      details: { problems },
    });
  }
  const files = await Promise.all(names.map((n) => readMigrationFile(join(dir, n), n)));
  return files.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

async function readMigrationFile(path: string, name: string): Promise<MigrationFile> {
  const bytes = new Uint8Array(await readFile(path));
  const m = FILE_PATTERN.exec(name)!;
  const raw = new TextDecoder().decode(bytes);
  const text = raw.replace(/^\uFEFF/, "");
  const firstLine = text.slice(0, text.indexOf("\n") === -1 ? undefined : text.indexOf("\n"));
  return {
    name,
    version: m[1]!,
    description: m[2]!,
    path,
    checksum: sha256(bytes),
    normalizedChecksum: sha256(normalizeText(raw)),
    text,
    noTransactionDirective: DIRECTIVE_NO_TX.test(firstLine),
  };
}

/** Normalise a free-text description to [a-z0-9_]. */
export function normalizeDescription(input: string): string {
  return input
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

/** UTC YYYYMMDDHHmmss of a date. */
export function formatVersion(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function versionToDate(v: string): Date {
  return new Date(
    Date.UTC(+v.slice(0, 4), +v.slice(4, 6) - 1, +v.slice(6, 8), +v.slice(8, 10), +v.slice(10, 12), +v.slice(12, 14)),
  );
}

/** The version for a new file: now, or one second after the newest existing one. */
export function nextVersion(now: Date, existing: string[]): string {
  const candidate = formatVersion(now);
  const newest = existing.filter((v) => /^\d{14}$/.test(v)).sort().pop();
  if (!newest || candidate > newest) return candidate;
  return formatVersion(new Date(versionToDate(newest).getTime() + 1000));
}

/** Create a new empty migration file; never overwrites. Returns its path. */
export async function createMigrationFile(dir: string, description: string, now: Date): Promise<string> {
  const desc = normalizeDescription(description);
  if (!desc) {
    throw new UsageError(`description "${description}" has no letters or digits`, {
      hint: "example: eve db new create_users_table",
    });
  }
  await mkdir(dir, { recursive: true });
  const existing = (await readdir(dir)).map((n) => /^(\d{14})_/.exec(n)?.[1]).filter((v): v is string => !!v);
  const version = nextVersion(now, existing);
  const name = `${version}_${desc}.sql`;
  const path = join(dir, name);
  const body = `-- ${name}\n-- created ${now.toISOString()}\n-- Runs in one transaction. Put "-- eve:no-transaction" on the first line for\n-- statements such as CREATE INDEX CONCURRENTLY.\n\n`;
  try {
    await writeFile(path, body, { flag: "wx" });
  } catch (e) {
    if ((e as { code?: string }).code === "EEXIST") {
      throw new UsageError(`${path} already exists; not overwriting`);
    }
    throw e;
  }
  return resolve(path);
}

/**
 * For commands that compare the history with files when they can (`migrations`, `status`):
 * the directory from --path or MIGRATIONS_DIR must exist; the default db/migrations is
 * used only if present. Returns null when there is nothing to compare with.
 */
export async function readOptionalMigrationDir(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<{ directory: string; files: MigrationFile[] } | null> {
  const directory = flag ?? (env.MIGRATIONS_DIR || "db/migrations");
  const abs = resolve(cwd, directory);
  const explicit = flag !== undefined || !!env.MIGRATIONS_DIR;
  if (!explicit && !(await stat(abs).then((s) => s.isDirectory(), () => false))) return null;
  return { directory, files: await readMigrationDir(abs) };
}
