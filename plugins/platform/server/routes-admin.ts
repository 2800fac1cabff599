/**
 * Admin and token routes.
 *   GET/POST /admin/managed-db/instances, GET /admin/managed-db/instances/:id,
 *   POST /admin/managed-db/instances/:id/drain          (admin tokens)
 *   GET /whoami                                          (any token: itself)
 *   POST /tokens, GET /tokens, DELETE /tokens/:id        (admin: any token;
 *     a project owner: the tokens of its project, at most its own role)
 */
import type { Hono } from "hono";
import { z } from "zod";
import { parseDuration } from "../../../core/config.ts";
import { EveError, ExitCode } from "../../../core/errors.ts";
import { readJsonBody, validate } from "../../../core/http/routes.ts";
import { drainInstance, getInstance, InstanceInput, instanceAdminUrl, instanceJson, listInstances, registerInstance } from "../instances.ts";
import { hardenInstance } from "../provision.ts";
import { authorize, createToken, listTokens, revokeToken, tokenJson, type TokenRecord } from "../tokens.ts";
import type { AppEnv, ServerConfig } from "./app.ts";
import { projectFor } from "./routes-ops.ts";

export const TokenCreateInput = z.strictObject({
  name: z.string().min(1).max(100),
  admin: z.boolean().optional(),
  project: z.string().min(1).max(100).optional(),
  role: z.enum(["read", "write", "owner"]).optional(),
  /** A duration such as 30d or 12h; absent: never expires. */
  expires_in: z.string().max(20).optional(),
});

const page = (q: Record<string, string>) => ({ limit: q.limit ?? null, cursor: q.cursor ?? null });

export function adminRoutes(app: Hono<AppEnv>, cfg: ServerConfig): void {
  const admin = (t: TokenRecord) => authorize(t, { admin: true });

  app.get("/admin/managed-db/instances", async (c) => {
    admin(c.get("token"));
    const p = await listInstances(cfg.db, page(c.req.query()));
    return c.json({ items: p.items.map(instanceJson), next_cursor: p.next_cursor });
  });
  app.post("/admin/managed-db/instances", async (c) => {
    admin(c.get("token"));
    const input = validate(InstanceInput, await readJsonBody(c), "instance");
    const inst = await registerInstance(cfg.db, cfg.key, input);
    // Tenants must not reach `postgres` or `template1`: CONNECT and TEMPORARY revoked from PUBLIC where the admin may.
    const hardening = await hardenInstance(await instanceAdminUrl(cfg.key, inst));
    return c.json({ ...instanceJson(inst), hardening }, 201);
  });
  app.get("/admin/managed-db/instances/:id", async (c) => {
    admin(c.get("token"));
    return c.json(instanceJson(await getInstance(cfg.db, c.req.param("id"))));
  });
  app.post("/admin/managed-db/instances/:id/drain", async (c) => {
    admin(c.get("token"));
    return c.json(instanceJson(await drainInstance(cfg.db, c.req.param("id"))));
  });

  app.get("/whoami", (c) => c.json(tokenJson(c.get("token"))));
  app.post("/tokens", async (c) => {
    const caller = c.get("token");
    const input = validate(TokenCreateInput, await readJsonBody(c), "token");
    if (input.admin && input.project) throw new EveError("E_VALIDATION", "a token is either admin or for a project, not both", ExitCode.usage);
    if (!input.admin && !input.project) throw new EveError("E_VALIDATION", "give project (with role) or admin: true", ExitCode.usage);
    const expiresAt = input.expires_in ? new Date(Date.now() + parseDuration(input.expires_in, "expires_in")) : null;
    if (input.admin) {
      admin(caller);
      const { token, record } = await createToken(cfg.db, { name: input.name, admin: true, expiresAt });
      return c.json({ ...tokenJson(record), token }, 201);
    }
    // A project owner may hand out tokens of its project.
    const project = await projectFor(cfg, caller, input.project!, "owner");
    const role = input.role ?? "read";
    const { token, record } = await createToken(cfg.db, { name: input.name, projectId: project.id, role, expiresAt });
    return c.json({ ...tokenJson(record), token }, 201);
  });
  app.get("/tokens", async (c) => {
    const caller = c.get("token");
    const q = c.req.query();
    let projectId: string | undefined;
    if (q.project) projectId = (await projectFor(cfg, caller, q.project, "owner")).id;
    else if (!caller.admin) {
      projectId = caller.projectId!;
      authorize(caller, { projectId, role: "owner" });
    }
    const p = await listTokens(cfg.db, { ...page(q), ...(projectId ? { projectId } : {}) });
    return c.json({ items: p.items.map(tokenJson), next_cursor: p.next_cursor });
  });
  app.delete("/tokens/:id", async (c) => {
    const caller = c.get("token");
    const id = c.req.param("id");
    if (!caller.admin) {
      const [row] = await cfg.db<{ project_id: string | null }[]>`select project_id from eve_platform.tokens where id = ${id}`;
      authorize(caller, { projectId: row?.project_id ?? "(no such token in this project)", role: "owner" });
    }
    return c.json(tokenJson(await revokeToken(cfg.db, id)));
  });
}
