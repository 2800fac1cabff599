/**
 * The migration engine: data in (a connection, files, options), data out (a
 * MigrateResult). It never prints; progress goes through `report`.
 *
 * Order of work: server facts → (dry run: read-only plan) → advisory lock →
 * history table → plan (drift and order checks before anything runs) →
 * parse pending files → extensions → apply each file → unlock.
 */
import type { Db } from "../../core/db/index.ts";
import { isPostgresError, mapDbError, quoteIdent, quoteLiteral, SqlError } from "../../core/db/index.ts";
import { acquireAdvisoryLock, advisoryKey } from "../../core/db/lock.ts";
import { CheckError, EveError, ExitCode, InterruptedError, UsageError } from "../../core/errors.ts";
import {
  createdExtensions,
  ensureParser,
  functionCalls,
  mentionsAny,
  lineAt,
  lineCol,
  nonTransactionalReason,
  ParseError,
  splitStatements,
  type Statement,
} from "../../core/sql/index.ts";
import type { MigrationFile } from "../../core/migrations/files.ts";
import { plan, type HistoryRow, type Plan } from "../../core/migrations/plan.ts";
import type { AppliedItem, MigrateResult, PlannedItem, SkippedStatement } from "./schema.ts";

export interface MigrateOptions {
  /** For messages only (redacted description of the target). */
  database: string;
  directory: string;
  dryRun?: boolean;
  lockTimeoutMs?: number;
  allowOutOfOrder?: boolean;
  /** Mark every file up to this version as applied without running it. */
  baseline?: string;
  /** History table name (in the connection's current schema). */
  table?: string;
  signal?: AbortSignal;
}

export type MigrateEvent =
  | { type: "lock-wait"; holderPid: number | null }
  | { type: "notice"; message: string }
  | { type: "extension"; name: string; neededBy: string[] }
  | { type: "start"; name: string }
  | { type: "applied"; item: AppliedItem };

export type Reporter = (e: MigrateEvent) => void;

/** SQLSTATEs meaning "this object already exists" (never matched on message text). */
export const DUPLICATE_OBJECT_CODES = new Set(["42P07", "42710", "42P06", "42723", "42701", "42P04", "42P05"]);

const UUID_OSSP = ["uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v3", "uuid_generate_v4", "uuid_generate_v5", "uuid_nil", "uuid_ns_dns", "uuid_ns_url", "uuid_ns_oid", "uuid_ns_x500"];
const PGCRYPTO = ["digest", "hmac", "crypt", "gen_salt", "gen_random_bytes", "pgp_sym_encrypt", "pgp_sym_decrypt", "pgp_pub_encrypt", "pgp_pub_decrypt", "pgp_sym_encrypt_bytea", "pgp_sym_decrypt_bytea", "pgp_pub_encrypt_bytea", "pgp_pub_decrypt_bytea", "pgp_key_id", "pgp_armor_headers", "armor", "dearmor", "encrypt", "decrypt", "encrypt_iv", "decrypt_iv"];

interface ServerFacts {
  versionNum: number;
  schema: string;
  tableExists: boolean;
  hasExtraColumns: boolean;
}

interface Prepared {
  file: MigrationFile;
  statements: Statement[];
  /** Why it must run outside a transaction block; undefined = one transaction. */
  noTxReason?: string;
  /** The file is exactly BEGIN; …; COMMIT; (history row goes before its COMMIT). */
  wrapped: boolean;
}

