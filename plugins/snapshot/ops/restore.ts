/**
 * db.restore: restore a snapshot into the target, atomically, after a safety
 * snapshot (restore.ts). Without `force` nothing changes: it refuses
 * (E_REFUSED) with what would be replaced as the preview. The snapshot's
 * record is read first either way, so a snapshot that cannot be restored
 * here is reported as such rather than previewed.
 */
import { tmpdir } from "node:os";
import { z } from "zod";
import { close } from "../../../core/db/index.ts";
import { describeDatabase } from "../../../core/db/recreate.ts";
import { EveError, ExitCode } from "../../../core/errors.ts";
import { defineOperation } from "../../../core/operation.ts";
import { staleHere, thisWriter } from "../catalog.ts";
import { checkRestorable, restoreSnapshot } from "../restore.ts";
import { RestoreEvent, RestoreResult, type RestorePreview } from "../schema.ts";
import { DEFAULT_RETENTION, parseRetention } from "../snapshot.ts";
import { trace } from "../trace.ts";
import { storeOf, throttleProgress } from "./common.ts";

export const RestoreInput = z.object({
  /** The snapshot to restore (snap_…). */
  snapshot: z.string().max(100),
  /** Really replace the database's contents. */
  force: z.boolean().default(false),
  skipSafetySnapshot: z.boolean().default(false),
  /** Parallel pg_restore from a downloaded temp file (swap only). */
  jobs: z.number().int().positive().max(256).default(1),
  /** The database the snapshot was taken from (host:port/db), when it is not the target. */
  sourceKey: z.string().max(1024).nullable().default(null),
  /** Retention of the safety snapshot. */
  retention: z.string().max(32).default(DEFAULT_RETENTION),
  /** Restore the objects' owners (false: everything belongs to the target database's owner). */
  owner: z.boolean().default(true),
  /** Restore grants and default privileges. */
  acl: z.boolean().default(true),
});
export type RestoreInput = z.infer<typeof RestoreInput>;

export const restoreOp = defineOperation({
  name: "db.restore",
  summary: "restore a snapshot into the database (atomically; safety snapshot first)",
  access: "owner",
  input: RestoreInput,
  result: RestoreResult,
  event: RestoreEvent,
  store: true,
  connection: () => ({ applicationName: "eve restore" }),
  async run(deps, input, emit) {
    trace("connected");
    const store = storeOf(deps, "db.restore");
    const retention = parseRetention(input.retention);
    const sourceKey = input.sourceKey ?? undefined;
    const checked = checkRestorable(store, input.snapshot, deps.url, sourceKey);
    if (!input.force) {
      const current = describeDatabase(deps.db);
      current.catch(() => {}); // awaited after the record's checks, whose errors come first
      const rec = await checked;
      const f = await current;
      const preview: RestorePreview = {
        refused: true,
        database: deps.label,
        snapshot: rec,
        current: { sizeBytes: f.sizeBytes, tables: f.tables, rowsEstimate: f.rowsEstimate, schemas: f.schemas },
      };
      throw new EveError("E_REFUSED", `refusing to restore ${rec.id} into ${f.name} without --force`, ExitCode.error, {
        hint: "pass --force to replace the database's contents (a safety snapshot is taken first)",
        // name: the target database's name, for the human preview.
        details: { preview, name: f.name },
      });
    }
    return restoreSnapshot(
      {
        url: deps.url,
        store,
        id: input.snapshot,
        sourceKey,
        safetySnapshot: !input.skipSafetySnapshot,
        jobs: input.jobs,
        tmpDir: tmpdir(),
        env: deps.toolEnv,
        now: () => deps.now(),
        writer: thisWriter(),
        stale: staleHere(),
        retention,
        owners: input.owner,
        acl: input.acl,
        signal: deps.signal,
        record: checked,
        // The target session is handed over: the restore ends it before the swap, which ends every session on the target.
        session: { db: deps.db, close: () => close(deps.db) },
      },
      throttleProgress(emit),
    );
  },
});
