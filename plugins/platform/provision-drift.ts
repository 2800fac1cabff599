/**
 * The cluster-wide state of a tenant compared with what it should be: role
 * attributes, role memberships, per-role and per-database settings
 * (pg_db_role_setting), the database's ACL and connection limit. Each
 * difference carries the statements that undo it, so provisioning applies the
 * plan step by step and a reconcile applies all of it. Read from any database
 * of the instance (the catalogs involved are shared).
 */
import { quoteIdent, quoteLiteral, type Db } from "../../core/db/index.ts";
import { tenantRoles, textArray, type AdminFacts, type TenantNames, type TierLimits } from "./provision-common.ts";

/** One difference found (and, by reconcile, fixed). */
export interface Drift {
  object: string;
  setting: string;
  expected: string | null;
  found: string | null;
}

/** A difference with its category (the provisioning step that owns it) and the statements that undo it. */
export interface Fix extends Drift {
  category: "roles" | "database" | "limits";
  sql: string[];
}

export interface TenantPlan {
  /** Tenant roles that do not exist (their checks are skipped). */
  missingRoles: string[];
  databaseExists: boolean;
  fixes: Fix[];
}

const TIMEOUTS = ["statement_timeout", "idle_in_transaction_session_timeout"] as const;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A time setting in milliseconds ("30s" → 30000; a bare number is ms), or null if it is not one. */
export function settingMs(value: string): number | null {
  const m = /^\s*'?(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?'?\s*$/.exec(value);
  return m ? Number(m[1]) * UNIT_MS[m[2] ?? "ms"]! : null;
}

function sameValue(name: string, expected: string, found: string): boolean {
  if ((TIMEOUTS as readonly string[]).includes(name)) return settingMs(found) !== null && settingMs(found) === settingMs(expected);
  return found === expected;
}

/** `a.b` → `"a"."b"` (a GUC name in RESET). */
function guc(name: string): string {
  return name.split(".").map(quoteIdent).join(".");
}

/** The settings a tenant must have: key `role\0database` ("" for any), name → value. */
function expectedSettings(n: TenantNames, tier: TierLimits): Map<string, Map<string, string>> {
  const limits = new Map<string, string>([
    ["statement_timeout", String(tier.statementTimeoutMs)],
    ["idle_in_transaction_session_timeout", String(tier.idleInTransactionTimeoutMs)],
  ]);
  const out = new Map<string, Map<string, string>>();
  for (const login of n.loginRoles) out.set(`${login}\0`, new Map([["role", n.ownerRole]]));
  for (const role of tenantRoles(n)) out.set(`${role}\0${n.database}`, limits);
  out.set(`\0${n.database}`, limits);
  return out;
}

function settingFix(role: string, database: string, name: string, expected: string | null, found: string | null): Fix {
  const target = role
    ? `ALTER ROLE ${quoteIdent(role)}${database ? ` IN DATABASE ${quoteIdent(database)}` : ""}`
    : `ALTER DATABASE ${quoteIdent(database)}`;
  const value = expected === null ? "" : name === "role" ? quoteLiteral(expected) : expected;
  return {
    object: role ? `role ${role}${database ? ` in database ${database}` : ""}` : `database ${database}`,
    setting: name,
    expected,
    found,
    category: role && !database ? "roles" : "limits",
    sql: [expected === null ? `${target} RESET ${guc(name)}` : `${target} SET ${guc(name)} = ${value}`],
  };
}

