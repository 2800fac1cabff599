/**
 * Running pg_dump / pg_restore / psql as child processes with web streams:
 * stdout as a ReadableStream (backpressure reaches the process through the
 * pipe), stdin as a WritableStream, stderr collected up to a cap (its head and
 * its tail, where the error usually is), and kill on abort.
 */
import { Buffer } from "node:buffer";
import { spawn, type ChildProcess } from "node:child_process";
import { EveError, ExitCode } from "../errors.ts";
import { readableToWeb, writableToWeb } from "../store/streams.ts";

type Env = Record<string, string | undefined>;

export interface SpawnToolOptions {
  /** The child's whole environment (undefined values dropped); default: inherit ours. */
  env?: Env;
  cwd?: string;
  /** Aborting sends SIGTERM, then SIGKILL after killGraceMs. */
  signal?: AbortSignal;
  /** Default "ignore". */
  stdin?: "pipe" | "ignore";
  /** Default "pipe"; with "ignore", stdout is an empty stream. */
  stdout?: "pipe" | "ignore";
  /** Bytes of stderr kept (half from the start, half from the end); default 64 KiB. */
  stderrLimit?: number;
  /** Default 3000 ms. */
  killGraceMs?: number;
}

export interface ToolExit {
  /** Exit code, null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Collected stderr (capped), trimmed. */
  stderr: string;
  /** True when the signal option aborted the process. */
  aborted: boolean;
  /** code === 0 and not aborted. */
  ok: boolean;
}

export interface ToolProcess {
  pid: number | undefined;
  stdout: ReadableStream<Uint8Array>;
  /** null unless stdin: "pipe". close() it to send EOF. */
  stdin: WritableStream<Uint8Array> | null;
  /** Settles after the process exited and stderr was drained; rejects (E_PG_SPAWN) only if it could not start. */
  exited: Promise<ToolExit>;
  /** The stderr collected so far. */
  stderr(): string;
  kill(signal?: NodeJS.Signals): void;
}

/** Keeps the first and the last `limit / 2` bytes of a stream of chunks. */
class CappedText {
  private head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  private skipped = 0;
  constructor(private readonly limit: number) {}
  push(b: Buffer): void {
    const half = Math.floor(this.limit / 2);
    if (this.headLen < half) {
      const take = b.subarray(0, half - this.headLen);
      this.head.push(take);
      this.headLen += take.length;
      b = b.subarray(take.length);
    }
    if (b.length === 0) return;
    this.tail.push(b);
    this.tailLen += b.length;
    while (this.tailLen > this.limit - half && this.tail.length > 0) {
      const over = this.tailLen - (this.limit - half);
      const first = this.tail[0]!;
      if (first.length <= over) {
        this.tail.shift();
        this.tailLen -= first.length;
        this.skipped += first.length;
      } else {
        this.tail[0] = first.subarray(over);
        this.tailLen -= over;
        this.skipped += over;
      }
    }
  }
  text(): string {
    const head = Buffer.concat(this.head).toString("utf8");
    const tail = Buffer.concat(this.tail).toString("utf8");
    if (!this.skipped) return (head + tail).trim();
    // Cut only at line ends: a line split by the cap is dropped whole, so no
    // fragment of a secret in it (too short to be recognised and redacted
    // later) is ever shown.
    const headEnd = head.lastIndexOf("\n");
    const tailStart = tail.indexOf("\n");
    const keptHead = headEnd < 0 ? "" : head.slice(0, headEnd);
    const keptTail = tailStart < 0 ? "" : tail.slice(tailStart + 1);
    const omitted = this.skipped + (head.length - keptHead.length) + (tail.length - keptTail.length);
    return `${keptHead}\n… [about ${omitted} bytes of output omitted] …\n${keptTail}`.trim();
  }
}

function cleanEnv(env: Env | undefined): Record<string, string> | undefined {
  if (!env) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * Start `path args…`.
 * @example const p = spawnTool(pgDump.path, ["--format=custom", "-d", url], { env, signal }); await store.put(key, p.stdout, { commit: async () => { const x = await p.exited; if (!x.ok) throw … } });
 */
export function spawnTool(path: string, args: readonly string[], opts: SpawnToolOptions = {}): ToolProcess {
  const { signal } = opts;
  const stderr = new CappedText(opts.stderrLimit ?? 64 * 1024);
  let aborted = false;
  let spawnError: EveError | undefined;
  const child: ChildProcess = spawn(path, args, {
    env: cleanEnv(opts.env),
    cwd: opts.cwd,
    stdio: [opts.stdin ?? "ignore", opts.stdout ?? "pipe", "pipe"],
  });
  const kill = (sig: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    if (sig !== "SIGKILL") {
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }, opts.killGraceMs ?? 3000).unref?.();
    }
  };
  const onAbort = () => {
    aborted = true;
    kill();
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });

  const exited = new Promise<ToolExit>((resolve, reject) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let stderrDone = !child.stderr;
    const settle = () => {
      if (!exit || !stderrDone) return;
      signal?.removeEventListener("abort", onAbort);
      resolve({ ...exit, stderr: stderr.text(), aborted, ok: exit.code === 0 && !aborted });
    };
    child.stderr?.on("data", (b: Buffer) => stderr.push(b));
    child.stderr?.once("close", () => {
      stderrDone = true;
      settle();
    });
    child.once("exit", (code, sig) => {
      exit = { code, signal: sig };
      settle();
    });
    child.once("error", (e) => {
      if (child.pid !== undefined) return; // errors of a running child surface on its streams
      signal?.removeEventListener("abort", onAbort);
      spawnError = new EveError("E_PG_SPAWN", `cannot run ${path}: ${(e as { code?: string }).code ?? e.message}`, ExitCode.error, {
        hint: "check EVE_PG_BIN / PATH and that the PostgreSQL client tools are installed",
        cause: e,
      });
      reject(spawnError);
    });
  });
  exited.catch(() => {}); // a caller that only reads stdout must not see an unhandled rejection

  const stdout = child.stdout
    ? readableToWeb(child.stdout, { mapError: (e) => spawnError ?? e })
    : new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  const stdin = child.stdin ? writableToWeb(child.stdin) : null;
  return { pid: child.pid, stdout, stdin, exited, stderr: () => stderr.text(), kill };
}

/**
 * Run to completion, collecting stdout as text (small outputs: --version, psql -c).
 * @example const r = await runTool(psql.path, ["-X", "-At", "-c", "select 1", url], { env }); if (!r.ok) throw …
 */
export async function runTool(
  path: string,
  args: readonly string[],
  opts: Omit<SpawnToolOptions, "stdin" | "stdout"> & { input?: string } = {},
): Promise<ToolExit & { stdout: string }> {
  const p = spawnTool(path, args, { ...opts, stdin: opts.input === undefined ? "ignore" : "pipe" });
  const writing = p.stdin
    ? (async () => {
        const w = p.stdin!.getWriter();
        try {
          await w.write(new TextEncoder().encode(opts.input));
          await w.close();
        } catch {
          // The process exited without reading everything; its exit status tells why.
        }
      })()
    : Promise.resolve();
  const [stdout, , exit] = await Promise.all([new Response(p.stdout).text(), writing, p.exited]);
  return { ...exit, stdout };
}
