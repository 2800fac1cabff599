/**
 * Projects, environments, the manifest and tenant status.
 *   POST /projects (admin) · GET /projects · GET /projects/:project
 *   GET  /projects/:project/envs
 *   POST /projects/:project/envs/:env/deploy   {manifest, source?}   (write)
 *   GET  /projects/:project/envs/:env/render[?show_secrets=true]     (read; secrets: write)
 *   GET  /projects/:project/envs/:env/db/managed[?service=]          (read)
 */
import type { Hono } from "hono";
import { z } from "zod";
import { connect, describeTarget, parseDbUrl } from "../../../core/db/index.ts";
import { EveError, ExitCode } from "../../../core/errors.ts";
import { readJsonBody, validate } from "../../../core/http/routes.ts";
import { deployEnvironment } from "../deploy.ts";
import { parseManifest, renderManifest, resolveEnvironment, MAX_MANIFEST_BYTES } from "../manifest.ts";
import { createProject, environmentJson, getProject, listEnvironments, listProjects, projectJson } from "../projects.ts";
import { tenantNames } from "../provision-common.ts";
import { inspectTenant } from "../provision.ts";
import { pickTenant, tenantConnections, type TenantRow } from "../tenants.ts";
import { TIERS, type TierName } from "../tiers.ts";
import { authorize } from "../tokens.ts";
import type { AppEnv, ServerConfig } from "./app.ts";
import { projectFor, resolveTarget } from "./routes-ops.ts";

export const ProjectInput = z.strictObject({ name: z.string().max(100) });

export const DeployInput = z.strictObject({
  manifest: z.string().max(MAX_MANIFEST_BYTES, `the manifest is larger than ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB`),
  source: z.string().max(255).optional(),
});

/** A tenant as the API shows it (never a password). */
export function tenantJson(t: TenantRow, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: t.id,
    service: t.service_name,
    instance_id: t.instance_id,
    db_name: t.db_name,
    class: t.class,
    engine: "postgres",
    engine_version: t.engine_version,
    status: t.status,
    last_error_code: t.last_error_code,
    last_error_message: t.last_error_message,
    extensions: t.extensions,
    user: t.login_roles[t.active_login],
    readonly_user: t.readonly_role,
    ready_at: t.ready_at?.toISOString() ?? null,
    created_at: t.created_at.toISOString(),
    updated_at: t.updated_at.toISOString(),
    ...extra,
  };
}

