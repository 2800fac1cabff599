/**
 * `eve env deploy`: the manifest's managed databases reconciled into tenants.
 * Everything that can be checked is checked before anything changes (the
 * manifest, references, engine versions, placement); then, under one lock
 * per environment shared by every replica, each service is provisioned (new),
 * retried (failed or killed midway: provisioning is idempotent), modified
 * (class or extensions changed) or re-asserted (limits and grants; drift
 * reported). Services gone from the manifest are reported, never dropped.
 */
import { close, type Db } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { encryptSecret, type MasterKey } from "../../core/secrets.ts";
import { newId } from "./ids.ts";
import { instanceAdminUrl } from "./instances.ts";
import { findInterpolations, managedServices, parseManifest, resolveEnvironment, type ManagedService } from "./manifest.ts";
import { upsertEnvironment, type Project } from "./projects.ts";
import { tenantNames, textArray } from "./provision-common.ts";
import { provisionTenant, reconcileLimits, type Drift } from "./provision.ts";
import { randomPassword } from "./scram.ts";
import { envTenants, TENANT_COLUMNS, tenantConnections, type TenantRow } from "./tenants.ts";
import { TIERS } from "./tiers.ts";

export interface DeployedService {
  service: string;
  tenant_id: string;
  action: "provisioned" | "retried" | "modified" | "unchanged";
  status: TenantRow["status"];
  class: string;
  instance_id: string;
  /** Settings a tenant had changed and this deploy put back. */
  drift_fixed: Drift[];
}

export interface DeployResult {
  project: string;
  environment: string;
  services: DeployedService[];
  /** Managed services still provisioned but no longer in the manifest (kept: eve db destroy removes them). */
  removed: string[];
  duration_ms: number;
}

export interface DeployDeps {
  db: Db;
  /**
   * A connection of its own for the per-environment lock, outside the pool:
   * deploys waiting on the lock must not hold the pool's connections the
   * deploy holding it needs (14 waiting deploys on a 10-connection pool deadlocked).
   */
  lockConnection(): Db;
  key: MasterKey;
  onStep?(service: string, step: string): void;
}

/** Instances a new tenant may go on, least loaded first. */
interface Candidate {
  id: string;
  engine_version: string;
  max_tenants: number;
  tenants: number;
}

/**
 * Active instances with the major version and room for another tenant, least
 * loaded first (ties: oldest id). `lock`: inside placement's transaction, the
 * rows are locked so replicas placing at once cannot overfill one.
 */
async function candidates(db: Db, engineVersion: string | null, lock = false): Promise<Candidate[]> {
  return db<Candidate[]>`
    select * from (
      select i.id, i.engine_version, i.max_tenants,
             (select count(*)::int from eve_platform.tenants t where t.instance_id = i.id and t.deleted_at is null) as tenants
        from eve_platform.instances i
       where i.status = 'active' and i.engine = 'postgres' and (${engineVersion}::text is null or i.engine_version = ${engineVersion}::text)
       ${lock ? db`for update of i` : db``}
    ) c where c.tenants < c.max_tenants
    order by c.tenants, c.id`;
}

function noPlacement(s: ManagedService): EveError {
  return new EveError("E_NO_INSTANCE", `no active instance can take ${s.service}: PostgreSQL ${s.engineVersion ?? "(any version)"} with room for another tenant`, ExitCode.failed, {
    hint: `an admin registers one with eve admin instances add --engine-version ${s.engineVersion ?? "16"} (or raises max_tenants); nothing was changed`,
    details: { service: s.service, engine_version: s.engineVersion },
  });
}

export async function deployEnvironment(d: DeployDeps, project: Project, envName: string, text: string, source = "manifest.yaml"): Promise<DeployResult> {
  const t0 = Date.now();
  const manifest = parseManifest(text, { source });
  const resolved = resolveEnvironment(manifest, envName);
  findInterpolations(resolved);
  const wanted = managedServices(resolved);

  // Placement and version checks for what would be created or changed, before any write.
  const reserved = d.lockConnection();
  try {
    await reserved`select pg_advisory_lock(hashtextextended(${`eve:deploy:${project.id}/${envName}`}, 0))`;
    try {
      const env = await upsertEnvironment(d.db, project.id, envName);
      const live = new Map((await envTenants(d.db, env.id)).map((t) => [t.service_name, t]));
      for (const s of wanted) {
        const t = live.get(s.service);
        if (t && s.engineVersion && s.engineVersion !== t.engine_version) {
          throw new EveError("E_ENGINE_VERSION", `${s.service} runs PostgreSQL ${t.engine_version}; the manifest asks for ${s.engineVersion}`, ExitCode.failed, {
            hint: "changing a tenant's major version needs a move to another instance (not supported yet); nothing was changed",
          });
        }
        if (!t && !(await candidates(d.db, s.engineVersion)).length) throw noPlacement(s);
      }
      const services: DeployedService[] = [];
      for (const s of wanted) services.push(await reconcileService(d, project, env.id, s, live.get(s.service)));
      await d.db`update eve_platform.environments set manifest = ${d.db.json({ source, text })}, deployed_at = now() where id = ${env.id}`;
      const removed = [...live.keys()].filter((name) => !wanted.some((s) => s.service === name));
      return { project: project.name, environment: envName, services, removed, duration_ms: Date.now() - t0 };
    } finally {
      await reserved`select pg_advisory_unlock(hashtextextended(${`eve:deploy:${project.id}/${envName}`}, 0))`.catch(() => {});
    }
  } finally {
    await close(reserved);
  }
}

