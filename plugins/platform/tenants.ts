/**
 * Tenant rows: one managed database per (environment, service). Reading them
 * for routes, the busy-tenant lock (one running write operation per tenant,
 * visible to every replica), and the connection URLs a tenant's roles use
 * (passwords decrypted only here, only when a run needs them).
 */
import type { Db } from "../../core/db/index.ts";
import { withDatabase } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { decryptSecret, type MasterKey } from "../../core/secrets.ts";
import { newId } from "./ids.ts";
import { getInstance, instanceAdminUrl, type Instance } from "./instances.ts";
import { tenantUrl } from "./provision.ts";

export interface TenantRow {
  id: string;
  project_id: string;
  env_id: string;
  service_name: string;
  instance_id: string;
  db_name: string;
  owner_role: string;
  login_roles: string[];
  active_login: number;
  readonly_role: string;
  login_password_enc: string | null;
  readonly_password_enc: string | null;
  class: string;
  engine_version: string;
  extensions: string[];
  backup: unknown;
  status: "provisioning" | "ready" | "modifying" | "deleting" | "deleted" | "failed";
  last_error_code: string | null;
  last_error_message: string | null;
  ready_at: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** The columns of a TenantRow, of table alias `t` when given (arrays as JSON: the platform connection does not fetch array types). */
export function tenantColumns(t = ""): string {
  const a = t ? `${t}.` : "";
  return (
    `${a}id, ${a}project_id, ${a}env_id, ${a}service_name, ${a}instance_id, ${a}db_name, ${a}owner_role, to_json(${a}login_roles) as login_roles, ` +
    `${a}active_login, ${a}readonly_role, ${a}login_password_enc, ${a}readonly_password_enc, ${a}class, ${a}engine_version, ` +
    `to_json(${a}extensions) as extensions, ${a}backup, ${a}status, ${a}last_error_code, ${a}last_error_message, ${a}ready_at, ` +
    `${a}created_at, ${a}updated_at, ${a}deleted_at`
  );
}
export const TENANT_COLUMNS = tenantColumns();

/** A tenant route's project, environment (null: no such environment) and the environment's live tenants. */
export interface RouteTarget {
  project: { id: string; name: string };
  env: { id: string; name: string } | null;
  tenants: TenantRow[];
}

/**
 * Project (by id or name), environment and tenants in one query: what every
 * tenant route needs before it authorises. null: no such project.
 */
export async function routeTarget(db: Db, projectRef: string, envName: string): Promise<RouteTarget | null> {
  const byId = /^proj_[0-9a-z]{26}$/.test(projectRef);
  if (!byId && !/^[a-z][a-z0-9-]{0,62}$/.test(projectRef)) return null;
  const rows = await db.unsafe(
    `select p.id as p_id, p.name as p_name, e.id as e_id, e.name as e_name, t.id as t_id, ${tenantColumns("t").replace(/^t\.id, /, "")}
       from eve_platform.projects p
       left join eve_platform.environments e on e.project_id = p.id and e.name = $2
       left join eve_platform.tenants t on t.env_id = e.id and t.deleted_at is null
      where p.${byId ? "id" : "name"} = $1
      order by t.service_name`,
    [projectRef, envName],
    { prepare: true },
  );
  const first = rows[0];
  if (!first) return null;
  return {
    project: { id: first.p_id as string, name: first.p_name as string },
    env: first.e_id ? { id: first.e_id as string, name: first.e_name as string } : null,
    tenants: rows.filter((r) => r.t_id).map((r) => ({ ...r, id: r.t_id }) as unknown as TenantRow),
  };
}

/** The live tenants of an environment. */
export async function envTenants(db: Db, envId: string): Promise<TenantRow[]> {
  return db<TenantRow[]>`select ${db.unsafe(TENANT_COLUMNS)} from eve_platform.tenants where env_id = ${envId} and deleted_at is null order by service_name`;
}

/**
 * The tenant a request means: the one named by `service`, else the
 * environment's only one. None → 404; several and no service → 400 naming them.
 */
export function pickTenant(all: TenantRow[], env: { name: string }, service: string | undefined): TenantRow {
  if (service !== undefined) {
    const t = all.find((x) => x.service_name === service);
    if (!t) throw new EveError("E_NOT_FOUND", `environment ${env.name} has no managed database service "${service.slice(0, 64)}"`, ExitCode.usage);
    return t;
  }
  if (all.length === 1) return all[0]!;
  if (all.length === 0) {
    throw new EveError("E_NOT_FOUND", `environment ${env.name} has no managed database`, ExitCode.usage, {
      hint: "declare a service with x-eve.role: managed_db in the manifest and run eve env deploy",
    });
  }
  throw new EveError("E_USAGE", `environment ${env.name} has ${all.length} managed databases (${all.map((t) => t.service_name).join(", ")}); name one with ?service=`, ExitCode.usage);
}

/** A tenant must be ready to run operations on it. */
export function assertReady(t: TenantRow): void {
  if (t.status === "ready") return;
  throw new EveError("E_NOT_READY", `the managed database ${t.service_name} is ${t.status}, not ready`, ExitCode.error, {
    hint: t.status === "failed" ? `the last error was ${t.last_error_code ?? "unknown"}: run eve env deploy again to retry` : "wait for it to be ready (eve db status --env …)",
    details: { status: t.status, last_error_code: t.last_error_code },
  });
}

/** Connection URLs of a tenant: its active login role, its read-only role, and the platform's admin session in its database. */
export async function tenantConnections(
  db: Db,
  key: MasterKey,
  t: TenantRow,
): Promise<{ login: string; readonly: string; admin: string; instanceAdmin: string; instance: Instance; passwords: { login: string; readonly: string } }> {
  const inst = await getInstance(db, t.instance_id);
  const [loginPw, roPw, adminUrl] = await Promise.all([
    decryptSecret(key, t.login_password_enc ?? "", `tenant:${t.id}:login`),
    decryptSecret(key, t.readonly_password_enc ?? "", `tenant:${t.id}:readonly`),
    instanceAdminUrl(key, inst),
  ]);
  const names = { database: t.db_name, ownerRole: t.owner_role, loginRoles: t.login_roles as [string, string], readonlyRole: t.readonly_role };
  return {
    login: tenantUrl(inst, names, "login", loginPw),
    readonly: tenantUrl(inst, names, "readonly", roPw),
    admin: withDatabase(adminUrl, t.db_name),
    instanceAdmin: adminUrl,
    instance: inst,
    passwords: { login: loginPw, readonly: roPw },
  };
}

/** A running operation holding a tenant (the busy lock). */
export interface OpLock {
  id: string;
  release(error?: unknown): Promise<void>;
}

/** Seconds after which a running operation whose replica stopped heart-beating is stale. */
export const STALE_AFTER_S = 30;

/**
 * Take the tenant for one operation. Another running operation → 409 E_BUSY
 * naming it; one whose heartbeat is older than STALE_AFTER_S (its replica
 * died) is marked failed and taken over. The heartbeat runs until release.
 */
export async function lockTenant(db: Db, tenantId: string, name: string, replica: string): Promise<OpLock> {
  const id = newId("op");
  for (let attempt = 0; attempt < 2; attempt++) {
    const [row] = await db<{ id: string }[]>`
      insert into eve_platform.operations (id, tenant_id, name, replica) values (${id}, ${tenantId}, ${name}, ${replica})
      on conflict (tenant_id) where status = 'running' do nothing returning id`;
    if (row) {
      const beat = setInterval(() => void db`update eve_platform.operations set heartbeat_at = now() where id = ${id} and status = 'running'`.catch(() => {}), 10_000);
      return {
        id,
        async release(error?: unknown) {
          clearInterval(beat);
          const err = error === undefined ? null : error instanceof EveError ? { code: error.code, message: error.message } : { code: "E_INTERNAL", message: String(error) };
          // Fenced: a run whose row was taken over as stale cannot rewrite it.
          await db`update eve_platform.operations set status = ${err ? "failed" : "succeeded"}, finished_at = now(), error = ${err ? db.json(err) : null} where id = ${id} and status = 'running'`;
        },
      };
    }
    const stale = await db<{ id: string }[]>`
      update eve_platform.operations set status = 'failed', finished_at = now(), error = ${db.json({ code: "E_STALE", message: "its replica stopped" })}
       where tenant_id = ${tenantId} and status = 'running' and heartbeat_at < now() - make_interval(secs => ${STALE_AFTER_S}) returning id`;
    if (stale.length) continue;
    const [running] = await db<{ id: string; name: string; started_at: Date }[]>`select id, name, started_at from eve_platform.operations where tenant_id = ${tenantId} and status = 'running'`;
    if (!running) continue;
    throw new EveError("E_BUSY", `the managed database is busy with ${running.name} (operation ${running.id}, started ${running.started_at.toISOString()})`, ExitCode.error, {
      hint: "retry when it has finished",
      details: { operation_id: running.id, operation: running.name },
    });
  }
  throw new EveError("E_BUSY", "the managed database is busy", ExitCode.error, { hint: "retry" });
}
