/**
 * Create a snapshot: `pg_dump --format=custom` streamed into the store, hashed
 * and counted on the way, optionally teed into `pg_restore -f /dev/null` so
 * every block is read back while uploading. The upload is committed only
 * after pg_dump (and the verifier) exited 0; the record goes in_progress →
 * completed | failed, with a heartbeat meanwhile.
 */
import { parseDuration } from "../../core/config.ts";
import { parseDbUrl, type Db } from "../../core/db/index.ts";
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { majorFromVersionNum } from "../../core/pgtools/index.ts";
import type { Store } from "../../core/store/types.ts";
import { discardPartial, dumpKey, fixStale, HEARTBEAT_MS, listRecords, newSnapshotId, writeRecord, type StaleOptions } from "./catalog.ts";
import type { SnapshotEvent, SnapshotRecord, Trigger } from "./schema.ts";
import { teeStream } from "./streams.ts";
import { trace } from "./trace.ts";
import { cleanStderr, connArgs, findTools, secretsOf, spawnTool, toolFailed, warmTools, type Tools } from "./tools.ts";

export interface SnapshotOptions {
  /** Full database URL (password included: it goes to pg_dump via PGPASSWORD). */
  url: string;
  store: Store;
  trigger: Trigger;
  label?: string | null;
  /** Retention text ("30d") and its length in ms; null keeps forever. */
  retention?: { text: string; ms: number } | null;
  /** Read every block back through pg_restore while uploading (default true). */
  verify?: boolean;
  /** Environment for locating and running the tools (PATH, EVE_PG_BIN, PG*). */
  env: Record<string, string | undefined>;
  now: () => Date;
  /** This process, recorded for stale detection. */
  writer: { host: string; pid: number };
  stale: Omit<StaleOptions, "now">;
  signal?: AbortSignal;
  /** Tools already located (restore passes its own). */
  tools?: Tools;
  heartbeatMs?: number;
}

export const DEFAULT_RETENTION = "30d";

/**
 * Retention: a number of days ("30d"), or hours/minutes/seconds ("12h").
 * @example parseRetention("30d") // { text: "30d", ms: 2592000000 }
 */
export function parseRetention(value: string): { text: string; ms: number } {
  const text = value.trim();
  if (!/^\d+\s*(d|h|m|s)$/i.test(text)) {
    throw new UsageError(`invalid retention "${value}"`, { hint: 'use a value like "30d" (days; h, m and s also work)' });
  }
  const ms = parseDuration(text.toLowerCase(), "--retention");
  if (ms <= 0) throw new UsageError(`retention must be positive (got "${value}")`, { hint: 'use a value like "30d"' });
  return { text: text.replace(/\s+/g, "").toLowerCase(), ms };
}

/** The source identity compared by --source-url: host:port/db. */
export function sourceKeyOf(url: string, flag?: string): string {
  const t = parseDbUrl(url, flag);
  return `${t.host}:${t.port}/${t.database}`;
}

export function sourceLabelOf(url: string): string {
  const t = parseDbUrl(url);
  return `${t.user ? t.user + "@" : ""}${t.host}:${t.port}/${t.database}`;
}

export async function serverFacts(db: Db): Promise<{ database: string; version: string; versionNum: number; size: number }> {
  const [row] = await db<{ database: string; version: string; num: string; size: string }[]>`
    select current_database() as database, current_setting('server_version') as version,
           current_setting('server_version_num') as num, pg_database_size(current_database())::text as size`;
  return { database: row!.database, version: row!.version, versionNum: Number(row!.num), size: Number(row!.size) };
}

