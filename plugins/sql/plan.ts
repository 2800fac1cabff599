/**
 * Everything decided before anything is sent: the statements (real parser),
 * the read-only gate, which parameters each statement takes, and how the run
 * is wrapped (read-only transaction, one write transaction, or autocommit).
 * Pure: no database.
 */
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { copyStdioReason, isCopyableQuery, maxParamRef, readOnlyRefusal } from "../../core/sql/classify.ts";
import { lineAt, lineCol, nonTransactionalReason, ParseError, splitStatements, type Statement } from "../../core/sql/index.ts";
import type { SqlMode } from "./schema.ts";

export interface PlannedStatement {
  /** 1-based. */
  index: number;
  stmt: Statement;
  /** How many of the --params values this statement binds ($1…$n). */
  paramCount: number;
  /** A plain query that `COPY (…) TO STDOUT` can wrap (the CSV fast path). */
  copyable: boolean;
}

export interface SqlPlan {
  statements: PlannedStatement[];
  mode: SqlMode;
  /** Why --write runs in autocommit (statement and reason), when it does with several statements. */
  autocommitReason?: string;
}

export interface PlanOptions {
  write: boolean;
  params: Array<string | null>;
  /** Where the text came from, for messages: "--sql", a file name, "stdin". */
  source: string;
}

/** Parse `--params`: a JSON array; each value is sent as text and typed by the server. */
export function parseParams(raw: string | undefined): Array<string | null> {
  if (raw === undefined) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new UsageError(`--params must be valid JSON: ${(e as Error).message}`, {
      hint: `pass a JSON array, e.g. --params '[42, "alice", null]'`,
    });
  }
  if (!Array.isArray(v)) {
    throw new UsageError(`--params must be a JSON array (got ${v === null ? "null" : typeof v})`, {
      hint: `pass a JSON array, e.g. --params '[42, "alice", null]'; values bind to $1, $2, …`,
    });
  }
  return v.map((x) => (x === null ? null : typeof x === "string" ? x : typeof x === "object" ? JSON.stringify(x) : String(x)));
}

export function planSql(text: string, opts: PlanOptions): SqlPlan {
  let stmts: Statement[];
  try {
    stmts = splitStatements(text);
  } catch (e) {
    if (e instanceof ParseError) {
      const err = new EveError("E_SQL_SYNTAX", `${where(opts.source, e.line, e.column)}: ${e.message}`, ExitCode.failed, {
        hint: "nothing was sent to the database",
        details: { line: e.line, column: e.column },
        context: sourceExcerpt(text, e.position),
      });
      throw err;
    }
    throw e;
  }
  if (stmts.length === 0) throw new UsageError(`no SQL statements in ${opts.source}`, { hint: 'pass --sql "select …", --file FILE or --file - (stdin)' });

  const planned: PlannedStatement[] = stmts.map((stmt, i) => ({
    index: i + 1,
    stmt,
    paramCount: maxParamRef(stmt),
    copyable: isCopyableQuery(stmt),
  }));

  for (const p of planned) {
    const copy = copyStdioReason(p.stmt);
    if (copy) {
      throw new UsageError(`${describe(p, stmts.length, opts.source)}: ${copy} needs a COPY data channel, which eve db sql does not have`, {
        hint: copy.endsWith("STDOUT") ? "select the rows and use --csv (it streams with COPY TO STDOUT itself)" : "use psql \\copy, or INSERT … SELECT with --write",
      });
    }
  }

  if (!opts.write) {
    const refused = planned.flatMap((p) => {
      const reason = readOnlyRefusal(p.stmt);
      return reason ? [{ p, reason }] : [];
    });
    const first = refused[0];
    if (first) {
      const more = refused.length > 1 ? ` (and ${refused.length - 1} more refused statement${refused.length > 2 ? "s" : ""})` : "";
      throw new EveError("E_READ_ONLY", `refused ${describe(first.p, stmts.length, opts.source)}: ${first.reason}${more}`, ExitCode.failed, {
        hint: "nothing was sent to the database; --write allows it (the statements then run read-write)",
        details: {
          statement: first.p.index,
          line: first.p.stmt.line,
          column: first.p.stmt.column,
          excerpt: excerpt(first.p.stmt.text),
          reason: first.reason,
          refused: refused.map((r) => r.p.index),
        },
        context: sourceExcerpt(text, first.p.stmt.start),
      });
    }
  }

  const maxUsed = Math.max(0, ...planned.map((p) => p.paramCount));
  const over = planned.find((p) => p.paramCount > opts.params.length);
  if (over) {
    const n = opts.params.length;
    throw new UsageError(`${describe(over, stmts.length, opts.source)} uses $${over.paramCount} but --params has ${n} value${n === 1 ? "" : "s"}`, {
      hint: `pass ${over.paramCount} value${over.paramCount === 1 ? "" : "s"}, e.g. --params '[${Array.from({ length: over.paramCount }, (_, i) => i + 1).join(", ")}]'`,
    });
  }
  if (opts.params.length > maxUsed) {
    throw new UsageError(`--params has ${opts.params.length} value${opts.params.length === 1 ? "" : "s"} but the SQL uses ${maxUsed ? `only $1…$${maxUsed}` : "no $n parameters"}`, {
      hint: "reference each value as $1, $2, … or drop the extra values",
    });
  }

  let mode: SqlMode = "read-only";
  let autocommitReason: string | undefined;
  if (opts.write) {
    const blocker = planned.find((p) => nonTransactionalReason(p.stmt));
    mode = planned.length > 1 && !blocker ? "transaction" : "autocommit";
    if (planned.length > 1 && blocker) {
      autocommitReason =
        blocker.stmt.type === "TransactionStmt"
          ? "the SQL manages its own transactions"
          : `statement ${blocker.index} is ${nonTransactionalReason(blocker.stmt)}, which cannot run in a transaction`;
    }
  }
  return { statements: planned, mode, autocommitReason };
}

/** "statement 2 of 3 at line 4:1 ("COMMIT")" or, for one statement, "the statement ("…")". */
export function describe(p: PlannedStatement, total: number, source: string): string {
  const at = where(source, p.stmt.line, p.stmt.column);
  return `${total > 1 ? `statement ${p.index} of ${total}` : "statement"} at ${at} ("${excerpt(p.stmt.text)}")`;
}

/** "line 3:15", or "report.sql:3:15" for a file. */
export function where(source: string, line: number, column: number): string {
  return source.startsWith("--") || source === "stdin" ? `line ${line}:${column}` : `${source}:${line}:${column}`;
}

/** The statement on one line, shortened. */
export function excerpt(text: string, max = 60): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? one.slice(0, max - 1) + "…" : one;
}

/** The source line holding `index` with its number and a caret under the position. */
export function sourceExcerpt(text: string, index: number): string[] {
  const { line, column } = lineCol(text, index);
  const src = lineAt(text, index);
  const gutter = String(line);
  const lead = src.slice(0, column - 1).replace(/[^\t]/g, " ");
  return [`  ${gutter} | ${src}`, `  ${" ".repeat(gutter.length)} | ${lead}^`];
}
