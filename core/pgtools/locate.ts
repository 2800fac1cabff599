/**
 * Finding pg_dump / pg_restore / psql. Candidates, in order of preference:
 * $EVE_PG_BIN (when set, the only place looked at), then each PATH entry, then
 * the well-known install directories (newest version first). The first
 * candidate whose version is at least the one required wins; chooseClient()
 * is the pure rule, findPgTool() the effectful lookup around it.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, delimiter, join } from "node:path";
import { EveError, ExitCode } from "../errors.ts";
import { formatMajor, parsePgVersion, type PgVersion } from "./version.ts";

type Env = Record<string, string | undefined>;

export type PgToolName = "pg_dump" | "pg_restore" | "psql";

export type PgToolSource = "EVE_PG_BIN" | "PATH" | "system";

export interface PgToolCandidate {
  path: string;
  source: PgToolSource;
  /** null when `--version` could not be run or understood (see error). */
  version: PgVersion | null;
  error?: string;
}

export interface PgTool {
  name: PgToolName;
  path: string;
  source: PgToolSource;
  version: PgVersion;
}

/** Directories searched after PATH ("*" is a version number). */
export const SYSTEM_DIRS = ["/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/libpq/bin", "/usr/local/opt/libpq/bin"];

/** Where findPgTool() looks, for messages. */
export function searchedText(env: Env): string {
  return env.EVE_PG_BIN ? `EVE_PG_BIN (${env.EVE_PG_BIN})` : "PATH and /usr/lib/postgresql/*/bin";
}

function describe(c: PgToolCandidate): string {
  return `${c.path} (${c.version ? c.version.text : `unusable: ${c.error ?? "unknown version"}`})`;
}

/**
 * Pick the client: the first candidate (in the order given) whose major
 * version is at least `minMajor` (any usable one when minMajor is undefined).
 * Throws E_PG_CLIENT listing every candidate found otherwise.
 * @example chooseClient("pg_dump", [{ path: "/usr/bin/pg_dump", source: "PATH", version: parsePgVersion("15.8") }], 16) // throws: needs 16+, found 15.8
 */
export function chooseClient(
  tool: PgToolName,
  candidates: readonly PgToolCandidate[],
  minMajor?: number,
  opts: { searched?: string; why?: string } = {},
): PgTool {
  for (const c of candidates) {
    if (c.version && (minMajor === undefined || c.version.major >= minMajor)) {
      return { name: tool, path: c.path, source: c.source, version: c.version };
    }
  }
  const searched = opts.searched ?? "EVE_PG_BIN, PATH and /usr/lib/postgresql/*/bin";
  const need = minMajor === undefined ? undefined : formatMajor(minMajor);
  const details = {
    tool,
    required: minMajor ?? null,
    found: candidates.map((c) => ({ path: c.path, version: c.version?.text ?? null, ...(c.error ? { error: c.error } : {}) })),
  };
  const pkg = `postgresql-client${need ? "-" + need : ""}`;
  const hint = `install the PostgreSQL ${need ? need + " " : ""}client tools (e.g. apt-get install ${pkg}) or set EVE_PG_BIN to the directory holding ${tool}`;
  if (candidates.length === 0) {
    return fail(`${tool} not found (looked in ${searched})`, hint, details);
  }
  const found = candidates.map(describe).join(", ");
  if (need && candidates.some((c) => c.version)) {
    const why = opts.why ?? `for a PostgreSQL ${need} server`;
    return fail(`${tool} ${need} or newer is needed ${why}; found: ${found}`, hint, details);
  }
  return fail(`no usable ${tool}; found: ${found}`, hint, details);
}

