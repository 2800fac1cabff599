/**
 * Retention: delete expired snapshots. The newest completed snapshot of each
 * source database is never deleted (unless `all`), so retention can never
 * leave a database without a good backup. Stale in-progress records are
 * swept first.
 */
import type { Store } from "../../core/store/types.ts";
import { deleteSnapshot, fixStale, listRecords, type StaleOptions } from "./catalog.ts";
import type { PruneEvent, PruneResult, SnapshotRecord } from "./schema.ts";

export interface PruneOptions {
  store: Store;
  now: Date;
  /** Only snapshots of this source (host:port/db); every source when absent. */
  sourceKey?: string;
  /** Also delete the newest completed snapshot of a database when it expired. */
  all?: boolean;
  dryRun?: boolean;
  stale: StaleOptions;
}

/** Which expired snapshots to delete and which to keep: pure. */
export function planPrune(recs: SnapshotRecord[], now: Date, all = false): { remove: SnapshotRecord[]; kept: PruneResult["kept"] } {
  const newestCompleted = new Map<string, string>();
  for (const r of recs) {
    if (r.status !== "completed") continue;
    const cur = newestCompleted.get(r.sourceKey);
    if (!cur || r.id > cur) newestCompleted.set(r.sourceKey, r.id);
  }
  const remove: SnapshotRecord[] = [];
  const kept: PruneResult["kept"] = [];
  for (const r of recs) {
    if (r.status === "in_progress" || !r.expiresAt || Date.parse(r.expiresAt) > now.getTime()) continue;
    if (!all && newestCompleted.get(r.sourceKey) === r.id) {
      kept.push({ id: r.id, reason: `newest completed snapshot of ${r.sourceKey} (use --all to delete it too)` });
      continue;
    }
    remove.push(r);
  }
  return { remove, kept };
}

export async function prune(o: PruneOptions, onEvent: (e: PruneEvent) => void = () => {}): Promise<PruneResult> {
  const all = await listRecords(o.store, (key, err) => onEvent({ type: "unreadable", key, message: err.message }));
  const staleFixed = o.dryRun ? [] : await fixStale(o.store, all, o.stale);
  const recs = o.sourceKey ? all.filter((r) => r.sourceKey === o.sourceKey) : all;
  const { remove, kept } = planPrune(recs, o.now, o.all);
  const deleted: PruneResult["deleted"] = [];
  for (const r of remove) {
    if (!o.dryRun) await deleteSnapshot(o.store, r);
    deleted.push({ id: r.id, database: r.sourceKey, status: r.status, expiresAt: r.expiresAt });
    onEvent({ type: "deleted", record: r });
  }
  return { store: o.store.url, dryRun: !!o.dryRun, deleted, kept, staleFixed };
}
