/**
 * Start the CLI and learn when it reached a given point (a line on stderr), so
 * a test can send a signal while eve is waiting, not before it listens for it.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { eveCommand, repoRoot, type RunResult } from "./cli.ts";

/** Start eve and resolve `ready` once its stderr matches `ready`: signals are sent only once it listens for them. */
export function startEve(args: string[], ready: RegExp, opts: { env?: Record<string, string> } = {}): { ready: Promise<void>; done: Promise<RunResult>; kill: (s: NodeJS.Signals) => void } {
  const [cmd, ...pre] = eveCommand();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...opts.env })) if (v !== undefined && k !== "DATABASE_URL") env[k] = v;
  const child = spawn(cmd!, [...pre, ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let onReady: () => void = () => {};
  const readyP = new Promise<void>((r) => (onReady = r));
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    if (ready.test(stderr)) onReady();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const done = new Promise<RunResult>((res) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      onReady();
      res({ code: code ?? (signal ? 128 + 100 : 1), stdout, stderr });
    }),
  );
  return { ready: readyP, done, kill: (s) => void child.kill(s) };
}