function fail(message: string, hint: string, details: Record<string, unknown>): never {
  throw new EveError("E_PG_CLIENT", message, ExitCode.error, { hint, details });
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Expand one SYSTEM_DIRS pattern, newest version first. */
function expand(pattern: string): string[] {
  const star = pattern.indexOf("*");
  if (star < 0) return [pattern];
  const slash = pattern.lastIndexOf("/", star);
  const parent = pattern.slice(0, slash);
  const head = pattern.slice(slash + 1, star);
  const rest = pattern.slice(pattern.indexOf("/", star));
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(head) && /^\d+(\.\d+)?$/.test(n.slice(head.length)))
    .sort((a, b) => Number(b.slice(head.length)) - Number(a.slice(head.length)))
    .map((n) => join(parent, n) + rest);
}

/** The executables named `tool` in search order, without duplicates (by real path). */
export function candidatePaths(tool: PgToolName, env: Env): Array<{ path: string; source: PgToolSource; wrapper?: true }> {
  const dirs: Array<{ dir: string; source: PgToolSource }> = [];
  if (env.EVE_PG_BIN) {
    dirs.push({ dir: env.EVE_PG_BIN, source: "EVE_PG_BIN" });
  } else {
    for (const d of (env.PATH ?? "").split(delimiter)) if (d) dirs.push({ dir: d, source: "PATH" });
    for (const p of SYSTEM_DIRS) for (const d of expand(p)) dirs.push({ dir: d, source: "system" });
  }
  const seen = new Set<string>();
  const out: Array<{ path: string; source: PgToolSource }> = [];
  // Debian/Ubuntu put a Perl dispatcher (postgresql-common's pg_wrapper) on PATH: it costs
  // ~0.1 s a run and picks a version by its own rules, so the real binaries it would
  // dispatch to are tried first and the wrapper only as a last resort.
  const wrappers: Array<{ path: string; source: PgToolSource; wrapper: true }> = [];
  for (const { dir, source } of dirs) {
    const path = join(dir, tool);
    if (!isExecutable(path)) continue;
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // keep the path as given
    }
    if (seen.has(real)) continue;
    seen.add(real);
    if (source === "PATH" && basename(real) === "pg_wrapper") wrappers.push({ path, source, wrapper: true });
    else out.push({ path, source });
  }
  return [...out, ...wrappers];
}

const probes = new Map<string, Promise<{ version: PgVersion | null; error?: string }>>();

/** Run `path --version` (cached per process). */
export function probeVersion(path: string): Promise<{ version: PgVersion | null; error?: string }> {
  let p = probes.get(path);
  if (!p) {
    p = new Promise((resolve) => {
      execFile(path, ["--version"], { timeout: 10_000, encoding: "utf8" }, (err, stdout) => {
        if (err) return resolve({ version: null, error: (err as { code?: string }).code ?? err.message.split("\n")[0] });
        const version = parsePgVersion(stdout);
        resolve(version ? { version } : { version: null, error: `unrecognised --version output "${stdout.trim().slice(0, 80)}"` });
      });
    });
    probes.set(path, p);
  }
  return p;
}

/**
 * Locate `tool` at least as new as `minMajor` (the server's major version,
 * or the pg_dump version that wrote an archive).
 * @example const pgDump = await findPgTool("pg_dump", { env: ctx.env, minMajor: majorFromVersionNum(serverVersionNum) });
 */
export async function findPgTool(
  tool: PgToolName,
  opts: { env: Env; minMajor?: number; /** e.g. "to read an archive written by pg_dump 17" */ why?: string },
): Promise<PgTool> {
  const paths = candidatePaths(tool, opts.env);
  const probe = (list: typeof paths) => Promise.all(list.map(async ({ path, source }) => ({ path, source, ...(await probeVersion(path)) })));
  const choose = (cands: PgToolCandidate[]) => chooseClient(tool, cands, opts.minMajor, { searched: searchedText(opts.env), why: opts.why });
  // The real binaries first; a pg_wrapper (a Perl start-up per probe) only when none of them will do.
  const direct = await probe(paths.filter((p) => !p.wrapper));
  const wrappers = paths.filter((p) => p.wrapper);
  if (wrappers.length === 0) return choose(direct);
  try {
    return choose(direct);
  } catch {
    return choose([...direct, ...(await probe(wrappers))]);
  }
}
