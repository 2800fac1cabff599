/**
 * Result shapes of the inspect plugin (`eve db schema`, `eve db status`): one
 * zod schema per result, shared by the engines, the renderers, `--json` and
 * the HTTP API. Every field is always present; "not applicable" or "unknown"
 * is null, never a missing key. Lists are sorted by name.
 */
import { z } from "zod";

const nullableString = z.string().nullable();

/**
 * One ACL entry (aclexplode, grouped): what `grantee` may do on the object, as
 * granted by `grantor`. Entries with and without GRANT OPTION are separate. An
 * object whose ACL was never changed shows its built-in defaults (the owner's
 * full set; EXECUTE on functions and USAGE on types for PUBLIC).
 */
export const Privilege = z.object({
  /** Role name, or "PUBLIC". */
  grantee: z.string(),
  grantor: z.string(),
  /** Privilege keywords, sorted: ["INSERT", "SELECT"]. */
  privileges: z.array(z.string()),
  /** WITH GRANT OPTION. */
  grantable: z.boolean(),
});
export type Privilege = z.infer<typeof Privilege>;

export const Column = z.object({
  name: z.string(),
  /** format_type(): "integer", "character varying(80)", "app.user_status". */
  type: z.string(),
  nullable: z.boolean(),
  /** Default expression; null for none and for generated columns. */
  default: nullableString,
  /** GENERATED ALWAYS / BY DEFAULT AS IDENTITY. */
  identity: z.enum(["always", "by default"]).nullable(),
  /** Expression of a GENERATED ALWAYS AS (…) STORED column. */
  generated: nullableString,
  comment: nullableString,
  /** COLLATE of the column when it differs from its type's default, as SQL spells it ("C" quoted, app.ci). */
  collation: nullableString,
  /** Column-level grants (GRANT SELECT (col) …); empty when none. */
  privileges: z.array(Privilege),
});
export type Column = z.infer<typeof Column>;

export const Constraint = z.object({
  name: z.string(),
  type: z.enum(["primary key", "unique", "check", "exclusion"]),
  columns: z.array(z.string()),
  /** pg_get_constraintdef(): "CHECK (age > 0)", "EXCLUDE USING gist (during WITH &&)". */
  definition: z.string(),
  deferrable: z.boolean(),
  initiallyDeferred: z.boolean(),
  /** false for NOT VALID constraints. */
  validated: z.boolean(),
});
export type Constraint = z.infer<typeof Constraint>;

export const FkAction = z.enum(["no action", "restrict", "cascade", "set null", "set default"]);

export const ForeignKey = z.object({
  name: z.string(),
  columns: z.array(z.string()),
  references: z.object({ schema: z.string(), table: z.string(), columns: z.array(z.string()) }),
  onUpdate: FkAction,
  onDelete: FkAction,
  match: z.enum(["simple", "full", "partial"]),
  deferrable: z.boolean(),
  initiallyDeferred: z.boolean(),
  validated: z.boolean(),
  definition: z.string(),
});
export type ForeignKey = z.infer<typeof ForeignKey>;

export const Index = z.object({
  name: z.string(),
  /** pg_get_indexdef(): the full CREATE INDEX statement. */
  definition: z.string(),
  method: z.string(),
  unique: z.boolean(),
  primary: z.boolean(),
  /** Key columns or expressions, in order. */
  columns: z.array(z.string()),
  /** INCLUDE (…) columns. */
  include: z.array(z.string()),
  /** WHERE clause of a partial index. */
  predicate: nullableString,
  /** false while a CREATE INDEX CONCURRENTLY failed or is in progress. */
  valid: z.boolean(),
  /** Constraint the index implements (primary key, unique, exclusion). */
  constraint: nullableString,
});
export type Index = z.infer<typeof Index>;

export const Trigger = z.object({
  name: z.string(),
  timing: z.enum(["before", "after", "instead of"]),
  events: z.array(z.enum(["insert", "update", "delete", "truncate"])),
  level: z.enum(["row", "statement"]),
  /** schema.function it executes. */
  function: z.string(),
  enabled: z.enum(["enabled", "disabled", "replica", "always"]),
  definition: z.string(),
});
export type Trigger = z.infer<typeof Trigger>;

export const Policy = z.object({
  name: z.string(),
  command: z.enum(["all", "select", "insert", "update", "delete"]),
  /** false for AS RESTRICTIVE. */
  permissive: z.boolean(),
  /** Roles it applies to ("PUBLIC" for all). */
  roles: z.array(z.string()),
  /** USING expression. */
  using: nullableString,
  /** WITH CHECK expression. */
  withCheck: nullableString,
});
export type Policy = z.infer<typeof Policy>;

export const PartitionRef = z.object({ schema: z.string(), name: z.string(), bound: z.string() });

