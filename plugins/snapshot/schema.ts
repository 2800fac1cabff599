/**
 * Shapes of the snapshot plugin: the snapshot record (the JSON object kept
 * beside each dump in direct mode; the platform stores the same fields in its
 * database), the result of every operation, their events and the previews
 * their refusals carry. One zod schema each, shared by the engines, the
 * renderers, `--json` and the HTTP API.
 */
import { z } from "zod";

export const Trigger = z.enum(["manual", "pre_restore", "pre_reset", "scheduled", "pre_delete"]);
export type Trigger = z.infer<typeof Trigger>;

export const Status = z.enum(["in_progress", "completed", "failed"]);
export type Status = z.infer<typeof Status>;

export const SnapshotRecord = z.object({
  /** `snap_` + 26 Crockford base32 characters (48-bit time, 80-bit random): sorts by creation time. */
  id: z.string().regex(/^snap_[0-9A-HJKMNP-TV-Z]{26}$/),
  /** Record format version. */
  format: z.literal(1),
  /** Database name the dump was taken from. */
  database: z.string(),
  /** Where it was taken from, safe to print: user@host:port/db (no password). */
  source: z.string(),
  /** host:port/db: what `--source-url` is matched against. */
  sourceKey: z.string(),
  /** SHOW server_version of the source. */
  serverVersion: z.string(),
  /** `pg_dump --version` of the client that wrote the dump. */
  pgDumpVersion: z.string(),
  trigger: Trigger,
  status: Status,
  label: z.string().nullable(),
  /** Store key of the dump object. */
  key: z.string(),
  /** Dump size in bytes (the compressed archive), once completed. */
  size: z.number().nullable(),
  /** sha256 hex of the dump, computed while streaming. */
  sha256: z.string().nullable(),
  /** pg_database_size() of the source when the snapshot started. */
  databaseSize: z.number().nullable(),
  /** Retention as given, e.g. "30d". */
  retention: z.string().nullable(),
  expiresAt: z.string().nullable(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  /** Heartbeat: refreshed while in progress; a record whose heartbeat stops is stale. */
  updatedAt: z.string(),
  /** Bytes streamed so far (progress for readers of an in-progress record). */
  bytes: z.number(),
  /** Every block was read back by pg_restore during the upload; false with --no-verify. */
  verified: z.boolean(),
  durationMs: z.number().nullable(),
  error: z.string().nullable(),
  /** The process writing the snapshot, for stale-record detection. */
  writer: z.object({ host: z.string(), pid: z.number() }),
});
export type SnapshotRecord = z.infer<typeof SnapshotRecord>;

/** Bytes streamed so far (rendered as a progress line on a TTY). */
export const ProgressEvent = z.object({ type: z.literal("progress"), bytes: z.number(), elapsedMs: z.number().optional() });

/** A stale in-progress record that was marked failed (and its partial object removed). */
export const StaleFix = z.object({ id: z.string(), reason: z.string() });
export type StaleFix = z.infer<typeof StaleFix>;

export const SnapshotListResult = z.object({
  store: z.string(),
  /** Filter: the source database (host:port/db), or null for every snapshot in the store. */
  database: z.string().nullable(),
  snapshots: z.array(SnapshotRecord),
  /** Stale in-progress records marked failed by this listing. */
  staleFixed: z.array(StaleFix),
});
export type SnapshotListResult = z.infer<typeof SnapshotListResult>;

/** `eve db snapshot show`: one record and the store it was read from (--json prints the record alone). */
export const ShowResult = z.object({ store: z.string(), snapshot: SnapshotRecord });
export type ShowResult = z.infer<typeof ShowResult>;


/** Events of taking a snapshot: stale records swept, the in-progress record written (where to), bytes uploaded. */
export const SnapshotEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("stale"), fixed: z.array(StaleFix) }),
  /** `record.source` names the database dumped; `store` where it goes (both safe to print). */
  z.object({ type: z.literal("started"), record: SnapshotRecord, store: z.string() }),
  ProgressEvent,
]);
export type SnapshotEvent = z.infer<typeof SnapshotEvent>;

/** A record the listing could not read (skipped, with a warning). */
export const UnreadableEvent = z.object({ type: z.literal("unreadable"), key: z.string(), message: z.string() });
export type UnreadableEvent = z.infer<typeof UnreadableEvent>;

export const PruneEvent = z.discriminatedUnion("type", [z.object({ type: z.literal("deleted"), record: SnapshotRecord }), UnreadableEvent]);
export type PruneEvent = z.infer<typeof PruneEvent>;

