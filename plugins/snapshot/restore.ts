/**
 * Restore a snapshot into a database without ever leaving it half-restored:
 *  - swap (default): pg_restore into a new database on the same server (same
 *    owner, encoding, locale, database grants and settings), then rename it
 *    over the target in one transaction and drop the old one (restore-swap.ts);
 *  - in place (the role cannot create databases): the target is emptied and
 *    restored in one psql transaction (restore-inplace.ts).
 * Objects keep their owners and grants (restore-roles.ts checks first that the
 * roles exist and that the restoring role may act as them); with --no-owner
 * they go to the target's owner, with --no-acl grants are skipped, and the
 * result says so.
 * An empty target (nothing to keep, no sessions worth ending) is restored into
 * directly by one pg_restore --single-transaction, without a scratch database.
 * The object's size and sha256 are checked while streaming; the swap (or the
 * in-place commit) happens only after they matched. A safety snapshot of the
 * target is taken first (in swap mode alongside the scratch restore: the
 * target is untouched until the swap, which waits for it; none of an empty
 * target). `--debug` prints when each step ended (trace.ts).
 */
import { close, connect, mapDbError, parseDbUrl, ping, type Db } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { majorFromVersionNum, parsePgVersion } from "../../core/pgtools/index.ts";
import type { Store } from "../../core/store/types.ts";
import { readRecord } from "./catalog.ts";
import { checkEmptyable, checkRoles, notRestored, passes, readArchive, type Preserve } from "./restore-roles.ts";
import { openMaintenance, terminateSessions } from "../../core/db/admin.ts";
import { inspectTarget, isEmptyDatabase } from "./restore-db.ts";
import { restoreInPlace } from "./restore-inplace.ts";
import { intoEmpty, viaSwap, type Ctx, type Outcome } from "./restore-swap.ts";
import type { RestoreOptions } from "./restore-options.ts";
import type { RestoreEvent, RestoreResult, SnapshotRecord } from "./schema.ts";
import { createSnapshot, sourceKeyOf, sourceLabelOf } from "./snapshot.ts";
import { mismatch } from "./streams.ts";
import { findPgTool } from "./tools.ts";
import { trace } from "./trace.ts";

/** Refusals before anything happens; exported for the --force preview. */
export async function checkRestorable(store: Store, id: string, targetUrl: string, sourceKey?: string): Promise<SnapshotRecord> {
  const rec = await readRecord(store, id);
  if (rec.status !== "completed") {
    throw new EveError("E_NOT_RESTORABLE", `snapshot ${rec.id} is ${rec.status}, only completed snapshots can be restored`, ExitCode.error, {
      hint: "pick a completed snapshot from eve db snapshots --status completed",
    });
  }
  const target = sourceKeyOf(targetUrl);
  if (sourceKey && sourceKey !== rec.sourceKey) {
    throw new EveError("E_SOURCE_MISMATCH", `snapshot ${rec.id} was taken from ${rec.sourceKey}, not from ${sourceKey} (--source-url)`, ExitCode.error, {
      hint: "check the snapshot id, or pass the database it was taken from as --source-url",
    });
  }
  if (!sourceKey && rec.sourceKey !== target) {
    throw new EveError("E_SOURCE_MISMATCH", `snapshot ${rec.id} was taken from ${rec.sourceKey}; restoring it into ${target} needs --source-url`, ExitCode.error, {
      hint: `confirm the cross-database restore with --source-url postgres://${rec.sourceKey}`,
    });
  }
  const head = await store.head(rec.key);
  if (!head || head.size !== rec.size) {
    throw mismatch(`snapshot ${rec.id}`, { size: head?.size ?? 0, sha256: "(not read)" }, { size: rec.size ?? 0, sha256: rec.sha256 ?? "" });
  }
  return rec;
}