export function projectRoutes(app: Hono<AppEnv>, cfg: ServerConfig): void {
  app.post("/projects", async (c) => {
    authorize(c.get("token"), { admin: true });
    const input = validate(ProjectInput, await readJsonBody(c), "project");
    return c.json(projectJson(await createProject(cfg.db, input.name)), 201);
  });
  app.get("/projects", async (c) => {
    const token = c.get("token");
    if (!token.admin) {
      const own = await getProject(cfg.db, token.projectId!);
      return c.json({ items: [projectJson(own)], next_cursor: null });
    }
    const q = c.req.query();
    const p = await listProjects(cfg.db, { limit: q.limit ?? null, cursor: q.cursor ?? null });
    return c.json({ items: p.items.map(projectJson), next_cursor: p.next_cursor });
  });
  app.get("/projects/:project", async (c) => {
    const project = await projectFor(cfg, c.get("token"), c.req.param("project"), "read");
    return c.json(projectJson(project));
  });
  app.get("/projects/:project/envs", async (c) => {
    const project = await projectFor(cfg, c.get("token"), c.req.param("project"), "read");
    // The project's environments and all their live tenants: two queries, whatever the number of environments.
    const [envs, tenants] = await Promise.all([
      listEnvironments(cfg.db, project.id),
      cfg.db<Array<{ env_id: string; service: string; status: string; class: string }>>`
        select env_id, service_name as service, status, class from eve_platform.tenants
         where project_id = ${project.id} and deleted_at is null order by service_name`,
    ]);
    const items = envs.map((e) => ({ ...environmentJson(e), databases: tenants.filter((t) => t.env_id === e.id).map(({ service, status, class: cls }) => ({ service, status, class: cls })) }));
    return c.json({ items, next_cursor: null });
  });

  app.post("/projects/:project/envs/:env/deploy", async (c) => {
    const project = await projectFor(cfg, c.get("token"), c.req.param("project"), "write");
    const input = validate(DeployInput, await readJsonBody(c), "deploy request");
    const envName = c.req.param("env");
    const result = await deployEnvironment(
      {
        db: cfg.db,
        lockConnection: () => connect(cfg.platformUrl, { max: 1, applicationName: "eve deploy lock" }),
        key: cfg.key,
        onStep: (service, step) => cfg.log.info("provisioning", { service, step, env: envName }),
      },
      project,
      envName,
      input.manifest,
      input.source,
    );
    return c.json(result);
  });

  app.get("/projects/:project/envs/:env/render", async (c) => {
    const showSecrets = c.req.query("show_secrets") === "true";
    const { env, tenants } = await resolveTarget(c, cfg, showSecrets ? "write" : "read");
    const stored = (await cfg.db<{ manifest: { source: string; text: string } | null }[]>`select manifest from eve_platform.environments where id = ${env.id}`)[0]?.manifest;
    if (!stored) throw new EveError("E_NOT_FOUND", `environment ${env.name} has not been deployed`, ExitCode.usage, { hint: `run eve env deploy --env ${env.name}` });
    const resolved = resolveEnvironment(parseManifest(stored.text, { source: stored.source }), env.name);
    const values: Record<string, Record<string, string>> = {};
    for (const t of tenants) {
      if (t.status !== "ready" && t.status !== "modifying") continue;
      const conns = await tenantConnections(cfg.db, cfg.key, t);
      const target = parseDbUrl(conns.login);
      values[t.service_name] = {
        url: conns.login,
        host: target.host,
        port: String(target.port),
        database: t.db_name,
        user: t.login_roles[t.active_login]!,
        password: conns.passwords.login,
        readonly_url: conns.readonly,
      };
    }
    return c.json(renderManifest(resolved, values, { showSecrets }));
  });

  app.get("/projects/:project/envs/:env/db/managed", async (c) => {
    const { project, env, tenants } = await resolveTarget(c, cfg, "read");
    const t = pickTenant(tenants, env, c.req.query("service"));
    const tier = TIERS[t.class as TierName];
    const live = t.status === "ready" || t.status === "modifying" ? await liveStatus(cfg, t) : {};
    return c.json(tenantJson(t, { project: project.name, environment: env.name, tier: { label: tier.label, connection_limit: tier.connectionLimit, statement_timeout_ms: tier.statementTimeoutMs, idle_in_transaction_timeout_ms: tier.idleInTransactionTimeoutMs, storage_gb: tier.storageGb }, ...live }));
  });
}

/** How long a tenant's live figures (size, sessions, limits, drift) are reused: status polling must not load the instance. */
export const LIVE_TTL_MS = 5_000;
const liveCache = new Map<string, { at: number; value: Promise<Record<string, unknown>> }>();

/** The tenant's live figures, read at most once per LIVE_TTL_MS per replica (concurrent callers share one read). */
function liveStatus(cfg: ServerConfig, t: TenantRow): Promise<Record<string, unknown>> {
  const now = Date.now();
  const hit = liveCache.get(t.id);
  if (hit && now - hit.at < LIVE_TTL_MS) return hit.value;
  const value = (async () => {
    try {
      const conns = await tenantConnections(cfg.db, cfg.key, t);
      const info = await inspectTenant(conns.instanceAdmin, tenantNames(t.id), TIERS[t.class as TierName]);
      return { size_bytes: info.sizeBytes, connections: info.connections, limits: info.limits, drift: info.drift, installed_extensions: info.extensions, host: describeTarget(parseDbUrl(conns.login)), observed_at: new Date().toISOString() };
    } catch (e) {
      liveCache.delete(t.id);
      return { live_error: e instanceof EveError ? e.message : "the instance could not be inspected" };
    }
  })();
  if (liveCache.size > 10_000) liveCache.clear();
  liveCache.set(t.id, { at: now, value });
  return value;
}
