/**
 * Re-asserting a tenant's tier and hardening (reconcile) and reading its state
 * for `eve db status --env` (inspect). A tenant can change some of it itself:
 * `ALTER ROLE self SET statement_timeout = 0`, `ALTER ROLE self RESET role`,
 * even `ALTER ROLE self IN DATABASE … SET …`; reconcile finds every such row
 * in pg_db_role_setting (in any database) and undoes it.
 */
import { EveError, ExitCode } from "../../core/errors.ts";
import { adminFacts, checkNames, withAdmin, type TenantNames, type TierLimits } from "./provision-common.ts";
import { applyFixes, driftOf, planTenant, settingMs, type Drift, type TenantPlan } from "./provision-drift.ts";

function requireTenant(plan: TenantPlan, n: TenantNames): void {
  if (plan.missingRoles.length || !plan.databaseExists) {
    const what = [...(plan.databaseExists ? [] : [`database ${n.database}`]), ...plan.missingRoles.map((r) => `role ${r}`)];
    throw new EveError("E_TENANT_MISSING", `tenant ${n.database} is incomplete on this instance: missing ${what.join(", ")}`, ExitCode.failed, {
      hint: "run provisioning again (it resumes where it stopped)",
      details: { missing: what },
    });
  }
}

/**
 * Re-assert the tier's limits and the tenant's hardening (role attributes,
 * memberships, role and database settings, the database's ACL and connection
 * limit). Returns what differed, each item now fixed.
 */
export async function reconcileLimits(adminUrl: string, names: TenantNames, tier: TierLimits): Promise<Drift[]> {
  checkNames(names);
  return withAdmin(adminUrl, undefined, "reconcile", async (db) => {
    const plan = await planTenant(db, names, tier, await adminFacts(db));
    requireTenant(plan, names);
    await applyFixes(db, plan.fixes);
    return driftOf(plan.fixes);
  });
}

export interface TenantInspection {
  sizeBytes: number;
  /** Sessions on the tenant database now. */
  connections: number;
  /** What is in force for a session of the first login role (null: the server's default). */
  limits: { connectionLimit: number; statementTimeoutMs: number | null; idleInTransactionTimeoutMs: number | null };
  /** Differences from the tier's shape (not fixed: inspection is read-only). */
  drift: Drift[];
  extensions: Array<{ name: string; version: string }>;
}

const msOrNull = (v: string | undefined) => (v === undefined ? null : settingMs(v));

/** The tenant's size, sessions, limits in force, drift and extensions, changing nothing. */
export async function inspectTenant(adminUrl: string, names: TenantNames, tier: TierLimits): Promise<TenantInspection> {
  checkNames(names);
  const base = await withAdmin(adminUrl, undefined, "inspect", async (db) => {
    const plan = await planTenant(db, names, tier, await adminFacts(db));
    requireTenant(plan, names);
    const [d] = await db`
      select pg_database_size(d.oid)::float8 as size, d.datconnlimit,
             -- backend_type is hidden (null) on other roles' sessions without pg_read_all_stats
             (select count(*)::int from pg_stat_activity a where a.datname = d.datname and coalesce(a.backend_type, 'client backend') = 'client backend') as connections
      from pg_database d where d.datname = ${names.database}`;
    // Precedence of pg_db_role_setting: role in database, then role, then database.
    const settings = await db`
      select case when rs.setrole <> 0 and rs.setdatabase <> 0 then 1 when rs.setrole <> 0 then 2 else 3 end as rank, s.cfg
      from pg_db_role_setting rs
      left join pg_roles r on r.oid = rs.setrole
      left join pg_database d on d.oid = rs.setdatabase
      cross join lateral unnest(rs.setconfig) as s(cfg)
      where (r.rolname = ${names.loginRoles[0]} or rs.setrole = 0) and (d.datname = ${names.database} or rs.setdatabase = 0)
        and not (rs.setrole = 0 and rs.setdatabase = 0)
      order by rank desc`;
    const effective = new Map<string, string>();
    for (const s of settings) {
      const cfg = s.cfg as string;
      effective.set(cfg.slice(0, cfg.indexOf("=")), cfg.slice(cfg.indexOf("=") + 1));
    }
    return {
      sizeBytes: Number(d!.size),
      connections: d!.connections as number,
      limits: {
        connectionLimit: d!.datconnlimit as number,
        statementTimeoutMs: msOrNull(effective.get("statement_timeout")),
        idleInTransactionTimeoutMs: msOrNull(effective.get("idle_in_transaction_session_timeout")),
      },
      drift: driftOf(plan.fixes),
    };
  });
  const extensions = await withAdmin(adminUrl, names.database, "inspect", async (db) =>
    (await db`select extname as name, extversion as version from pg_extension where extname <> 'plpgsql' order by 1`).map((r) => ({ name: r.name as string, version: r.version as string })),
  );
  return { ...base, extensions };
}
