/**
 * Configuration resolution, pure. Precedence for every setting:
 * flag, then EVE_* variable, then the conventional variable (DATABASE_URL,
 * MIGRATIONS_DIR), then the default. Every variable read anywhere is listed
 * in `environmentHelp` (shown by `eve help environment`).
 */
import { UsageError } from "./errors.ts";
import type { OptionSpec } from "./plugin.ts";

export const environmentHelp: ReadonlyArray<readonly [string, string]> = [
  ["DATABASE_URL", "database for direct mode when --url is not given (postgres://user:pass@host:port/db)"],
  ["MIGRATIONS_DIR", "migrations directory when --path is not given (default db/migrations)"],
  ["PGPASSWORD", "password when the URL has none (also used by pg_dump / pg_restore); never printed"],
  ["PGCONNECT_TIMEOUT", "seconds for the TCP connect and startup when the URL has no connect_timeout (default 10)"],
  ["PGHOST, PGPORT, PGUSER, PGDATABASE", "only where the URL leaves the part out (postgres:///db), as libpq"],
  ["PG* (libpq)", "passed on to pg_dump / pg_restore, which eve runs with its environment (PGSSLMODE, PGOPTIONS, …)"],
  ["EVE_SNAPSHOT_STORE", "snapshot store URL when --store is not given (file:///dir or s3://bucket/prefix)"],
  ["EVE_PG_BIN", "directory holding pg_dump / pg_restore (else PATH, then /usr/lib/postgresql/*/bin)"],
  ["EVE_S3_ENDPOINT", "S3 endpoint for S3-compatible stores (default https://s3.$AWS_REGION.amazonaws.com)"],
  ["EVE_S3_FORCE_PATH_STYLE", "1/true: path-style S3 addressing (MinIO, s3rver)"],
  ["AWS_ACCESS_KEY_ID", "S3 credentials, with AWS_SECRET_ACCESS_KEY (never printed) and AWS_SESSION_TOKEN"],
  ["AWS_REGION", "S3 region (else AWS_DEFAULT_REGION, else us-east-1)"],
  ["AWS_PROFILE, AWS_*", "without keys in the environment, the AWS SDK's default chain (profiles, SSO, instance roles)"],
  ["EVE_API_URL", "control-plane URL for --env and the platform commands when --api is not given (else the profile's)"],
  ["EVE_TOKEN", "control-plane token when --token is not given (else the profile's); never printed"],
  ["EVE_PROJECT", "project for --env commands when --project is not given (else the profile's)"],
  ["EVE_PROFILE", "credentials profile (written by eve login) when --profile is not given (else the current one)"],
  ["XDG_CONFIG_HOME", "base of the credentials file ($XDG_CONFIG_HOME/eve/credentials.json, else $HOME/.config/…)"],
  ["APPDATA", "base of the credentials file when neither XDG_CONFIG_HOME nor HOME is set (Windows)"],
  ["EVE_INSTANCE_ADMIN_PASSWORD", "eve admin instances add: the admin password when it is not in --admin-url; never printed"],
  ["EVE_DATABASE_URL", "eve server: the platform database (its state lives in schema eve_platform); password never printed"],
  ["EVE_MASTER_KEY", "eve server: 32-byte key (base64 or hex) encrypting stored secrets; never printed"],
  ["EVE_ADMIN_TOKEN", "eve server / server init: use this value (eve_pat_…) as the admin token; never printed"],
  ["EVE_LISTEN", "eve server: HOST:PORT to listen on when --listen is not given (default 127.0.0.1:8080)"],
  ["EVE_SHUTDOWN_GRACE", "eve server: how long in-flight requests may take after SIGTERM before they are cancelled (default 25s)"],
  ["XDG_DATA_HOME", "base of the default snapshot store ($XDG_DATA_HOME/eve/snapshots, else $HOME/.local/share)"],
  ["HOME", "see XDG_DATA_HOME"],
  ["PATH", "where pg_dump / pg_restore are looked for when EVE_PG_BIN is not set"],
  ["NO_COLOR", "disable colour in human output (so does TERM=dumb)"],
  ["TERM", "dumb: no colour"],
];

/** The database URL the user gave for direct mode, if any: --url, then DATABASE_URL (an empty variable is unset). */
export function givenDbUrl(flag: string | undefined, env: Record<string, string | undefined>): string | undefined {
  return flag ?? (env.DATABASE_URL || undefined);
}

/** The database URL for direct mode: --url, then DATABASE_URL; neither is a usage error. */
export function resolveDbUrl(flag: string | undefined, env: Record<string, string | undefined>): string {
  const url = givenDbUrl(flag, env);
  if (!url) {
    throw new UsageError("no database given", {
      hint: "pass --url postgres://user@host:5432/db (password as user:password@, or in PGPASSWORD) or set DATABASE_URL",
    });
  }
  return url;
}

/**
 * Seconds to wait for a connection's TCP connect and startup when the URL has
 * no connect_timeout: PGCONNECT_TIMEOUT (as libpq), else undefined (10 s).
 */
export function resolveConnectTimeout(env: Record<string, string | undefined>): number | undefined {
  const v = env.PGCONNECT_TIMEOUT?.trim();
  if (!v) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`PGCONNECT_TIMEOUT must be a number of seconds (got "${v.slice(0, 20)}")`);
  return Number(v) > 0 ? Number(v) : undefined;
}

/**
 * The migrations directory: --path, then MIGRATIONS_DIR (an empty variable is
 * unset), then db/migrations; `explicit` when the user chose it (not the default).
 */
export function migrationsDirChoice(flag: string | undefined, env: Record<string, string | undefined>): { directory: string; explicit: boolean } {
  if (flag !== undefined) return { directory: flag, explicit: true };
  if (env.MIGRATIONS_DIR) return { directory: env.MIGRATIONS_DIR, explicit: true };
  return { directory: "db/migrations", explicit: false };
}

/** The migrations directory: --path, then MIGRATIONS_DIR, then db/migrations. */
export function resolveMigrationsDir(flag: string | undefined, env: Record<string, string | undefined>): string {
  return migrationsDirChoice(flag, env).directory;
}

/**
 * Parse a duration: "500ms", "60s", "5m", "2h", "30d", or a bare number of seconds.
 * Returns milliseconds.
 */
export function parseDuration(value: string, flag = "duration"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) throw new UsageError(`${flag} must be a duration like 30s, 5m, 2h or 7d (got "${value}")`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Math.round(n * mult);
}

/** Parse a positive integer flag. */
export function parsePositiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new UsageError(`${flag} must be a positive whole number (got "${value}")`);
  }
  return Number(value);
}

/** Options shared by every command that connects directly. */
export const urlOption: OptionSpec = {
  flags: "--url <url>",
  description: "Postgres URL for direct mode (default: $DATABASE_URL)",
};

export const waitOptions: OptionSpec[] = [
  { flags: "--wait", description: "retry connecting until the server accepts connections (backoff 0.25 s doubling to 5 s; Ctrl-C stops)" },
  {
    flags: "--wait-timeout <duration>",
    description: "how long --wait keeps retrying",
    default: "60s",
    parse: (v) => parseDuration(v, "--wait-timeout"),
  },
];