async function roleFixes(db: Db, n: TenantNames, tier: TierLimits): Promise<{ missing: string[]; fixes: Fix[] }> {
  const roles = tenantRoles(n);
  const rows = await db`
    select rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin, rolinherit, rolconnlimit
    from pg_roles where rolname = any(${textArray(roles)}::text[])`;
  const byName = new Map(rows.map((r) => [r.rolname as string, r]));
  const fixes: Fix[] = [];
  const attrs: Array<[string, string, (r: Record<string, unknown>) => boolean, (role: string) => boolean]> = [
    ["superuser", "SUPERUSER", (r) => !!r.rolsuper, () => false],
    ["createdb", "CREATEDB", (r) => !!r.rolcreatedb, () => false],
    ["createrole", "CREATEROLE", (r) => !!r.rolcreaterole, () => false],
    ["replication", "REPLICATION", (r) => !!r.rolreplication, () => false],
    ["bypassrls", "BYPASSRLS", (r) => !!r.rolbypassrls, () => false],
    ["login", "LOGIN", (r) => !!r.rolcanlogin, (role) => role !== n.ownerRole],
    ["inherit", "INHERIT", (r) => !!r.rolinherit, () => true],
  ];
  for (const role of roles) {
    const r = byName.get(role);
    if (!r) continue;
    for (const [setting, keyword, get, want] of attrs) {
      const found = get(r);
      const expected = want(role);
      if (found !== expected) {
        fixes.push({ object: `role ${role}`, setting, expected: String(expected), found: String(found), category: "roles", sql: [`ALTER ROLE ${quoteIdent(role)} ${expected ? "" : "NO"}${keyword}`] });
      }
    }
    if (r.rolconnlimit !== tier.connectionLimit) {
      fixes.push({ object: `role ${role}`, setting: "connection limit", expected: String(tier.connectionLimit), found: String(r.rolconnlimit), category: "limits", sql: [`ALTER ROLE ${quoteIdent(role)} CONNECTION LIMIT ${tier.connectionLimit}`] });
    }
  }
  return { missing: roles.filter((r) => !byName.has(r)), fixes };
}

async function membershipFixes(db: Db, n: TenantNames, admin: AdminFacts, missing: string[]): Promise<Fix[]> {
  const roles = tenantRoles(n);
  const rows = await db`
    select r.rolname as role, m.rolname as member
    from pg_auth_members am join pg_roles r on r.oid = am.roleid join pg_roles m on m.oid = am.member
    where r.rolname = any(${textArray(roles)}::text[]) or m.rolname = any(${textArray(roles)}::text[])`;
  const has = new Set(rows.map((r) => `${r.role}\0${r.member}`));
  const wanted = [...n.loginRoles, ...(admin.superuser ? [] : [admin.user])].filter((m) => !missing.includes(m));
  const fixes: Fix[] = [];
  if (!missing.includes(n.ownerRole)) {
    for (const member of wanted) {
      if (!has.has(`${n.ownerRole}\0${member}`)) {
        fixes.push({ object: `role ${member}`, setting: `member of ${n.ownerRole}`, expected: "true", found: "false", category: "roles", sql: [`GRANT ${quoteIdent(n.ownerRole)} TO ${quoteIdent(member)}`] });
      }
    }
  }
  for (const { role, member } of rows) {
    const expected = (role === n.ownerRole && (n.loginRoles as string[]).includes(member)) || member === admin.user;
    if (!expected) {
      fixes.push({ object: `role ${member}`, setting: `member of ${role}`, expected: "false", found: "true", category: "roles", sql: [`REVOKE ${quoteIdent(role)} FROM ${quoteIdent(member)}`] });
    }
  }
  return fixes;
}

async function settingFixes(db: Db, n: TenantNames, tier: TierLimits, missing: string[], databaseExists: boolean): Promise<Fix[]> {
  const rows = await db`
    select coalesce(r.rolname, '') as role, coalesce(d.datname, '') as database, s.cfg
    from pg_db_role_setting rs
    left join pg_roles r on r.oid = rs.setrole
    left join pg_database d on d.oid = rs.setdatabase
    cross join lateral unnest(rs.setconfig) as s(cfg)
    where r.rolname = any(${textArray(tenantRoles(n))}::text[]) or (rs.setrole = 0 and d.datname = ${n.database})`;
  const expected = expectedSettings(n, tier);
  const found = new Map<string, Map<string, string>>();
  for (const r of rows) {
    const cfg = r.cfg as string;
    const eq = cfg.indexOf("=");
    const key = `${r.role}\0${r.database}`;
    if (!found.has(key)) found.set(key, new Map());
    found.get(key)!.set(cfg.slice(0, eq), cfg.slice(eq + 1));
  }
  const fixes: Fix[] = [];
  for (const [key, want] of expected) {
    const [role, database] = key.split("\0") as [string, string];
    if ((role && missing.includes(role)) || (database && !databaseExists)) continue;
    const have = found.get(key);
    for (const [name, value] of want) {
      const f = have?.get(name) ?? null;
      if (f === null || !sameValue(name, value, f)) fixes.push(settingFix(role, database, name, value, f));
    }
  }
  for (const [key, have] of found) {
    const [role, database] = key.split("\0") as [string, string];
    if (!role) continue; // database-level: only our own settings are managed
    const want = expected.get(key);
    for (const [name, value] of have) if (!want?.has(name)) fixes.push(settingFix(role, database, name, null, value));
  }
  return fixes;
}

