/**
 * Read-only gate and statement facts, decided on the parser's AST (never on
 * text patterns). The gate backs `eve db sql` without --write: the session is
 * already read-only (default_transaction_read_only, one READ ONLY transaction
 * that is rolled back), so plain writes fail at the server. What is refused
 * here is what Postgres itself allows inside a read-only transaction but that
 * could end it, change it, change how the server reads the SQL text that
 * follows, run SQL the gate never saw, or have effects that outlive it.
 *
 * Statements Postgres allows in a read-only transaction (utility.c,
 * ClassifyUtilityCommandAsReadOnly) and what the gate does with them:
 * - refused: transaction control, DO, CALL, LOCK, VACUUM/ANALYZE, CLUSTER,
 *   REINDEX, CHECKPOINT, LOAD, COPY FROM / TO a file or program, ALTER SYSTEM,
 *   SET/RESET of the read-only and parsing settings, RESET ALL, SET TRANSACTION,
 *   SET SESSION CHARACTERISTICS.
 * - allowed: SELECT/EXPLAIN/SHOW, PREPARE/EXECUTE/DEALLOCATE, DECLARE/FETCH/
 *   CLOSE (their queries are checked like any other), other SET/RESET
 *   (undone by the rollback), SET ROLE / SESSION AUTHORIZATION (also undone,
 *   and they cannot lift read-only), SET CONSTRAINTS, LISTEN/UNLISTEN/NOTIFY
 *   (they take effect only at commit, and the transaction is rolled back),
 *   DISCARD (acts on this session only, which ends with the run).
 */
import type { Statement } from "./index.ts";

/** Settings that decide whether the session or the transaction is read-only. */
const readOnlySettings = new Set(["default_transaction_read_only", "transaction_read_only"]);

/**
 * Settings that change how the server reads SQL text (string literals and
 * bytes): the gate parses with the defaults, so these are pinned at session
 * start (startup parameters, verified on the session) and may not change.
 * `SET NAMES` is client_encoding.
 */
export const pinnedSettings: Readonly<Record<string, string>> = {
  standard_conforming_strings: "on",
  client_encoding: "UTF8",
};

/**
 * Settings that may not change without --write: the pinned ones, and two that
 * touch how literals are read but need no pin (with UTF8, backslash_quote on
 * and safe_encoding read the same; off only makes the server reject more;
 * escape_string_warning only warns).
 */
const parsingSettings = new Set([...Object.keys(pinnedSettings), "backslash_quote", "escape_string_warning"]);

/** Why a function is refused without --write: the categories named in refusals. */
export const Category = {
  sqlText: "runs SQL given as text",
  connection: "opens its own connection",
  signals: "signals other sessions",
  replication: "changes replication state",
  stats: "resets statistics",
  server: "changes server state/configuration",
  readFiles: "reads files on the server",
  writeFiles: "writes files on the server",
  lock: "takes a lock that outlives the transaction",
  indexes: "writes to indexes",
  heap: "writes to tables past the read-only check",
  foreignTable: "reads through a foreign-data wrapper",
} as const;
export type CategoryText = (typeof Category)[keyof typeof Category];

const C = Category;

/** Built-in (and well-known extension) functions, by exact lower-case name. */
const deniedNames = new Map<string, CategoryText>([
  ...names(C.sqlText, "xpath_table query_to_xml query_to_xml_and_xmlschema query_to_xmlschema ts_stat connectby table_to_xml table_to_xmlschema table_to_xml_and_xmlschema schema_to_xml schema_to_xmlschema schema_to_xml_and_xmlschema database_to_xml database_to_xmlschema database_to_xml_and_xmlschema"),
  ...names(C.signals, "pg_terminate_backend pg_cancel_backend pg_log_backend_memory_contexts pg_signal_backend"),
  ...names(C.replication, "pg_create_physical_replication_slot pg_create_logical_replication_slot pg_drop_replication_slot pg_copy_physical_replication_slot pg_copy_logical_replication_slot pg_replication_slot_advance pg_logical_emit_message pg_sync_replication_slots pg_replication_origin_create pg_replication_origin_drop pg_replication_origin_advance pg_replication_origin_session_setup pg_replication_origin_session_reset pg_replication_origin_xact_setup pg_replication_origin_xact_reset"),
  ...names(C.stats, "pg_clear_relation_stats pg_clear_attribute_stats pg_restore_relation_stats pg_restore_attribute_stats"),
  ...names(C.server, "pg_reload_conf pg_rotate_logfile pg_rotate_logfile_old pg_promote pg_switch_wal pg_switch_xlog pg_create_restore_point pg_backup_start pg_backup_stop pg_start_backup pg_stop_backup pg_wal_replay_pause pg_wal_replay_resume pg_xlog_replay_pause pg_xlog_replay_resume pg_import_system_collations pg_log_standby_snapshot autoprewarm_start_worker autoprewarm_dump_now"),
  ...names(C.readFiles, "pg_read_file pg_read_binary_file pg_stat_file lo_import pg_logdir_ls pg_file_read"),
  ...names(C.writeFiles, "lo_export pg_file_write pg_file_rename pg_file_unlink pg_file_sync"),
  ...names(C.lock, "pg_advisory_lock pg_advisory_lock_shared pg_try_advisory_lock pg_try_advisory_lock_shared"),
  ...names(C.indexes, "brin_summarize_new_values brin_summarize_range brin_desummarize_range gin_clean_pending_list"),
  ...names(C.heap, "heap_force_kill heap_force_freeze pg_truncate_visibility_map"),
]);

