/**
 * The snapshot plugin's view of the Postgres client tools: which pg_dump /
 * pg_restore to run for a server, how to pass a URL to them (password in
 * PGPASSWORD, never on the command line), and turning their stderr into
 * one-line, redacted errors.
 */
import { redactText } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { findPgTool, spawnTool, type PgTool, type ToolExit, type ToolProcess } from "../../core/pgtools/index.ts";

export type { PgTool, ToolExit, ToolProcess };

export interface Tools {
  pgDump: PgTool;
  pgRestore: PgTool;
}

type Env = Record<string, string | undefined>;

/** pg_dump and pg_restore at least as new as the server (major `serverMajor`). */
export async function findTools(env: Env, serverMajor: number): Promise<Tools> {
  const [pgDump, pgRestore] = await Promise.all([
    findPgTool("pg_dump", { env, minMajor: serverMajor }),
    findPgTool("pg_restore", { env, minMajor: serverMajor }),
  ]);
  return { pgDump, pgRestore };
}

/**
 * Start probing every pg_dump / pg_restore candidate now (`--version` runs are
 * cached per process), so that choosing one once the server version is known
 * costs nothing. Commands call it before connecting.
 */
export function warmTools(env: Env): void {
  for (const name of ["pg_dump", "pg_restore"] as const) void findPgTool(name, { env }).catch(() => {});
}

/** Connection arguments and environment for a client tool: the URL without its password, the password in PGPASSWORD. */
export function connArgs(url: string, env: Env): { dbname: string; env: Env } {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = "";
  const childEnv: Env = { ...env };
  if (password !== undefined) childEnv.PGPASSWORD = password;
  return { dbname: u.toString(), env: childEnv };
}

/** Secrets to scrub from tool output for a URL. */
export function secretsOf(url: string): string[] {
  try {
    const u = new URL(url);
    return u.password ? [url, u.password, decodeURIComponent(u.password)] : [url];
  } catch {
    return [url];
  }
}

/** Trim tool stderr for records and messages: redacted, without the tool-name prefix noise, at most `max` chars. */
export function cleanStderr(stderr: string, secrets: string[], max = 2000): string {
  const text = redactText(stderr, secrets).trim();
  return text.length > max ? text.slice(0, max) + "…" : text;
}

/** The most telling line of a tool's stderr (the first "error:" line, else the first line). */
export function headline(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /(^|: )(error|fatal|FATAL|ERROR)[: ]/.test(l));
  return (err ?? lines[0] ?? "no error output").replace(/^(pg_dump|pg_restore): (error: )?/, "");
}

export function toolFailed(code: string, tool: string, exit: number | null, stderr: string, hint: string): EveError {
  return new EveError(code, `${tool} failed (exit ${exit ?? "signal"}): ${headline(stderr)}`, ExitCode.failed, {
    hint,
    details: { stderr },
  });
}

export { findPgTool, spawnTool };