/** Restore snapshot `o.id` into the database at `o.url`. Throws (target unchanged) on failure. */
export async function restoreSnapshot(o: RestoreOptions, onEvent: (e: RestoreEvent) => void = () => {}): Promise<RestoreResult> {
  const t0 = o.now().getTime();
  const rec = await (o.record ?? checkRestorable(o.store, o.id, o.url, o.sourceKey)).catch(async (e) => {
    await o.session?.close();
    throw e;
  });
  trace("snapshot record read, object size checked");
  onEvent({ type: "snapshot", record: rec });
  // Our own session on the target; closed before the swap, which ends every session on it.
  const db = o.session?.db ?? connect(o.url, { applicationName: "eve restore" });
  let dbOpen = true;
  const closeDb = async () => {
    if (dbOpen) await (o.session ? o.session.close() : close(db));
    dbOpen = false;
  };
  let maint: { db: Db; name: string } | null = null;
  try {
    if (!o.session) {
      await ping(db, o.url).catch((e) => {
        throw mapDbError(e, o.url);
      });
      trace("connected to the target");
    }
    return await restoreInto(db, closeDb, rec, o, onEvent, t0, (m) => (maint = m));
  } catch (e) {
    // Every failure that reaches here happened before the swap / the in-place commit.
    throw unchanged(e, parseDbUrl(o.url).database);
  } finally {
    await closeDb();
    if (maint) await close((maint as { db: Db }).db);
  }
}

async function restoreInto(
  db: Db,
  closeDb: () => Promise<void>,
  rec: SnapshotRecord,
  o: RestoreOptions,
  onEvent: (e: RestoreEvent) => void,
  t0: number,
  setMaint: (m: { db: Db; name: string }) => void,
): Promise<RestoreResult> {
  // The maintenance connection (for the swap) opens, and the snapshot's table of contents is
  // read (any pg_restore that reads the archive will do), while the target is inspected.
  // Never the target itself: a session connected to a database cannot rename it.
  const maintP = openMaintenance(o.url, { applicationName: "eve restore", except: parseDbUrl(o.url).database }).catch(() => null);
  const dumpMajor = parsePgVersion(rec.pgDumpVersion)?.major ?? 0;
  const keep: Preserve = { owners: o.owners !== false, acl: o.acl !== false };
  const archiveP = findPgTool("pg_restore", { env: o.env, minMajor: dumpMajor }).then((tool) =>
    readArchive(db, tool, { store: o.store, rec }, o.env, keep.acl, o.tmpDir, o.signal),
  );
  archiveP.catch(() => {}); // awaited below, unless the inspection failed first
  const [target, empty] = await Promise.all([inspectTarget(db), isEmptyDatabase(db)]).catch(async (e) => {
    const m = await maintP;
    if (m) await close(m.db, 0);
    throw e;
  });
  trace("target inspected");
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    onEvent({ type: "warning", message });
  };

  // Strategy: the swap needs CREATEDB and ownership of the target (to rename and drop it).
  // An empty target (nothing to keep or to end) is restored into directly, in one transaction.
  const jobs = o.jobs ?? 1;
  let reason: string | null = target.cannotRecreate;
  let maint: { db: Db; name: string } | null = null;
  const direct = empty && jobs === 1;
  if (direct) reason = `database ${target.name} is empty (no scratch database needed, nothing to snapshot first)`;
  const m = await maintP;
  if (!reason) {
    maint = m;
    if (maint) setMaint(maint);
    else reason = "cannot connect to a maintenance database (postgres or template1) to rename databases";
  } else if (m) await close(m.db, 0);
  const strategy = reason ? "in_place" : "swap";
  if (strategy === "in_place" && jobs > 1) {
    throw new EveError("E_USAGE", `--jobs needs the swap strategy, but ${reason}`, ExitCode.usage, {
      hint: "grant CREATEDB to the role (and ownership of the target), or drop --jobs",
    });
  }
  trace("maintenance connection");
  onEvent({ type: "strategy", strategy, reason });
  const serverMajor = majorFromVersionNum(target.versionNum);
  const pgRestore = await findPgTool("pg_restore", {
    env: o.env,
    minMajor: Math.max(serverMajor, dumpMajor),
    why: dumpMajor > serverMajor ? `to read an archive written by pg_dump ${rec.pgDumpVersion}` : undefined,
  });

  const takeSafety = async (): Promise<SnapshotRecord | null> => {
    if (!o.safetySnapshot || empty) return null; // an empty target holds nothing to keep
    const rec2 = await createSnapshot(db, {
      url: o.url,
      store: o.store,
      trigger: "pre_restore",
      label: `before restore of ${rec.id}`,
      retention: o.retention ?? null,
      env: o.env,
      now: o.now,
      writer: o.writer,
      stale: o.stale,
      signal: o.signal,
    }, (event) => onEvent({ type: "safety", event }));
    onEvent({ type: "safety-done", record: rec2 });
    trace("safety snapshot taken");
    return rec2;
  };

  // Owners and grants: refuse before anything changes when they cannot be applied here.
  trace("pg_restore located");
  const archive = await archiveP;
  const { superuser } = await checkRoles(db, archive, keep, target.name);
  if (strategy === "in_place" && !superuser) await checkEmptyable(db, target.name);
  const plan = passes(archive, keep, superuser);
  trace("owners and grants checked (table of contents read)");

  const base: Ctx = { target, rec, pgRestore, warn, onEvent, o, keep, plan };
  let out: Outcome;
  let safety: SnapshotRecord | null = null;
  if (strategy === "swap") {
    // The target is not touched before the swap, so its safety snapshot is taken
    // while the scratch database is being restored; the swap waits for it.
    const pending = takeSafety();
    pending.catch(() => {});
    try {
      out = await viaSwap(maint!.db, jobs, base, async () => {
        safety = await pending;
        await closeDb();
      });
    } catch (e) {
      await pending.catch(() => {}); // never leave it half-written behind us
      throw e;
    }
  } else if (direct && plan.length === 1 && keep.owners) {
    // pg_restore straight into the empty target, one transaction, committed only after the object matched.
    out = await intoEmpty(base);
  } else {
    safety = await takeSafety();
    out = await inPlace(db, base);
  }
  return {
    snapshot: rec.id,
    target: sourceLabelOf(o.url),
    strategy,
    strategyReason: reason,
    safetySnapshot: (safety as SnapshotRecord | null)?.id ?? null,
    jobs,
    owner: target.owner,
    reassigned: out.reassigned,
    notRestored: notRestored(archive, keep, target.owner),
    terminated: out.terminated,
    leftover: out.leftover,
    warnings,
    durationMs: o.now().getTime() - t0,
  };
}

