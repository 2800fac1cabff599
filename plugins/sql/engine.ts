/**
 * The sql engine: runs planned statements on one session and streams each
 * result set to a sink, so memory stays flat whatever the row count.
 *
 * - Read-only (default): the session starts with default_transaction_read_only
 *   (the caller connects with readOnly), and every statement runs inside one
 *   `BEGIN READ ONLY` transaction that is rolled back at the end. Whatever a
 *   function does to the session inside it is undone, and the read-only state
 *   of a transaction cannot be lifted once it has run a query.
 * - --write: several statements run in one transaction (all or nothing), or
 *   in autocommit when the text manages its own transactions or contains a
 *   statement that cannot run inside one (VACUUM, CREATE INDEX CONCURRENTLY…).
 *
 * Read-only runs first pass the server-side check (check.ts) on the same
 * session, inside the read-only transaction, before any statement.
 *
 * Every statement goes over the extended protocol, one Parse message each, as
 * exactly the text the gate approved. Rows come through a server-side portal
 * fetched in batches (a cursor); a plain query going to a CSV sink is wrapped
 * in `COPY (…) TO STDOUT` when the plan verified that wrapper, and its bytes
 * are passed through untouched. The abort signal cancels the running query on
 * the server and ends every wait.
 */
import type { ConnectOptions, Db, ReservedDb } from "../../core/db/index.ts";
import { pinnedSettings } from "../../core/sql/classify.ts";
import { serverCheck } from "./check.ts";
import { failure } from "./failure.ts";
import { planSql, type PlannedStatement, type SqlPlan } from "./plan.ts";
import type { RawColumn, ResultSink, SqlColumn, SqlRunSummary, StatementOutcome } from "./schema.ts";
import { abortError, cancelQuery, guard, runCopy, runCursor } from "./statement.ts";

export interface SqlRequest {
  text: string;
  /** Values for $1…$n (text or NULL; the server infers the types). */
  params?: Array<string | null>;
  write?: boolean;
  /** Where the text came from, for messages: "--sql", a file name, "stdin". */
  source?: string;
  /** user@host:port/db, reported back in the summary. */
  database: string;
  signal?: AbortSignal;
  /** Rows per fetch from the server-side cursor. */
  batchRows?: number;
  /** One-line notices for the user (stderr), e.g. that the role is privileged. */
  notice?: (line: string) => void;
}

const DEFAULT_BATCH = 2000;

/**
 * How to connect for a run: raw text values; read-only sessions start with
 * default_transaction_read_only and with the settings that decide how the
 * server reads SQL text pinned to what the gate's parser assumes (startup
 * parameters; changing them later is refused, and serverCheck verifies them).
 */
export function sessionOptions(write: boolean): ConnectOptions {
  return { rawTypes: true, readOnly: !write, ...(write ? {} : { startupParameters: { ...pinnedSettings } }) };
}

/** Run the SQL. Refusals and usage problems throw before anything is sent. */
export async function runSql(db: Db, req: SqlRequest, sink: ResultSink, plan?: SqlPlan): Promise<SqlRunSummary> {
  const started = performance.now();
  const source = req.source ?? "--sql";
  const params = req.params ?? [];
  const p = plan ?? planSql(req.text, { write: !!req.write, params, source });
  const signal = req.signal;
  const outcomes: StatementOutcome[] = [];
  const typeNames = new Map<number, string>();
  let current: { cancel(): unknown } | undefined;
  const onAbort = () => cancelQuery(current);
  signal?.addEventListener("abort", onAbort);

  const step = <T>(p: Promise<T>) => guard(p, signal) as Promise<T>;
  let conn: ReservedDb | undefined;
  let inTransaction = false;
  let running: PlannedStatement | undefined;
  let viaCopy = false;
  try {
    // postgres.js' reserve() waits forever on a pool that has not connected yet.
    await step(db`select 1` as unknown as Promise<unknown>);
    conn = await step(db.reserve());
    const c = conn;
    const exec = { conn: c, signal, setCurrent: (q?: { cancel(): unknown }) => (current = q) };
    if (p.mode !== "autocommit") {
      await step(c.unsafe(p.mode === "read-only" ? "begin read only" : "begin") as unknown as Promise<unknown>);
      inTransaction = true;
    }
    if (p.mode === "read-only") await serverCheck({ ...exec, source, text: req.text, notice: req.notice }, p);
    for (const s of p.statements) {
      if (signal?.aborted) throw abortError(signal);
      running = s;
      viaCopy = !!s.copyText && s.paramCount === 0 && !!sink.csvCopy && !!sink.copy;
      const done = viaCopy
          ? await runCopy(exec, s, sink)
          : await runCursor(exec, s, params.slice(0, s.paramCount), sink, req.batchRows ?? DEFAULT_BATCH);
      current = undefined;
      const columns = await step(nameTypes(c, done.columns, typeNames));
      const outcome: StatementOutcome = { statement: s.index, line: s.stmt.line, ...done, columns };
      outcomes.push(outcome);
      await guard(sink.end(outcome), signal);
    }
    running = undefined;
    if (inTransaction) {
      // A COMMIT is waited for even after an abort: once sent it may land, and
      // the run must not report a rollback that did not happen.
      if (p.mode === "read-only") await step(c.unsafe("rollback") as unknown as Promise<unknown>);
      else await c.unsafe("commit");
      inTransaction = false;
    }
  } catch (e) {
    // After an abort the session may still be busy with the cancelled query:
    // do not wait on it (closing the connection ends the transaction).
    if (inTransaction && conn && !signal?.aborted) await conn.unsafe("rollback").catch(() => {});
    throw failure(e, running, viaCopy, p, req.text, source, signal);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    conn?.release();
  }
  return {
    database: req.database,
    readOnly: p.mode === "read-only",
    mode: p.mode,
    statements: outcomes,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Type names as format_type() prints them, looked up once per type. */
async function nameTypes(conn: ReservedDb, columns: RawColumn[], cache: Map<number, string>): Promise<SqlColumn[]> {
  const missing = [...new Set(columns.map((c) => c.typeOid).filter((o) => !cache.has(o)))];
  if (missing.length) {
    const rows = await conn.unsafe("select oid::int as oid, pg_catalog.format_type(oid, null) as name from pg_catalog.pg_type where oid = any($1::oid[])", [
      `{${missing.join(",")}}`,
    ]);
    for (const r of rows as unknown as Array<{ oid: string; name: string }>) cache.set(Number(r.oid), r.name);
  }
  return columns.map((c) => ({ name: c.name, type: cache.get(c.typeOid) ?? `oid ${c.typeOid}`, typeOid: c.typeOid }));
}