/** Families of functions, by name pattern. */
const deniedPatterns: ReadonlyArray<readonly [RegExp, CategoryText]> = [
  [/^dblink/, C.connection],
  [/^postgres_fdw_/, C.connection],
  [/^pg_background_/, C.sqlText],
  [/^crosstab\d*$/, C.sqlText],
  [/^pgr_/, C.sqlText],
  [/^pg_logical_slot_/, C.replication],
  [/^pg_stat.*reset/, C.stats],
  [/^pg_(qualstats|wait_sampling)_reset/, C.stats],
  [/^pg_ls_/, C.readFiles],
  [/^pg_file_/, C.writeFiles],
  [/^pg_buffercache_evict/, C.server],
];

/**
 * Extensions whose functions are refused whatever their name (checked on the
 * server, in whatever schema they are installed). Any extension named *_fdw
 * counts as a foreign-data wrapper.
 */
export const deniedExtensions: ReadonlyMap<string, CategoryText> = new Map<string, CategoryText>([
  ...names(C.connection, "dblink postgres_fdw plproxy http pg_net pgsql_http aws_lambda"),
  ...names(C.sqlText, "pg_background tablefunc xml2 pgrouting pg_cron pgtap aws_s3 citus pg_later pg_repack"),
  ...names(C.writeFiles, "adminpack"),
  ...names(C.replication, "pglogical"),
  ...names(C.heap, "pg_surgery"),
]);

function names(category: CategoryText, list: string): Array<[string, CategoryText]> {
  return list.split(/\s+/).map((n) => [n, category]);
}

/** The category a function called `name` (last name part, any case) is refused for, or undefined. */
export function deniedFunction(name: string, nargs?: number): CategoryText | undefined {
  const n = name.toLowerCase();
  const exact = deniedNames.get(n);
  if (exact) return exact;
  // ts_rewrite(query, 'select …') runs the query; the three-argument form does not.
  if (n === "ts_rewrite" && (nargs === undefined || nargs === 2)) return C.sqlText;
  for (const [re, category] of deniedPatterns) if (re.test(n)) return category;
  return undefined;
}

/** The category for functions of extension `ext`, or undefined. */
export function deniedExtension(ext: string): CategoryText | undefined {
  const n = ext.toLowerCase();
  return deniedExtensions.get(n) ?? (/_fdw$/.test(n) ? C.foreignTable : undefined);
}

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
      break;
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
  const verb = kind === "VAR_RESET" ? "RESET" : n.is_local ? "SET LOCAL" : "SET";
  if (kind === "VAR_RESET_ALL") return "RESET ALL resets default_transaction_read_only";
  if (kind === "VAR_SET_MULTI") {
    return name === "transaction" ? "SET TRANSACTION can make the transaction read-write" : "SET SESSION CHARACTERISTICS can make transactions read-write";
  }
  if (readOnlySettings.has(name)) return `${verb} ${name} changes the read-only setting`;
  if (parsingSettings.has(name)) return `${verb} ${name} changes how the server reads the SQL text that follows`;
  return undefined;
}

/** A name the gate tracks in set_config(): the read-only and the parsing settings. */
function guardedSetting(name: string): string | undefined {
  const n = name.toLowerCase();
  if (readOnlySettings.has(n)) return "changes the read-only setting";
  if (parsingSettings.has(n)) return "changes how the server reads the SQL text that follows";
  return undefined;
}

/**
 * The first refused function call in the tree: a denied function called by
 * name (any schema, any case, quoted or not), reached with field-selection
 * notation (`(x).pg_terminate_backend`), or set_config() of a guarded or
 * computed setting name.
 */