/** Create the tenant row on the least-loaded instance (its row locked so replicas cannot overfill it). */
async function placeTenant(d: DeployDeps, project: Project, envId: string, s: ManagedService): Promise<TenantRow> {
  const id = newId("mdbt");
  const names = tenantNames(id);
  const [login, ro] = [randomPassword(), randomPassword()];
  const [loginEnc, roEnc] = await Promise.all([encryptSecret(d.key, login, `tenant:${id}:login`), encryptSecret(d.key, ro, `tenant:${id}:readonly`)]);
  return d.db.begin(async (tx) => {
    const [pick] = await candidates(tx as unknown as Db, s.engineVersion, true);
    if (!pick) throw noPlacement(s);
    const [row] = await tx<TenantRow[]>`
      insert into eve_platform.tenants (id, project_id, env_id, service_name, instance_id, db_name, owner_role, login_roles, readonly_role,
                                        login_password_enc, readonly_password_enc, class, engine_version, extensions, backup, status)
      values (${id}, ${project.id}, ${envId}, ${s.service}, ${pick.id}, ${names.database}, ${names.ownerRole}, ${textArray(names.loginRoles)}::text[], ${names.readonlyRole},
              ${loginEnc}, ${roEnc}, ${s.class}, ${pick.engine_version}, ${textArray(s.extensions)}::text[], ${tx.json(s.backup as never)}, 'provisioning')
      returning ${tx.unsafe(TENANT_COLUMNS)}`;
    return row!;
  }) as Promise<TenantRow>;
}

async function reconcileService(d: DeployDeps, project: Project, envId: string, s: ManagedService, existing: TenantRow | undefined): Promise<DeployedService> {
  let t: TenantRow | undefined = existing ?? (await placeTenant(d, project, envId, s));
  const changed = !!existing && (existing.class !== s.class || [...existing.extensions].sort().join() !== [...s.extensions].sort().join());
  const action: DeployedService["action"] = !existing ? "provisioned" : existing.status !== "ready" ? "retried" : changed ? "modified" : "unchanged";
  if (action === "modified") {
    [t] = await d.db<TenantRow[]>`update eve_platform.tenants set status = 'modifying', updated_at = now() where id = ${t.id} returning ${d.db.unsafe(TENANT_COLUMNS)}`;
  }
  const conns = await tenantConnections(d.db, d.key, t!);
  let drift: DeployedService["drift_fixed"] = [];
  try {
    if (action === "unchanged") {
      drift = await reconcileLimits(await instanceAdminUrl(d.key, conns.instance), tenantNames(t!.id), TIERS[s.class]);
    }
    // Every deploy re-runs provisioning: it changes only what differs (objects a login role took, grants, extensions).
    await provisionTenant(
      conns.instanceAdmin,
      { tenantId: t!.id, class: TIERS[s.class], extensions: s.extensions, loginPassword: conns.passwords.login, readonlyPassword: conns.passwords.readonly },
      (step) => d.onStep?.(s.service, step),
    );
  } catch (e) {
    const err = e instanceof EveError ? e : new EveError("E_PROVISION", String((e as Error)?.message ?? e), ExitCode.failed);
    await d.db`update eve_platform.tenants set status = 'failed', last_error_code = ${err.code}, last_error_message = ${err.message}, updated_at = now() where id = ${t!.id}`;
    throw new EveError(err.code, `${s.service}: ${err.message}`, err.exitCode, { hint: err.hint ?? "fix the cause and run eve env deploy again: it resumes", details: { ...err.details, service: s.service, tenant_id: t!.id } });
  }
  const [row] = await d.db<TenantRow[]>`
    update eve_platform.tenants set status = 'ready', class = ${s.class}, extensions = ${textArray(s.extensions)}::text[], backup = ${d.db.json(s.backup as never)},
           last_error_code = null, last_error_message = null, ready_at = coalesce(ready_at, now()), updated_at = now()
     where id = ${t!.id} returning ${d.db.unsafe(TENANT_COLUMNS)}`;
  return { service: s.service, tenant_id: row!.id, action, status: row!.status, class: row!.class, instance_id: row!.instance_id, drift_fixed: drift };
}

