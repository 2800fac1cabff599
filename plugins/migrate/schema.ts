/**
 * Result and event shapes of the migrate plugin: one zod schema each, shared
 * by the engine (types), the operations, the renderers, `--json` and the HTTP API.
 */
import { z } from "zod";

export const AppliedItem = z.object({
  name: z.string(),
  version: z.string(),
  /**
   * applied: ran; marked: recorded without running (--baseline); adopted: recorded without running because
   * the database's schema already matched (adopt.ts); empty: no statements. (History rows of older eve
   * versions may say baselined; this run never does.)
   */
  kind: z.enum(["applied", "marked", "adopted", "empty"]),
  /** Ran inside one transaction together with its history row. */
  transaction: z.boolean(),
  durationMs: z.number(),
  /** A partially applied no-transaction file continued (--resume) from this statement (1-based). */
  resumedAt: z.number().optional(),
});
export type AppliedItem = z.infer<typeof AppliedItem>;

export const PlannedItem = z.object({
  name: z.string(),
  version: z.string(),
  action: z.enum(["apply", "adopt", "mark", "resume"]),
  transaction: z.boolean(),
  /** Why it runs outside a transaction. */
  reason: z.string().optional(),
});
export type PlannedItem = z.infer<typeof PlannedItem>;

export const Adoption = z.object({
  /** Files 1..matched were recorded as adopted (not run). */
  matched: z.number(),
  files: z.number(),
  lastAdopted: z.string().nullable(),
  /** Adopted files the schema matched without (they change no schema): assumed applied. */
  assumed: z.array(z.string()),
  /** Every matching prefix length; the longest is adopted. */
  matches: z.array(z.number()),
  /** Schemas of the database no migration file creates (not compared). */
  ignoredSchemas: z.array(z.string()),
  /** The scratch database the files were replayed on (dropped). */
  shadow: z.string(),
  durationMs: z.number(),
});
export type Adoption = z.infer<typeof Adoption>;

export const MigrateResult = z.object({
  database: z.string(),
  directory: z.string(),
  table: z.string(),
  dryRun: z.boolean(),
  /** What this run applied, in order (empty for a dry run). */
  applied: z.array(AppliedItem),
  /** Pending work found by the plan (the whole plan for a dry run). */
  planned: z.array(PlannedItem),
  extensions: z.array(z.object({ name: z.string(), neededBy: z.array(z.string()) })),
  notices: z.array(z.string()),
  /** Applied migrations whose file is gone. */
  missing: z.array(z.string()),
  alreadyApplied: z.number(),
  /** Set when the history was empty and the database held objects: where it stood (adopt.ts). */
  adoption: Adoption.nullable(),
  durationMs: z.number(),
});
export type MigrateResult = z.infer<typeof MigrateResult>;

/** Adoption's scratch shadow database: created, dropped, left behind (error), or swept from an interrupted run. */
export const ShadowEvent = z.object({
  type: z.literal("shadow"),
  phase: z.enum(["create", "drop", "leftover", "swept"]),
  name: z.string(),
  files: z.number(),
  /** Why this shadow: compare every prefix; closest (no prefix matched): name signatures; difference: up to the closest. */
  purpose: z.enum(["compare", "closest", "difference"]),
  error: z.string().optional(),
});

/** Progress of a migrate run (the engine's report, and db.migrate's events). */
export const MigrateEvent = z.discriminatedUnion("type", [
  /** Another runner holds the migration lock. */
  z.object({ type: z.literal("lock-wait"), holderPid: z.number().nullable() }),
  /** A notice of the runner itself (also in the result's notices). */
  z.object({ type: z.literal("notice"), message: z.string() }),
  /** A NOTICE or WARNING the server sent while a migration ran. */
  z.object({ type: z.literal("server-notice"), severity: z.string(), message: z.string() }),
  z.object({ type: z.literal("extension"), name: z.string(), neededBy: z.array(z.string()) }),
  z.object({ type: z.literal("start"), name: z.string() }),
  /** One file done (run, adopted, marked or empty), as it happens. */
  z.object({ type: z.literal("applied"), item: AppliedItem }),
  ShadowEvent,
]);
export type MigrateEvent = z.infer<typeof MigrateEvent>;

