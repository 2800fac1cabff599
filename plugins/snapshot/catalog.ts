/**
 * The direct-mode catalog: one JSON record beside each dump in the store
 * (`snapshots/<id>.json` next to `snapshots/<id>.dump`). Ids sort by creation
 * time. Also the stale-record sweep: an `in_progress` record whose writer is
 * gone (dead pid on this host, or no heartbeat for a while) is marked failed
 * and its partial object removed.
 */
import { hostname } from "node:os";
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { pid, processAlive } from "../../core/runtime/index.ts";
import type { Store } from "../../core/store/types.ts";
import { SnapshotRecord, type StaleFix } from "./schema.ts";

const PREFIX = "snapshots/";
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_RE = /^snap_[0-9A-HJKMNP-TV-Z]{26}$/;

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A new snapshot id: `snap_` + 10 base32 chars of milliseconds + 16 of
 * randomness (ULID layout). Within one millisecond the random part is
 * incremented, so ids made by one process are strictly increasing (unless
 * the clock steps back by a second or more).
 * @example newSnapshotId(new Date()) // "snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC"
 */
export function newSnapshotId(now: Date): string {
  let t = now.getTime();
  // Same millisecond (or a small clock step back): stay monotonic. A large jump back starts afresh.
  if (t <= lastTime && lastTime - t < 1000) {
    t = lastTime;
    increment(lastRandom);
  } else {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    lastRandom = Array.from(bytes, (b) => b & 31);
  }
  lastTime = t;
  let time = "";
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return "snap_" + time + lastRandom.map((d) => CROCKFORD[d]).join("");
}

function increment(digits: number[]): void {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]!++;
      return;
    }
    digits[i] = 0;
  }
}

/** Creation time encoded in an id. */
export function idTime(id: string): Date {
  let t = 0;
  for (const c of id.slice(5, 15)) t = t * 32 + CROCKFORD.indexOf(c);
  return new Date(t);
}

export function checkId(id: string): string {
  const norm = id.trim();
  if (!ID_RE.test(norm)) {
    throw new UsageError(`"${id}" is not a snapshot id`, { hint: "ids look like snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC; list them with eve db snapshots" });
  }
  return norm;
}

export const dumpKey = (id: string) => `${PREFIX}${id}.dump`;
export const recordKey = (id: string) => `${PREFIX}${id}.json`;

export async function writeRecord(store: Store, rec: SnapshotRecord): Promise<void> {
  await store.putText(recordKey(rec.id), JSON.stringify(rec, null, 2) + "\n");
}

export function notFound(id: string, store: Store): EveError {
  return new EveError("E_NOT_FOUND", `snapshot ${id} not found in ${store.url}`, ExitCode.error, {
    hint: "list snapshots with eve db snapshots --all (and check --store / EVE_SNAPSHOT_STORE)",
  });
}

function parseRecord(text: string, key: string): SnapshotRecord {
  try {
    return SnapshotRecord.parse(JSON.parse(text));
  } catch (e) {
    throw new EveError("E_CATALOG", `snapshot record ${key} is unreadable: ${e instanceof Error ? e.message.split("\n")[0] : e}`, ExitCode.error, {
      hint: "the metadata object was edited or damaged; delete it with eve db snapshot delete ID --force",
      cause: e,
    });
  }
}

/** Read one record; E_NOT_FOUND when missing. */
export async function readRecord(store: Store, id: string): Promise<SnapshotRecord> {
  const key = recordKey(checkId(id));
  const text = await store.getText(key);
  if (text === null) throw notFound(id, store);
  return parseRecord(text, key);
}

/** Every record in the store, newest first. Unreadable records are reported through `onBad` and skipped. */
export async function listRecords(store: Store, onBad?: (key: string, err: EveError) => void): Promise<SnapshotRecord[]> {
  const keys = (await store.list(PREFIX))
    .map((o) => o.key)
    .filter((k) => k.endsWith(".json") && ID_RE.test(k.slice(PREFIX.length, -5)));
  const out: SnapshotRecord[] = [];
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const text = await store.getText(key);
      if (text === null) continue; // deleted meanwhile
      try {
        out.push(parseRecord(text, key));
      } catch (e) {
        onBad?.(key, e as EveError);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, keys.length) }, worker));
  return out.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

export interface StaleOptions {
  /** This machine's host name: records written here are checked by pid. */
  host: string;
  /** Whether a pid is alive on this host. */
  isAlive(pid: number): boolean;
  /** A heartbeat older than this is stale whatever the host (default 10 minutes). */
  staleAfterMs?: number;
  now: Date;
}

/** This process as the writer of the records it creates (for stale detection by others). */
export function thisWriter(): { host: string; pid: number } {
  return { host: hostname(), pid: pid() };
}

/** Stale detection as seen from this process: writers on this host are checked by pid. */
export function staleHere(): Omit<StaleOptions, "now"> {
  return { host: hostname(), isAlive: processAlive };
}

/** Heartbeat period of a running snapshot; staleness thresholds must be well above it. */
export const HEARTBEAT_MS = 5_000;
export const DEFAULT_STALE_MS = 10 * 60_000;

/** Why an in-progress record is stale, or null when its writer may still be running. */
export function staleReason(rec: SnapshotRecord, o: StaleOptions): string | null {
  if (rec.status !== "in_progress") return null;
  if (rec.writer.host === o.host && !o.isAlive(rec.writer.pid)) {
    return `writer process ${rec.writer.pid} on ${rec.writer.host} is gone`;
  }
  const age = o.now.getTime() - Date.parse(rec.updatedAt);
  const limit = o.staleAfterMs ?? DEFAULT_STALE_MS;
  if (age > limit) return `no heartbeat for ${Math.round(age / 1000)}s from ${rec.writer.host} pid ${rec.writer.pid}`;
  return null;
}

/**
 * Mark stale in-progress records failed and remove their partial objects.
 * Mutates the records in `recs` that it fixes.
 */
export async function fixStale(store: Store, recs: SnapshotRecord[], o: StaleOptions): Promise<StaleFix[]> {
  const fixed: StaleFix[] = [];
  for (const rec of recs) {
    const why = staleReason(rec, o);
    if (!why) continue;
    await discardPartial(store, rec.key);
    await store.delete(rec.key);
    rec.status = "failed";
    rec.error = `interrupted: ${why}; the partial dump was removed`;
    rec.updatedAt = o.now.toISOString();
    rec.completedAt = o.now.toISOString();
    await writeRecord(store, rec);
    fixed.push({ id: rec.id, reason: why });
  }
  return fixed;
}

/**
 * Remove what an interrupted put() of `key` left behind (file store: hidden
 * temp files; S3: unfinished multipart uploads), where the store can.
 */
export async function discardPartial(store: Store, key: string): Promise<void> {
  const s = store as Store & { discardPartial?: (key: string) => Promise<unknown> };
  if (typeof s.discardPartial === "function") await s.discardPartial(key);
}

/** Delete a snapshot: dump first, then its record (a record without dump is still listed as broken). */
export async function deleteSnapshot(store: Store, rec: SnapshotRecord): Promise<void> {
  await store.delete(rec.key);
  await store.delete(recordKey(rec.id));
}
