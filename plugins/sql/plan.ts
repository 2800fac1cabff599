/**
 * Everything decided before anything is sent: the statements (real parser),
 * the read-only gate, which parameters each statement takes, and how the run
 * is wrapped (read-only transaction, one write transaction, or autocommit).
 * Pure: no database.
 */
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { copyStdioReason, isCopyableQuery, maxParamRef, readOnlyRefusal, referencedNames, sameTree, textMentions } from "../../core/sql/classify.ts";
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
  /**
   * The `COPY (…) TO STDOUT` text for the CSV fast path, set only when it
   * parses back to exactly one COPY of this very statement (else the cursor
   * path is used and the CSV is written client-side).
   */
  copyText?: string;
  /** Function and relation names the server-side check looks up (read-only mode). */
  names: { functions: string[]; relations: string[]; operators: string[] };
  /** Denied names written in the statement's strings or bound values (see textMentions). */
  mentions: string[];
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

/**
 * Parse `--params`: a JSON array; each value is bound as the text the user
 * wrote and typed by the server. Numbers keep every digit (no float
 * round-trip), objects and arrays are bound as their own JSON text (so
 * `$1::jsonb` gets that JSON), strings as their value, null as NULL.
 */
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
  // Valid JSON from here on: take each element's source text.
  return jsonArrayElements(raw).map((src, i) => {
    const x = v[i];
    if (x === null) return null;
    if (typeof x === "string") return x;
    return src;
  });
}

/** The source text of each element of a JSON array text (which must be valid JSON). */
function jsonArrayElements(raw: string): string[] {
  const out: string[] = [];
  let i = raw.indexOf("[") + 1;
  let depth = 0;
  let start = -1;
  const flush = (end: number) => {
    if (start >= 0) out.push(raw.slice(start, end).trim());
    start = -1;
  };
  for (; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '"') {
      if (start < 0) start = i;
      for (i++; i < raw.length && raw[i] !== '"'; i++) if (raw[i] === "\\") i++;
      continue;
    }
    if (depth === 0 && (c === "," || c === "]")) {
      flush(i);
      if (c === "]") break;
      continue;
    }
    if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    if (start < 0 && !/\s/.test(c)) start = i;
  }
  return out;
}

/**
 * Refuse text the gate could not judge as the server will read it: a NUL
 * character ends a string in the parser and in the wire protocol (the gate
 * would check less text than the source holds), and a lone UTF-16 surrogate
 * (possible in a JSON request body) has no UTF-8 encoding, so the server
 * would get a replacement character instead.
 */
export function checkSqlText(text: string, source: string): void {
  const what = source.startsWith("--") ? source : source === "stdin" ? "--file - (stdin)" : `--file ${source}`;
  const at = (i: number) => {
    const before = text.slice(0, i);
    return { line: before.split("\n").length, byteOffset: new TextEncoder().encode(before).length };
  };
  const nul = text.indexOf("\0");
  if (nul >= 0) {
    const { line, byteOffset } = at(nul);
    throw new UsageError(`${what} contains a NUL byte: line ${line}, byte offset ${byteOffset}`, {
      hint: "nothing was sent to the database; Postgres cannot take NUL in SQL text (remove it, or bind the value with --params)",
      details: { line, byteOffset },
    });
  }
  const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(text);
  if (lone) {
    const { line, byteOffset } = at(lone.index);
    throw new UsageError(`${what} is not valid Unicode (a lone UTF-16 surrogate): line ${line}, byte offset ${byteOffset}`, {
      hint: "nothing was sent to the database; send the SQL as valid UTF-8 text",
      details: { line, byteOffset },
    });
  }
}

