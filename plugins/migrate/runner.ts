/**
 * The migration engine: data in (a connection, files, options), data out (a
 * MigrateResult). It never prints; progress goes through `report`.
 *
 * Order of work: server facts → (dry run: read-only plan) → advisory lock →
 * history table → plan (drift and order checks before anything runs) →
 * parse pending files → extensions → apply each file → unlock.
 */
import type { Db } from "../../core/db/index.ts";
import { mapDbError, quoteIdent, quoteLiteral } from "../../core/db/index.ts";
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
import { adopt } from "./adopt.ts";
import { apply, describeFailure, describeInterrupt, historyInsert, resolvePartial, runStatements, type PartialFile, type Prepared } from "./apply.ts";
import { ensureHistoryTable, hasUserObjects, readHistory, serverFacts, type ServerFacts } from "./history.ts";
import type { AppliedItem, MigrateEvent, MigrateResult, PlannedItem } from "./schema.ts";


export interface MigrateOptions {
  /** For messages only (redacted description of the target). */
  database: string;
  directory: string;
  dryRun?: boolean;
  lockTimeoutMs?: number;
  allowOutOfOrder?: boolean;
  /** Mark every file up to this version as applied without running it. */
  baseline?: string;
  /** The target's URL: adoption creates its shadow database on the same server. */
  url?: string;
  /** A server for the shadow database instead of the target's (adoption only). */
  shadowUrl?: string;
  /** History table name (in the connection's current schema). */
  table?: string;
  /** Continue a partially applied no-transaction file after its last completed statement. */
  resume?: boolean;
  /**
   * Create an extension some other way than CREATE EXTENSION on this session
   * (managed mode: the platform installs it). Also called, before a file runs,
   * for each extension the file creates itself.
   */
  createExtension?: (name: string) => Promise<void>;
  signal?: AbortSignal;
}

