/**
 * db.snapshots: the snapshots in the store, newest first, of one source
 * database or of all, filtered by status and limited. Stale in-progress
 * records are marked failed on the way. Needs no database connection.
 */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { fixStale, listRecords, staleHere } from "../catalog.ts";
import { SnapshotListResult, Status, UnreadableEvent } from "../schema.ts";
import { storeOf } from "./common.ts";

export const SnapshotsInput = z.object({
  /** Only snapshots of this source (host:port/db); null: every snapshot in the store. */
  database: z.string().max(1024).nullable().default(null),
  /** Only this status. */
  status: Status.nullable().default(null),
  /** At most this many. */
  limit: z.number().int().positive().default(50),
});
export type SnapshotsInput = z.infer<typeof SnapshotsInput>;

export const snapshotsOp = defineOperation({
  name: "db.snapshots",
  summary: "list snapshots in the store, newest first",
  access: "read",
  input: SnapshotsInput,
  result: SnapshotListResult,
  event: UnreadableEvent,
  store: true,
  connects: false,
  async run(deps, input, emit) {
    const store = storeOf(deps, "db.snapshots");
    const all = await listRecords(store, (key, err) => emit({ type: "unreadable", key, message: err.message }));
    const staleFixed = await fixStale(store, all, { ...staleHere(), now: deps.now() });
    const snapshots = all
      .filter((r) => (!input.database || r.sourceKey === input.database) && (!input.status || r.status === input.status))
      .slice(0, input.limit);
    return { store: store.url, database: input.database, snapshots, staleFixed };
  },
});