async function inPlace(db: Db, c: Ctx): Promise<Outcome> {
  const { target, o } = c;
  const psql = await findPgTool("psql", { env: o.env, minMajor: c.pgRestore.version.major });
  const t = await terminateSessions(db, target.name);
  if (t.refused) c.warn(`could not end ${t.refused} other session(s) on ${target.name}: the role may not terminate them`);
  c.onEvent({ type: "phase", phase: "restore", total: c.rec.size ?? undefined });
  await restoreInPlace({
    url: o.url,
    store: o.store,
    rec: c.rec,
    target,
    pgRestore: c.pgRestore,
    psql,
    env: o.env,
    signal: o.signal,
    keep: c.keep,
    plan: c.plan,
    tmpDir: o.tmpDir,
    onProgress: (bytes) => c.onEvent({ type: "progress", bytes }),
  });
  return { reassigned: null, terminated: t.terminated, leftover: null };
}

/** Wrap a failure with the promise that the target was not touched. */
function unchanged(e: unknown, database: string): EveError {
  if (e instanceof EveError && e.details?.unchanged) return e;
  const err = e instanceof EveError ? e : new EveError("E_RESTORE", e instanceof Error ? e.message : String(e), ExitCode.failed, { cause: e });
  return new EveError(err.code, `restore failed, database ${database} is unchanged: ${err.message}`, err.exitCode, {
    hint: err.hint,
    cause: err,
    details: { ...err.details, unchanged: true },
  });
}