export type { MigrateEvent } from "./schema.ts";

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
    adoption: null,
    durationMs: 0,
  };
  const notice = (message: string) => {
    result.notices.push(message);
    report({ type: "notice", message });
  };

  if (opts.dryRun) {
    const rows = facts.tableExists ? await readHistory(db, table) : [];
    const partial = await partialFirst(db, plan(files, rows), opts, result);
    const p = checkPlan(plan(files, rows), opts, notice, result);
    const pending = await planPending(db, p, rows, facts, tableName, opts, result);
    const { prepared } = pending.adoptMode ? await decideAdoption(db, pending, facts, tableName, opts, result, report) : pending;
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
    // Read again under the lock: a runner that held it may have created the history table meanwhile.
    // The table is created only after adoption decided (no match writes nothing).
    const locked = await serverFacts(db, tableName);
    const rows = locked.tableExists ? await readHistory(db, table) : [];
    const partial = await partialFirst(db, plan(files, rows), opts, result);
    const p = checkPlan(plan(files, rows), opts, notice, result);
    const pending = await planPending(db, p, rows, facts, tableName, opts, result);
    const { prepared, extensions, adopted } = pending.adoptMode ? await decideAdoption(db, pending, facts, tableName, opts, result, report) : { ...pending, adopted: [] };
    const { toMark } = pending;
    await ensureHistoryTable(db, table, locked);
    await recordAdopted(db, table, adopted, result, report);
    // A partially applied file is finished before anything else runs.
    await resumePartials(db, table, partial, opts, result, report, notice);

    for (const f of toMark) {
      await db.unsafe(historyInsert(table, f, "marked", "null"));
      const item: AppliedItem = { name: f.name, version: f.version, kind: "marked", transaction: true, durationMs: 0 };
      result.applied.push(item);
      report({ type: "applied", item });
    }

    for (const m of prepared) {
      if (opts.signal?.aborted) throw new InterruptedError("interrupted; migrations applied so far are committed");
      if (opts.createExtension) {
        // The file's own CREATE EXTENSION statements: installed first by the platform, so they find it there.
        for (const name of createdExtensions(m.statements)) {
          await opts.createExtension(name).catch((e) => {
            throw withPartial(mapDbError(e), result);
          });
        }
      }
      for (const ext of extensions.filter((e) => e.neededBy[0] === m.file.name)) {
        const create = opts.createExtension ? opts.createExtension(ext.name) : db.unsafe(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(ext.name)}`);
        await create.catch((e) => {
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
        item = await apply(db, table, m, opts.signal);
      } catch (e) {
        if (opts.signal?.aborted) {
          throw withPartial(new InterruptedError(describeInterrupt(e, m)), result);
        }
        throw withPartial(describeFailure(e, m), result);
      }
      item.durationMs = Math.round(performance.now() - t0);
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

/** Parse pending files and decide marking, adoption and extensions. */
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
  // No history but objects: another tool migrated this database (adopt.ts finds where it stands).
  const adoptMode = !opts.baseline && rows.length === 0 && pending.length > 0 && (await hasUserObjects(db, facts.schema, tableName));

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
  const needed = [...wanted].map(([name, neededBy]) => ({ name, neededBy }));
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
      action: "apply",
      transaction: !m.noTxReason,
      ...(m.noTxReason ? { reason: m.noTxReason } : {}),
    })),
  ];
  return { prepared, toMark, adoptMode, extensions, needed };
}

/**
 * The history is empty but the database holds objects: find the longest prefix
 * of the files whose result matches it (on a shadow database), or stop with
 * the closest prefix and the difference (exit 5) before anything is written.
 * Returns the files still to apply and the extensions they need.
 */
async function decideAdoption(
  db: Db,
  pending: Awaited<ReturnType<typeof planPending>>,
  facts: ServerFacts,
  tableName: string,
  opts: MigrateOptions,
  result: MigrateResult,
  report: Reporter,
): Promise<{ prepared: Prepared[]; extensions: Array<{ name: string; neededBy: string[] }>; adopted: MigrationFile[] }> {
  const all = pending.prepared;
  if (!opts.url) throw new EveError("E_INTERNAL", "adopting a database without history needs its URL (MigrateOptions.url)", ExitCode.error);
  const d = await adopt(db, {
    url: opts.url,
    shadowUrl: opts.shadowUrl,
    files: all,
    extensions: pending.needed,
    exclude: { schema: facts.schema, table: tableName },
    signal: opts.signal,
    onShadow: (e) => report({ type: "shadow", ...e }),
  }).catch((e) => {
    throw e instanceof EveError ? withPartial(e, result) : e;
  });
  const k = d.matched;
  const adopted = all.slice(0, k).map((m) => m.file);
  const rest = all.slice(k);
  const restNames = new Set(rest.map((m) => m.file.name));
  const extensions = pending.extensions.map((e) => ({ ...e, neededBy: e.neededBy.filter((n) => restNames.has(n)) })).filter((e) => e.neededBy.length);
  result.extensions = extensions;
  const adoptedNames = new Set(adopted.map((f) => f.name));
  result.planned = result.planned.map((p): PlannedItem => (adoptedNames.has(p.name) ? { name: p.name, version: p.version, action: "adopt", transaction: true } : p));
  result.adoption = {
    matched: k,
    files: all.length,
    lastAdopted: k ? all[k - 1]!.file.name : null,
    assumed: d.assumed,
    matches: d.matches,
    ignoredSchemas: d.ignoredSchemas,
    shadow: d.shadow,
    durationMs: d.durationMs,
  };
  const verb = opts.dryRun ? "would be" : "are";
  const say = (message: string) => {
    result.notices.push(message);
    report({ type: "notice", message });
  };
  say(
    k
      ? `the database matches the result of the first ${k} of ${all.length} migration files (up to ${all[k - 1]!.file.name}): they ${verb} recorded as adopted, not run` +
          (rest.length ? `; the other ${rest.length} ${verb} applied` : "")
      : `the database's objects are outside the schemas the migration files create; all ${all.length} files ${verb} applied`,
  );
  if (d.assumed.length) {
    const before = all[k - d.assumed.length - 1];
    const msg =
      `the schema also matches without the last ${d.assumed.length} adopted file${d.assumed.length === 1 ? "" : "s"} (they change no schema, e.g. data updates): ` +
      `${d.assumed.join(", ")} ${d.assumed.length === 1 ? "is" : "are"} assumed applied; if ${d.assumed.length === 1 ? "it was" : "they were"} not, ` +
      `record fewer with --baseline ${before ? before.file.version : "VERSION"} and the rest will run`;
    say(msg);
  }
  if (d.ignoredSchemas.length) say(`schemas no migration file creates were not compared: ${d.ignoredSchemas.join(", ")}`);
  return { prepared: rest, extensions, adopted };
}

/** Record adopted files (one transaction, one round trip). */
async function recordAdopted(db: Db, table: string, adopted: MigrationFile[], result: MigrateResult, report: Reporter): Promise<void> {
  if (!adopted.length) return;
  const details = `${quoteLiteral(JSON.stringify({ adopted: "schema matched on a shadow database" }))}::jsonb`;
  await db.unsafe(adopted.map((f) => historyInsert(table, f, "adopted", details)).join(";\n"));
  for (const f of adopted) {
    const item: AppliedItem = { name: f.name, version: f.version, kind: "adopted", transaction: true, durationMs: 0 };
    result.applied.push(item);
    report({ type: "applied", item });
  }
}

function lastName(v: unknown): string {
  const parts = (v as Array<{ String?: { sval?: string } }> | undefined) ?? [];
  return (parts[parts.length - 1]?.String?.sval ?? "").toLowerCase();
}

/** The error, carrying what was applied before it in `details.partial` (data: it crosses the wire). */
function withPartial(e: EveError, result: MigrateResult): EveError {
  (e as { details?: Record<string, unknown> }).details = { ...e.details, partial: result };
  return e;
}

/** Partially applied no-transaction files: refused without --resume, else returned to finish first. */
async function partialFirst(db: Db, p: Plan, opts: MigrateOptions, result: MigrateResult) {
  if (p.running.length) await ensureParser();
  const partial = await resolvePartial(db, p, opts.resume);
  result.planned.push(...partial.map(({ prepared: m, from, leftover, built }): PlannedItem => ({
    name: m.file.name,
    version: m.file.version,
    action: "resume",
    transaction: false,
    reason: `resume at statement ${from + 1} of ${m.statements.length}${leftover ? `, after dropping the INVALID index ${leftover} it left` : ""}${built ? ` (statement ${from} had built the VALID index ${built})` : ""}`,
  })));
  return partial;
}

function emptyNotice(name: string, verb: string): string {
  return `${name} has no statements (empty or only comments): it ${verb} recorded as applied with kind empty`;
}

async function resumePartials(db: Db, table: string, partial: PartialFile[], opts: MigrateOptions, result: MigrateResult, report: Reporter, notice: (m: string) => void) {
  for (const { prepared: m, from, leftover, built } of partial) {
    report({ type: "start", name: m.file.name });
    let item: AppliedItem;
    try {
      if (built) notice(`${m.file.name}: statement ${from} had built the VALID index ${built} before the run stopped; counted as done`);
      if (leftover) {
        await db.unsafe(`DROP INDEX CONCURRENTLY IF EXISTS ${leftover}`);
        notice(`${m.file.name}: dropped the INVALID index ${leftover} that statement ${from + 1} left when it was cut off; running it again`);
      }
      item = await runStatements(db, table, m, from, opts.signal);
    } catch (e) {
      if (opts.signal?.aborted) throw withPartial(new InterruptedError(describeInterrupt(e, m)), result);
      throw withPartial(describeFailure(e, m), result);
    }
    result.applied.push(item);
    report({ type: "applied", item });
  }
}

