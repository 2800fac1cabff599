import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { NDJSON } from "../../../core/http/wire.ts";
import { migrationsOp } from "../../../plugins/migrate/ops/migrations.ts";
import { startControlPlane, type ControlPlane } from "../../helpers/control-plane.ts";

const manifest = (cls = "db.p1", extra = "") => `services:
  db:
    x-eve:
      role: managed_db
      managed:
        class: ${cls}
        engine: postgres
        engine_version: "15"
        extensions: [pgcrypto]${extra}
  api:
    environment:
      DATABASE_URL: \${managed.db.url}
      RO: \${managed.db.readonly_url}
`;

let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane({ operations: [migrationsOp] });
  await cp.addInstance();
}, 120_000);
afterAll(async () => {
  await cp?.stop();
});

describe("conventions", () => {
  test("health and readiness need no token; everything else does", async () => {
    expect((await cp.request("GET", "/healthz", { token: null })).status).toBe(200);
    expect((await cp.request("GET", "/readyz", { token: null })).body).toEqual({ ready: true });
    const none = await cp.request("GET", "/whoami", { token: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("E_UNAUTHENTICATED");
    expect(none.body.error.request_id).toMatch(/^req_/);
    const bad = await cp.request("GET", "/whoami", { token: "eve_pat_" + "x".repeat(40) });
    expect(bad.status).toBe(401);
    const basic = await cp.request("GET", "/whoami", { token: null, headers: { authorization: "Basic YWRtaW46YWRtaW4=" } });
    expect(basic.status).toBe(401);
  });

  test("X-Request-ID is echoed when well-formed and replaced otherwise", async () => {
    const r = await cp.request("GET", "/whoami", { headers: { "x-request-id": "abc-123" } });
    expect(r.headers.get("x-request-id")).toBe("abc-123");
    const evil = await cp.request("GET", "/whoami", { headers: { "x-request-id": "a\u0001b".repeat(3) } });
    expect(evil.headers.get("x-request-id")).toMatch(/^req_/);
  });

  test("unknown routes, invalid JSON and oversized bodies are JSON errors", async () => {
    const nf = await cp.request("GET", "/nope");
    expect([nf.status, nf.body.error.code]).toEqual([404, "E_NOT_FOUND"]);
    const bad = await cp.request("POST", "/projects", { raw: "{not json", headers: { "content-type": "application/json" } });
    expect([bad.status, bad.body.error.code]).toEqual([400, "E_BAD_JSON"]);
    const big = await cp.request("POST", "/projects", { raw: JSON.stringify({ name: "x".repeat(20 * 1024 * 1024) }), headers: { "content-type": "application/json" } });
    expect([big.status, big.body.error.code]).toEqual([413, "E_TOO_LARGE"]);
  });

  test("the OpenAPI document lists the operation routes with their schemas", async () => {
    const r = await cp.request("GET", "/openapi.json", { token: null });
    expect(r.status).toBe(200);
    const post = r.body.paths["/projects/{project}/envs/{env}/db/migrations"].post;
    expect(post.operationId).toBe("db.migrations");
    expect(post.requestBody.content["application/json"].schema.properties.migrations).toBeDefined();
    // The platform endpoints' bodies come from the same zod schemas the routes validate with.
    expect(Object.keys(r.body.paths["/tokens"].post.requestBody.content["application/json"].schema.properties)).toEqual(["name", "admin", "project", "role", "expires_in"]);
    expect(r.body.paths["/admin/managed-db/instances"].post.requestBody.content["application/json"].schema.required).toContain("engine_version");
    expect(r.body.paths["/projects/{project}/envs/{env}/deploy"].post.requestBody.content["application/json"].schema.required).toEqual(["manifest"]);
  });

  test("logs are JSON lines with request ids and never a token", async () => {
    await cp.request("GET", "/whoami", { headers: { "x-request-id": "log-check" } });
    const line = cp.logs.map((l) => JSON.parse(l)).find((l) => l.request_id === "log-check");
    expect(line).toMatchObject({ level: "info", msg: "request", method: "GET", path: "/whoami", status: 200 });
    expect(cp.logs.join("")).not.toContain(cp.adminToken);
  });
});

describe("projects, deploy and the tenant", () => {
  test("deploy provisions once, then re-asserts; status and render show it; an op runs on it", async () => {
    expect((await cp.request("POST", "/projects", { body: { name: "shop" } })).status).toBe(201);
    const d1 = await cp.request("POST", "/projects/shop/envs/staging/deploy", { body: { manifest: manifest() } });
    expect(d1.status).toBe(200);
    expect(d1.body.services.map((s: { action: string }) => s.action)).toEqual(["provisioned"]);
    const d2 = await cp.request("POST", "/projects/shop/envs/staging/deploy", { body: { manifest: manifest() } });
    expect(d2.body.services.map((s: { action: string }) => s.action)).toEqual(["unchanged"]);

    const st = await cp.request("GET", "/projects/shop/envs/staging/db/managed");
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ service: "db", status: "ready", class: "db.p1", engine_version: "15" });
    expect(st.text).not.toMatch(/password/i);

    const hidden = await cp.request("GET", "/projects/shop/envs/staging/render");
    expect(hidden.body.services.api.environment.DATABASE_URL).toContain(":********@");
    const shown = await cp.request("GET", "/projects/shop/envs/staging/render?show_secrets=true");
    const url = shown.body.services.api.environment.DATABASE_URL as string;
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      expect((await sql`select current_user as u, current_setting('role') as r`)[0]).toMatchObject({ r: expect.stringMatching(/_owner$/) });
    } finally {
      await sql.end();
    }

    const path = "/projects/shop/envs/staging/db/migrations";
    const json = await cp.request("POST", path, { body: { migrations: [{ name: "20260101000000_a.sql", sql: "create table a (id int);" }] } });
    expect([json.status, json.status === 200 ? "" : json.text]).toEqual([200, ""]);
    expect(json.body.summary).toMatchObject({ applied: 0, pending: 1 });
    // A read operation with an all-default input is also a GET (the original platform's paths).
    const viaGet = await cp.request("GET", path);
    expect([viaGet.status, viaGet.body.summary?.pending]).toEqual([200, 0]);
    const streamed = await cp.request("POST", path, { body: {}, headers: { accept: NDJSON } });
    expect(streamed.headers.get("content-type")).toContain(NDJSON);
    const frames = streamed.text.trim().split("\n").map((l) => JSON.parse(l));
    expect(frames.at(-1).result.summary).toMatchObject({ applied: 0, pending: 0 });
  }, 120_000);

  test("bad manifests are 4xx and change nothing", async () => {
    const before = await cp.db`select count(*)::int as n from eve_platform.tenants`;
    for (const [m, code] of [
      ["services: [", "E_MANIFEST"],
      [manifest("db.p9"), "E_MANIFEST"],
      [manifest().replace("${managed.db.url}", "${managed.nope.url}"), "E_MANIFEST"],
      [manifest().replace("  api:", "  DB:\n    x-eve: {role: managed_db, managed: {class: db.p1, engine: postgres}}\n  api:"), "E_MANIFEST"],
    ] as const) {
      const r = await cp.request("POST", "/projects/shop/envs/broken/deploy", { body: { manifest: m } });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.body.error.code).toBe(code);
    }
    const trav = await cp.request("POST", "/projects/shop/envs/..%2F..%2Fetc/deploy", { body: { manifest: manifest() } });
    expect(trav.status).toBeGreaterThanOrEqual(400);
    expect(trav.status).toBeLessThan(500);
    const sqlName = await cp.request("POST", `/projects/shop/envs/${encodeURIComponent("x'; drop table t; --")}/deploy`, { body: { manifest: manifest() } });
    expect(sqlName.status).toBe(400);
    expect((await cp.db`select count(*)::int as n from eve_platform.tenants`)[0]).toEqual(before[0]!);
  }, 60_000);
});

