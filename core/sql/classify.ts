/**
 * Read-only gate and statement facts, decided on the parser's AST (never on
 * text patterns). The gate backs `eve db sql` without --write: the session is
 * already read-only (default_transaction_read_only, one READ ONLY transaction
 * that is rolled back), so plain writes fail at the server. What is refused
 * here is what Postgres itself allows inside a read-only transaction but that
 * could end it, change it, or have effects that outlive it.
 */
import type { Statement } from "./index.ts";

/** Settings that decide whether the session or the transaction is read-only. */
const readOnlySettings = new Set(["default_transaction_read_only", "transaction_read_only"]);

/**
 * Functions with effects a read-only transaction (and its rollback) cannot
 * contain: other connections, server files, other sessions, server state.
 * Matched on the last name part, case-insensitively, wherever they are called.
 */
const sideEffectFunctions: ReadonlyArray<readonly [RegExp, string]> = [
  [/^dblink/, "runs SQL over its own connection, which is not read-only"],
  [/^pg_background_/, "runs SQL in a background worker with its own transaction"],
  [/^(lo_import|lo_export|pg_file_write|pg_file_rename|pg_file_unlink|pg_file_sync)$/, "reads or writes files on the database server"],
  [/^(pg_terminate_backend|pg_cancel_backend)$/, "acts on other sessions"],
  [/^(pg_reload_conf|pg_rotate_logfile|pg_promote|pg_switch_wal|pg_create_restore_point|pg_backup_start|pg_backup_stop|pg_start_backup|pg_stop_backup|pg_import_system_collations)$/, "changes server state"],
  [/^(pg_stat_reset.*|pg_stat_statements_reset)$/, "resets server statistics"],
  [/^(pg_create_(physical|logical)_replication_slot|pg_drop_replication_slot|pg_copy_(physical|logical)_replication_slot|pg_replication_slot_advance|pg_logical_slot_get_(binary_)?changes|pg_logical_emit_message|pg_replication_origin_(create|drop|advance|session_setup|session_reset|xact_setup|xact_reset))$/, "changes replication state outside the transaction"],
];

/**
 * Why `stmt` is refused in read-only mode, or undefined when it may be sent
 * (the server still rejects ordinary writes in the read-only transaction).
 */
export function readOnlyRefusal(stmt: Statement): string | undefined {
  const n = stmt.node;
  switch (stmt.type) {
    case "TransactionStmt": {
      const kind = String(n.kind ?? "").replace(/^TRANS_STMT_/, "").replace(/_/g, " ");
      return `transaction control (${kind}) could end the read-only transaction`;
    }
    case "VariableSetStmt": {
      const why = variableSetRefusal(n);
      if (why) return why;
      break;
    }
    case "DoStmt":
      return "DO blocks run procedural code that can commit and change settings";
    case "CallStmt":
      return "procedures (CALL) can commit and change settings";
    case "AlterSystemStmt":
      return "ALTER SYSTEM changes the server configuration";
    case "CopyStmt":
      if (n.is_from) return "COPY … FROM writes rows";
      if (n.is_program) return "COPY … TO PROGRAM runs a program on the server";
      if (n.filename) return "COPY … TO a file writes on the server";
      return undefined;
    case "LockStmt":
      return "LOCK takes explicit table locks that can block other sessions";
    case "VacuumStmt":
      return n.is_vacuumcmd ? "VACUUM writes to the database" : "ANALYZE writes statistics";
    case "ClusterStmt":
      return "CLUSTER rewrites tables";
    case "ReindexStmt":
      return "REINDEX rewrites indexes";
    case "CheckPointStmt":
      return "CHECKPOINT acts on the whole server";
    case "LoadStmt":
      return "LOAD loads a library into the server process";
  }
  return functionRefusal(n);
}