/** Take a snapshot of the database `db` is connected to (the same as `url`). Throws on failure, after recording it. */
export async function createSnapshot(db: Db, o: SnapshotOptions, onEvent: (e: SnapshotEvent) => void = () => {}): Promise<SnapshotRecord> {
  if (!o.tools) warmTools(o.env);
  const facts = await serverFacts(db);
  trace("server facts read");
  const tools = o.tools ?? (await findTools(o.env, majorFromVersionNum(facts.versionNum)));
  trace("pg_dump and pg_restore located");

  const start = o.now();
  const id = newSnapshotId(start);
  const rec: SnapshotRecord = {
    id,
    format: 1,
    database: facts.database,
    source: sourceLabelOf(o.url),
    sourceKey: sourceKeyOf(o.url),
    serverVersion: facts.version,
    pgDumpVersion: tools.pgDump.version.text,
    trigger: o.trigger,
    status: "in_progress",
    label: o.label ?? null,
    key: dumpKey(id),
    size: null,
    sha256: null,
    databaseSize: facts.size,
    retention: o.retention?.text ?? null,
    expiresAt: o.retention ? new Date(start.getTime() + o.retention.ms).toISOString() : null,
    createdAt: start.toISOString(),
    completedAt: null,
    updatedAt: start.toISOString(),
    bytes: 0,
    verified: false,
    durationMs: null,
    error: null,
    writer: o.writer,
  };
  // The in-progress record is written while pg_dump starts and the upload begins; the
  // upload commits only after it landed (a failed write fails the snapshot).
  const recorded = writeRecord(o.store, rec).then(() => trace("in-progress record written"));
  recorded.catch(() => {}); // awaited by the commit
  onEvent({ type: "started", record: { ...rec }, store: o.store.url });
  const secrets = secretsOf(o.url);
  const conn = connArgs(o.url, o.env);
  const dump = spawnTool(tools.pgDump.path, ["--format=custom", "--no-password", `--dbname=${conn.dbname}`], { env: conn.env, signal: o.signal });
  const verify = o.verify !== false;
  const checker = verify ? spawnTool(tools.pgRestore.path, ["--file=/dev/null"], { env: o.env, stdin: "pipe", stdout: "ignore", signal: o.signal }) : null;

  // Heartbeat: refresh updatedAt and bytes; writes are serialised (after the first) and best effort.
  let writes: Promise<void> = recorded.catch(() => {});
  const save = () => {
    const copy = { ...rec };
    writes = writes.then(() => writeRecord(o.store, copy)).catch(() => {});
    return writes;
  };
  const beat = setInterval(() => {
    rec.updatedAt = o.now().toISOString();
    void save();
  }, o.heartbeatMs ?? HEARTBEAT_MS);

  const t0 = Date.now();
  // Housekeeping while the dump runs: mark stale in-progress records failed (ours is alive, so never touched).
  const sweep = listRecords(o.store)
    .then((recs) => fixStale(o.store, recs, { ...o.stale, now: o.now() }))
    .then((fixed) => void (fixed.length && onEvent({ type: "stale", fixed })))
    .catch(() => {});
  try {
    const body = teeStream(dump.stdout, checker?.stdin ?? null, checker?.exited);
    const put = await o.store.put(rec.key, body, {
      signal: o.signal,
      onProgress: (bytes) => {
        rec.bytes = bytes;
        onEvent({ type: "progress", bytes, elapsedMs: Date.now() - t0 });
      },
      commit: async () => {
        await recorded;
        const d = await dump.exited;
        if (d.code !== 0) {
          throw toolFailed("E_DUMP", "pg_dump", d.code, cleanStderr(d.stderr, secrets), "check that the user may read every table (RLS, permissions) and that the server is reachable");
        }
        if (checker) {
          const v = await checker.exited;
          if (v.code !== 0) {
            throw toolFailed("E_VERIFY", "verification (pg_restore reading every block)", v.code, cleanStderr(v.stderr, secrets), "the dump stream could not be read back; retry, and check the pg_restore version");
          }
        }
      },
    });
    trace("dump uploaded and committed (pg_dump and verifier exited)");
    const head = await o.store.head(rec.key);
    if (!head || head.size !== put.size) {
      await o.store.delete(rec.key).catch(() => {});
      throw new EveError("E_STORE_VERIFY", `the store holds ${head ? head.size : "no"} bytes for ${rec.key} after uploading ${put.size}`, ExitCode.failed, {
        hint: "the store did not keep what was sent; retry, and check the store's health",
      });
    }
    clearInterval(beat);
    await Promise.all([writes, sweep]);
    const end = o.now();
    Object.assign(rec, {
      status: "completed",
      size: put.size,
      bytes: put.size,
      sha256: put.sha256,
      verified: verify,
      completedAt: end.toISOString(),
      updatedAt: end.toISOString(),
      durationMs: end.getTime() - start.getTime(),
    } satisfies Partial<SnapshotRecord>);
    await writeRecord(o.store, rec);
    trace("completed record written");
    return { ...rec };
  } catch (e) {
    clearInterval(beat);
    dump.kill();
    checker?.kill();
    const err = asEveError(e, await dump.exited.catch(() => ({ code: null, stderr: "" })), secrets);
    await Promise.all([writes, sweep]);
    const end = o.now();
    Object.assign(rec, {
      status: "failed",
      error: String((err.details as { stderr?: string } | undefined)?.stderr || err.message),
      completedAt: end.toISOString(),
      updatedAt: end.toISOString(),
      durationMs: end.getTime() - start.getTime(),
    } satisfies Partial<SnapshotRecord>);
    await discardPartial(o.store, rec.key).catch(() => {});
    try {
      await writeRecord(o.store, rec);
    } catch {
      // The store is unreachable: the record stays in_progress and the next run marks it failed (its writer is gone).
    }
    throw new EveError(err.code, `snapshot ${rec.id} failed: ${err.message}`, err.exitCode, { hint: err.hint, cause: err, details: { ...err.details, snapshot: rec.id } });
  }
}

/** Prefer pg_dump's own failure over the stream errors it caused. */
function asEveError(e: unknown, dumpExit: { code: number | null; stderr: string }, secrets: string[]): EveError {
  if (e instanceof EveError && e.code !== "E_INTERNAL") return e;
  if (dumpExit.code !== 0 && dumpExit.code !== null) {
    return toolFailed("E_DUMP", "pg_dump", dumpExit.code, cleanStderr(dumpExit.stderr, secrets), "check the database and the pg_dump output above");
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new EveError("E_SNAPSHOT", cleanStderr(msg, secrets, 500), ExitCode.failed, { cause: e });
}
