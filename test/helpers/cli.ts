/**
 * Spawn the CLI the way a user does: the compiled binary when EVE_E2E_BIN is
 * set (CI's e2e pass), else `bun cli/main.ts`. Returns stdout, stderr, code.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import process from "node:process";

export const repoRoot = resolve(import.meta.dir, "../..");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function eveCommand(): string[] {
  const bin = process.env.EVE_E2E_BIN;
  if (bin) return [resolve(repoRoot, bin)];
  return [process.execPath, join(repoRoot, "cli/main.ts")];
}

export function runEve(
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> & { pid?: number; kill(sig?: NodeJS.Signals): void } {
  const [cmd, ...pre] = eveCommand();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...opts.env })) if (v !== undefined) env[k] = v;
  // Never let a developer's DATABASE_URL leak into tests unless the test sets it.
  if (!opts.env || !("DATABASE_URL" in opts.env)) delete env.DATABASE_URL;
  if (!opts.env || !("MIGRATIONS_DIR" in opts.env)) delete env.MIGRATIONS_DIR;
  const child = spawn(cmd!, [...pre, ...args], { cwd: opts.cwd ?? repoRoot, env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  if (opts.input !== undefined) child.stdin.end(opts.input);
  else child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const p = new Promise<RunResult>((res) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? (signal === "SIGKILL" ? 137 : 1), stdout, stderr });
    });
  }) as Promise<RunResult> & { pid?: number; kill(sig?: NodeJS.Signals): void };
  p.pid = child.pid;
  p.kill = (sig = "SIGTERM") => void child.kill(sig);
  return p;
}