function functionRefusal(node: unknown): string | undefined {
  let found: string | undefined;
  walk(node, (o) => {
    if (found) return;
    if (o.FuncCall) {
      const fn = o.FuncCall as { funcname?: unknown[]; args?: unknown[] };
      const name = lastName(fn.funcname);
      if (name === "set_config") {
        const setting = constantString(fn.args?.[0]);
        if (setting === undefined) found = "set_config() with a computed setting name could change the read-only or parsing settings";
        else {
          const why = guardedSetting(setting);
          if (why) found = `set_config('${setting}', …) ${why}`;
        }
        return;
      }
      const category = deniedFunction(name, fn.args?.length ?? 0);
      if (category) found = `${name}() ${category}`;
      return;
    }
    // (x).f is f(x) for any value x: (42).pg_terminate_backend. (t.f is f(t)
    // only for a function of t's row type, which no denied built-in is: such
    // names go to the catalog check, so a column named dblink_id stays fine.)
    const fields = o.A_Indirection ? selectedFields(o) : [];
    for (const f of fields) {
      const category = deniedFunction(f, 1);
      if (category) {
        found = `${f.toLowerCase()}() (called as a field, .${f}) ${category}`;
        return;
      }
    }
  });
  return found;
}

/** Field names of a qualified column reference (a.b.c: b, c) or of an indirection ((x).f). */
function selectedFields(o: Record<string, unknown>): string[] {
  if (o.ColumnRef) {
    const fields = ((o.ColumnRef as { fields?: unknown[] }).fields ?? []).map(stringNode);
    return fields.slice(1).filter((f): f is string => !!f);
  }
  if (o.A_Indirection) {
    const ind = ((o.A_Indirection as { indirection?: unknown[] }).indirection ?? []).map(stringNode);
    return ind.filter((f): f is string => !!f);
  }
  return [];
}

function stringNode(v: unknown): string | undefined {
  const s = (v as { String?: { sval?: string } } | undefined)?.String?.sval;
  return typeof s === "string" ? s : undefined;
}

function lastName(parts: unknown[] | undefined): string {
  const names = (parts ?? []).map((p) => stringNode(p) ?? "");
  return (names[names.length - 1] ?? "").toLowerCase();
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
 * What the server-side check looks up for a statement: every name that can
 * resolve to a function (calls and field selections, lower-case) and every
 * relation name (as the parser resolved its case).
 */
export function referencedNames(stmt: Statement): { functions: string[]; relations: string[]; operators: string[] } {
  const functions = new Set<string>();
  const relations = new Set<string>();
  const operators = new Set<string>();
  walk(stmt.node, (o) => {
    // Operators run functions too (a user-defined operator can call anything).
    const op = (o.A_Expr as { name?: unknown[] } | undefined)?.name;
    if (op?.length) {
      const name = stringNode(op[op.length - 1]);
      if (name) operators.add(name);
    }
    if (o.FuncCall) {
      const name = lastName((o.FuncCall as { funcname?: unknown[] }).funcname);
      if (name) functions.add(name);
    }
    for (const f of selectedFields(o)) functions.add(f.toLowerCase());
    const rv = o.RangeVar as { relname?: string } | undefined;
    if (rv?.relname) relations.add(rv.relname);
  });
  return { functions: [...functions], relations: [...relations], operators: [...operators] };
}

/**
 * Denied function names (and "copy … to program") written inside string
 * constants of the statement or the values it binds: text that a function
 * running dynamic SQL could execute.
 */
export function textMentions(stmt: Statement, params: ReadonlyArray<string | null> = []): string[] {
  const texts: string[] = [...params.filter((p): p is string => p !== null)];
  walk(stmt.node, (o) => {
    const v = (o.A_Const as { sval?: { sval?: string } } | undefined)?.sval?.sval;
    if (typeof v === "string") texts.push(v);
  });
  const found = new Set<string>();
  for (const t of texts) {
    for (const w of t.match(/[A-Za-z_][A-Za-z0-9_$]*/g) ?? []) if (deniedFunction(w)) found.add(w.toLowerCase());
    if (/\bcopy\b[\s\S]*\bto\s+program\b/i.test(t)) found.add("copy … to program");
  }
  return [...found];
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

/** Deep equality of two AST nodes, ignoring source positions. */
export function sameTree(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameTree(x, b[i]));
  }
  if (!a || !b || typeof a !== "object" || typeof b !== "object") return false;
  const ka = Object.keys(a).filter((k) => !isPosition(k));
  const kb = Object.keys(b).filter((k) => !isPosition(k));
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && sameTree((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Source positions in libpg-query's nodes (every ParseLoc field of @pgsql/types). */
const positionKeys = new Set(["location", "name_location", "stmt_location", "stmt_len", "list_start", "list_end", "rexpr_list_start", "rexpr_list_end"]);
const isPosition = (k: string) => positionKeys.has(k);