export const Table = z.object({
  schema: z.string(),
  name: z.string(),
  /** partitioned: a PARTITION BY parent; foreign: a foreign table. */
  kind: z.enum(["table", "partitioned", "foreign"]),
  owner: z.string(),
  comment: nullableString,
  /** pg_class.reltuples rounded; null when never analyzed/vacuumed (unknown). */
  rowEstimate: z.number().nullable(),
  /** UNLOGGED: not crash-safe, not replicated. */
  unlogged: z.boolean(),
  /** Storage parameters, e.g. ["fillfactor=70", "autovacuum_enabled=false"]. */
  options: z.array(z.string()),
  rls: z.object({ enabled: z.boolean(), forced: z.boolean() }),
  /** Row-level security policies (they exist, and apply only while rls.enabled). */
  policies: z.array(Policy),
  privileges: z.array(Privilege),
  /** pg_get_partkeydef() of a partitioned table: "RANGE (occurred_at)". */
  partitionKey: nullableString,
  /** Partitions of a partitioned table, with their bounds. */
  partitions: z.array(PartitionRef),
  /** Set when this table is a partition. */
  partitionOf: PartitionRef.nullable(),
  columns: z.array(Column),
  constraints: z.array(Constraint),
  foreignKeys: z.array(ForeignKey),
  indexes: z.array(Index),
  triggers: z.array(Trigger),
});
export type Table = z.infer<typeof Table>;

export const View = z.object({
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  /** reloptions, e.g. ["security_invoker=true", "check_option=local"]. */
  options: z.array(z.string()),
  /** pg_get_viewdef(), pretty-printed. */
  definition: z.string(),
  columns: z.array(Column),
  triggers: z.array(Trigger),
  privileges: z.array(Privilege),
});
export type View = z.infer<typeof View>;

export const MaterializedView = z.object({
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  /** false after CREATE … WITH NO DATA until the first REFRESH. */
  populated: z.boolean(),
  rowEstimate: z.number().nullable(),
  definition: z.string(),
  columns: z.array(Column),
  indexes: z.array(Index),
  privileges: z.array(Privilege),
});
export type MaterializedView = z.infer<typeof MaterializedView>;

export const Enum = z.object({
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  /** Labels in sort order (ALTER TYPE … ADD VALUE BEFORE respected). */
  values: z.array(z.string()),
  privileges: z.array(Privilege),
});
export type Enum = z.infer<typeof Enum>;

export const Domain = z.object({
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  /** Base type, format_type(): "text", "numeric(10,2)". */
  type: z.string(),
  notNull: z.boolean(),
  default: nullableString,
  /** COLLATE when it differs from the base type's default. */
  collation: nullableString,
  /** CHECK constraints: definition as pg_get_constraintdef(), "CHECK (VALUE ~ '@'::text)". */
  constraints: z.array(z.object({ name: z.string(), definition: z.string(), validated: z.boolean() })),
  privileges: z.array(Privilege),
});
export type Domain = z.infer<typeof Domain>;

/** A standalone composite type (CREATE TYPE … AS (…)). */
export const CompositeType = z.object({
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  attributes: z.array(z.object({ name: z.string(), type: z.string(), collation: nullableString })),
  privileges: z.array(Privilege),
});
export type CompositeType = z.infer<typeof CompositeType>;

export const RangeType = z.object({
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  subtype: z.string(),
  /** COLLATE when it differs from the subtype's default. */
  collation: nullableString,
  /** The multirange type (PostgreSQL 14+); null before 14. */
  multirange: nullableString,
  privileges: z.array(Privilege),
});
export type RangeType = z.infer<typeof RangeType>;

/** A user-defined collation (CREATE COLLATION). */
export const Collation = z.object({
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  provider: z.enum(["libc", "icu", "builtin", "default"]),
  /** ICU or builtin locale; null for libc. */
  locale: nullableString,
  /** LC_COLLATE / LC_CTYPE of a libc collation (null when not set). */
  lcCollate: nullableString,
  lcCtype: nullableString,
  /** ICU tailoring rules (PostgreSQL 16+). */
  rules: nullableString,
  /** false for nondeterministic (e.g. case-insensitive ICU) collations. */
  deterministic: z.boolean(),
});
export type Collation = z.infer<typeof Collation>;

/** One ALTER DEFAULT PRIVILEGES entry: objects `role` creates later get these grants. */
export const DefaultPrivilege = z.object({
  /** The creating role the defaults apply to (FOR ROLE). */
  role: z.string(),
  objectType: z.enum(["tables", "sequences", "functions", "types", "schemas"]),
  grantee: z.string(),
  privileges: z.array(z.string()),
  grantable: z.boolean(),
});
export type DefaultPrivilege = z.infer<typeof DefaultPrivilege>;

