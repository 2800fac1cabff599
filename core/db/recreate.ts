/**
 * The wipe engine: empty a database, keeping what defines it. Reused by
 * `eve db wipe`, `eve db reset` and later restore and the platform.
 *
 * Database mode (owner or superuser with CREATEDB, maintenance database
 * reachable): from `postgres` (else `template1`), CREATE a new database from
 * template0 with the same owner, encoding, collation/ctype, locale provider,
 * tablespace, connection limit, settings, ACL and comment under a temporary
 * name; only then terminate the other sessions, DROP the old one (WITH (FORCE)
 * on PG13+) and rename the new one. A failure before the drop loses nothing.
 *
 * Schema mode (fallback when the role may not drop or recreate the database):
 * in one transaction, DROP every user schema CASCADE and recreate `public` with
 * its previous owner, ACL and comment (or the server's defaults), so the end
 * state matches a fresh database and migrations can CREATE their schemas again.
 */
import { close, connect, mapDbError, quoteIdent, quoteLiteral, type Db } from "./index.ts";
import { EveError, ExitCode, InterruptedError } from "../errors.ts";
import { createDatabaseSql, dropDatabase, openMaintenance, terminateSessions } from "./admin.ts";
import { facts, type DatabaseFacts, type Grant } from "./recreate-facts.ts";

export { facts as describeDatabase, type DatabaseFacts } from "./recreate-facts.ts";

export interface WipeResult {
  /** user@host:port/db, safe to print. */
  database: string;
  name: string;
  mode: "database" | "schemas";
  /** Why schema mode was used (null in database mode). */
  fallbackReason: string | null;
  terminatedSessions: number;
  before: { sizeBytes: number; tables: number; rowsEstimate: number; schemas: string[] };
  /** Database mode: what the new database was created with. */
  recreated: { owner: string; encoding: string; collate: string; ctype: string; localeProvider: string; locale: string | null } | null;
  /** Schema mode: schemas dropped and recreated. */
  schemas: { dropped: string[]; recreated: string[] } | null;
  /** Settings or grants that could not be carried over. */
  warnings: string[];
  durationMs: number;
}

/** A session holding a lock the wipe waits for (no query text: it may hold secrets). */
export interface LockHolder {
  pid: number;
  application: string | null;
  user: string | null;
  state: string | null;
}

export type WipeEvent =
  | { type: "fallback"; reason: string }
  | { type: "warning"; message: string }
  | { type: "lock-wait"; holder: LockHolder; timeoutMs: number };

export interface WipeOptions {
  /** For messages (redacted description of the target). */
  label: string;
  /** Skip database mode (tests, platforms that forbid DROP DATABASE). */
  schemasOnly?: boolean;
  report?: (e: WipeEvent) => void;
  /** Abort (Ctrl-C): the running statement is cancelled on the server and everything rolled back. */
  signal?: AbortSignal;
  /** Longest wait for any one lock (SET lock_timeout); exit 6 when it expires. Default 60 s. */
  lockTimeoutMs?: number;
}

const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/**
 * A connection to the target the caller already holds (the CLI's, an
 * operation's `deps.db`), with the facts it read for the preview: the wipe
 * reads through it instead of opening another, never closes it, and does not
 * count its session among those it ends (a database-mode drop ends it anyway).
 */
export interface HeldTarget {
  db: Db;
  facts: DatabaseFacts;
}