describe("Idempotency-Key", () => {
  test("a retried create answers the first response without creating again; another body with the key is 422", async () => {
    const h = { "idempotency-key": "create-proj-1" };
    const first = await cp.request("POST", "/projects", { body: { name: "idem" }, headers: h });
    const again = await cp.request("POST", "/projects", { body: { name: "idem" }, headers: h });
    expect(first.status).toBe(201);
    expect([again.status, again.body, again.headers.get("idempotent-replayed")]).toEqual([201, first.body, "true"]);
    const other = await cp.request("POST", "/projects", { body: { name: "idem2" }, headers: h });
    expect([other.status, other.body.error.code]).toEqual([422, "E_IDEMPOTENCY"]);
    const bad = await cp.request("POST", "/projects", { body: { name: "idem3" }, headers: { "idempotency-key": "has space" } });
    expect([bad.status, bad.body.error.code]).toEqual([400, "E_USAGE"]);
    // A failed first attempt is not remembered: the retry runs.
    const k = { "idempotency-key": "dup-then-ok" };
    expect((await cp.request("POST", "/projects", { body: { name: "idem" }, headers: k })).status).toBe(409);
    expect((await cp.request("POST", "/projects", { body: { name: "idem4" }, headers: k })).status).toBe(201);
    expect((await cp.db`select count(*)::int as n from eve_platform.projects where name like 'idem%'`)[0]!.n).toBe(2);
  });
  test("keys are per token: another token's same key is a new request", async () => {
    const { createToken } = await import("../../../plugins/platform/tokens.ts");
    const other = (await createToken(cp.db, { name: "second-admin", admin: true })).token;
    const h = { "idempotency-key": "shared-key" };
    expect((await cp.request("POST", "/projects", { body: { name: "pk-a" }, headers: h })).status).toBe(201);
    expect((await cp.request("POST", "/projects", { body: { name: "pk-b" }, headers: h, token: other })).status).toBe(201);
  });
});

