/**
 * What a restore is given: shared by the orchestration (restore.ts) and the
 * strategies it calls (restore-swap.ts, restore-inplace.ts), so that neither
 * imports the other's module.
 */
import type { Db } from "../../core/db/index.ts";
import type { Store } from "../../core/store/types.ts";
import type { SnapshotRecord } from "./schema.ts";
import type { SnapshotOptions } from "./snapshot.ts";

export interface RestoreOptions {
  /** Target URL (password included; passed to pg_restore via PGPASSWORD). */
  url: string;
  store: Store;
  id: string;
  /** The source the snapshot must come from (host:port/db); required when it differs from the target. */
  sourceKey?: string;
  safetySnapshot: boolean;
  /** Parallel pg_restore from a local temp file (swap only). */
  jobs?: number;
  /** Where --jobs downloads the dump. */
  tmpDir: string;
  env: Record<string, string | undefined>;
  now: () => Date;
  writer: SnapshotOptions["writer"];
  stale: SnapshotOptions["stale"];
  retention?: SnapshotOptions["retention"];
  /** Restore the objects' owners (default) or give everything to the target's owner (--no-owner). */
  owners?: boolean;
  /** Restore grants and default privileges (default) or skip them (--no-acl). */
  acl?: boolean;
  signal?: AbortSignal;
  /** The snapshot's record, already being checked by checkRestorable (the operation starts it before the preview). */
  record?: Promise<SnapshotRecord>;
  /** An open session on the target (the operation's), handed over: the restore closes it before the swap. */
  session?: { db: Db; close: () => Promise<void> };
}