export const MigrationStatus = z.object({
  name: z.string(),
  version: z.string(),
  status: z.enum(["applied", "baselined", "adopted", "marked", "empty", "running", "pending", "missing", "drifted", "line-endings"]),
  appliedAt: z.string().nullable(),
  checksum: z.string().nullable(),
  fileChecksum: z.string().nullable(),
  durationMs: z.number().nullable(),
  /** For `running` (a partially applied no-transaction file): statements completed and in all. */
  statementsDone: z.number().optional(),
  statements: z.number().optional(),
});
export type MigrationStatus = z.infer<typeof MigrationStatus>;

export const MigrationsResult = z.object({
  database: z.string(),
  directory: z.string().nullable(),
  table: z.string(),
  migrations: z.array(MigrationStatus),
  summary: z.object({
    applied: z.number(),
    pending: z.number(),
    missing: z.number(),
    drifted: z.number(),
    /** Partially applied no-transaction files (finish with eve db migrate --resume). */
    running: z.number(),
  }),
});
export type MigrationsResult = z.infer<typeof MigrationsResult>;

/** What a wipe or reset would delete (printed when --force is missing). */
export const WipePreview = z.object({
  refused: z.literal(true),
  database: z.string(),
  name: z.string(),
  owner: z.string(),
  sizeBytes: z.number(),
  /** Tables and partitioned tables in user schemas. */
  tables: z.number(),
  rowsEstimate: z.number(),
  schemas: z.array(z.string()),
  /** database: drop and recreate it; schemas: the role may not, so every schema would be dropped. */
  plan: z.enum(["database", "schemas"]),
  fallbackReason: z.string().nullable(),
  /** reset only: migration files that would be applied afterwards. */
  migrations: z.number().optional(),
});
export type WipePreview = z.infer<typeof WipePreview>;

/** `eve db wipe --force` (the shape of core/db/recreate.ts WipeResult). */
export const WipeResult = z.object({
  database: z.string(),
  name: z.string(),
  mode: z.enum(["database", "schemas"]),
  fallbackReason: z.string().nullable(),
  terminatedSessions: z.number(),
  before: z.object({ sizeBytes: z.number(), tables: z.number(), rowsEstimate: z.number(), schemas: z.array(z.string()) }),
  recreated: z
    .object({ owner: z.string(), encoding: z.string(), collate: z.string(), ctype: z.string(), localeProvider: z.string(), locale: z.string().nullable() })
    .nullable(),
  schemas: z.object({ dropped: z.array(z.string()), recreated: z.array(z.string()) }).nullable(),
  warnings: z.array(z.string()),
  durationMs: z.number(),
});
export type WipeResult = z.infer<typeof WipeResult>;

/** A session holding a lock the wipe waits for (core/db/recreate.ts LockHolder). */
export const LockHolder = z.object({ pid: z.number(), application: z.string().nullable(), user: z.string().nullable(), state: z.string().nullable() });

/** Progress of a wipe (core/db/recreate.ts WipeEvent). */
export const WipeEvent = z.discriminatedUnion("type", [
  /** The database cannot be dropped and recreated: every schema is, instead. */
  z.object({ type: z.literal("fallback"), reason: z.string() }),
  z.object({ type: z.literal("warning"), message: z.string() }),
  z.object({ type: z.literal("lock-wait"), holder: LockHolder, timeoutMs: z.number() }),
]);
export type WipeEvent = z.infer<typeof WipeEvent>;

/** `eve db reset --force`: the wipe, then the migrate run on the empty database (null with --no-migrate). */
export const ResetResult = z.object({
  database: z.string(),
  wipe: WipeResult,
  migrate: MigrateResult.nullable(),
});
export type ResetResult = z.infer<typeof ResetResult>;