describe("reconciling a manifest", () => {
  test("a class change is applied (limits re-asserted), a removed service is reported and kept, a drained instance takes no new tenant", async () => {
    expect((await cp.request("POST", "/projects", { body: { name: "tiers" } })).status).toBe(201);
    const two = manifest().replace("  api:", "  cache:\n    x-eve:\n      role: managed_db\n      managed: {class: db.p1, engine: postgres}\n  api:");
    const d1 = await cp.request("POST", "/projects/tiers/envs/dev/deploy", { body: { manifest: two } });
    expect(d1.body.services.map((s: { service: string; action: string }) => `${s.service}:${s.action}`)).toEqual(["db:provisioned", "cache:provisioned"]);
    // db.p1 → db.p2 for db; cache removed from the manifest.
    const d2 = await cp.request("POST", "/projects/tiers/envs/dev/deploy", { body: { manifest: manifest("db.p2") } });
    expect(d2.status).toBe(200);
    expect(d2.body.services.map((s: { service: string; action: string; class: string }) => `${s.service}:${s.action}:${s.class}`)).toEqual(["db:modified:db.p2"]);
    expect(d2.body.removed).toEqual(["cache"]);
    const st = await cp.request("GET", "/projects/tiers/envs/dev/db/managed?service=db");
    expect(st.body).toMatchObject({ class: "db.p2", status: "ready", tier: { connection_limit: 100 } });
    const cache = await cp.request("GET", "/projects/tiers/envs/dev/db/managed?service=cache");
    expect(cache.body.status).toBe("ready");
    const ambiguous = await cp.request("GET", "/projects/tiers/envs/dev/db/managed");
    expect([ambiguous.status, ambiguous.body.error.code]).toEqual([400, "E_USAGE"]);

    // Drain every instance: a new environment cannot be placed, and nothing is written.
    const list = await cp.request("GET", "/admin/managed-db/instances");
    for (const i of list.body.items) expect((await cp.request("POST", `/admin/managed-db/instances/${i.id}/drain`, { body: {} })).body.status).toBe("draining");
    const before = (await cp.db`select count(*)::int as n from eve_platform.tenants`)[0]!.n;
    const refused = await cp.request("POST", "/projects/tiers/envs/qa/deploy", { body: { manifest: manifest() } });
    expect([refused.status, refused.body.error.code]).toEqual([422, "E_NO_INSTANCE"]);
    expect((await cp.db`select count(*)::int as n from eve_platform.tenants`)[0]!.n).toBe(before);
    // Existing tenants are unaffected by the drain.
    expect((await cp.request("POST", "/projects/tiers/envs/dev/deploy", { body: { manifest: manifest("db.p2") } })).body.services[0].action).toBe("unchanged");
    await cp.db`update eve_platform.instances set status = 'active'`;
  }, 120_000);

  test("a 50 MB body is refused with 413 before it is read whole", async () => {
    const r = await cp.request("POST", "/projects/shop/envs/staging/deploy", { raw: JSON.stringify({ manifest: "x".repeat(50 * 1024 * 1024) }), headers: { "content-type": "application/json" } });
    expect([r.status, r.body.error.code]).toEqual([413, "E_TOO_LARGE"]);
  }, 60_000);
});

