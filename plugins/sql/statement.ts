/**
 * One statement on the session, the two ways rows can come back: a
 * server-side portal fetched in batches (the cursor path) or, for plain
 * queries going to CSV, `COPY (…) TO STDOUT` bytes passed through untouched.
 * Both respect the sink's backpressure and stop on abort. This is the only
 * module that touches postgres.js internals (marked where it does).
 */
import type { ReservedDb } from "../../core/db/index.ts";
import { EveError, InterruptedError } from "../../core/errors.ts";
import type { PlannedStatement } from "./plan.ts";
import type { RawColumn, ResultSink, StatementOutcome } from "./schema.ts";

export interface Exec {
  conn: ReservedDb;
  signal?: AbortSignal;
  setCurrent(q?: { cancel(): unknown }): void;
}

export type Done = Omit<StatementOutcome, "statement" | "line" | "columns"> & { columns: RawColumn[] };

/** Internals of postgres.js this module reads: the statement's columns and the final result. */
interface QueryInternals {
  statement?: { columns?: Array<{ name: string; type: number }> };
  resolve: (x: unknown) => void;
  reject: (e: unknown) => void;
  active?: boolean;
}
interface ResultInternals {
  command?: string;
  count?: number | null;
}

export async function runCursor(x: Exec, s: PlannedStatement, args: Array<string | null>, sink: ResultSink, batch: number): Promise<Done> {
  const q = x.conn.unsafe(s.stmt.text, args as string[]).values();
  x.setCurrent(q);
  const internals = q as unknown as QueryInternals;
  let columns: RawColumn[] | undefined;
  let rows = 0;
  const start = async () => {
    const cols = internals.statement?.columns;
    if (columns || !cols?.length) return;
    columns = cols.map((c) => ({ name: c.name, typeOid: c.type }));
    await guard(sink.begin({ statement: s.index, line: s.stmt.line, columns }), x.signal);
  };
  let delivered: unknown;
  let sinkError: unknown;
  let inFlight: Promise<void> | undefined;
  const deliver = async (batchRows: unknown[]) => {
    delivered = batchRows;
    await start();
    if (batchRows.length === 0) return;
    rows += batchRows.length;
    if (!columns) return; // rows without columns (select;) carry nothing to show
    await guard(sink.rows(batchRows as Array<Array<string | null>>), x.signal);
  };
  const result = (await q.cursor(batch, (batchRows: unknown[]) => {
    // A rejection stops the fetching (postgres.js syncs and rejects the query),
    // except for the last batch, which postgres.js does not wait for: keep the
    // error and rethrow it below instead of leaving it unhandled.
    const p = x.signal?.aborted ? Promise.reject(abortError(x.signal)) : deliver(batchRows);
    inFlight = p.catch((e) => void (sinkError ??= e));
    return p;
  })) as unknown as ResultInternals & unknown[];
  await inFlight;
  if (sinkError) throw sinkError;
  // postgres.js hands the last batch to the callback only when the tag has a
  // non-zero count; otherwise (SHOW, SELECT 0 …) it is the resolved result.
  if (result !== delivered && Array.isArray(result) && result.length) await deliver(result);
  if (internals.statement?.columns?.length) await start();
  const command = result.command ?? "";
  // In a cursor the final tag counts only the last fetch: count returned rows
  // here, and keep the tag's shape (SHOW and EXPLAIN tags carry no count).
  const tagCount = result.count ?? null;
  const count = columns ? rows : (tagCount ?? 0);
  return { command, tag: tagOf(command, tagCount === null ? null : count), rowCount: count, columns: columns ?? [] };
}

/**
 * The CSV fast path: the server writes CSV, bytes go to the sink as they
 * arrive. The COPY text is the plan's verified wrapper, sent over the
 * extended protocol (one Parse message: the server refuses a second
 * statement), never as a simple query.
 */