export async function migrate(db: Db, files: MigrationFile[], opts: MigrateOptions, report: Reporter = () => {}): Promise<MigrateResult> {
  const started = performance.now();
  const tableName = opts.table ?? "schema_migrations";
  const facts = await serverFacts(db, tableName);
  const table = `${quoteIdent(facts.schema)}.${quoteIdent(tableName)}`;
  const result: MigrateResult = {
    database: opts.database,
    directory: opts.directory,
    table: `${facts.schema}.${tableName}`,
    dryRun: !!opts.dryRun,
    applied: [],
    planned: [],
    extensions: [],
    notices: [],
    missing: [],
    alreadyApplied: 0,
    durationMs: 0,
  };
  const notice = (message: string) => {
    result.notices.push(message);
    report({ type: "notice", message });
  };

  if (opts.dryRun) {
    const rows = facts.tableExists ? await readHistory(db, table) : [];
    const p = checkPlan(plan(files, rows), opts, notice, result);
    await planPending(db, p, rows, facts, tableName, opts, result);
    result.durationMs = Math.round(performance.now() - started);
    return result;
  }

  const unlock = await acquireAdvisoryLock(db, advisoryKey(`eve:migrate:${facts.schema}.${tableName}`), {
    timeoutMs: opts.lockTimeoutMs ?? 60_000,
    signal: opts.signal,
    what: "migration",
    onWait: (holderPid) => report({ type: "lock-wait", holderPid }),
  });
  try {
    await ensureHistoryTable(db, table, facts);
    const rows = await readHistory(db, table);
    const p = checkPlan(plan(files, rows), opts, notice, result);
    const { prepared, toMark, baselineMode, extensions } = await planPending(db, p, rows, facts, tableName, opts, result);

    for (const f of toMark) {
      await db.unsafe(historyInsert(table, f, "marked", "null"));
      const item: AppliedItem = { name: f.name, version: f.version, kind: "marked", transaction: true, durationMs: 0 };
      result.applied.push(item);
      report({ type: "applied", item });
    }

    let baselining = baselineMode;
    for (const m of prepared) {
      if (opts.signal?.aborted) throw new InterruptedError("interrupted; migrations applied so far are committed");
      for (const ext of extensions.filter((e) => e.neededBy[0] === m.file.name)) {
        await db.unsafe(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(ext.name)}`).catch((e) => {
          throw withPartial(
            new EveError("E_EXTENSION", `cannot create extension ${ext.name} needed by ${ext.neededBy.join(", ")}: ${mapDbError(e).message}`, ExitCode.failed, {
              hint: "ask a superuser or the database owner to run CREATE EXTENSION, or add it to a migration",
            }),
            result,
          );
        });
        report({ type: "extension", name: ext.name, neededBy: ext.neededBy });
      }
      report({ type: "start", name: m.file.name });
      const t0 = performance.now();
      let item: AppliedItem;
      try {
        item = baselining ? await applyBaseline(db, table, m, opts.signal) : await apply(db, table, m, opts.signal);
      } catch (e) {
        if (opts.signal?.aborted) {
          throw withPartial(new InterruptedError(`interrupted: ${m.file.name} was cancelled${m.noTxReason && !m.wrapped ? "" : " and rolled back"}; earlier migrations of this run are committed`), result);
        }
        throw withPartial(describeFailure(e, m), result);
      }
      item.durationMs = Math.round(performance.now() - t0);
      // Baseline adoption only covers the prefix of files whose objects pre-existed:
      // once a file runs with nothing skipped, later collisions are real errors.
      if (baselining && item.kind !== "baselined") baselining = false;
      result.applied.push(item);
      report({ type: "applied", item });
    }
  } finally {
    await unlock();
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

/** Reject drift and out-of-order files; record notices. Runs before anything is applied. */
function checkPlan(p: Plan, opts: MigrateOptions, notice: (m: string) => void, result: MigrateResult): Plan {
  for (const d of p.lineEndingOnly) notice(`${d.name}: only line endings or a byte-order mark changed since it was applied (not drift)`);
  for (const r of p.missing) notice(`${r.name}: applied ${r.applied_at.toISOString()} but its file is missing`);
  result.missing = p.missing.map((r) => r.name);
  result.alreadyApplied = p.applied.length;
  if (p.drifted.length) {
    const list = p.drifted.map((d) => `${d.name} (applied sha256 ${d.storedChecksum}, file sha256 ${d.fileChecksum})`);
    throw new CheckError("E_DRIFT", `${p.drifted.length} applied migration${p.drifted.length > 1 ? "s were" : " was"} modified: ${list.join("; ")}`, {
      hint: "restore the original file and put the change in a new migration (eve db new); nothing was applied",
      details: { drifted: p.drifted },
    });
  }
  if (p.outOfOrder.length && !opts.allowOutOfOrder) {
    throw new CheckError("E_OUT_OF_ORDER", `pending migrations older than the newest applied one: ${p.outOfOrder.map((f) => f.name).join(", ")}`, {
      hint: "rename them to a newer version, or pass --allow-out-of-order; nothing was applied",
      details: { outOfOrder: p.outOfOrder.map((f) => f.name) },
    });
  }
  return p;
}

/** Parse pending files and decide marking, baseline mode and extensions. */
async function planPending(
  db: Db,
  p: Plan,
  rows: HistoryRow[],
  facts: ServerFacts,
  tableName: string,
  opts: MigrateOptions,
  result: MigrateResult,
) {
  let pending = p.pending;
  const toMark: MigrationFile[] = [];
  if (opts.baseline) {
    if (!/^\d{14}$/.test(opts.baseline)) throw new UsageError(`--baseline must be a 14-digit version (got "${opts.baseline}")`);
    toMark.push(...pending.filter((f) => f.version <= opts.baseline!));
    if (!toMark.length && !p.applied.some((a) => a.file.version <= opts.baseline!)) {
      throw new UsageError(`--baseline ${opts.baseline}: no migration file has a version at or before it`);
    }
    pending = pending.filter((f) => f.version > opts.baseline!);
  }
  const baselineMode = !opts.baseline && rows.length === 0 && pending.length > 0 && (await hasUserObjects(db, facts.schema, tableName));

  const prepared: Prepared[] = [];
  if (pending.length) await ensureParser();
  for (const f of pending) {
    let statements: Statement[];
    try {
      statements = splitStatements(f.text);
    } catch (e) {
      if (e instanceof ParseError) {
        throw withPartial(
          new EveError("E_SQL_SYNTAX", `${f.name}:${e.line}:${e.column}: ${e.message}`, ExitCode.failed, {
            hint: `line ${e.line}: ${lineAt(f.text, e.position).trim()}; nothing was applied`,
          }),
          result,
        );
      }
      throw e;
    }
    const tx = statements.filter((s) => s.type === "TransactionStmt");
    const kinds = tx.map((s) => String(s.node.kind));
    const wrapped =
      tx.length === 2 &&
      statements[0]?.type === "TransactionStmt" &&
      (kinds[0] === "TRANS_STMT_BEGIN" || kinds[0] === "TRANS_STMT_START") &&
      statements[statements.length - 1]?.type === "TransactionStmt" &&
      kinds[1] === "TRANS_STMT_COMMIT";
    const reasons = statements.map((s) => nonTransactionalReason(s, facts.versionNum)).filter((r): r is string => !!r);
    const noTxReason = f.noTransactionDirective ? "-- eve:no-transaction" : wrapped ? undefined : reasons[0];
    prepared.push({ file: f, statements, noTxReason, wrapped });
  }

  // Extensions needed by function calls and not present (or created by the files themselves).
  const created = new Set(prepared.flatMap((m) => [...createdExtensions(m.statements)]));
  const defined = new Set(prepared.flatMap((m) => m.statements.filter((s) => s.type === "CreateFunctionStmt").map((s) => lastName(s.node.funcname))));
  const wanted = new Map<string, string[]>();
  const extFunctions = new Set([...UUID_OSSP, ...PGCRYPTO, "gen_random_uuid"]);
  for (const m of prepared) {
    if (!mentionsAny(m.file.text, extFunctions)) continue; // cheap skip; the parse tree decides
    const calls = functionCalls(m.statements, extFunctions);
    const need = (ext: string, fns: string[]) => {
      if (fns.some((fn) => calls.has(fn) && !defined.has(fn)) && !created.has(ext)) wanted.set(ext, [...(wanted.get(ext) ?? []), m.file.name]);
    };
    need("uuid-ossp", UUID_OSSP);
    need("pgcrypto", facts.versionNum < 130000 ? [...PGCRYPTO, "gen_random_uuid"] : PGCRYPTO);
  }
  const extensions: Array<{ name: string; neededBy: string[] }> = [];
  if (wanted.size) {
    const installed = await db`select extname from pg_extension where extname = any(string_to_array(${[...wanted.keys()].join(",")}, ','))`;
    const have = new Set(installed.map((r) => r.extname as string));
    for (const [name, neededBy] of wanted) if (!have.has(name)) extensions.push({ name, neededBy });
  }
  result.extensions = extensions;

  result.planned = [
    ...toMark.map((f): PlannedItem => ({ name: f.name, version: f.version, action: "mark", transaction: true })),
    ...prepared.map((m): PlannedItem => ({
      name: m.file.name,
      version: m.file.version,
      action: baselineMode ? "baseline" : "apply",
      transaction: !m.noTxReason,
      ...(m.noTxReason ? { reason: m.noTxReason } : {}),
    })),
  ];
  return { prepared, toMark, baselineMode, extensions };
}

function lastName(v: unknown): string {
  const parts = (v as Array<{ String?: { sval?: string } }> | undefined) ?? [];
  return (parts[parts.length - 1]?.String?.sval ?? "").toLowerCase();
}

function historyInsert(table: string, f: MigrationFile, kind: string, details: string): string {
  return (
    `INSERT INTO ${table} (name, checksum, kind, duration_ms, details) VALUES (` +
    `${quoteLiteral(f.name)}, ${quoteLiteral(f.checksum)}, ${quoteLiteral(kind)}, ` +
    `(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::int, ${details})`
  );
}

/** Normal apply: one transaction (or statement by statement when it cannot be). */
async function apply(db: Db, table: string, m: Prepared, signal?: AbortSignal): Promise<AppliedItem> {
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
async function applyBaseline(db: Db, table: string, m: Prepared, signal?: AbortSignal): Promise<AppliedItem> {
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
function describeFailure(e: unknown, m: Prepared): EveError {
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

/** Postgres positions count characters (code points); JS strings count UTF-16 units. */
function codePointIndex(text: string, cp: number): number {
  let i = 0;
  let n = 0;
  while (i < text.length && n < cp) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
    n++;
  }
  return i;
}

function withPartial(e: EveError, result: MigrateResult): EveError {
  (e as { partial?: MigrateResult }).partial = result;
  return e;
}

async function serverFacts(db: Db, table: string): Promise<ServerFacts> {
  const [row] = await db`
    select current_setting('server_version_num')::int as version_num,
           current_schema() as schema,
           to_regclass(quote_ident(current_schema()) || '.' || quote_ident(${table})) is not null as table_exists,
           (select count(*) from pg_attribute
             where attrelid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident(${table}))
               and attname in ('kind', 'duration_ms', 'details') and not attisdropped)::int as extra`;
  if (!row?.schema) {
    throw new UsageError("the connection has no current schema (empty search_path)", {
      hint: "set search_path for the role or add ?options=-csearch_path%3Dpublic to the URL",
    });
  }
  if (row.version_num >= 140000) {
    // Lets the server notice a killed client during long statements and roll back promptly.
    await db`select set_config('client_connection_check_interval', '1000', false)`.catch(() => {});
  }
  return { versionNum: row.version_num, schema: row.schema, tableExists: row.table_exists, hasExtraColumns: row.extra === 3 };
}

async function ensureHistoryTable(db: Db, table: string, facts: ServerFacts): Promise<void> {
  if (!facts.tableExists) {
    await db.unsafe(
      `CREATE TABLE IF NOT EXISTS ${table} (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), kind text, duration_ms integer, details jsonb)`,
    );
  } else if (!facts.hasExtraColumns) {
    // Tables made by the original runner gain three nullable columns; its inserts still work.
    await db.unsafe(
      `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS kind text, ADD COLUMN IF NOT EXISTS duration_ms integer, ADD COLUMN IF NOT EXISTS details jsonb`,
    );
  }
}

export async function readHistory(db: Db, table: string): Promise<HistoryRow[]> {
  const rows = await db.unsafe(
    `select name, checksum, applied_at, to_jsonb(h)->>'kind' as kind, (to_jsonb(h)->>'duration_ms')::int as duration_ms, to_jsonb(h)->'details' as details from ${table} h order by name`,
  );
  return rows as unknown as HistoryRow[];
}

/** Does the database hold user objects (other than the history table and extension members)? */
async function hasUserObjects(db: Db, schema: string, table: string): Promise<boolean> {
  const [row] = await db`
    select exists (
      select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and not (n.nspname = ${schema} and c.relname = ${table})
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
    ) or exists (
      select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and t.typtype in ('e', 'd') 
        and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
    ) or exists (
      select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
    ) as found`;
  return !!row?.found;
}

/** Read-only listing for `eve db migrations`. */
export async function history(db: Db, table = "schema_migrations"): Promise<{ schema: string; rows: HistoryRow[] }> {
  const facts = await serverFacts(db, table);
  const qualified = `${quoteIdent(facts.schema)}.${quoteIdent(table)}`;
  return { schema: facts.schema, rows: facts.tableExists ? await readHistory(db, qualified) : [] };
}