export const VerifyResult = z.object({
  id: z.string(),
  store: z.string(),
  ok: z.boolean(),
  size: z.number(),
  expectedSize: z.number().nullable(),
  sha256: z.string(),
  expectedSha256: z.string().nullable(),
  /** pg_restore read every block without error. */
  blocksOk: z.boolean(),
  problems: z.array(z.string()),
  durationMs: z.number(),
});
export type VerifyResult = z.infer<typeof VerifyResult>;

/** Events of a verification: the record read, then bytes read back. */
export const ReadEvent = z.discriminatedUnion("type", [z.object({ type: z.literal("started"), record: SnapshotRecord }), ProgressEvent]);
export type ReadEvent = z.infer<typeof ReadEvent>;

export const DownloadResult = z.object({
  id: z.string(),
  output: z.string(),
  size: z.number(),
  sha256: z.string(),
  durationMs: z.number(),
});
export type DownloadResult = z.infer<typeof DownloadResult>;

export const DeleteResult = z.object({ id: z.string(), store: z.string(), deleted: z.boolean() });
export type DeleteResult = z.infer<typeof DeleteResult>;

/** What db.snapshot.delete returns: DeleteResult (what --json prints) and the record that was deleted. */
export const DeletedSnapshot = DeleteResult.extend({ snapshot: SnapshotRecord });
export type DeletedSnapshot = z.infer<typeof DeletedSnapshot>;

/** `eve db snapshot delete` without --force: what would be deleted (the refusal's `details.preview`). */
export const DeletePreview = z.object({ id: z.string(), store: z.string(), deleted: z.literal(false), snapshot: SnapshotRecord });
export type DeletePreview = z.infer<typeof DeletePreview>;

export const PruneResult = z.object({
  store: z.string(),
  dryRun: z.boolean(),
  /** Expired snapshots deleted (or that would be, with --dry-run). */
  deleted: z.array(z.object({ id: z.string(), database: z.string(), status: Status, expiresAt: z.string().nullable() })),
  /** Expired but kept: the newest completed snapshot of its database (without --all). */
  kept: z.array(z.object({ id: z.string(), reason: z.string() })),
  staleFixed: z.array(StaleFix),
});
export type PruneResult = z.infer<typeof PruneResult>;

export const RestoreResult = z.object({
  snapshot: z.string(),
  /** The database restored into, safe to print. */
  target: z.string(),
  /** swap: restored into a new database renamed over the target; in_place: one transaction in the target. */
  strategy: z.enum(["swap", "in_place"]),
  /** Why in_place was used (e.g. no CREATEDB privilege). */
  strategyReason: z.string().nullable(),
  safetySnapshot: z.string().nullable(),
  jobs: z.number(),
  /** Owner of the target database (with --no-owner: of every restored object). */
  owner: z.string(),
  /** Objects whose owner was changed to `owner` after a --no-owner restore (null: owners were restored, or not counted). */
  reassigned: z.number().nullable(),
  /** What was not restored and why (--no-owner, --no-acl); empty when owners and privileges came back as they were. */
  notRestored: z.array(z.object({ what: z.enum(["owners", "privileges"]), reason: z.string(), count: z.number(), message: z.string() })),
  /** Sessions terminated on the target. */
  terminated: z.number(),
  /** The replaced database could not be dropped and is still there (swap only). */
  leftover: z.string().nullable(),
  warnings: z.array(z.string()),
  durationMs: z.number(),
});
export type RestoreResult = z.infer<typeof RestoreResult>;

/** Events of a restore, in order: the snapshot checked, the strategy, the safety snapshot's own events, phases and bytes, warnings. */
export const RestoreEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("snapshot"), record: SnapshotRecord }),
  z.object({ type: z.literal("safety"), event: SnapshotEvent }),
  z.object({ type: z.literal("safety-done"), record: SnapshotRecord }),
  z.object({ type: z.literal("strategy"), strategy: z.enum(["swap", "in_place"]), reason: z.string().nullable() }),
  z.object({ type: z.literal("phase"), phase: z.enum(["download", "restore", "owner", "swap", "cleanup"]), total: z.number().optional() }),
  ProgressEvent,
  z.object({ type: z.literal("warning"), message: z.string() }),
]);
export type RestoreEvent = z.infer<typeof RestoreEvent>;

/** `eve db restore` without --force: what would be replaced (the refusal's `details.preview`; --json prints it with the error). */
export const RestorePreview = z.object({
  refused: z.literal(true),
  database: z.string(),
  snapshot: SnapshotRecord,
  current: z.object({ sizeBytes: z.number(), tables: z.number(), rowsEstimate: z.number(), schemas: z.array(z.string()) }),
});
export type RestorePreview = z.infer<typeof RestorePreview>;