async function databaseFixes(db: Db, n: TenantNames, tier: TierLimits, missing: string[]): Promise<{ exists: boolean; fixes: Fix[] }> {
  const rows = await db`
    select d.datconnlimit, coalesce(g.rolname, case when a.grantee = 0 then 'PUBLIC' end) as grantee, a.privilege_type
    from pg_database d
    cross join lateral aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
    left join pg_roles g on g.oid = a.grantee
    where d.datname = ${n.database}`;
  if (!rows.length) return { exists: false, fixes: [] };
  const db_ = quoteIdent(n.database);
  const fixes: Fix[] = [];
  const limit = rows[0]!.datconnlimit as number;
  if (limit !== tier.connectionLimit) {
    fixes.push({ object: `database ${n.database}`, setting: "connection limit", expected: String(tier.connectionLimit), found: String(limit), category: "limits", sql: [`ALTER DATABASE ${db_} CONNECTION LIMIT ${tier.connectionLimit}`] });
  }
  const grants = new Set(rows.map((r) => `${r.grantee}\0${r.privilege_type}`));
  const allowed = new Map<string, string[]>([["PUBLIC", []], [n.ownerRole, ["CONNECT"]], [n.readonlyRole, ["CONNECT"]], [n.loginRoles[0], ["CONNECT"]], [n.loginRoles[1], ["CONNECT"]]]);
  for (const r of rows) {
    const ok = allowed.get(r.grantee as string);
    if (ok && !ok.includes(r.privilege_type as string)) {
      const who = r.grantee === "PUBLIC" ? "PUBLIC" : quoteIdent(r.grantee as string);
      fixes.push({ object: `database ${n.database}`, setting: `${r.privilege_type} for ${r.grantee}`, expected: "revoked", found: "granted", category: "database", sql: [`REVOKE ${r.privilege_type} ON DATABASE ${db_} FROM ${who}`] });
    }
  }
  for (const role of [n.ownerRole, n.readonlyRole]) {
    if (!missing.includes(role) && !grants.has(`${role}\0CONNECT`)) {
      fixes.push({ object: `database ${n.database}`, setting: `CONNECT for ${role}`, expected: "granted", found: "revoked", category: "database", sql: [`GRANT CONNECT ON DATABASE ${db_} TO ${quoteIdent(role)}`] });
    }
  }
  return { exists: true, fixes };
}

/** Everything about the tenant's roles and database that differs from the tier's shape. */
export async function planTenant(db: Db, n: TenantNames, tier: TierLimits, admin: AdminFacts): Promise<TenantPlan> {
  const { missing, fixes } = await roleFixes(db, n, tier);
  const database = await databaseFixes(db, n, tier, missing);
  return {
    missingRoles: missing,
    databaseExists: database.exists,
    fixes: [
      ...fixes,
      ...(await membershipFixes(db, n, admin, missing)),
      ...database.fixes,
      ...(await settingFixes(db, n, tier, missing, database.exists)),
    ],
  };
}

/** Run the statements of `fixes` in order. */
export async function applyFixes(db: Db, fixes: Fix[]): Promise<void> {
  for (const f of fixes) for (const s of f.sql) await db.unsafe(s);
}

/** The public shape of a list of fixes. */
export function driftOf(fixes: Fix[]): Drift[] {
  return fixes.map(({ object, setting, expected, found }) => ({ object, setting, expected, found }));
}
