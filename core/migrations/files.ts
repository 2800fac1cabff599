/**
 * Migration files on disk: naming rules, checksums, reading a directory and
 * creating new files. Validation reports every problem at once.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { migrationsDirChoice } from "../config.ts";
import { z } from "zod";
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
export interface NameProblems {
  /** Names that do not match the pattern. */
  badNames: string[];
  /** Versions used by more than one file. */
  duplicates: Array<{ version: string; files: string[] }>;
}

export function validateNames(names: string[]): NameProblems {
  const badNames: string[] = [];
  const byVersion = new Map<string, string[]>();
  for (const n of names) {
    const m = FILE_PATTERN.exec(n);
    if (!m) {
      badNames.push(n);
      continue;
    }
    byVersion.set(m[1]!, [...(byVersion.get(m[1]!) ?? []), n]);
  }
  const duplicates = [...byVersion].filter(([, files]) => files.length > 1).map(([version, files]) => ({ version, files }));
  return { badNames, duplicates };
}

const plural = (n: number, one: string, many = one + "s") => `${n} ${n === 1 ? one : many}`;

/** The name report: a header counting bad names and duplicate groups, then one line per problem. */
export function nameProblemsError(dir: string, p: NameProblems): UsageError | undefined {
  if (!p.badNames.length && !p.duplicates.length) return undefined;
  const parts: string[] = [];
  if (p.badNames.length) parts.push(plural(p.badNames.length, "invalid migration file name"));
  if (p.duplicates.length) {
    const files = p.duplicates.reduce((n, d) => n + d.files.length, 0);
    parts.push(`${plural(p.duplicates.length, "duplicate version")} (${plural(files, "file")})`);
  }
  const lines = [
    ...p.badNames.map((n) => `  ${n}`),
    ...p.duplicates.map((d) => `  version ${d.version} is used by ${d.files.join(", ")}`),
  ];
  return new UsageError(`${parts.join(" and ")} in ${dir}:`, {
    context: lines,
    hint: p.badNames.length
      ? "names must match YYYYMMDDHHmmss_description.sql (lowercase a-z, 0-9, _), e.g. 20260128100000_create_users.sql; nothing was applied"
      : "give each file its own version (eve db new makes one); nothing was applied",
    details: { badNames: p.badNames, duplicateVersions: p.duplicates },
  });
}

/**
 * The first byte of `bytes` that is not part of valid UTF-8, with its 1-based
 * line, or undefined when the whole buffer is valid.
 */
export function findInvalidUtf8(bytes: Uint8Array): { offset: number; line: number } | undefined {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return undefined;
  } catch {
    /* locate it below */
  }
  let line = 1;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      if (b === 10) line++;
      i++;
      continue;
    }
    // Sequence length and the allowed range of the second byte (no overlongs, surrogates or > U+10FFFF).
    let len = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return { offset: i, line };
    for (let k = 1; k < len; k++) {
      const c = bytes[i + k];
      const [min, max] = k === 1 ? [lo, hi] : [0x80, 0xbf];
      if (c === undefined || c < min || c > max) return { offset: i, line };
    }
    i += len;
  }
  return undefined;
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
  const bad = nameProblemsError(dir, validateNames(names));
  if (bad) throw bad;
  const read = await Promise.all(names.map((n) => readMigrationFile(join(dir, n), n)));
  // Every file that is not valid UTF-8, at once, before any database work.
  const invalid = read.filter((r): r is { invalid: string } => "invalid" in r).map((r) => r.invalid);
  if (invalid.length) {
    throw new UsageError(
      invalid.length === 1 ? invalid[0]! : `${invalid.length} migration files are not valid UTF-8 in ${dir}:`,
      {
        ...(invalid.length > 1 ? { context: invalid.map((i) => `  ${i}`) } : {}),
        hint: "save the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8 in > out); byte offsets count from 0; nothing was applied",
        details: { invalidUtf8: invalid },
      },
    );
  }
  const files = read.filter((r): r is MigrationFile => !("invalid" in r));
  return files.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

async function readMigrationFile(path: string, name: string): Promise<MigrationFile | { invalid: string }> {
  const bytes = new Uint8Array(await readFile(path));
  const bad = findInvalidUtf8(bytes);
  if (bad) {
    return { invalid: `${name}: invalid UTF-8 byte 0x${bytes[bad.offset]!.toString(16).padStart(2, "0")} at line ${bad.line}, byte offset ${bad.offset}` };
  }
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

/** A migration file as data, as operations take it: its name and its whole text (see filesFromEntries). */
export const MigrationEntry = z.object({ name: z.string().max(255), sql: z.string() });

/** Optional files to compare a history with (null: the history alone) and where they came from (for messages). */
export const ComparedFiles = z.object({
  migrations: z.array(MigrationEntry).max(100_000).nullable().default(null),
  directory: z.string().max(4096).nullable().default(null),
});

/**
 * Migration files that travelled as data (`{name, sql}`: the control plane's
 * migrate and migrations): the same name rules, checksums and directive as
 * files read from disk, computed here and never taken from the sender. `sql`
 * is the file's whole text as decoded from UTF-8 (a BOM kept), so the checksum
 * equals the one of the file's bytes. `label` names the source in messages.
 */
export function filesFromEntries(entries: ReadonlyArray<{ name: string; sql: string }>, label: string): MigrationFile[] {
  const bad = nameProblemsError(label, validateNames(entries.map((e) => e.name)));
  if (bad) throw bad;
  const broken = entries.filter((e) => !e.sql.isWellFormed()).map((e) => e.name);
  if (broken.length) {
    throw new UsageError(`${broken.length === 1 ? `${broken[0]} is` : `${broken.length} migrations are`} not valid Unicode text (a lone surrogate)`, {
      hint: "send each file's text as decoded from UTF-8; nothing was applied",
      details: { invalidText: broken },
    });
  }
  const files = entries.map(({ name, sql }): MigrationFile => {
    const m = FILE_PATTERN.exec(name)!;
    const text = sql.replace(/^\uFEFF/, "");
    const nl = text.indexOf("\n");
    return {
      name,
      version: m[1]!,
      description: m[2]!,
      path: `${label}/${name}`,
      checksum: sha256(sql),
      normalizedChecksum: sha256(normalizeText(sql)),
      text,
      noTransactionDirective: DIRECTIVE_NO_TX.test(nl === -1 ? text : text.slice(0, nl)),
    };
  });
  return files.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** The text to send for a file read from disk: its decoded text with the BOM it had (see filesFromEntries). */
export function entryOf(f: MigrationFile): { name: string; sql: string } {
  return { name: f.name, sql: sha256(f.text) === f.checksum ? f.text : "\uFEFF" + f.text };
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
  const { directory, explicit } = migrationsDirChoice(flag, env);
  const abs = resolve(cwd, directory);
  if (!explicit && !(await stat(abs).then((s) => s.isDirectory(), () => false))) return null;
  return { directory, files: await readMigrationDir(abs) };
}
