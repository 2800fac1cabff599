/**
 * The SQL parser wrapper (libpg-query: the real Postgres grammar compiled to
 * WASM). Splits text into statements with positions, classifies them, and
 * finds function calls. Offsets returned here are JavaScript string indexes.
 */
import { EveError, ExitCode } from "../errors.ts";

type PgQuery = typeof import("libpg-query");
let lib: PgQuery | undefined;
let loaded: Promise<void> | undefined;

/**
 * Load the WASM parser once (about 20 ms). Call before any other function here.
 * Imported on first use: instantiating it reserves a 135 MB WASM heap, which
 * commands that never parse SQL should not carry (it also makes the garbage
 * collector lazier for the rest of the process).
 */
export function ensureParser(): Promise<void> {
  loaded ??= import("libpg-query").then(async (m) => {
    await m.loadModule();
    lib = m;
  });
  return loaded;
}

function parser(): PgQuery {
  if (!lib) throw new Error("SQL parser not loaded: call ensureParser() first");
  return lib;
}

/** One statement of a SQL text. */
export interface Statement {
  /** The statement text without the trailing semicolon, trimmed. */
  text: string;
  /** Index of the first character in the source text. */
  start: number;
  /** 1-based line and column of the first character. */
  line: number;
  column: number;
  /** The AST node type, e.g. "CreateStmt", "IndexStmt", "TransactionStmt". */
  type: string;
  /** The AST node itself. */
  node: Record<string, unknown>;
}

/** A syntax error found by the parser, with the position in the source text. */
export class ParseError extends EveError {
  override readonly name = "ParseError";
  constructor(
    message: string,
    readonly position: number,
    readonly line: number,
    readonly column: number,
  ) {
    super("E_SQL_SYNTAX", message, ExitCode.failed);
  }
}

/** Convert a UTF-8 byte offset of `text` into a string index. */
function byteToCharIndex(text: string, bytes: Uint8Array, byteOffset: number, ascii: boolean): number {
  if (ascii) return byteOffset;
  return new TextDecoder().decode(bytes.subarray(0, byteOffset)).length;
}

/** 1-based line and column of a string index. */
export function lineCol(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < index && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lastNl = i;
    }
  }
  return { line, column: index - lastNl };
}

/** String index of the `cp`-th code point: Postgres positions count characters, JS strings UTF-16 units. */
export function codePointIndex(text: string, cp: number): number {
  let i = 0;
  let n = 0;
  while (i < text.length && n < cp) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
    n++;
  }
  return i;
}

/** The full source line containing a string index (for error displays). */
export function lineAt(text: string, index: number): string {
  const s = text.lastIndexOf("\n", Math.max(0, index - 1)) + 1;
  const e = text.indexOf("\n", index);
  return text.slice(s, e === -1 ? undefined : e).replace(/\r$/, "");
}