describe("the busy-tenant lock", () => {
  test("a running operation whose replica stopped heart-beating is taken over; a live one is 409", async () => {
    const { lockTenant } = await import("../../../plugins/platform/tenants.ts");
    const [t] = await cp.db<{ id: string }[]>`select id from eve_platform.tenants where deleted_at is null order by created_at limit 1`;
    const held = await lockTenant(cp.db, t!.id, "db.migrate", "replica-a");
    const busy = await lockTenant(cp.db, t!.id, "db.wipe", "replica-b").catch((e) => e);
    expect([busy.code, busy.details.operation_id]).toEqual(["E_BUSY", held.id]);
    // replica-a dies: its heartbeat ages past the staleness window (by the database clock).
    await cp.db`update eve_platform.operations set heartbeat_at = now() - interval '1 minute' where id = ${held.id}`;
    const next = await lockTenant(cp.db, t!.id, "db.wipe", "replica-b");
    const rows = await cp.db<{ id: string; status: string; error: { code: string } | null }[]>`select id, status, error from eve_platform.operations where id in (${held.id}, ${next.id}) order by started_at`;
    expect(rows.map((r) => [r.id, r.status, r.error?.code ?? null])).toEqual([
      [held.id, "failed", "E_STALE"],
      [next.id, "running", null],
    ]);
    await next.release();
    // The dead replica's late release cannot clobber the state of an operation that is no longer its own.
    await held.release();
    const after = await cp.db<{ id: string; status: string }[]>`select id, status from eve_platform.operations where id in (${held.id}, ${next.id}) order by started_at`;
    expect(after.map((r) => r.status)).toEqual(["failed", "succeeded"]);
  });
});

describe("objects a login role takes for itself", () => {
  test("the next deploy gives them to the owner role, so the read-only role reads them", async () => {
    const shown = await cp.request("GET", "/projects/shop/envs/staging/render?show_secrets=true");
    const env = shown.body.services.api.environment as { DATABASE_URL: string; RO: string };
    const login = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      // Stepping out of the owner role: the table is the login role's own.
      await login.unsafe("set role none; create table mine (x int); insert into mine values (1); reset role");
      expect((await login`select tableowner from pg_tables where tablename = 'mine'`)[0]!.tableowner).toMatch(/_a$/);
    } finally {
      await login.end();
    }
    const ro = postgres(env.RO, { max: 1, onnotice: () => {} });
    try {
      await expect(ro`select x from mine`).rejects.toThrow(/permission denied/);
      const d = await cp.request("POST", "/projects/shop/envs/staging/deploy", { body: { manifest: manifest() } });
      expect(d.body.services[0].action).toBe("unchanged");
      expect((await ro`select x from mine`).map((r) => r.x)).toEqual([1]);
      expect((await ro`select tableowner from pg_tables where tablename = 'mine'`)[0]!.tableowner).toMatch(/_owner$/);
    } finally {
      await ro.end();
    }
  }, 60_000);
});

describe("many deploys at once", () => {
  test("more concurrent deploys of one environment than the platform pool has connections: all finish, one tenant", async () => {
    expect((await cp.request("POST", "/projects", { body: { name: "crowd" } })).status).toBe(201);
    const runs = await Promise.all(Array.from({ length: 14 }, () => cp.request("POST", "/projects/crowd/envs/dev/deploy", { body: { manifest: manifest() } })));
    expect(runs.map((r) => r.status)).toEqual(Array(14).fill(200));
    expect(runs.map((r) => r.body.services[0].action).sort()).toEqual(["provisioned", ...Array(13).fill("unchanged")]);
  }, 120_000);
});

describe("placement", () => {
  test("a full instance is skipped even when it is the least loaded: the next one with room takes the tenant", async () => {
    const small = await cp.addInstance({ maxTenants: 1 });
    expect((await cp.request("POST", "/projects", { body: { name: "place" } })).status).toBe(201);
    const first = await cp.request("POST", "/projects/place/envs/a/deploy", { body: { manifest: manifest() } });
    expect(first.body.services[0].instance_id).toBe(small.id);
    // The small instance is now full with 1 tenant, fewer than the other's: the other takes the next one.
    const second = await cp.request("POST", "/projects/place/envs/b/deploy", { body: { manifest: manifest() } });
    expect([second.status, second.body.services?.[0]?.instance_id === small.id]).toEqual([200, false]);
  }, 120_000);
});
