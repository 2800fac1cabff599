/** Shared setup for the sql engine and operation tests: run SQL the way `eve db sql` does. */
import { close, connect, type Notice } from "../../../core/db/index.ts";
import type { EveError } from "../../../core/errors.ts";
import type { Writer } from "../../../core/io.ts";
import type { OpDeps } from "../../../core/operation.ts";
import { runSql, sessionOptions } from "../../../plugins/sql/engine.ts";
import { sqlOp, type SqlInput } from "../../../plugins/sql/ops/sql.ts";
import type { ResultSink, SqlEvent, SqlRunSummary } from "../../../plugins/sql/schema.ts";
import { collectSink } from "../../../plugins/sql/sinks.ts";

export interface RunOpts {
  write?: boolean;
  params?: Array<string | null>;
  sink?: ResultSink;
  signal?: AbortSignal;
  batchRows?: number;
  source?: string;
}

/** Run on a fresh session (read-only unless write), collecting results. */
export async function run(url: string, text: string, opts: RunOpts = {}) {
  const db = connect(url, sessionOptions(!!opts.write));
  const sink = opts.sink ?? collectSink();
  try {
    const summary = await runSql(db, { text, database: "test", ...opts }, sink);
    return { summary, results: (sink as ReturnType<typeof collectSink>).results };
  } finally {
    await close(db);
  }
}

/** The error a run fails with. */
export async function failure(url: string, text: string, opts: RunOpts = {}): Promise<EveError> {
  try {
    await run(url, text, opts);
  } catch (e) {
    return e as EveError;
  }
  throw new Error(`expected a failure: ${text}`);
}

/** What a db.sql run produced: its result or error, and its events in order. */
export interface OpRun {
  result?: SqlRunSummary;
  error?: unknown;
  events: SqlEvent[];
}

/**
 * Run db.sql as core/op-command.ts runs it locally: a connection with the
 * op's session options, notices routed to the op's handler. `emit` sees
 * every event too (a renderer), and its promise is returned to the op.
 */
export async function runOp(
  url: string,
  raw: Partial<SqlInput>,
  emit?: (e: SqlEvent) => void | Promise<void>,
  o: { signal?: AbortSignal; label?: string } = {},
): Promise<OpRun> {
  const input = sqlOp.input.parse(raw);
  let onNotice: (n: Notice) => void = () => {};
  const db = connect(url, { ...sqlOp.connection!(input), onNotice: (n) => onNotice(n) });
  const deps: OpDeps = {
    db,
    url,
    label: o.label ?? "app@db.example:5432/app",
    mode: "direct",
    onNotice: (h) => void (onNotice = h),
    toolEnv: {},
    now: () => new Date(),
    signal: o.signal ?? new AbortController().signal,
  };
  const events: SqlEvent[] = [];
  const record = (e: SqlEvent) => {
    events.push(e);
    return emit?.(e);
  };
  try {
    return { result: await sqlOp.run(deps, input, record), events };
  } catch (error) {
    return { error, events };
  } finally {
    await close(db);
  }
}

/** A Writer keeping every byte written (strings as UTF-8). */
export function bytesWriter(): Writer & { bytes(): Uint8Array; text(): string } {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const bytes = () => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  return {
    write(chunk) {
      parts.push(typeof chunk === "string" ? enc.encode(chunk) : chunk.slice());
      return true;
    },
    bytes,
    text: () => new TextDecoder().decode(bytes()),
  };
}