/** Parse a text into statements. Throws ParseError on a syntax error. */
export function splitStatements(text: string): Statement[] {
  let result: { stmts?: Array<{ stmt?: Record<string, unknown>; stmt_location?: number; stmt_len?: number }> };
  try {
    result = parser().parseSync(text) as typeof result;
  } catch (e) {
    const details = (e as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const bytes = new TextEncoder().encode(text);
    const pos = byteToCharIndex(text, bytes, Math.max(0, details?.cursorPosition ?? 0), bytes.length === text.length);
    const { line, column } = lineCol(text, pos);
    throw new ParseError((e as Error).message, pos, line, column);
  }
  const bytes = new TextEncoder().encode(text);
  const ascii = bytes.length === text.length;
  const out: Statement[] = [];
  for (const s of result.stmts ?? []) {
    const startByte = s.stmt_location ?? 0;
    const endByte = s.stmt_len ? startByte + s.stmt_len : bytes.length;
    const start = byteToCharIndex(text, bytes, startByte, ascii);
    const end = byteToCharIndex(text, bytes, endByte, ascii);
    const raw = text.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const stmtText = stripLeadingComments(raw.trim());
    const first = start + lead + (raw.trim().length - stmtText.length);
    const { line, column } = lineCol(text, first);
    const [type, node] = Object.entries(s.stmt ?? {})[0] ?? ["Unknown", {}];
    out.push({ text: stmtText.replace(/;\s*$/, ""), start: first, line, column, type, node: node as Record<string, unknown> });
  }
  return out;
}

/** Drop leading `--` and `/* *\/` comments so positions point at the statement itself. */
function stripLeadingComments(s: string): string {
  let t = s;
  for (;;) {
    if (t.startsWith("--")) {
      const nl = t.indexOf("\n");
      t = nl === -1 ? "" : t.slice(nl + 1).trimStart();
    } else if (t.startsWith("/*")) {
      const end = t.indexOf("*/");
      t = end === -1 ? "" : t.slice(end + 2).trimStart();
    } else {
      return t;
    }
  }
}

/** Why a statement cannot run inside a transaction block, or undefined. */
export function nonTransactionalReason(stmt: Statement, serverVersionNum = 150000): string | undefined {
  const n = stmt.node;
  switch (stmt.type) {
    case "IndexStmt":
      return n.concurrent ? "CREATE INDEX CONCURRENTLY" : undefined;
    case "DropStmt":
      return n.concurrent ? "DROP INDEX CONCURRENTLY" : undefined;
    case "ReindexStmt": {
      const params = (n.params as Array<{ DefElem?: { defname?: string } }> | undefined) ?? [];
      return params.some((p) => p.DefElem?.defname === "concurrently") ? "REINDEX CONCURRENTLY" : undefined;
    }
    case "VacuumStmt":
      return n.is_vacuumcmd ? "VACUUM" : undefined;
    case "CreatedbStmt":
      return "CREATE DATABASE";
    case "DropdbStmt":
      return "DROP DATABASE";
    case "CreateTableSpaceStmt":
      return "CREATE TABLESPACE";
    case "DropTableSpaceStmt":
      return "DROP TABLESPACE";
    case "AlterSystemStmt":
      return "ALTER SYSTEM";
    case "CreateSubscriptionStmt":
      return "CREATE SUBSCRIPTION";
    case "DropSubscriptionStmt":
      return "DROP SUBSCRIPTION";
    case "AlterEnumStmt":
      return serverVersionNum < 120000 && n.newVal !== undefined && n.oldVal === undefined
        ? "ALTER TYPE … ADD VALUE (before PostgreSQL 12)"
        : undefined;
    case "TransactionStmt":
      return `its own transaction control (${String(n.kind ?? "").replace(/^TRANS_STMT_/, "")})`;
    default:
      return undefined;
  }
}

/**
 * Lower-case names of every function called in the statements, including
 * calls inside function bodies and DO blocks (found with the real SQL scanner).
 */
export function functionCalls(stmts: Statement[], only?: ReadonlySet<string>): Set<string> {
  const names = new Set<string>();
  const bodies: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (o.FuncCall && typeof o.FuncCall === "object") {
      const fn = o.FuncCall as { funcname?: Array<{ String?: { sval?: string } }> };
      const parts = (fn.funcname ?? []).map((p) => p.String?.sval ?? "");
      const last = parts[parts.length - 1];
      if (last) names.add(last.toLowerCase());
    }
    // Function bodies (AS '…' / $$…$$) and DO blocks are strings in the AST.
    if (o.DefElem && typeof o.DefElem === "object") {
      const d = o.DefElem as { defname?: string; arg?: unknown };
      if (d.defname === "as") collectStrings(d.arg, bodies);
    }
    if (o.ReturnStmt !== undefined || o.sql_body !== undefined) walk(o.sql_body);
    for (const k in o) walk(o[k]);
  };
  for (const s of stmts) walk(s.node);
  // Scanning a body costs far more than parsing; when the caller only cares about
  // some names, skip bodies that cannot contain any of them.
  for (const body of bodies) {
    if (only && !mentionsAny(body, only)) continue;
    for (const n of scanCalls(body)) names.add(n);
  }
  return names;
}

/** Case-insensitive substring pre-check, used only to skip work (never to decide). */
export function mentionsAny(text: string, names: ReadonlySet<string>): boolean {
  const lower = text.toLowerCase();
  for (const n of names) if (lower.includes(n)) return true;
  return false;
}

function collectStrings(v: unknown, out: string[]): void {
  if (Array.isArray(v)) return v.forEach((x) => collectStrings(x, out));
  if (!v || typeof v !== "object") return;
  const o = v as Record<string, unknown>;
  if (o.String && typeof o.String === "object") {
    const s = (o.String as { sval?: string }).sval;
    if (s) out.push(s);
    return;
  }
  if (o.List && typeof o.List === "object") collectStrings((o.List as { items?: unknown }).items, out);
}

/** Identifiers immediately followed by "(" in a body, via the SQL scanner. */
function scanCalls(body: string): string[] {
  let tokens: Array<{ text: string; tokenName: string }>;
  try {
    tokens = parser().scanSync(body).tokens;
  } catch {
    return [];
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < tokens.length; i++) {
    const t = tokens[i]!;
    if ((t.tokenName === "IDENT" || t.tokenName.endsWith("_P") || /^[A-Z_]+$/.test(t.tokenName)) && tokens[i + 1]!.text === "(") {
      out.push(t.text.replace(/^"|"$/g, "").toLowerCase());
    }
  }
  return out;
}

/** Extensions created by the statements (CREATE EXTENSION name). */
export function createdExtensions(stmts: Statement[]): Set<string> {
  const out = new Set<string>();
  for (const s of stmts) if (s.type === "CreateExtensionStmt") out.add(String(s.node.extname ?? ""));
  return out;
}
