/**
 * db.snapshot: take a snapshot of the target (pg_dump custom format streamed
 * into the store, hashed and read back on the way); the result is its record.
 */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { staleHere, thisWriter } from "../catalog.ts";
import { SnapshotEvent, SnapshotRecord } from "../schema.ts";
import { createSnapshot, DEFAULT_RETENTION, parseRetention } from "../snapshot.ts";
import { trace } from "../trace.ts";
import { storeOf, throttleProgress } from "./common.ts";

export const SnapshotInput = z.object({
  /** How long to keep it when pruning: "30d", "12h"… (parseRetention). */
  retention: z.string().max(32).default(DEFAULT_RETENTION),
  /** A note kept with the snapshot. */
  label: z.string().max(1000).nullable().default(null),
  /** Read every block back through pg_restore while uploading. */
  verify: z.boolean().default(true),
});
export type SnapshotInput = z.infer<typeof SnapshotInput>;

export const snapshotOp = defineOperation({
  name: "db.snapshot",
  summary: "take a snapshot (pg_dump custom format streamed to the snapshot store)",
  access: "write",
  input: SnapshotInput,
  result: SnapshotRecord,
  event: SnapshotEvent,
  store: true,
  connection: () => ({ applicationName: "eve snapshot" }),
  async run(deps, input, emit) {
    trace("connected");
    return createSnapshot(
      deps.db,
      {
        url: deps.url,
        store: storeOf(deps, "db.snapshot"),
        trigger: "manual",
        label: input.label,
        retention: parseRetention(input.retention),
        verify: input.verify,
        env: deps.toolEnv,
        now: () => deps.now(),
        writer: thisWriter(),
        stale: staleHere(),
        signal: deps.signal,
      },
      throttleProgress(emit),
    );
  },
});