/** Wipe the database `url` points at. */
export async function wipeDatabase(url: string, opts: WipeOptions, held?: HeldTarget): Promise<WipeResult> {
  const started = performance.now();
  const report = opts.report ?? (() => {});
  const target = held?.db ?? connect(url, { applicationName: "eve wipe" });
  const release = (timeoutSec?: number) => (held ? Promise.resolve() : close(target, timeoutSec));
  let f: DatabaseFacts;
  try {
    f = held?.facts ?? (await facts(target));
  } catch (e) {
    await release(0);
    throw mapDbError(e, url);
  }
  const ours = held ? [f.backendPid] : [];
  const result: WipeResult = {
    database: opts.label,
    name: f.name,
    mode: "database",
    fallbackReason: null,
    terminatedSessions: 0,
    before: { sizeBytes: f.sizeBytes, tables: f.tables, rowsEstimate: f.rowsEstimate, schemas: f.schemas },
    recreated: null,
    schemas: null,
    warnings: [],
    durationMs: 0,
  };
  const warn = (message: string) => (result.warnings.push(message), report({ type: "warning", message }));
  const fallback = async (reason: string) => {
    result.mode = "schemas";
    result.fallbackReason = reason;
    report({ type: "fallback", reason });
    try {
      await wipeSchemas(target, url, f, result, warn, opts, ours);
    } finally {
      await release();
    }
    result.durationMs = Math.round(performance.now() - started);
    return result;
  };

  const why = opts.schemasOnly ? "schema mode requested" : f.cannotRecreate;
  if (why) return fallback(why);
  let maint: Db;
  try {
    maint = (await openMaintenance(url, { applicationName: "eve wipe", except: f.name })).db;
  } catch (e) {
    return fallback(`cannot connect to the maintenance database (postgres, template1): ${(e as Error).message}`);
  }
  // DROP DATABASE … WITH (FORCE) needs the right to terminate every other session.
  const [stuck] = await maint`
    select count(*)::int as n from pg_stat_activity a left join pg_roles r on r.oid = a.usesysid
    where a.datname = ${f.name} and a.pid <> pg_backend_pid() and a.usesysid is not null
      and not (select rolsuper from pg_roles where rolname = current_user)
      and (coalesce(r.rolsuper, false) or not (pg_has_role(current_user, a.usesysid, 'MEMBER') or pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')))`;
  if (stuck!.n > 0) {
    await close(maint);
    return fallback(`${stuck!.n} other session${stuck!.n > 1 ? "s" : ""} belong${stuck!.n > 1 ? "" : "s"} to roles this role cannot terminate`);
  }
  await release();
  try {
    await recreate(maint, f, result, warn, opts.signal, ours);
    result.recreated = { owner: f.owner, encoding: f.encoding, collate: f.collate, ctype: f.ctype, localeProvider: f.localeProvider, locale: f.locale };
  } finally {
    await close(maint);
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

async function recreate(maint: Db, f: DatabaseFacts, result: WipeResult, warn: (m: string) => void, signal: AbortSignal | undefined, ours: number[]): Promise<void> {
  if (signal?.aborted) throw interrupted(f.name);
  const temp = `eve_wipe_${Math.random().toString(36).slice(2, 10)}`;
  const q = quoteIdent(temp);
  try {
    await maint.unsafe(createDatabaseSql(temp, f));
  } catch (e) {
    const err = mapDbError(e);
    throw new EveError("E_WIPE", `cannot create the replacement database: ${err.message}`, ExitCode.failed, {
      hint: `nothing was dropped; ${f.name} is unchanged`,
      cause: e,
    });
  }
  const dropTemp = () => maint.unsafe(`DROP DATABASE IF EXISTS ${q}`).catch(() => {});
  // Until the old database is dropped, Ctrl-C undoes everything: drop the replacement and stop.
  const checkpoint = async () => {
    if (!signal?.aborted) return;
    await dropTemp();
    throw interrupted(f.name);
  };
  await checkpoint();
  try {
    if (f.comment !== null) await maint.unsafe(`COMMENT ON DATABASE ${q} IS ${quoteLiteral(f.comment)}`);
    for (const stmt of aclStatements("DATABASE", q, f.owner, f.acl)) await maint.unsafe(stmt);
  } catch (e) {
    await dropTemp();
    throw new EveError("E_WIPE", `cannot copy the grants of ${f.name}: ${mapDbError(e).message}`, ExitCode.failed, {
      hint: `nothing was dropped; ${f.name} is unchanged`,
      cause: e,
    });
  }
  for (const s of f.settings) {
    const target = s.role ? `ROLE ${quoteIdent(s.role)} IN DATABASE ${q}` : `DATABASE ${q}`;
    for (const stmt of s.config.map((c) => alterSet(target, c))) {
      await maint.unsafe(stmt).catch((e) => warn(`setting not carried over (${stmt}): ${mapDbError(e).message}`));
    }
  }
  await checkpoint();
  result.terminatedSessions += (await terminateSessions(maint, f.name, ours)).terminated;
  await checkpoint();
  try {
    await dropDatabase(maint, f.name, f.versionNum);
  } catch (e) {
    await dropTemp();
    throw new EveError("E_WIPE", `cannot drop ${f.name}: ${mapDbError(e).message}`, ExitCode.failed, {
      hint: "other sessions may belong to roles you cannot terminate; nothing was dropped",
      cause: e,
    });
  }
  try {
    await maint.unsafe(`ALTER DATABASE ${q} RENAME TO ${quoteIdent(f.name)}`);
  } catch (e) {
    throw new EveError("E_WIPE", `${f.name} was dropped but renaming its replacement failed: ${mapDbError(e).message}`, ExitCode.failed, {
      hint: `the new empty database is ${temp}: ALTER DATABASE ${q} RENAME TO ${quoteIdent(f.name)}`,
      cause: e,
    });
  }
}

/** GUCs whose list value is stored quoted per element (pg_dump's variable_is_guc_list_quote). */
const LIST_GUCS = new Set(["local_preload_libraries", "search_path", "session_preload_libraries", "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories"]);

/** `ALTER <target> SET name TO value` from a stored "name=value" entry. */
export function alterSet(target: string, entry: string): string {
  const eq = entry.indexOf("=");
  const name = entry.slice(0, eq);
  const value = entry.slice(eq + 1);
  const values = LIST_GUCS.has(name.toLowerCase()) ? splitGucList(value).map(quoteLiteral).join(", ") || "''" : quoteLiteral(value);
  return `ALTER ${target} SET ${quoteIdent(name)} TO ${values}`;
}

/** Split a stored list GUC value: elements separated by commas, optionally double-quoted. */
export function splitGucList(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === " ") i++;
    let item = "";
    if (value[i] === '"') {
      for (i++; i < value.length; i++) {
        if (value[i] === '"' && value[i + 1] === '"') (item += '"'), i++;
        else if (value[i] === '"') break;
        else item += value[i];
      }
      i++;
    } else {
      while (i < value.length && value[i] !== ",") item += value[i++];
      item = item.trim();
    }
    while (i < value.length && value[i] !== ",") i++;
    i++;
    if (item !== "") out.push(item);
  }
  return out;
}

