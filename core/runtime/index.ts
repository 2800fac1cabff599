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

/** Exit with `code` after `ms` unless the process has exited by then. */
export function exitLater(ms: number, code: number): void {
  setTimeout(() => process.exit(code), ms);
}

/** Exit once stdout and stderr have flushed (pipes are asynchronous). */
export async function exitAfterFlush(code: number): Promise<never> {
  const pending = (s: NodeJS.WriteStream) =>
    s.writableLength > 0 ? new Promise<void>((r) => s.once("drain", () => r())) : Promise.resolve();
  await Promise.race([
    Promise.all([stdoutClosed ? Promise.resolve() : pending(process.stdout), pending(process.stderr)]),
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

let stdoutClosed = false;
const stdoutClosedHandlers = new Set<() => void>();
// A reader that goes away (`eve … | head`) surfaces as an 'error' event (EPIPE)
// on stdout; unhandled, it would crash or hang the process. Any stdout error
// means nothing more can be written: tell whoever listens and move on.
process.stdout.on?.("error", () => {
  if (stdoutClosed) return;
  stdoutClosed = true;
  for (const h of stdoutClosedHandlers) h();
});

/** Run `handler` once stdout can no longer be written (its reader closed it). */
export function onStdoutClosed(handler: () => void): () => void {
  stdoutClosedHandlers.add(handler);
  return () => void stdoutClosedHandlers.delete(handler);
}

export const stdout: Stream = process.stdout as unknown as Stream;
export const stderr: Stream = process.stderr as unknown as Stream;
export const stdin: NodeJS.ReadableStream = process.stdin;

/** Read standard input to its end as UTF-8 text. */
export async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === "string" ? new TextEncoder().encode(c) : (c as Uint8Array));
  return new TextDecoder().decode(concatBytes(chunks));
}

function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Register a handler for SIGINT/SIGTERM; returns a function that removes it. */
export function onSignal(signal: "SIGINT" | "SIGTERM", handler: () => void): () => void {
  process.on(signal, handler);
  return () => process.off(signal, handler);
}

export function pid(): number {
  return process.pid;
}

/** Whether a process with this pid exists on this machine (signal 0 probe; EPERM means it exists). */
export function processAlive(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

export function platform(): string {
  return `${process.platform}-${process.arch}`;
}

/**
 * Ask for a full garbage collection (Bun; a no-op where the runtime has no
 * such call). Streams of many MB call it every few MB to keep memory flat.
 */
export function collectGarbage(): void {
  (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
}

/** Peak resident set size in bytes, where the runtime reports it. */
export function maxRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** A running HTTP listener. */
export interface HttpServer {
  /** The address it listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  port: number;
  /** Stop accepting connections; resolves when in-flight requests have finished. */
  stop(): Promise<void>;
}

type FetchHandler = (req: Request) => Response | Promise<Response>;

/**
 * Serve `fetch` with the runtime's own server (Bun.serve, else Deno.serve).
 * Port 0 picks a free port. Long responses (streamed operations) never time out.
 */
export function serve(fetch: FetchHandler, o: { hostname: string; port: number }): HttpServer {
  const bun = (globalThis as { Bun?: { serve(opts: object): { port: number; stop(force?: boolean): Promise<void> } } }).Bun;
  if (bun) {
    const s = bun.serve({ fetch, hostname: o.hostname, port: o.port, idleTimeout: 0 });
    return { url: `http://${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${s.port}`, port: s.port, stop: () => s.stop(false) };
  }
  const deno = (globalThis as { Deno?: { serve(opts: object, h: FetchHandler): { addr: { port: number }; shutdown(): Promise<void> } } }).Deno;
  if (deno) {
    const s = deno.serve({ hostname: o.hostname, port: o.port, onListen: () => {} }, fetch);
    return { url: `http://${o.hostname}:${s.addr.port}`, port: s.addr.port, stop: () => s.shutdown() };
  }
  throw new Error("eve server needs Bun or Deno");
}

