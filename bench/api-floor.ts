/**
 * The floor bench/api.sh compares `GET …/db/managed` against: a bare Hono
 * route on Bun doing the same token lookup (sha256 of the bearer, one select)
 * and tenant lookup (one select joining project, environment and tenant) with
 * postgres.js on the same platform database, answering the row as JSON.
 *   bun bench/api-floor.ts PLATFORM_URL PORT
 */
import { createHash } from "node:crypto";
import { Hono } from "hono";
import postgres from "postgres";

const [url, port] = [process.argv[2]!, Number(process.argv[3])];
const sql = postgres(url, { max: 10, fetch_types: false, prepare: true, onnotice: () => {} });
const app = new Hono();
app.get("/projects/:project/envs/:env/db/managed", async (c) => {
  const m = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "");
  if (!m) return c.json({ error: "unauthenticated" }, 401);
  const hash = createHash("sha256").update(m[1]!).digest();
  const [tok] = await sql`select id, admin, project_id, role from eve_platform.tokens
                           where hash = ${hash} and revoked_at is null and (expires_at is null or expires_at > now())`;
  if (!tok) return c.json({ error: "unauthenticated" }, 401);
  const [t] = await sql`select t.id, t.service_name, t.status, t.class, t.engine_version, t.db_name, t.created_at, t.updated_at
                          from eve_platform.tenants t join eve_platform.environments e on e.id = t.env_id join eve_platform.projects p on p.id = e.project_id
                         where (p.id = ${c.req.param("project")} or p.name = ${c.req.param("project")}) and e.name = ${c.req.param("env")} and t.deleted_at is null`;
  if (!t) return c.json({ error: "not found" }, 404);
  return c.json(t);
});
const server = Bun.serve({ fetch: app.fetch, hostname: "127.0.0.1", port });
console.log(`http://127.0.0.1:${server.port}`);