/** Statements that give an object exactly the recorded ACL (null = default: nothing to do). */
export function aclStatements(kind: "DATABASE" | "SCHEMA", quotedName: string, owner: string, acl: Grant[] | null): string[] {
  if (acl === null) return [];
  const stmts = [`REVOKE ALL ON ${kind} ${quotedName} FROM PUBLIC`, `REVOKE ALL ON ${kind} ${quotedName} FROM ${quoteIdent(owner)}`];
  for (const g of acl) {
    const to = g.grantee === null ? "PUBLIC" : quoteIdent(g.grantee);
    stmts.push(`GRANT ${g.privilege} ON ${kind} ${quotedName} TO ${to}${g.grantable ? " WITH GRANT OPTION" : ""}`);
  }
  return stmts;
}

/**
 * Schema mode: drop every user schema and recreate `public`, in one transaction.
 * Each lock is waited for at most `lockTimeoutMs` (exit 6); a second session
 * watches for lock waits and reports the holder; Ctrl-C cancels the running
 * statement on the server, so the transaction rolls back and nothing changes.
 */
async function wipeSchemas(db: Db, url: string, f: DatabaseFacts, result: WipeResult, warn: (m: string) => void, opts: WipeOptions, ours: number[]): Promise<void> {
  const signal = opts.signal;
  const lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (signal?.aborted) throw interrupted(f.name);
  result.terminatedSessions += (await terminateSessions(db, f.name, ours)).terminated;
  const pub = f.publicSchema;
  const owner = pub?.owner ?? (f.versionNum >= 150000 ? "pg_database_owner" : f.owner);
  let current: { cancel(): unknown } | null = null;
  const onAbort = () => void current?.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  let watcher: LockWatcher | null = null;
  try {
    await db.begin(async (tx) => {
      const run = async (text: string) => {
        if (signal?.aborted) throw interrupted(f.name);
        const q = tx.unsafe(text);
        current = q;
        try {
          await q;
        } finally {
          current = null;
        }
      };
      await tx.unsafe(`set local lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
      const [me] = await tx`select pg_backend_pid() as pid`;
      watcher = watchLocks(url, me!.pid as number, (holder) => opts.report?.({ type: "lock-wait", holder, timeoutMs: lockTimeoutMs }));
      for (const s of f.schemas) await run(`DROP SCHEMA ${quoteIdent(s)} CASCADE`);
      await run(`CREATE SCHEMA public AUTHORIZATION ${quoteIdent(owner)}`);
      const acl = pub ? pub.acl : [{ grantee: null, privilege: "USAGE", grantable: false }, ...(f.versionNum < 150000 ? [{ grantee: null, privilege: "CREATE", grantable: false }] : [])];
      const grants = pub ? aclStatements("SCHEMA", "public", owner, acl) : acl!.map((g) => `GRANT ${g.privilege} ON SCHEMA public TO PUBLIC`);
      for (const stmt of grants) await run(stmt);
      const comment = pub ? pub.comment : "standard public schema";
      if (comment !== null) await run(`COMMENT ON SCHEMA public IS ${quoteLiteral(comment)}`);
      if (signal?.aborted) throw interrupted(f.name);
    });
  } catch (e) {
    if (e instanceof InterruptedError || signal?.aborted) throw interrupted(f.name);
    const code = (e as { code?: string }).code;
    if (code === "55P03") {
      const holder = (watcher as LockWatcher | null)?.lastHolder();
      throw new EveError("E_LOCK_TIMEOUT", `timed out after ${formatMs(lockTimeoutMs)} waiting for a lock${holder ? ` held by ${describeHolder(holder)}` : ""}; nothing was changed in ${f.name}`, ExitCode.lockTimeout, {
        hint: "end the session holding the lock, or raise --lock-timeout",
        cause: e,
      });
    }
    const err = mapDbError(e);
    throw new EveError("E_WIPE", `cannot wipe ${f.name} schema by schema: ${err.message}`, ExitCode.failed, {
      hint: `${result.fallbackReason}; nothing was dropped. Connect as the database owner or a superuser`,
      cause: e,
    });
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await (watcher as LockWatcher | null)?.stop();
  }
  if (f.largeObjects > 0) warn(`${f.largeObjects} large object(s) are not in a schema and were kept`);
  result.schemas = { dropped: f.schemas, recreated: ["public"] };
}

function interrupted(name: string): InterruptedError {
  return new InterruptedError(`interrupted: the wipe of ${name} was cancelled and rolled back; nothing was changed`);
}

export function describeHolder(h: LockHolder): string {
  const parts = [h.application ? `application ${h.application}` : null, h.user ? `user ${h.user}` : null, h.state].filter(Boolean);
  return `pid ${h.pid}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

interface LockWatcher {
  lastHolder(): LockHolder | null;
  stop(): Promise<void>;
}

/**
 * Poll, from a second session, whether backend `pid` waits for a lock; report
 * each new holder once. Failures of the watcher never affect the wipe.
 */
function watchLocks(url: string, pid: number, onWait: (h: LockHolder) => void, everyMs = 1000): LockWatcher {
  const db = connect(url, { applicationName: "eve wipe (lock watch)" });
  const seen = new Set<number>();
  let last: LockHolder | null = null;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async () => {
    try {
      const rows = await db`
        select a.pid, a.application_name, a.usename, a.state
        from unnest(pg_blocking_pids(${pid}::int)) as b(pid) join pg_stat_activity a on a.pid = b.pid
        order by a.pid`;
      for (const r of rows) {
        last = { pid: r.pid as number, application: (r.application_name as string) || null, user: (r.usename as string | null) ?? null, state: (r.state as string | null) ?? null };
        if (!seen.has(last.pid)) {
          seen.add(last.pid);
          onWait(last);
        }
      }
    } catch {
      /* the watcher is advisory */
    }
    if (!stopped) timer = setTimeout(poll, everyMs);
  };
  timer = setTimeout(poll, everyMs);
  return {
    lastHolder: () => last,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await close(db, 0);
    },
  };
}
