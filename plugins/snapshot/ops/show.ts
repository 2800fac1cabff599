/** db.snapshot.show: one snapshot's record. Needs no database connection. */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { readRecord } from "../catalog.ts";
import { ShowResult } from "../schema.ts";
import { storeOf } from "./common.ts";

/** A snapshot named by id (checked by the catalog: `snap_` + 26 base32 characters). */
export const SnapshotIdInput = z.object({ id: z.string().max(100) });
export type SnapshotIdInput = z.infer<typeof SnapshotIdInput>;

export const showOp = defineOperation({
  name: "db.snapshot.show",
  summary: "show one snapshot's record",
  access: "read",
  input: SnapshotIdInput,
  result: ShowResult,
  event: z.never(),
  store: true,
  connects: false,
  async run(deps, input) {
    const store = storeOf(deps, "db.snapshot.show");
    return { store: store.url, snapshot: await readRecord(store, input.id) };
  },
});
