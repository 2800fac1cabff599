/**
 * Applying one migration file: in one transaction with its history row (one
 * round trip), or statement by statement when it cannot run in a transaction.
 * Failures become errors naming the file, line:column, SQLSTATE and what was kept.
 */
import type { Db } from "../../core/db/index.ts";
import { isPostgresError, mapDbError, quoteIdent, quoteLiteral, SqlError } from "../../core/db/index.ts";
import { CheckError, UsageError, type EveError } from "../../core/errors.ts";
import type { MigrationFile } from "../../core/migrations/files.ts";
import type { Plan } from "../../core/migrations/plan.ts";
import { codePointIndex, lineAt, lineCol, nonTransactionalReason, splitStatements, type Statement } from "../../core/sql/index.ts";
import type { AppliedItem } from "./schema.ts";

export interface Prepared {
  file: MigrationFile;
  statements: Statement[];
  /** Why it must run outside a transaction block; undefined = one transaction. */
  noTxReason?: string;
  /** The file is exactly BEGIN; …; COMMIT; (history row goes before its COMMIT). */
  wrapped: boolean;
}

export function historyInsert(table: string, f: MigrationFile, kind: string, details: string, statementsDone?: number): string {
  const done = statementsDone === undefined ? "" : `, ${statementsDone}`;
  return (
    `INSERT INTO ${table} (name, checksum, kind, duration_ms, details${done ? ", statements_done" : ""}) VALUES (` +
    `${quoteLiteral(f.name)}, ${quoteLiteral(f.checksum)}, ${quoteLiteral(kind)}, ` +
    `(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::int, ${details}${done})`
  );
}

/** Normal apply: one transaction (or statement by statement when it cannot be). */
export async function apply(db: Db, table: string, m: Prepared, signal?: AbortSignal): Promise<AppliedItem> {
  const run = (text: string) => exec(db, text, signal);
  const base = { name: m.file.name, version: m.file.version, durationMs: 0 };
  if (!m.statements.length) {
    // An empty or comment-only file: recorded (its checksum guards later edits), nothing run.
    await db.unsafe(historyInsert(table, m.file, "empty", "null"));
    return { ...base, kind: "empty", transaction: true };
  }
  if (m.wrapped) {
    // The file's own BEGIN … COMMIT: put the history row before its COMMIT.
    const commit = m.statements[m.statements.length - 1]!;
    const text = m.file.text.slice(0, commit.start) + ";\n" + historyInsert(table, m.file, "applied", "null") + ";\n" + m.file.text.slice(commit.start);
    try {
      await run(text);
    } catch (e) {
      await rollbackIfOpen(db);
      throw e;
    }
    return { ...base, kind: "applied", transaction: true };
  }
  if (!m.noTxReason) {
    // A multi-statement simple query is one implicit transaction: file + history row, one round trip.
    await run(m.file.text + "\n;\n" + historyInsert(table, m.file, "applied", "null"));
    return { ...base, kind: "applied", transaction: true };
  }
  // Statement by statement: a `running` row first (committed on its own), so a kill at any
  // point leaves a record of exactly which statements completed.
  await db.unsafe(historyInsert(table, m.file, "running", `${quoteLiteral(JSON.stringify({ statements: m.statements.length }))}::jsonb`, 0));
  return await runStatements(db, table, m, 0, signal);
}

/**
 * Run statements `from`… of a no-transaction file whose `running` row exists,
 * advancing statements_done after each one, then mark the row applied.
 * A statement that may run in a transaction is sent together with its progress
 * update (one implicit transaction), so the two cannot disagree; a statement
 * that cannot (CREATE INDEX CONCURRENTLY, …) is followed by its own update.
 */
export async function runStatements(db: Db, table: string, m: Prepared, from: number, signal?: AbortSignal): Promise<AppliedItem> {
  const t0 = performance.now();
  const name = quoteLiteral(m.file.name);
  const progress = (done: number) => `UPDATE ${table} SET statements_done = ${done} WHERE name = ${name}`;
  for (let i = from; i < m.statements.length; i++) {
    const s = m.statements[i]!;
    // Version 0: whatever some server version refuses in a transaction runs alone.
    const alone = !!nonTransactionalReason(s, 0);
    try {
      if (!alone) {
        try {
          await exec(db, s.text + "\n;\n" + progress(i + 1), signal);
          continue;
        } catch (e) {
          // 25001: a statement the parser does not know as non-transactional (DETACH PARTITION
          // CONCURRENTLY, …); the implicit transaction rolled back, so run it alone.
          if (!isPostgresError(e) || e.code !== "25001") throw e;
        }
      }
      await exec(db, s.text, signal);
      await db.unsafe(progress(i + 1));
    } catch (e) {
      await rollbackIfOpen(db);
      const done = await statementsDone(db, table, m.file.name).catch(() => i);
      const leftover = await leftoverIndex(db, s).catch(() => undefined);
      // Nothing of the file completed or was left half-built: forget the row, the file is simply pending again.
      if (done === 0 && !leftover) await db.unsafe(`DELETE FROM ${table} WHERE name = ${name} AND kind = 'running'`).catch(() => {});
      throw new StatementFailure(e, s, i, m.statements.length, done, leftover);
    }
  }
  const ms = Math.round(performance.now() - t0);
  await db.unsafe(`UPDATE ${table} SET kind = 'applied', duration_ms = ${ms}, statements_done = NULL WHERE name = ${name}`);
  return {
    name: m.file.name,
    version: m.file.version,
    durationMs: ms,
    kind: "applied",
    transaction: false,
    ...(from > 0 && from < m.statements.length ? { resumedAt: from + 1 } : {}),
  };
}

