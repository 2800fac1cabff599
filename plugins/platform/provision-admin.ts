/**
 * Instance-level administration around tenants: hardening a freshly registered
 * instance (no CONNECT for PUBLIC on `postgres` and `template1`) and dropping
 * a tenant (its database and its four roles), both idempotent.
 */
import { quoteIdent, type Db } from "../../core/db/index.ts";
import { dropDatabase, terminateSessions } from "../../core/db/admin.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { adminFacts, checkNames, tenantRoles, textArray, withAdmin, type TenantNames } from "./provision-common.ts";

/** Privileges PUBLIC holds on `database` (CONNECT, TEMPORARY, CREATE). */
async function publicPrivileges(db: Db, database: string): Promise<string[]> {
  const rows = await db`
    select a.privilege_type from pg_database d
    cross join lateral aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
    where d.datname = ${database} and a.grantee = 0`;
  return rows.map((r) => r.privilege_type as string);
}

/**
 * Revoke CONNECT and TEMPORARY on `postgres` and `template1` from PUBLIC, so
 * tenant roles can reach only their own database. A non-superuser admin that
 * owns one of them keeps CONNECT itself; a database the admin neither owns nor
 * can administer as superuser is reported in `skipped`.
 */
export async function hardenInstance(adminUrl: string): Promise<{ hardened: string[]; skipped: string[] }> {
  return withAdmin(adminUrl, undefined, "harden instance", async (db) => {
    const admin = await adminFacts(db);
    const hardened: string[] = [];
    const skipped: string[] = [];
    for (const name of ["postgres", "template1"]) {
      const [d] = await db`select pg_get_userbyid(datdba) as owner from pg_database where datname = ${name}`;
      if (!d) continue;
      if (!admin.superuser && d.owner !== admin.user) {
        skipped.push(name);
        continue;
      }
      const granted = (await publicPrivileges(db, name)).filter((p) => p === "CONNECT" || p === "TEMPORARY");
      if (granted.length) {
        if (!admin.superuser) await db.unsafe(`GRANT CONNECT ON DATABASE ${quoteIdent(name)} TO ${quoteIdent(admin.user)}`);
        await db.unsafe(`REVOKE ${granted.join(", ")} ON DATABASE ${quoteIdent(name)} FROM PUBLIC`);
      }
      hardened.push(name);
    }
    return { hardened, skipped };
  });
}

/**
 * Drop a tenant: revoke CONNECT (no new sessions), end its sessions, DROP
 * DATABASE … WITH (FORCE), then drop the four roles (DROP OWNED first when a
 * role still owns something). Safe to repeat; missing parts are skipped.
 */
export async function dropTenant(adminUrl: string, names: TenantNames): Promise<void> {
  checkNames(names);
  await withAdmin(adminUrl, undefined, "drop tenant", async (db) => {
    const admin = await adminFacts(db);
    const roles = tenantRoles(names);
    const existing = new Set((await db`select rolname from pg_roles where rolname = any(${textArray(roles)}::text[])`).map((r) => r.rolname as string));
    // Ending a session needs the privileges of its role: a non-superuser admin joins the tenant's roles first.
    if (!admin.superuser) {
      const member = new Set((await db`
        select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid
        where m.member = (select oid from pg_roles where rolname = current_user) and r.rolname = any(${textArray(roles)}::text[])`).map((r) => r.rolname as string));
      for (const r of roles) if (existing.has(r) && !member.has(r)) await db.unsafe(`GRANT ${quoteIdent(r)} TO ${quoteIdent(admin.user)}`);
    }
    const [exists] = await db`select 1 from pg_database where datname = ${names.database}`;
    if (exists) {
      const grantees = ["PUBLIC", ...roles.filter((r) => existing.has(r)).map(quoteIdent)].join(", ");
      await db.unsafe(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(names.database)} FROM ${grantees}`);
      await terminateSessions(db, names.database);
      await dropDatabase(db, names.database, admin.versionNum, { ifExists: true });
    }
    // Login roles first (members of the owner), the owner last.
    for (const role of [names.loginRoles[0], names.loginRoles[1], names.readonlyRole, names.ownerRole]) {
      if (!existing.has(role)) continue;
      await db.unsafe(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch(async (e) => {
        if ((e as { code?: string }).code !== "2BP01") throw e;
        await db.unsafe(`DROP OWNED BY ${quoteIdent(role)}`);
        await db.unsafe(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch((e2) => {
          throw new EveError("E_DROP_TENANT", `role ${role} still owns objects or holds privileges in another database and cannot be dropped`, ExitCode.failed, {
            hint: "connect to the database named in the detail as an admin, run DROP OWNED BY the role, and drop the tenant again",
            cause: e2,
            details: { role, detail: (e2 as { detail?: string }).detail },
          });
        });
      });
    }
  });
}
