/**
 * db.snapshot.delete: delete a snapshot (its dump, then its record). Without
 * `force` nothing is deleted: it refuses (E_REFUSED) with the record as the
 * preview. A snapshot still being written by a live process is never deleted.
 * Needs no database connection.
 */
import { z } from "zod";
import { EveError, ExitCode } from "../../../core/errors.ts";
import { formatBytes } from "../../../core/io.ts";
import { defineOperation } from "../../../core/operation.ts";
import { deleteSnapshot, readRecord, staleHere, staleReason } from "../catalog.ts";
import { DeletedSnapshot, type DeletePreview, type SnapshotRecord } from "../schema.ts";
import { storeOf } from "./common.ts";

export const DeleteInput = z.object({
  id: z.string().max(100),
  /** Really delete it. */
  force: z.boolean().default(false),
});
export type DeleteInput = z.infer<typeof DeleteInput>;

/** How a deleted (or refused) snapshot is named in messages. */
export function describeForDelete(rec: SnapshotRecord): string {
  return `snapshot ${rec.id} of ${rec.sourceKey} (${rec.status}${rec.size !== null ? `, ${formatBytes(rec.size)}` : ""}, created ${rec.createdAt})`;
}

export const deleteOp = defineOperation({
  name: "db.snapshot.delete",
  summary: "delete a snapshot (its dump and its record)",
  access: "owner",
  input: DeleteInput,
  result: DeletedSnapshot,
  event: z.never(),
  store: true,
  connects: false,
  async run(deps, input) {
    const store = storeOf(deps, "db.snapshot.delete");
    const rec = await readRecord(store, input.id);
    if (rec.status === "in_progress" && !staleReason(rec, { ...staleHere(), now: deps.now() })) {
      throw new EveError("E_IN_PROGRESS", `snapshot ${rec.id} is still being written by ${rec.writer.host} pid ${rec.writer.pid}`, ExitCode.error, {
        hint: "wait for it to finish (or stop that process), then delete it",
      });
    }
    if (!input.force) {
      const preview: DeletePreview = { id: rec.id, store: store.url, deleted: false, snapshot: rec };
      throw new EveError("E_REFUSED", `refusing to delete ${describeForDelete(rec)} without --force`, ExitCode.error, {
        hint: "pass --force to delete it",
        details: { preview },
      });
    }
    await deleteSnapshot(store, rec);
    return { id: rec.id, store: store.url, deleted: true, snapshot: rec };
  },
});