function variableSetRefusal(n: Record<string, unknown>): string | undefined {
  const kind = String(n.kind ?? "");
  const name = String(n.name ?? "").toLowerCase();
  if (kind === "VAR_RESET_ALL") return "RESET ALL resets default_transaction_read_only";
  if (kind === "VAR_SET_MULTI") {
    return name === "transaction" ? "SET TRANSACTION can make the transaction read-write" : "SET SESSION CHARACTERISTICS can make transactions read-write";
  }
  if (readOnlySettings.has(name)) return `${kind === "VAR_RESET" ? "RESET" : "SET"} ${name} changes the read-only setting`;
  return undefined;
}

/** The first side-effect function call (or read-only setting changed by set_config) in the tree. */
function functionRefusal(node: unknown): string | undefined {
  let found: string | undefined;
  walk(node, (o) => {
    if (found || !o.FuncCall) return;
    const fn = o.FuncCall as { funcname?: Array<{ String?: { sval?: string } }>; args?: unknown[] };
    const parts = (fn.funcname ?? []).map((p) => p.String?.sval ?? "");
    const name = (parts[parts.length - 1] ?? "").toLowerCase();
    if (name === "set_config") {
      const setting = constantString(fn.args?.[0]);
      if (setting === undefined) found = "set_config() with a computed setting name could change the read-only setting";
      else if (readOnlySettings.has(setting.toLowerCase())) found = `set_config('${setting}', …) changes the read-only setting`;
      return;
    }
    for (const [re, why] of sideEffectFunctions) {
      if (re.test(name)) {
        found = `${name}() ${why}`;
        return;
      }
    }
  });
  return found;
}

/** A string literal, possibly cast ('x'::text), or undefined. */
function constantString(v: unknown): string | undefined {
  if (!v || typeof v !== "object") return undefined;
  const o = v as Record<string, unknown>;
  if (o.TypeCast) return constantString((o.TypeCast as { arg?: unknown }).arg);
  const c = o.A_Const as { sval?: { sval?: string } } | undefined;
  return typeof c?.sval?.sval === "string" ? c.sval.sval : undefined;
}

/** Visit every object node of an AST. */
function walk(v: unknown, visit: (o: Record<string, unknown>) => void): void {
  if (Array.isArray(v)) {
    for (const x of v) walk(x, visit);
    return;
  }
  if (!v || typeof v !== "object") return;
  const o = v as Record<string, unknown>;
  visit(o);
  for (const k in o) walk(o[k], visit);
}

/**
 * Why a statement cannot run through a client that has no COPY data channel
 * (COPY … FROM STDIN / TO STDOUT), or undefined.
 */
export function copyStdioReason(stmt: Statement): string | undefined {
  if (stmt.type !== "CopyStmt" || stmt.node.filename || stmt.node.is_program) return undefined;
  return stmt.node.is_from ? "COPY … FROM STDIN" : "COPY … TO STDOUT";
}

/** The highest `$n` parameter the statement references (0 when none). */
export function maxParamRef(stmt: Statement): number {
  let max = 0;
  walk(stmt.node, (o) => {
    const p = o.ParamRef as { number?: number } | undefined;
    if (p && typeof p.number === "number" && p.number > max) max = p.number;
  });
  return max;
}

/**
 * True when the statement is a plain query (SELECT, VALUES, TABLE, WITH …
 * SELECT) that `COPY (…) TO STDOUT` can wrap: no SELECT INTO, no row locks.
 */
export function isCopyableQuery(stmt: Statement): boolean {
  if (stmt.type !== "SelectStmt") return false;
  const n = stmt.node;
  if (n.intoClause || n.lockingClause) return false;
  let modifying = false;
  // Data-modifying CTEs (WITH x AS (INSERT …)) are not allowed inside COPY.
  walk((n.withClause as Record<string, unknown> | undefined)?.ctes, (o) => {
    const cte = o.CommonTableExpr as { ctequery?: Record<string, unknown> } | undefined;
    if (cte?.ctequery && !("SelectStmt" in cte.ctequery)) modifying = true;
  });
  return !modifying;
}
