/**
 * Shared pieces of tenant provisioning: the opaque names derived from a tenant
 * id, the tier limits the provisioner applies, and admin sessions whose
 * failures become EveErrors naming the step (never a password).
 */
import { close, connect, mapDbError, withDatabase, type Db } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";

/** The limits of a tier that the database enforces (a row of TIERS fits). */
export interface TierLimits {
  connectionLimit: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/** The database and roles of one tenant. */
export interface TenantNames {
  database: string;
  ownerRole: string;
  /** Two LOGIN roles: [0] is the one in use, [1] the idle rotation slot. */
  loginRoles: [string, string];
  readonlyRole: string;
}

const NAME = /^[a-z0-9_]+$/;

/**
 * Opaque names for a tenant id: "mdbt_01jx…" → database `t_01jx…`, roles
 * `t_01jx…_owner`, `_a`, `_b`, `_ro`. The id is lowercased and its prefix
 * (letters before the first "_") dropped; anything outside [a-z0-9_] or a name
 * over 63 bytes is refused.
 */
export function tenantNames(tenantId: string): TenantNames {
  const id = tenantId.toLowerCase().replace(/^[a-z]+_/, "");
  const base = `t_${id}`;
  const names: TenantNames = {
    database: base,
    ownerRole: `${base}_owner`,
    loginRoles: [`${base}_a`, `${base}_b`],
    readonlyRole: `${base}_ro`,
  };
  if (!id || !NAME.test(id) || names.ownerRole.length > 63) {
    throw new EveError("E_TENANT_ID", `tenant id "${tenantId.slice(0, 80)}" cannot name a database: use [a-z0-9_] only, at most 50 characters`, ExitCode.usage, {
      hint: "tenant ids come from newId(\"mdbt\"); do not build them by hand",
    });
  }
  return names;
}

/** The four roles of a tenant, owner first. */
export function tenantRoles(n: TenantNames): string[] {
  return [n.ownerRole, n.loginRoles[0], n.loginRoles[1], n.readonlyRole];
}

/** Refuse names that do not look like ours before they reach SQL text. */
export function checkNames(n: TenantNames): void {
  for (const name of [n.database, ...tenantRoles(n)]) {
    if (!NAME.test(name) || name.length > 63) {
      throw new EveError("E_TENANT_ID", `"${name.slice(0, 80)}" is not a tenant name ([a-z0-9_], at most 63 bytes)`, ExitCode.usage, {
        hint: "derive names with tenantNames(tenantId)",
      });
    }
  }
}

/** A text[] literal for `= any($1::text[])` (the connections do not fetch array types). */
export function textArray(values: readonly string[]): string {
  return "{" + values.map((v) => '"' + v.replace(/["\\]/g, "\\$&") + '"').join(",") + "}";
}

/** What the admin connection is allowed to do. */
export interface AdminFacts {
  user: string;
  superuser: boolean;
  versionNum: number;
}

export async function adminFacts(db: Db): Promise<AdminFacts> {
  const [r] = await db`
    select current_user as user, rolsuper as superuser, current_setting('server_version_num')::int as version_num
    from pg_roles where rolname = current_user`;
  return { user: r!.user, superuser: r!.superuser, versionNum: r!.version_num };
}

/** Turn a failure inside `step` into an EveError whose message names the step. */
export function stepError(step: string, e: unknown, url: string): EveError {
  if (e instanceof EveError && !/^E_(SQL|INTERNAL)$/.test(e.code) && e.exitCode !== ExitCode.connection) return e;
  const m = mapDbError(e, url);
  if (m.exitCode === ExitCode.connection) {
    return new EveError(m.code, `provisioning step "${step}": ${m.message}`, m.exitCode, { hint: "check the instance's host, port and admin credentials", cause: e, details: { ...m.details, step } });
  }
  const sqlstate = (m.details?.sqlstate as string | undefined) ?? undefined;
  return new EveError("E_PROVISION", `provisioning step "${step}" failed: ${m.message}`, ExitCode.failed, {
    hint: sqlstate === "42501" ? "the instance admin needs CREATEDB and CREATEROLE (or superuser)" : (m.hint ?? "fix the cause and run again: every step is safe to repeat"),
    cause: e,
    details: { ...m.details, step },
  });
}

/**
 * A one-connection admin session to `database` (default: the admin URL's
 * own). It pins its own timeouts, so a tenant database's statement_timeout
 * default never applies to the platform's work. Close it with core/db close().
 */
export function openAdmin(adminUrl: string, database: string | undefined, step: string): Db {
  const url = database ? withDatabase(adminUrl, database) : adminUrl;
  try {
    return connect(url, {
      max: 1,
      connectTimeout: 10,
      applicationName: "eve-provision",
      startupParameters: { statement_timeout: "60000", lock_timeout: "10000", idle_in_transaction_session_timeout: "60000" },
    });
  } catch (e) {
    throw stepError(step, e, adminUrl);
  }
}

/** Run `fn` on an admin session (openAdmin) opened for it and closed after; failures name the step. */
export async function withAdmin<T>(adminUrl: string, database: string | undefined, step: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = openAdmin(adminUrl, database, step);
  try {
    return await fn(db);
  } catch (e) {
    throw stepError(step, e, adminUrl);
  } finally {
    await close(db);
  }
}
