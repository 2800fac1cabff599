/**
 * The swap strategy of a restore: pg_restore into a scratch database created
 * like the target (streamed and verified, or in parallel from a downloaded
 * and verified temp file) with the objects' owners and grants (or, with
 * --no-owner, everything handed to the target's owner), then the rename swap
 * and the old database dropped. Until the swap commits the target is untouched.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { close, connect, mapDbError, quoteIdent, withDatabase, type Db } from "../../core/db/index.ts";
import { advisoryKey } from "../../core/db/lock.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { createDatabaseSql, derivedName, dropDatabase } from "../../core/db/admin.ts";
import { downloadVerified } from "./download.ts";
import { reassignToOwner, swapDatabases, type TargetInfo } from "./restore-db.ts";
import { listFile, preserveFlags, type Preserve } from "./restore-roles.ts";
import type { RestoreOptions } from "./restore-options.ts";
import type { RestoreEvent, SnapshotRecord } from "./schema.ts";
import { pumpVerified } from "./streams.ts";
import { trace } from "./trace.ts";
import { cleanStderr, connArgs, secretsOf, spawnTool, toolFailed, type PgTool } from "./tools.ts";

export interface Ctx {
  target: TargetInfo;
  rec: SnapshotRecord;
  pgRestore: PgTool;
  warn: (m: string) => void;
  onEvent: (e: RestoreEvent) => void;
  o: RestoreOptions;
  keep: Preserve;
  /** pg_restore passes (restore-roles.ts passes()). */
  plan: Array<string[] | null>;
}

export type Outcome = { reassigned: number | null; terminated: number; leftover: string | null };

const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14);

export async function viaSwap(m: Db, jobs: number, c: Ctx, beforeSwap: () => Promise<void>): Promise<Outcome> {
  const unlock = await lockTarget(m, c.target.name);
  try {
    await sweepScratch(m, c);
    trace("locked the target, swept scratch databases");
    return await swap(m, jobs, c, beforeSwap);
  } finally {
    await unlock();
  }
}

/**
 * One swap restore per target at a time: a session advisory lock on the
 * maintenance connection. Holding it also proves that scratch databases of this
 * target were left by restores that died (kill -9), so they can be dropped.
 */
async function lockTarget(m: Db, target: string): Promise<() => Promise<void>> {
  const key = advisoryKey(`eve:restore:${target}`);
  const [row] = await m`select pg_try_advisory_lock(${key}::bigint) as ok`;
  if (!row?.ok) {
    throw new EveError("E_RESTORE_BUSY", `another restore into database ${target} is running`, ExitCode.lockTimeout, {
      hint: "wait for it to finish, then retry",
    });
  }
  return async () => {
    await m`select pg_advisory_unlock(${key}::bigint)`.catch(() => {});
  };
}

/**
 * Restore straight into an empty target: one pg_restore --single-transaction,
 * committed only after the object matched (owners kept; --no-owner goes the
 * in-place way, whose hand-over runs in the same transaction).
 */
export async function intoEmpty(c: Ctx): Promise<Outcome> {
  await runPass(c, c.o.url, ["--single-transaction"], true, true);
  trace("pg_restore done");
  return { reassigned: null, terminated: 0, leftover: null };
}

/** Drop `<target>_eve_tmp_<stamp>` databases left behind by interrupted restores. */
async function sweepScratch(m: Db, c: Ctx): Promise<void> {
  const prefix = derivedName(c.target.name, `_eve_tmp_${"0".repeat(14)}`).slice(0, -14);
  const left = await m`select datname from pg_database where starts_with(datname, ${prefix}) and datname ~ '_eve_tmp_[0-9]{14}$'`;
  for (const { datname } of left) {
    await dropDatabase(m, datname as string, c.target.versionNum)
      .then(() => c.warn(`dropped ${datname}, a scratch database left by an interrupted restore`))
      .catch((e: Error) => c.warn(`could not drop ${datname}, left by an interrupted restore: ${e.message}`));
  }
}

