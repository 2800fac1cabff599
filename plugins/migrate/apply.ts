/**
 * Applying one migration file: in one transaction with its history row (one
 * round trip), statement by statement when it cannot run in a transaction, or
 * in baseline mode under savepoints. Failures become errors naming the file,
 * line:column, SQLSTATE and what was kept.
 */
import type { Db } from "../../core/db/index.ts";
import { isPostgresError, mapDbError, quoteLiteral, SqlError } from "../../core/db/index.ts";
import type { EveError } from "../../core/errors.ts";
import type { MigrationFile } from "../../core/migrations/files.ts";
import { codePointIndex, lineAt, lineCol, type Statement } from "../../core/sql/index.ts";
import type { AppliedItem, SkippedStatement } from "./schema.ts";

/** SQLSTATEs meaning "this object already exists" (never matched on message text). */
const DUPLICATE_OBJECT_CODES = new Set(["42P07", "42710", "42P06", "42723", "42701", "42P04", "42P05"]);

export interface Prepared {
  file: MigrationFile;
  statements: Statement[];
  /** Why it must run outside a transaction block; undefined = one transaction. */
  noTxReason?: string;
  /** The file is exactly BEGIN; …; COMMIT; (history row goes before its COMMIT). */
  wrapped: boolean;
}

export function historyInsert(table: string, f: MigrationFile, kind: string, details: string): string {
  return (
    `INSERT INTO ${table} (name, checksum, kind, duration_ms, details) VALUES (` +
    `${quoteLiteral(f.name)}, ${quoteLiteral(f.checksum)}, ${quoteLiteral(kind)}, ` +
    `(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::int, ${details})`
  );
}

/** Normal apply: one transaction (or statement by statement when it cannot be). */
export async function apply(db: Db, table: string, m: Prepared, signal?: AbortSignal): Promise<AppliedItem> {
  const run = (text: string) => exec(db, text, signal);
  const base = { name: m.file.name, version: m.file.version, durationMs: 0 };
  if (m.wrapped) {
    // The file's own BEGIN … COMMIT: put the history row before its COMMIT.
    const commit = m.statements[m.statements.length - 1]!;
    const text = m.file.text.slice(0, commit.start) + ";\n" + historyInsert(table, m.file, "applied", "null") + ";\n" + m.file.text.slice(commit.start);
    try {
      await run(text);
    } catch (e) {
      await db.unsafe("ROLLBACK").catch(() => {});
      throw e;
    }
    return { ...base, kind: "applied", transaction: true };
  }
  if (!m.noTxReason) {
    // A multi-statement simple query is one implicit transaction: file + history row, one round trip.
    await run(m.file.text + "\n;\n" + historyInsert(table, m.file, "applied", "null"));
    return { ...base, kind: "applied", transaction: true };
  }
  for (const [i, s] of m.statements.entries()) {
    try {
      await run(s.text);
    } catch (e) {
      await db.unsafe("ROLLBACK").catch(() => {});
      throw new StatementFailure(e, s, i, m.statements.length);
    }
  }
  await db.unsafe(historyInsert(table, m.file, "applied", "null"));
  return { ...base, kind: "applied", transaction: false };
}

