/**
 * The managed-database classes (tiers): one table, the single source of truth
 * for the limits the provisioner applies (connection limit, statement and
 * idle-in-transaction timeouts), the storage each class is sized for, and the
 * backup defaults a manifest's `backup:` block overrides. Also the engines and
 * the extensions a manifest may ask for. The README and `eve help` print
 * renderTierTable(), so the docs cannot drift from what is enforced.
 */

/** The class names a manifest may use. */
export const TIER_NAMES = ["db.p1", "db.p2", "db.p3"] as const;
export type TierName = (typeof TIER_NAMES)[number];

/** Backup defaults of a class; a manifest's `backup:` block overrides them field by field. */
export interface TierBackup {
  /** Cron expression (5 fields, UTC), or false: no automatic snapshots. */
  schedule: string | false;
  /** How long automatic snapshots are kept, e.g. "30d". */
  retention: string;
  /** A safety snapshot before `eve db destroy`. */
  snapshotOnDelete: boolean;
  /** A safety snapshot before `eve db reset`. */
  snapshotOnReset: boolean;
}

/** What a class means: limits applied to the tenant and backup defaults. */
export interface Tier {
  label: string;
  /** CONNECTION LIMIT of each tenant login role. */
  connectionLimit: number;
  /** statement_timeout set on the tenant's roles, in milliseconds. */
  statementTimeoutMs: number;
  /** idle_in_transaction_session_timeout set on the tenant's roles, in milliseconds. */
  idleInTransactionTimeoutMs: number;
  /** Storage the class is sized for, in GB. */
  storageGb: number;
  backup: TierBackup;
}

const DAILY_2AM_UTC = "0 2 * * *";

/** The class table. */
export const TIERS: Readonly<Record<TierName, Readonly<Tier>>> = {
  "db.p1": {
    label: "Starter",
    connectionLimit: 25,
    statementTimeoutMs: 30_000,
    idleInTransactionTimeoutMs: 60_000,
    storageGb: 10,
    backup: { schedule: false, retention: "7d", snapshotOnDelete: false, snapshotOnReset: false },
  },
  "db.p2": {
    label: "Standard",
    connectionLimit: 100,
    statementTimeoutMs: 60_000,
    idleInTransactionTimeoutMs: 120_000,
    storageGb: 50,
    backup: { schedule: DAILY_2AM_UTC, retention: "30d", snapshotOnDelete: true, snapshotOnReset: true },
  },
  "db.p3": {
    label: "Performance",
    connectionLimit: 200,
    statementTimeoutMs: 120_000,
    idleInTransactionTimeoutMs: 300_000,
    storageGb: 200,
    backup: { schedule: DAILY_2AM_UTC, retention: "90d", snapshotOnDelete: true, snapshotOnReset: true },
  },
};

/** Whether `s` names a class of the table. */
export function isTier(s: unknown): s is TierName {
  return typeof s === "string" && (TIER_NAMES as readonly string[]).includes(s);
}

/** The database engines a managed service may declare. */
export const SUPPORTED_ENGINES = ["postgres"] as const;
export type Engine = (typeof SUPPORTED_ENGINES)[number];

/**
 * Extensions a manifest may ask for; the platform installs them, the tenant
 * cannot. `vector` is allowed here, but the provisioner installs it only where
 * the instance has it available. pg_stat_statements is left out on purpose: it
 * shows other tenants' statements on a shared instance.
 */
export const EXTENSION_ALLOWLIST: readonly string[] = [
  "pgcrypto",
  "uuid-ossp",
  "citext",
  "hstore",
  "pg_trgm",
  "btree_gin",
  "btree_gist",
  "ltree",
  "unaccent",
  "fuzzystrmatch",
  "intarray",
  "cube",
  "earthdistance",
  "tablefunc",
  "isn",
  "seg",
  "tsm_system_rows",
  "vector",
];

/** "30 s", "2 min". */
function duration(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

function onOff(b: boolean): string {
  return b ? "on" : "off";
}

/** The class table as markdown, for the README and help. */
export function renderTierTable(): string {
  const head = [
    "Class",
    "Label",
    "Connections",
    "statement_timeout",
    "idle_in_transaction_session_timeout",
    "Storage",
    "Backup schedule (UTC)",
    "Retention",
    "Snapshot on delete",
    "Snapshot on reset",
  ];
  const rows = TIER_NAMES.map((name) => {
    const t = TIERS[name];
    return [
      `\`${name}\``,
      t.label,
      String(t.connectionLimit),
      duration(t.statementTimeoutMs),
      duration(t.idleInTransactionTimeoutMs),
      `${t.storageGb} GB`,
      t.backup.schedule === false ? "off (opt-in)" : `\`${t.backup.schedule}\``,
      t.backup.retention,
      onOff(t.backup.snapshotOnDelete),
      onOff(t.backup.snapshotOnReset),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n") + "\n";
}