async function statementsDone(db: Db, table: string, name: string): Promise<number> {
  const [row] = await db.unsafe(`SELECT statements_done FROM ${table} WHERE name = ${quoteLiteral(name)} AND kind = 'running'`);
  return (row?.statements_done as number | undefined) ?? 0;
}

/**
 * After a failure, roll back only when a transaction block is open and aborted
 * (a file's own BEGIN); a bare ROLLBACK would draw "there is no transaction in progress".
 */
async function rollbackIfOpen(db: Db): Promise<void> {
  try {
    await db.unsafe("SELECT 1");
  } catch (e) {
    if (isPostgresError(e) && e.code === "25P02") await db.unsafe("ROLLBACK").catch(() => {});
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
    /** Statements recorded as completed (no-transaction files). */
    readonly done?: number,
    /** An INVALID index the failing CREATE INDEX CONCURRENTLY left. */
    readonly leftover?: string,
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
  const kept = m.noTxReason && !m.wrapped ? keptSentence(stmt?.done ?? stmt?.index ?? 0, stmt?.done !== undefined, stmt?.leftover) : "this file was rolled back";
  // The source line goes last: it usually ends with `;`, and a separator after it would double it.
  const hints = [mapped.pg.hint, kept, line ? `line ${line}: ${lineAt(m.file.text, lineStart(m.file.text, line)).trim()}` : source].filter(Boolean);
  return new SqlError(`${where}: ${mapped.message} (SQLSTATE ${mapped.sqlstate})${source && line ? ` in ${source}` : ""}`, mapped.sqlstate, mapped.pg, {
    hint: hints.join("; "),
    cause: err,
    details: { file: m.file.name, line, column, detail: mapped.pg.detail, ...(stmt?.done ? { statementsDone: stmt.done, statements: stmt.total } : {}) },
  });
}

/** What a no-transaction file left behind after a failure or an interrupt. */
function keptSentence(done: number, recorded: boolean, leftover?: string): string {
  if (done === 0 && !leftover) return "nothing from this file was applied";
  const ran =
    done === 0
      ? "no statement of this file completed"
      : `${done === 1 ? "statement 1" : `statements 1-${done}`} of this file ran outside a transaction and ${done === 1 ? "was" : "were"} kept`;
  const left = leftover ? `; statement ${done + 1} left the INVALID index ${leftover}, which --resume drops before running it again` : "";
  return recorded
    ? `${ran}${left}; the file is recorded as partially applied: fix the cause, then run \`eve db migrate --resume\` to continue with statement ${done + 1}`
    : ran;
}

/** The message for Ctrl-C during a file. */
export function describeInterrupt(e: unknown, m: Prepared): string {
  if (!m.noTxReason || m.wrapped) return `interrupted: ${m.file.name} was cancelled and rolled back; earlier migrations of this run are committed`;
  const done = e instanceof StatementFailure ? (e.done ?? e.index) : 0;
  return `interrupted: ${m.file.name} was cancelled; ${keptSentence(done, e instanceof StatementFailure && e.done !== undefined)}; earlier migrations of this run are committed`;
}

/** One completed or pending statement of a partially applied file, for messages and --json. */
export interface StatementRef {
  statement: number;
  line: number;
  text: string;
}

const ref = (statements: Statement[], i: number): StatementRef => ({ statement: i + 1, line: statements[i]!.line, text: excerpt(statements[i]!.text) });

/**
 * Partially applied no-transaction files (history rows in state `running`) are
 * resolved before anything else runs. Without `resume` this refuses (exit 5)
 * naming the completed statements and the next one; with it, returns the files
 * to continue and the index of the first statement to run. Needs the parser.
 */
export async function resolvePartial(db: Db, p: Plan, resume: boolean | undefined): Promise<PartialFile[]> {
  if (!p.running.length) {
    if (resume) {
      throw new UsageError("--resume: no migration is partially applied, so there is nothing to resume", {
        hint: "run eve db migrate without --resume (eve db migrations lists the history)",
      });
    }
    return [];
  }
  const out: PartialFile[] = [];
  for (const r of p.running) {
    const done = r.row.statements_done ?? 0;
    const total = (r.row.details as { statements?: number } | null)?.statements;
    if (!r.file) {
      throw new CheckError("E_PARTIAL", `${r.row.name} is partially applied (${done}${total ? ` of ${total}` : ""} statements completed) but its file is gone`, {
        hint: "restore the file and run eve db migrate --resume; nothing was applied",
        details: { file: r.row.name, statementsDone: done },
      });
    }
    if (r.drift) {
      throw new CheckError(
        "E_DRIFT",
        `${r.file.name} is partially applied (${done}${total ? ` of ${total}` : ""} statements completed) and was modified since it started (recorded sha256 ${r.drift.storedChecksum}, file sha256 ${r.drift.fileChecksum})`,
        {
          hint: "restore the original file and run eve db migrate --resume, then put further changes in a new migration; nothing was applied",
          details: { drifted: [r.drift], statementsDone: done },
        },
      );
    }
    const statements = splitStatements(r.file.text);
    const prepared: Prepared = { file: r.file, statements, noTxReason: r.file.noTransactionDirective ? "-- eve:no-transaction" : "partially applied", wrapped: false };
    if (done >= statements.length) {
      // Every statement ran; only the final mark was lost.
      out.push({ prepared, from: statements.length });
      continue;
    }
    const leftover = await leftoverIndex(db, statements[done]!);
    const built = leftover ? undefined : await builtIndex(db, statements[done]!);
    if (!resume) {
      const completed = statements.slice(0, done).map((_, i) => ref(statements, i));
      const next = ref(statements, done);
      const lines = [
        ...completed.map((c) => `  done  statement ${c.statement}, line ${c.line}: ${c.text}`),
        `  next  statement ${next.statement}, line ${next.line}: ${next.text}`,
        ...(leftover ? [`  left  an INVALID index ${leftover}: statement ${done + 1} was cut off while building it; --resume drops it and runs the statement again`] : []),
        ...(built ? [`  built the VALID index ${built}: statement ${done + 1} completed but the run stopped before recording it; --resume counts it as done`] : []),
      ];
      const what = done === 0
        ? `no statement completed; statement 1 of ${statements.length} (line ${next.line}) had started when the run stopped`
        : `${done === 1 ? "statement 1" : `statements 1-${done}`} of ${statements.length} completed outside a transaction; the next is statement ${done + 1} (line ${next.line})`;
      const cic = leftover || built ? undefined : nonTransactionalReason(statements[done]!, 0);
      throw new CheckError("E_PARTIAL", `${r.file.name} is partially applied: ${what}`, {
        context: lines,
        hint:
          `check the database, then run \`eve db migrate --resume\` to continue with statement ${done + 1}` +
          (cic ? ` (it is ${cic}: if it was cut off it may have left something half-built; check that first)` : "") +
          "; nothing was applied",
        details: { file: r.file.name, statementsDone: done, statements: statements.length, completed, next, ...(leftover ? { invalidIndex: leftover } : {}), ...(built ? { builtIndex: built } : {}) },
      });
    }
    out.push({ prepared, from: built ? done + 1 : done, ...(leftover ? { leftover } : {}), ...(built ? { built } : {}) });
  }
  return out;
}

/** A partially applied file to finish: run statements from `from`; drop `leftover` (an INVALID index) first. */
export interface PartialFile {
  prepared: Prepared;
  from: number;
  leftover?: string;
  /** A VALID index the statement before `from` built without its progress being recorded. */
  built?: string;
}

/**
 * The INVALID index a CREATE INDEX CONCURRENTLY leaves when it is cut off
 * (cancelled, killed, or failed), found by the statement's own index and table
 * names: the statement cannot simply run again ("already exists", or skipped
 * by IF NOT EXISTS). Returns its name as regclass text, or undefined.
 */
export async function leftoverIndex(db: Db, s: Statement): Promise<string | undefined> {
  const found = await statementIndex(db, s);
  return found && !found.valid ? found.name : undefined;
}

/**
 * The VALID index a CREATE INDEX CONCURRENTLY built completely before the run
 * was killed, in the moment before its progress was recorded (the statement
 * cannot share a round trip with the progress update). Found the same way.
 */
export async function builtIndex(db: Db, s: Statement): Promise<string | undefined> {
  const found = await statementIndex(db, s);
  return found?.valid ? found.name : undefined;
}

async function statementIndex(db: Db, s: Statement): Promise<{ name: string; valid: boolean } | undefined> {
  const n = s.node as { concurrent?: boolean; idxname?: string; relation?: { schemaname?: string; relname?: string } };
  if (s.type !== "IndexStmt" || !n.concurrent || !n.idxname || !n.relation?.relname) return undefined;
  const table = (n.relation.schemaname ? quoteIdent(n.relation.schemaname) + "." : "") + quoteIdent(n.relation.relname);
  const [row] = await db`
    select i.indexrelid::regclass::text as name, i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid = to_regclass(${table}) and c.relname = ${n.idxname}`;
  return row ? { name: row.name as string, valid: row.valid as boolean } : undefined;
}

function lineStart(text: string, line: number): number {
  let idx = 0;
  for (let l = 1; l < line; l++) idx = text.indexOf("\n", idx) + 1;
  return idx;
}

