/**
 * The only module that names the host runtime (Bun, Deno or Node) and `process`.
 * Everything else receives these facts through the Context built in cli/main.ts.
 * Both Bun and Deno implement `node:process`, so one adapter serves both; the
 * runtime name is reported for `--version` and diagnostics.
 */
import process from "node:process";

export type RuntimeName = "bun" | "deno" | "node";

const g = globalThis as { Bun?: unknown; Deno?: unknown };

/** Which runtime is executing this code. */
export const runtimeName: RuntimeName = g.Bun ? "bun" : g.Deno ? "deno" : "node";

/** Command-line arguments after the executable and script path. */
export function argv(): string[] {
  // A compiled Bun binary reports argv as [exe, "/$bunfs/root/...", ...args] too.
  return process.argv.slice(2);
}

/** A snapshot of the environment variables. */
export function env(): Record<string, string | undefined> {
  return { ...process.env };
}

export function cwd(): string {
  return process.cwd();
}

export function exit(code: number): never {
  process.exit(code);
}

/** Exit once stdout and stderr have flushed (pipes are asynchronous). */
export async function exitAfterFlush(code: number): Promise<never> {
  const pending = (s: NodeJS.WriteStream) =>
    s.writableLength > 0 ? new Promise<void>((r) => s.once("drain", () => r())) : Promise.resolve();
  await Promise.race([
    Promise.all([pending(process.stdout), pending(process.stderr)]),
    new Promise((r) => setTimeout(r, 5000)),
  ]);
  process.exit(code);
}

export interface Stream {
  write(chunk: string | Uint8Array): boolean;
  isTTY?: boolean;
  columns?: number;
  once?(event: "drain", cb: () => void): unknown;
}

export const stdout: Stream = process.stdout as unknown as Stream;
export const stderr: Stream = process.stderr as unknown as Stream;
export const stdin: NodeJS.ReadableStream = process.stdin;

/** Register a handler for SIGINT/SIGTERM; returns a function that removes it. */
export function onSignal(signal: "SIGINT" | "SIGTERM", handler: () => void): () => void {
  process.on(signal, handler);
  return () => process.off(signal, handler);
}

export function pid(): number {
  return process.pid;
}

export function platform(): string {
  return `${process.platform}-${process.arch}`;
}

/** Peak resident set size in bytes, where the runtime reports it. */
export function maxRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