export function planSql(text: string, opts: PlanOptions): SqlPlan {
  checkSqlText(text, opts.source);
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

  const planned: PlannedStatement[] = stmts.map((stmt, i) => {
    exactText(stmt, i + 1, stmts.length, opts.source);
    const copyText = isCopyableQuery(stmt) ? verifiedCopy(stmt) : undefined;
    const paramCount = maxParamRef(stmt);
    const mentions = textMentions(stmt, opts.params.slice(0, paramCount));
    return { index: i + 1, stmt, paramCount, copyable: copyText !== undefined, copyText, names: referencedNames(stmt), mentions };
  });

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

/**
 * The text sent for a statement is its slice of the source: it must parse
 * back, alone, to exactly the statement the gate judged. (The server gets one
 * statement per Parse message, so it could not run a second one anyway.)
 */
function exactText(stmt: Statement, index: number, total: number, source: string): void {
  let again: Statement[] | undefined;
  try {
    again = splitStatements(stmt.text);
  } catch {
    again = undefined;
  }
  if (again?.length === 1 && again[0]!.type === stmt.type && sameTree(again[0]!.node, stmt.node)) return;
  const at = where(source, stmt.line, stmt.column);
  throw new EveError("E_SQL_SPLIT", `${total > 1 ? `statement ${index} of ${total}` : "the statement"} at ${at} could not be isolated as exactly the text that was checked`, ExitCode.failed, {
    hint: "nothing was sent to the database; end each statement with ; on its own, and report this input as a bug",
  });
}

/** What precedes the statement in the COPY text (error positions are shifted by it). */
export const COPY_PREFIX = "COPY (\n";

/**
 * `COPY (<statement>) TO STDOUT (FORMAT csv, HEADER)`, only when that text
 * parses to exactly one COPY whose query is the approved statement's tree.
 */
export function verifiedCopy(stmt: Statement): string | undefined {
  // A newline before ")" keeps a trailing -- comment from swallowing it.
  const text = `${COPY_PREFIX}${stmt.text}\n) TO STDOUT (FORMAT csv, HEADER)`;
  let parsed: Statement[];
  try {
    parsed = splitStatements(text);
  } catch {
    return undefined;
  }
  const copy = parsed.length === 1 && parsed[0]!.type === "CopyStmt" ? parsed[0]!.node : undefined;
  if (!copy || copy.is_from || copy.is_program || copy.filename || copy.relation) return undefined;
  const query = copy.query as Record<string, unknown> | undefined;
  if (!query || !(stmt.type in query) || Object.keys(query).length !== 1) return undefined;
  return sameTree(query[stmt.type], stmt.node) ? text : undefined;
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

/** The statement on one line, secrets masked, then shortened. */
export function excerpt(text: string, max = 60): string {
  const one = maskSecrets(text).replace(/\s+/g, " ").trim();
  return one.length > max ? one.slice(0, max - 1) + "…" : one;
}

/** The source line holding `index` with its number and a caret under the position. */
export function sourceExcerpt(text: string, index: number): string[] {
  const masked = maskSecrets(text);
  const { line, column } = lineCol(masked, index);
  const src = lineAt(masked, index);
  const gutter = String(line);
  const lead = src.slice(0, column - 1).replace(/[^\t]/g, " ");
  return [`  ${gutter} | ${src}`, `  ${" ".repeat(gutter.length)} | ${lead}^`];
}

/**
 * Mask secrets in SQL text before any of it is shown or cut: passwords in
 * URLs (scheme://user:secret@), `password=secret` (connection strings, also
 * inside literals) and `PASSWORD 'secret'` (CREATE/ALTER ROLE, user mapping
 * options). Masking keeps every character's position (secret characters
 * become *), so line:column and carets still point at the right place. The
 * URL rule covers what core/db/url.ts redactText masks (a password with an
 * unencoded @ included), but keeps positions, which redactText does not.
 */
export function maskSecrets(text: string): string {
  const star = (s: string) => s.replace(/[^\n]/g, "*");
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s'"]*:)(\S*)(@)/gi, (_, a: string, p: string, b: string) => a + star(p) + b);
  out = out.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'?|"[^"]*"?|[^\s'";]+)/gi, (_, a: string, p: string) => a + star(p));
  out = out.replace(/(password\s+)(E'(?:[^'\\]|\\[\s\S]|'')*'?|(?:U&)?'(?:[^']|'')*'?|(\$[a-z_0-9]*\$)[\s\S]*?(?:\3|$))/gi, (_, a: string, p: string) => a + star(p));
  return out;
}