async function swap(m: Db, jobs: number, c: Ctx, beforeSwap: () => Promise<void>): Promise<Outcome> {
  const { target, o } = c;
  const ts = stamp(o.now());
  const tmp = derivedName(target.name, `_eve_tmp_${ts}`);
  const old = derivedName(target.name, `_eve_old_${ts}`);
  let created = false;
  let swapped = false;
  let file: { dir: string; path: string } | null = null;
  try {
    // The download (--jobs) and the scratch database's creation run side by side.
    const creating = m.unsafe(createDatabaseSql(tmp, target)).then(() => void (created = true));
    creating.catch(() => {});
    if (jobs > 1) file = await download(c).catch(async (e) => {
      await creating.catch(() => {});
      throw e;
    });
    await creating;
    trace("scratch database created");
    const tmpUrl = withDatabase(o.url, tmp);
    for (const x of target.extras) {
      const sql = x.sql.replaceAll("%DB%", quoteIdent(tmp));
      await m.unsafe(sql).catch((e: unknown) => {
        const msg = `cannot copy ${x.sql.replaceAll("%DB%", quoteIdent(target.name))} to the new database: ${mapDbError(e).message}`;
        if (x.fatal) throw new EveError("E_RESTORE", msg, ExitCode.failed, { hint: "check the role's privileges on the target database", cause: e });
        c.warn(msg);
      });
    }
    trace("database grants and settings copied");
    await runRestore(c, tmpUrl, file ? ["--jobs=" + jobs, file.path] : [], !file);
    trace("pg_restore done");
    let reassigned: number | null = null;
    if (!c.keep.owners) {
      c.onEvent({ type: "phase", phase: "owner" });
      const tdb = connect(tmpUrl, { applicationName: "eve restore" });
      try {
        reassigned = await reassignToOwner(tdb, target.owner);
      } finally {
        await close(tdb);
      }
    }
    await beforeSwap();
    trace("waited for the safety snapshot");
    c.onEvent({ type: "phase", phase: "swap" });
    const terminated = await swapDatabases(m, target.name, tmp, old, target.versionNum);
    swapped = true;
    trace("swapped");
    c.onEvent({ type: "phase", phase: "cleanup" });
    let leftover: string | null = null;
    try {
      await dropDatabase(m, old, target.versionNum);
    } catch (e) {
      leftover = old;
      c.warn(`restored, but the replaced database is still there as ${old}: ${(e as Error).message}; drop it when done`);
    }
    trace("old database dropped");
    return { reassigned, terminated, leftover };
  } catch (e) {
    if (created && !swapped) {
      await dropDatabase(m, tmp, target.versionNum).catch((d: Error) => c.warn(`could not drop the scratch database ${tmp}: ${d.message}`));
    }
    throw e;
  } finally {
    if (file) await rm(file.dir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Run pg_restore into `url`, streaming the object (verified on the way) or from
 * the args' file, once per pass of the plan (a first pass of schemas and their
 * grants reads only the archive's table of contents).
 */
async function runRestore(c: Ctx, url: string, extra: string[], stream: boolean): Promise<void> {
  const dir = c.plan.length > 1 ? await mkdtemp(join(c.o.tmpDir, "eve-restore-")) : null;
  try {
    for (let i = 0; i < c.plan.length; i++) {
      const last = i === c.plan.length - 1;
      const list = dir ? await listFile(dir, c.plan[i]!, i) : [];
      await runPass(c, url, [...list, ...extra], stream, last);
    }
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

async function runPass(c: Ctx, url: string, extra: string[], stream: boolean, last: boolean): Promise<void> {
  const { rec, o } = c;
  const conn = connArgs(url, o.env);
  const args = [...preserveFlags(c.keep), "--exit-on-error", "--no-password", `--dbname=${conn.dbname}`, ...extra];
  if (last) c.onEvent({ type: "phase", phase: "restore", total: stream ? rec.size ?? undefined : undefined });
  const proc = spawnTool(c.pgRestore.path, args, { env: conn.env, stdin: stream ? "pipe" : "ignore", stdout: "ignore", signal: o.signal });
  try {
    if (stream && !last) {
      // Schemas only: pg_restore reads the table of contents and stops; the last pass verifies the object.
      const src = await o.store.get(rec.key, { signal: o.signal });
      await pumpVerified(src, proc.stdin!, null, undefined, proc.exited).catch(() => {});
    } else if (stream) {
      const src = await o.store.get(rec.key, { signal: o.signal });
      const expected = { size: rec.size!, sha256: rec.sha256!, what: `snapshot ${rec.id}` };
      await pumpVerified(src, proc.stdin!, expected, (bytes) => c.onEvent({ type: "progress", bytes }), proc.exited).catch(async (e) => {
        // pg_restore stopping early (its own error) breaks the pipe: report its error instead.
        proc.kill();
        const x = await proc.exited;
        if (x.code !== 0 && x.code !== null && !(e instanceof EveError)) throw failed(x, url);
        throw e;
      });
    }
    const x = await proc.exited;
    if (x.code !== 0) throw failed(x, url);
  } finally {
    proc.kill();
  }
}

function failed(x: { code: number | null; stderr: string }, url: string): EveError {
  return toolFailed("E_RESTORE", "pg_restore", x.code, cleanStderr(x.stderr, secretsOf(url)), "the snapshot does not restore on this server (missing role or extension, version, or data that no longer passes a constraint)");
}

/** Download the dump to a private temp file, checking size and sha256 (for parallel pg_restore). */
async function download(c: Ctx): Promise<{ dir: string; path: string }> {
  const { rec, o } = c;
  const dir = await mkdtemp(join(o.tmpDir, "eve-restore-"));
  const path = join(dir, `${rec.id}.dump`);
  try {
    c.onEvent({ type: "phase", phase: "download", total: rec.size ?? undefined });
    await downloadVerified(o.store, rec, path, { signal: o.signal, onProgress: (bytes) => c.onEvent({ type: "progress", bytes }) });
    return { dir, path };
  } catch (e) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}
