/**
 * The migration engine: data in (a connection, files, options), data out (a
 * MigrateResult). It never prints; progress goes through `report`.
 *
 * Order of work: server facts → (dry run: read-only plan) → advisory lock →
 * history table → plan (drift and order checks before anything runs) →
 * parse pending files → extensions → apply each file → unlock.
 */
import type { Db } from "../../core/db/index.ts";
import { mapDbError, quoteIdent } from "../../core/db/index.ts";
import { acquireAdvisoryLock, advisoryKey } from "../../core/db/lock.ts";
import { CheckError, EveError, ExitCode, InterruptedError, UsageError } from "../../core/errors.ts";
import type { MigrationFile } from "../../core/migrations/files.ts";
import { plan, type HistoryRow, type Plan } from "../../core/migrations/plan.ts";
import {
  createdExtensions,
  ensureParser,
  functionCalls,
  lineAt,
  mentionsAny,
  nonTransactionalReason,
  ParseError,
  splitStatements,
  type Statement,
} from "../../core/sql/index.ts";
import { apply, applyBaseline, describeFailure, describeInterrupt, historyInsert, resolvePartial, runStatements, type Prepared } from "./apply.ts";
import { ensureHistoryTable, hasUserObjects, readHistory, serverFacts, type ServerFacts } from "./history.ts";
import type { AppliedItem, MigrateResult, PlannedItem } from "./schema.ts";


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
  /** Continue a partially applied no-transaction file after its last completed statement. */
  resume?: boolean;
  signal?: AbortSignal;
}

export type MigrateEvent =
  | { type: "lock-wait"; holderPid: number | null }
  | { type: "notice"; message: string }
  | { type: "extension"; name: string; neededBy: string[] }
  | { type: "start"; name: string }
  | { type: "applied"; item: AppliedItem };

export type Reporter = (e: MigrateEvent) => void;

const UUID_OSSP = ["uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v3", "uuid_generate_v4", "uuid_generate_v5", "uuid_nil", "uuid_ns_dns", "uuid_ns_url", "uuid_ns_oid", "uuid_ns_x500"];
const PGCRYPTO = ["digest", "hmac", "crypt", "gen_salt", "gen_random_bytes", "pgp_sym_encrypt", "pgp_sym_decrypt", "pgp_pub_encrypt", "pgp_pub_decrypt", "pgp_sym_encrypt_bytea", "pgp_sym_decrypt_bytea", "pgp_pub_encrypt_bytea", "pgp_pub_decrypt_bytea", "pgp_key_id", "pgp_armor_headers", "armor", "dearmor", "encrypt", "decrypt", "encrypt_iv", "decrypt_iv"];

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
    const partial = await partialFirst(plan(files, rows), opts, result);
    const p = checkPlan(plan(files, rows), opts, notice, result);
    const { prepared } = await planPending(db, p, rows, facts, tableName, opts, result);
    for (const m of prepared) if (!m.statements.length) notice(emptyNotice(m.file.name, "would be"));
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
    const partial = await partialFirst(plan(files, rows), opts, result);
    const p = checkPlan(plan(files, rows), opts, notice, result);
    const { prepared, toMark, baselineMode, extensions } = await planPending(db, p, rows, facts, tableName, opts, result);
    // A partially applied file is finished before anything else runs.
    await resumePartials(db, table, partial, opts, result, report);

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
          throw withPartial(new InterruptedError(describeInterrupt(e, m)), result);
        }
        throw withPartial(describeFailure(e, m), result);
      }
      item.durationMs = Math.round(performance.now() - t0);
      // Baseline adoption only covers the prefix of files whose objects pre-existed:
      // once a file runs with nothing skipped, later collisions are real errors.
      if (baselining && item.kind !== "baselined") baselining = false;
      if (item.kind === "empty") notice(emptyNotice(m.file.name, "was"));
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
      statements = f.text.trim() ? splitStatements(f.text) : [];
    } catch (e) {
      if (e instanceof ParseError) {
        throw withPartial(
          new EveError("E_SQL_SYNTAX", `${f.name}:${e.line}:${e.column}: ${e.message}`, ExitCode.failed, {
            hint: `nothing was applied; line ${e.line}: ${lineAt(f.text, e.position).trim()}`,
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
    ...result.planned,
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

function withPartial(e: EveError, result: MigrateResult): EveError {
  (e as { partial?: MigrateResult }).partial = result;
  return e;
}

/** Partially applied no-transaction files: refused without --resume, else returned to finish first. */
async function partialFirst(p: Plan, opts: MigrateOptions, result: MigrateResult) {
  if (p.running.length) await ensureParser();
  const partial = resolvePartial(p, opts.resume);
  result.planned.push(...partial.map(({ prepared: m, from }): PlannedItem => ({
    name: m.file.name,
    version: m.file.version,
    action: "resume",
    transaction: false,
    reason: `resume at statement ${from + 1} of ${m.statements.length}`,
  })));
  return partial;
}

function emptyNotice(name: string, verb: string): string {
  return `${name} has no statements (empty or only comments): it ${verb} recorded as applied with kind empty`;
}

async function resumePartials(db: Db, table: string, partial: Array<{ prepared: Prepared; from: number }>, opts: MigrateOptions, result: MigrateResult, report: Reporter) {
  for (const { prepared: m, from } of partial) {
    report({ type: "start", name: m.file.name });
    let item: AppliedItem;
    try {
      item = await runStatements(db, table, m, from, opts.signal);
    } catch (e) {
      if (opts.signal?.aborted) throw withPartial(new InterruptedError(describeInterrupt(e, m)), result);
      throw withPartial(describeFailure(e, m), result);
    }
    result.applied.push(item);
    report({ type: "applied", item });
  }
}
