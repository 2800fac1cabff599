/**
 * Every operation as a tenant route: POST /projects/:project/envs/:env/<op
 * path> (e.g. db/migrate, db/rls/init). The lease: the token must hold the
 * role the input needs on this project; the environment's managed database
 * (or ?service=) must be ready; writes take the busy-tenant lock (409 with
 * the running operation's id); the run connects as the tenant's read-only
 * role for reads and as its login role (acting as the owner) for writes.
 * Managed-mode hooks: wipe/reset empty the schemas as the platform and then
 * re-provision the tenant (grants, default privileges, extensions, limits);
 * adoption's shadow database goes on the instance.
 */
import { close, connect, describeTarget, parseDbUrl, ping, type Notice } from "../../../core/db/index.ts";
import { wipeDatabase } from "../../../core/db/recreate.ts";
import { EveError, ExitCode } from "../../../core/errors.ts";
import { mountOperation } from "../../../core/http/routes.ts";
import { accessOf, servedRemotely, type Operation, type OpDeps } from "../../../core/operation.ts";
import { getProject } from "../projects.ts";
import { installExtension, provisionTenant } from "../provision.ts";
import { assertReady, lockTenant, pickTenant, routeTarget, tenantConnections, type OpLock } from "../tenants.ts";
import { authorize, type TokenRecord } from "../tokens.ts";
import { TIERS, type TierName } from "../tiers.ts";
import type { AppContext, AppEnv, ServerConfig } from "./app.ts";
import type { Context, Hono } from "hono";

/** Environments whose data a wipe/reset/restore needs --danger-reset-production for. */
export const PRODUCTION_NAMES = new Set(["production", "prod"]);

export const TENANT_PREFIX = "/projects/:project/envs/:env";

/** The one refusal a project token gets for a project not its own, whether or not it exists. */
export function noAccess(): EveError {
  return new EveError("E_FORBIDDEN", "this token has no access to that project", ExitCode.error);
}

/**
 * A project by id or name, for a token that needs `role` on it: a project
 * token gets noAccess() for any project not its own (existing or not); an
 * admin gets E_NOT_FOUND for a missing one.
 */
export async function projectFor(cfg: ServerConfig, token: TokenRecord, ref: string, role: "read" | "write" | "owner") {
  const project = await getProject(cfg.db, ref).catch((e) => {
    if (!token.admin) throw noAccess();
    throw e;
  });
  if (!token.admin && token.projectId !== project.id) throw noAccess();
  authorize(token, { projectId: project.id, role });
  return project;
}

/**
 * Project, environment and tenants of a tenant route, checked against the
 * token (a project token never learns whether another project exists).
 */
const targets = new WeakMap<Request, ReturnType<typeof routeTarget>>();

export async function resolveTarget(c: Context, cfg: ServerConfig, role: "read" | "write" | "owner") {
  const token = c.get("token") as TokenRecord;
  const envName = c.req.param("env")!;
  // Read once per request: an operation route authorises before the body (the least role) and again after (the input's).
  let pending = targets.get(c.req.raw);
  if (!pending) targets.set(c.req.raw, (pending = routeTarget(cfg.db, c.req.param("project")!, envName)));
  const target = await pending;
  if (!target) {
    if (!token.admin) throw noAccess();
    throw new EveError("E_NOT_FOUND", `project ${JSON.stringify(c.req.param("project")!.slice(0, 80))} not found`, ExitCode.error);
  }
  authorize(token, { projectId: target.project.id, role });
  if (!target.env) throw new EveError("E_NOT_FOUND", `environment ${JSON.stringify(envName.slice(0, 80))} not found`, ExitCode.error, { hint: "deploy it first: eve env deploy --env NAME" });
  return { token, project: target.project, env: target.env, tenants: target.tenants };
}

export function opRoutes(app: Hono<AppEnv>, cfg: ServerConfig, requestId: (c: AppContext) => string): void {
  for (const op of cfg.operations) {
    if (!servedRemotely(op)) continue;
    mountOperation(app, TENANT_PREFIX, op, (c, o, input) => lease(c as AppContext, cfg, o, input), {
      requestId: (c) => requestId(c as AppContext),
      // A caller without the role learns nothing about the body's validity: 401/403 before 400.
      preauthorize: async (c, o) => void (await resolveTarget(c, cfg, typeof o.access === "string" ? o.access : "read")),
      onRunError: (c, o, e) => {
        if (!(e instanceof EveError) || e.code === "E_INTERNAL") cfg.log.error("operation failed", { request_id: requestId(c as AppContext), op: o.name, error: String((e as Error)?.stack ?? e) });
      },
    });
  }
}

async function lease(c: AppContext, cfg: ServerConfig, op: Operation, input: unknown) {
  const access = accessOf(op, input);
  const { env, tenants } = await resolveTarget(c, cfg, access);
  const tenant = pickTenant(tenants, env, c.req.query("service"));
  assertReady(tenant);
  // Owner access is what destroys data (wipe, reset, restore): on production it needs the second confirmation.
  if (access === "owner" && PRODUCTION_NAMES.has(env.name) && !(input as { dangerResetProduction?: boolean }).dangerResetProduction) {
    throw new EveError("E_PRODUCTION", `environment ${env.name} is production: ${op.name.slice(3)} needs --danger-reset-production as well as --force`, ExitCode.error, {
      hint: "nothing was changed",
    });
  }
  const conns = await tenantConnections(cfg.db, cfg.key, tenant);
  const lock: OpLock | null = access === "read" ? null : await lockTenant(cfg.db, tenant.id, op.name, cfg.replica);
  const url = access === "read" ? conns.readonly : conns.login;
  let onNotice: (n: Notice) => void = () => {};
  const db = connect(url, { ...op.connection?.(input), onNotice: (n) => onNotice(n), connectTimeout: 10 });
  try {
    await ping(db, url);
  } catch (e) {
    await close(db, 0);
    await lock?.release(e);
    throw e;
  }
  const signal = AbortSignal.any([c.req.raw.signal, cfg.shutdown]);
  const deps: OpDeps = {
    db,
    url,
    label: describeTarget(parseDbUrl(url)),
    mode: "managed",
    onNotice: (h) => void (onNotice = h),
    toolEnv: cfg.toolEnv,
    now: () => new Date(),
    signal,
    shadowUrl: conns.instanceAdmin,
    installExtension: (name) => installExtension(conns.admin, name),
    async wipeDatabase(opts) {
      const result = await wipeDatabase(conns.admin, { ...opts, schemasOnly: true });
      await provisionTenant(conns.instanceAdmin, {
        tenantId: tenant.id,
        class: TIERS[tenant.class as TierName],
        extensions: tenant.extensions,
        loginPassword: conns.passwords.login,
        readonlyPassword: conns.passwords.readonly,
      });
      return result;
    },
  };
  return {
    deps,
    async release(error?: unknown) {
      await close(db);
      await lock?.release(error);
    },
  };
}