export async function runCopy(x: Exec, s: PlannedStatement, sink: ResultSink): Promise<Done> {
  if (!s.copyText) throw new Error("runCopy needs a verified COPY text");
  const q = x.conn.unsafe(s.copyText, [], { simple: false, prepare: false } as { prepare: boolean });
  x.setCurrent(q);
  // postgres.js resolves a COPY with its stream; the completion tag ("COPY n")
  // only reaches the query's resolve hook once the copy is over.
  const internals = q as unknown as QueryInternals;
  const resolveFirst = internals.resolve;
  let finished: (r: ResultInternals) => void = () => {};
  const tag = new Promise<ResultInternals>((r) => (finished = r));
  internals.resolve = (v: unknown) => {
    if (v && typeof v === "object" && "command" in v) return finished(v as ResultInternals), resolveFirst(v);
    resolveFirst(v);
    // Resolving with the stream marks the query inactive, and cancel() then
    // only queues instead of reaching the server: the COPY is still running.
    internals.active = true;
  };
  // If the query fails after the stream was handed out (an error mid-COPY),
  // the rejection reaches the tag, not an unhandled promise.
  const rejectFirst = internals.reject;
  internals.reject = (e: unknown) => {
    failedTag(e);
    rejectFirst(e);
  };
  let failedTag: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (failedTag = reject));
  failed.catch(() => {});
  const stream = (await guard(q as unknown as Promise<unknown>, x.signal)) as AsyncIterable<Uint8Array> & { _read?: (n: number) => void };
  // On abort or a sink failure the stream is drained, not abandoned: the
  // cancel ends it shortly, and leaving COPY data unread would wedge the connection.
  let stop = false;
  let sinkError: unknown;
  try {
    try {
      await guard(sink.begin({ statement: s.index, line: s.stmt.line, columns: [], copy: true }), x.signal);
    } catch (e) {
      stop = true;
      sinkError = e;
      cancelQuery(q);
    }
    for await (const chunk of stream) {
      if (stop || x.signal?.aborted) {
        if (!stop) sinkError = abortError(x.signal);
        stop = true;
        continue;
      }
      try {
        const w = sink.copy!(chunk);
        if (w) await guard(w, x.signal);
      } catch (e) {
        stop = true;
        sinkError = e;
        cancelQuery(q);
      }
    }
  } catch (e) {
    throw sinkError ?? e;
  } finally {
    // postgres.js pauses the socket when the stream's buffer is full and
    // resumes it only from the stream's read(), which an ended (or abandoned)
    // stream never calls again: resume it, or the completion tag, the error
    // after a cancel, and every later query would wait forever.
    stream._read?.(0);
  }
  if (sinkError) throw sinkError;
  const done = await guard(Promise.race([tag, failed]), x.signal);
  const count = done.count ?? 0;
  return { command: "SELECT", tag: tagOf("SELECT", count), rowCount: count, columns: [] };
}

/** Ask the server to cancel a running query (best effort: it may have finished). */
export function cancelQuery(q?: { cancel(): unknown }): void {
  try {
    Promise.resolve(q?.cancel()).catch(() => {});
  } catch {
    /* already done */
  }
}

/** psql's completion tag: INSERT 0 n, SELECT n, CREATE TABLE. */
function tagOf(command: string, count: number | null): string {
  if (count === null) return command;
  return command === "INSERT" ? `INSERT 0 ${count}` : `${command} ${count}`;
}

/** The error an aborted run ends with: the abort's own reason (output closed) or an interruption. */
export function abortError(signal?: AbortSignal): EveError {
  const reason: unknown = signal?.reason;
  return reason instanceof EveError && !(reason instanceof InterruptedError) ? reason : new InterruptedError();
}

/** Wait for a promise (a sink's, a query's), but stop waiting when the run is aborted. */
export function guard<T = void>(p: T | Promise<T>, signal?: AbortSignal): T | Promise<T> {
  if (!signal || !(p instanceof Promise || (p && typeof (p as { then?: unknown }).then === "function"))) return p;
  if (signal.aborted) throw abortError(signal);
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(abortError(signal));
    signal.addEventListener("abort", stop, { once: true });
    (p as Promise<T>).then(
      (v) => (signal.removeEventListener("abort", stop), resolve(v)),
      (e) => (signal.removeEventListener("abort", stop), reject(e)),
    );
  });
}
