/**
 * The control plane's own schema, `eve_platform`, as migrations run by our
 * migrate engine (history in eve_platform.schema_migrations, one advisory lock,
 * so replicas starting together apply each file once). The SQL uses
 * unqualified names: it runs with search_path = eve_platform. Id columns use
 * the "C" collation so keyset pages follow the ids' byte order.
 */
import type { Db } from "../../core/db/index.ts";
import { isPostgresError } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { filesFromEntries, type MigrationFile } from "../../core/migrations/files.ts";

/** The schema holding all platform state. */
export const PLATFORM_SCHEMA = "eve_platform";

const id = (prefix: string) => `text COLLATE "C" PRIMARY KEY CHECK (id ~ '^${prefix}_[0-9a-z]{26}$')`;
const ref = (table: string) => `text COLLATE "C" REFERENCES ${table} (id)`;

const platform = `-- Platform state: settings, projects, environments, tokens, instances, tenants, operations, idempotency.
CREATE TABLE settings (
  key text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE projects (
  id ${id("proj")},
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE environments (
  id ${id("env")},
  project_id ${ref("projects")} NOT NULL,
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  manifest jsonb,
  deployed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, name)
);

CREATE TABLE tokens (
  id ${id("tok")},
  name text NOT NULL,
  hash bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
  prefix text NOT NULL,
  admin boolean NOT NULL DEFAULT false,
  project_id ${ref("projects")} ON DELETE CASCADE,
  role text CHECK (role IN ('read', 'write', 'owner')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  CHECK (admin <> (project_id IS NOT NULL)),
  CHECK ((project_id IS NULL) = (role IS NULL))
);
CREATE INDEX tokens_project_idx ON tokens (project_id) WHERE project_id IS NOT NULL;

CREATE TABLE instances (
  id ${id("mdbi")},
  provider text NOT NULL,
  provider_instance_id text NOT NULL,
  region text NOT NULL,
  engine text NOT NULL CHECK (engine = 'postgres'),
  engine_version text NOT NULL,
  host text NOT NULL,
  port int NOT NULL CHECK (port BETWEEN 1 AND 65535),
  admin_user text NOT NULL,
  admin_password_enc text NOT NULL,
  admin_database text NOT NULL DEFAULT 'postgres',
  instance_class text NOT NULL,
  max_tenants int NOT NULL CHECK (max_tenants > 0),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'draining')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_instance_id)
);

CREATE TABLE tenants (
  id ${id("mdbt")},
  project_id ${ref("projects")} NOT NULL,
  env_id ${ref("environments")} NOT NULL,
  service_name text NOT NULL,
  instance_id ${ref("instances")} NOT NULL,
  db_name text NOT NULL UNIQUE,
  owner_role text NOT NULL,
  login_roles text[] NOT NULL CHECK (cardinality(login_roles) = 2),
  active_login int NOT NULL DEFAULT 0 CHECK (active_login IN (0, 1)),
  readonly_role text NOT NULL,
  login_password_enc text,
  readonly_password_enc text,
  class text NOT NULL,
  engine_version text NOT NULL,
  extensions text[] NOT NULL DEFAULT '{}',
  backup jsonb,
  status text NOT NULL DEFAULT 'provisioning'
    CHECK (status IN ('provisioning', 'ready', 'modifying', 'deleting', 'deleted', 'failed')),
  last_error_code text,
  last_error_message text,
  ready_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE UNIQUE INDEX tenants_env_service_live ON tenants (env_id, service_name) WHERE deleted_at IS NULL;
CREATE INDEX tenants_instance_live ON tenants (instance_id) WHERE deleted_at IS NULL;

CREATE TABLE operations (
  id ${id("op")},
  tenant_id ${ref("tenants")},
  name text NOT NULL,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  replica text,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  error jsonb
);
-- The busy-tenant lock: one running operation per tenant.
CREATE UNIQUE INDEX operations_one_running ON operations (tenant_id) WHERE status = 'running';

CREATE TABLE idempotency (
  token_id ${ref("tokens")} ON DELETE CASCADE NOT NULL,
  key text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  body_sha256 text NOT NULL,
  status int NOT NULL,
  response jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (token_id, key)
);
CREATE INDEX idempotency_created_idx ON idempotency (created_at);
`;

/** The platform schema's migrations, in order. */
export const PLATFORM_MIGRATIONS: ReadonlyArray<{ name: string; sql: string }> = [{ name: "20261207000001_platform.sql", sql: platform }];

/** The platform migrations as migration files (names and checksums computed as for files on disk). */
export function platformFiles(): MigrationFile[] {
  return filesFromEntries(PLATFORM_MIGRATIONS, PLATFORM_SCHEMA);
}

/**
 * Create the schema if missing and apply pending platform migrations with
 * `migrate` (our engine), on one reserved session whose search_path is the
 * platform schema. Safe to call from several replicas at once.
 */
export async function ensurePlatformSchema(db: Db, migrate: (db: Db, files: MigrationFile[]) => Promise<unknown>): Promise<void> {
  const files = platformFiles();
  // postgres.js' reserve() waits forever on a pool that has not connected yet.
  await db`select 1`;
  const conn = await db.reserve();
  try {
    await conn.unsafe(`CREATE SCHEMA IF NOT EXISTS ${PLATFORM_SCHEMA}`).catch((e: unknown) => {
      // Two sessions creating it at once: the loser sees a duplicate; the schema exists either way.
      if (isPostgresError(e) && (e.code === "23505" || e.code === "42P06")) return;
      if (isPostgresError(e) && e.code === "42501") {
        throw new EveError("E_PLATFORM_SCHEMA", `the platform database role may not create schema ${PLATFORM_SCHEMA}`, ExitCode.error, {
          hint: `grant it CREATE on the database, or create schema ${PLATFORM_SCHEMA} owned by it`,
          cause: e,
        });
      }
      throw e;
    });
    await conn.unsafe(`SET search_path = ${PLATFORM_SCHEMA}`);
    await migrate(conn as unknown as Db, files);
  } finally {
    await conn.unsafe("RESET search_path").catch(() => {});
    conn.release();
  }
}

/** Whether every platform migration is applied (for /readyz), and the names of those that are not. */
export async function platformStatus(db: Db): Promise<{ current: boolean; pending: string[] }> {
  const [row] = await db`
    select to_regclass(${PLATFORM_SCHEMA + ".schema_migrations"}) is not null as exists`;
  const applied = new Set<string>();
  if (row?.exists) {
    const rows = await db.unsafe(
      `select name from ${PLATFORM_SCHEMA}.schema_migrations h where coalesce(to_jsonb(h)->>'kind', '') <> 'running'`,
    );
    for (const r of rows) applied.add(r.name as string);
  }
  const pending = PLATFORM_MIGRATIONS.map((m) => m.name).filter((n) => !applied.has(n));
  return { current: pending.length === 0, pending };
}