export const Sequence = z.object({
  schema: z.string(),
  name: z.string(),
  type: z.string(),
  /** 64-bit values as decimal strings. */
  start: z.string(),
  increment: z.string(),
  min: z.string(),
  max: z.string(),
  cache: z.string(),
  cycle: z.boolean(),
  /** null when never used or not readable by this role. */
  lastValue: nullableString,
  /** Column that owns it (serial, identity or OWNED BY). */
  ownedBy: z.object({ schema: z.string(), table: z.string(), column: z.string() }).nullable(),
  /** Backs an identity column. */
  identity: z.boolean(),
  owner: z.string(),
  comment: nullableString,
  privileges: z.array(Privilege),
});
export type Sequence = z.infer<typeof Sequence>;

export const Routine = z.object({
  schema: z.string(),
  name: z.string(),
  kind: z.enum(["function", "procedure", "aggregate", "window"]),
  /** name(identity argument types): what DROP/ALTER FUNCTION needs. */
  signature: z.string(),
  /** Full argument list with names, modes and defaults. */
  arguments: z.string(),
  /** Return type ("trigger", "SETOF x", "TABLE(…)"); null for procedures. */
  returns: nullableString,
  language: z.string(),
  volatility: z.enum(["immutable", "stable", "volatile"]),
  strict: z.boolean(),
  securityDefiner: z.boolean(),
  /** SET clauses, e.g. ["search_path=app, pg_temp"]. */
  config: z.array(z.string()),
  owner: z.string(),
  comment: nullableString,
  privileges: z.array(Privilege),
});
export type Routine = z.infer<typeof Routine>;

export const Extension = z.object({ name: z.string(), version: z.string(), schema: z.string() });
export type Extension = z.infer<typeof Extension>;

export const SchemaEntry = z.object({
  name: z.string(),
  owner: z.string(),
  comment: nullableString,
  /** USAGE / CREATE on the schema. */
  privileges: z.array(Privilege),
  /** ALTER DEFAULT PRIVILEGES … IN SCHEMA this one. */
  defaultPrivileges: z.array(DefaultPrivilege),
  tables: z.array(Table),
  views: z.array(View),
  materializedViews: z.array(MaterializedView),
  enums: z.array(Enum),
  domains: z.array(Domain),
  compositeTypes: z.array(CompositeType),
  rangeTypes: z.array(RangeType),
  collations: z.array(Collation),
  sequences: z.array(Sequence),
  functions: z.array(Routine),
});
export type SchemaEntry = z.infer<typeof SchemaEntry>;

export const SchemaResult = z.object({
  database: z.string(),
  serverVersion: z.string(),
  /** The filters applied (null = everything). */
  filter: z.object({ schemas: z.array(z.string()).nullable(), tables: z.array(z.string()).nullable() }),
  schemas: z.array(SchemaEntry),
  /** Every installed extension, whatever the filters. */
  extensions: z.array(Extension),
  /** ALTER DEFAULT PRIVILEGES without IN SCHEMA (database-wide), whatever the filters. */
  defaultPrivileges: z.array(DefaultPrivilege),
});
export type SchemaResult = z.infer<typeof SchemaResult>;

const Session = {
  pid: z.number(),
  /** Role name; null when not visible to this role. */
  user: nullableString,
  application: nullableString,
  /** active, idle in transaction, … */
  state: nullableString,
};

export const StatusResult = z.object({
  /** user@host:port/db (never a password). */
  target: z.string(),
  /** Always true in a result: an unreachable server is an error (exit 3). */
  reachable: z.boolean(),
  /** Median of three `select 1` round trips on the open connection, in ms. */
  latencyMs: z.number(),
  server: z.object({
    /** server_version, e.g. "15.8". */
    version: z.string(),
    versionNum: z.number(),
    /** A standby (read-only replica). */
    inRecovery: z.boolean(),
    startedAt: z.string(),
  }),
  database: z.object({ name: z.string(), owner: z.string(), encoding: z.string(), sizeBytes: z.number() }),
  connections: z.object({
    /** Client backends on the whole server, this one included. */
    used: z.number(),
    max: z.number(),
    reservedForSuperuser: z.number(),
    /** Client backends connected to this database. */
    thisDatabase: z.number(),
  }),
  extensions: z.array(Extension),
  migrations: z.object({
    /** schema.schema_migrations in the current schema; null without a current schema. */
    table: nullableString,
    exists: z.boolean(),
    applied: z.number(),
    /** The applied migration with the highest version. */
    latest: z.object({ name: z.string(), appliedAt: z.string() }).nullable(),
    /** With --path: the directory compared against; the three lists below are null without it. */
    directory: nullableString,
    pending: z.array(z.string()).nullable(),
    /** Applied files whose content changed since (line-ending-only changes excluded). */
    drifted: z.array(z.string()).nullable(),
    /** Applied migrations whose file is gone. */
    missing: z.array(z.string()).nullable(),
  }),
  /** The longest-running active statement on this database (other than ours). */
  longestQuery: z.object({ ...Session, durationMs: z.number(), query: z.string() }).nullable(),
  /** The oldest open transaction on this database (other than ours). */
  oldestTransaction: z.object({ ...Session, ageMs: z.number() }).nullable(),
});
export type StatusResult = z.infer<typeof StatusResult>;
