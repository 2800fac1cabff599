/** How a failed run is reported: Postgres positions mapped back onto the whole SQL text. */
import { mapDbError, SqlError } from "../../core/db/index.ts";
import { EveError, InterruptedError } from "../../core/errors.ts";
import { codePointIndex, lineCol } from "../../core/sql/index.ts";
import { COPY_PREFIX, maskSecrets, sourceExcerpt, where, type PlannedStatement, type SqlPlan } from "./plan.ts";
import { abortError } from "./statement.ts";

/** Turn a failure into an error naming the statement, line:column, SQLSTATE, detail and what was kept. */
export function failure(e: unknown, s: PlannedStatement | undefined, viaCopy: boolean, plan: SqlPlan, text: string, source: string, signal?: AbortSignal): EveError {
  if (signal?.aborted && !(abortError(signal) instanceof InterruptedError)) return abortError(signal);
  if (e instanceof EveError && !(e instanceof InterruptedError) && !(e instanceof SqlError)) return e;
  if (signal?.aborted || e instanceof InterruptedError) {
    return new InterruptedError(
      plan.mode === "autocommit" ? "interrupted: the running statement was cancelled" : "interrupted: the running statement was cancelled and the transaction rolled back",
    );
  }
  const raw = mapDbError(e);
  if (!(raw instanceof SqlError) || !s) return raw;
  // Server messages can quote the statement (a conninfo in dblink's, a CONTEXT line).
  const m = (t: string | undefined) => (t === undefined ? undefined : maskSecrets(t));
  const mapped = { message: m(raw.message)!, sqlstate: raw.sqlstate, pg: { ...raw.pg, detail: m(raw.pg.detail), hint: m(raw.pg.hint), where: m(raw.pg.where) } };
  const copyOffset = viaCopy ? COPY_PREFIX.length : 0;
  const pos = mapped.pg.position ? mapped.pg.position - 1 - copyOffset : -1;
  const at = pos >= 0 && pos <= codePoints(s.stmt.text) ? s.stmt.start + codePointIndex(s.stmt.text, pos) : s.stmt.start;
  const { line, column } = lineCol(text, at);
  const notes: string[] = [];
  if (mapped.pg.hint) notes.push(mapped.pg.hint);
  if (plan.mode === "read-only" && mapped.sqlstate === "25006") notes.push("the session is read-only; --write allows writes");
  if (plan.mode === "transaction") notes.push("the transaction was rolled back: nothing was written");
  if (plan.mode === "autocommit" && s.index > 1) notes.push(`statements before statement ${s.index} ran in autocommit and were not rolled back`);
  const total = plan.statements.length;
  const err = new SqlError(`${where(source, line, column)}: ${mapped.message} (SQLSTATE ${mapped.sqlstate})${total > 1 ? ` in statement ${s.index} of ${total}` : ""}`, mapped.sqlstate, mapped.pg, {
    hint: notes.join("; ") || undefined,
    cause: e,
    details: { statement: s.index, line, column },
  });
  err.context = [
    ...sourceExcerpt(text, at),
    ...(mapped.pg.detail ? [`detail: ${mapped.pg.detail}`] : []),
    ...(mapped.pg.where ? [`where: ${mapped.pg.where.split("\n")[0]}`] : []),
  ];
  return err;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