/** Baseline apply: statement by statement, skipping exactly the duplicate-object failures. */
export async function applyBaseline(db: Db, table: string, m: Prepared, signal?: AbortSignal): Promise<AppliedItem> {
  const run = (text: string) => exec(db, text, signal);
  const skipped: SkippedStatement[] = [];
  const statements = m.wrapped ? m.statements.slice(1, -1) : m.statements;
  const record = (kind: string) =>
    historyInsert(table, m.file, kind, skipped.length ? quoteLiteral(JSON.stringify({ skipped })) + "::jsonb" : "null");
  const skip = (e: unknown, s: Statement) => {
    if (!isPostgresError(e) || !DUPLICATE_OBJECT_CODES.has(e.code)) return false;
    skipped.push({ line: s.line, sqlstate: e.code, statement: excerpt(s.text), message: e.message });
    return true;
  };
  const base = { name: m.file.name, version: m.file.version, durationMs: 0 };
  if (m.noTxReason) {
    for (const [i, s] of statements.entries()) {
      try {
        await run(s.text);
      } catch (e) {
        if (skip(e, s)) continue;
        await db.unsafe("ROLLBACK").catch(() => {});
        throw new StatementFailure(e, s, i, statements.length);
      }
    }
    const kind = skipped.length ? "baselined" : "applied";
    await db.unsafe(record(kind));
    return { ...base, kind, transaction: false, ...(skipped.length ? { skipped } : {}) };
  }
  await db.unsafe("BEGIN");
  try {
    for (const [i, s] of statements.entries()) {
      await db.unsafe("SAVEPOINT eve_baseline");
      try {
        await run(s.text);
        await db.unsafe("RELEASE SAVEPOINT eve_baseline");
      } catch (e) {
        if (!skip(e, s)) throw new StatementFailure(e, s, i, statements.length);
        await db.unsafe("ROLLBACK TO SAVEPOINT eve_baseline");
      }
    }
    const kind = skipped.length ? "baselined" : "applied";
    await db.unsafe(record(kind));
    await db.unsafe("COMMIT");
    return { ...base, kind, transaction: true, ...(skipped.length ? { skipped } : {}) };
  } catch (e) {
    await db.unsafe("ROLLBACK").catch(() => {});
    throw e;
  }
}

/** Run SQL text; an abort (Ctrl-C) cancels it on the server. */
async function exec(db: Db, text: string, signal?: AbortSignal): Promise<unknown> {
  const q = db.unsafe(text);
  if (!signal) return await q;
  const onAbort = () => q.cancel();
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await q;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** A failure of one statement in a file run statement by statement. */
class StatementFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly statement: Statement,
    readonly index: number,
    readonly total: number,
  ) {
    super("statement failed");
  }
}

function excerpt(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > 80 ? one.slice(0, 77) + "..." : one;
}

/** Turn a failure into an error naming file, line:column, SQLSTATE and what was kept. */
export function describeFailure(e: unknown, m: Prepared): EveError {
  const stmt = e instanceof StatementFailure ? e : undefined;
  const err = stmt ? stmt.error : e;
  const mapped = mapDbError(err);
  if (!(mapped instanceof SqlError)) return mapped;
  let line: number | undefined;
  let column: number | undefined;
  let source: string | undefined;
  if (stmt) {
    const pos = mapped.pg.position;
    const at = pos ? stmt.statement.start + pos - 1 : stmt.statement.start;
    ({ line, column } = lineCol(m.file.text, at));
    source = `statement ${stmt.index + 1} of ${stmt.total} (${excerpt(stmt.statement.text)})`;
  } else if (mapped.pg.position) {
    const at = codePointIndex(m.file.text, mapped.pg.position - 1);
    ({ line, column } = lineCol(m.file.text, at));
  }
  const where = line ? `${m.file.name}:${line}:${column}` : m.file.name;
  const kept = m.noTxReason && !m.wrapped
    ? stmt && stmt.index > 0
      ? `statements 1-${stmt.index} of this file ran outside a transaction and were kept`
      : "nothing from this file was applied"
    : "this file was rolled back";
  const hints = [mapped.pg.hint, line ? `line ${line}: ${lineAt(m.file.text, lineStart(m.file.text, line)).trim()}` : source, kept].filter(Boolean);
  return new SqlError(`${where}: ${mapped.message} (SQLSTATE ${mapped.sqlstate})${source && line ? ` in ${source}` : ""}`, mapped.sqlstate, mapped.pg, {
    hint: hints.join("; "),
    cause: err,
    details: { file: m.file.name, line, column, detail: mapped.pg.detail },
  });
}

function lineStart(text: string, line: number): number {
  let idx = 0;
  for (let l = 1; l < line; l++) idx = text.indexOf("\n", idx) + 1;
  return idx;
}

