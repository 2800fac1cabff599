/**
 * db.snapshots.prune: delete expired snapshots of one source database or of
 * the whole store, never the newest completed one of a database unless
 * `all`. Needs no database connection.
 */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { staleHere } from "../catalog.ts";
import { prune } from "../prune.ts";
import { PruneEvent, PruneResult } from "../schema.ts";
import { storeOf } from "./common.ts";

export const PruneInput = z.object({
  /** Only snapshots of this source (host:port/db); null: the whole store. */
  database: z.string().max(1024).nullable().default(null),
  /** Also delete the newest completed snapshot of a database when it expired. */
  all: z.boolean().default(false),
  /** Report what would be deleted, delete nothing. */
  dryRun: z.boolean().default(false),
});
export type PruneInput = z.infer<typeof PruneInput>;

export const pruneOp = defineOperation({
  name: "db.snapshots.prune",
  summary: "delete expired snapshots (never the newest completed one of a database)",
  access: "owner",
  input: PruneInput,
  result: PruneResult,
  event: PruneEvent,
  store: true,
  connects: false,
  async run(deps, input, emit) {
    const now = deps.now();
    return prune(
      { store: storeOf(deps, "db.snapshots.prune"), now, sourceKey: input.database ?? undefined, all: input.all, dryRun: input.dryRun, stale: { ...staleHere(), now } },
      emit,
    );
  },
});
