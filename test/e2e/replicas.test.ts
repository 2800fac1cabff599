/**
 * Several `eve server` processes on one platform database, for real: two
 * replicas deploying the same environment at once, a replica killed -9 in the
 * middle of provisioning and the deploy finished by the other, the busy-tenant
 * lock seen across replicas, and a graceful SIGTERM that lets a running
 * request finish.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NDJSON } from "../../core/http/wire.ts";
import { newPlatform, startServer, type EveServer, type Platform } from "../helpers/eve-server.ts";
import { startInstance, type TestInstance } from "../helpers/pg-instance.ts";

const manifest = (ext = "[pgcrypto]") => `services:
  db:
    x-eve:
      role: managed_db
      managed: {class: db.p1, engine: postgres, engine_version: "15", extensions: ${ext}}
`;

let platform: Platform;
let a: EveServer;
let b: EveServer;
let instance: TestInstance;

async function call(s: EveServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${platform.adminToken}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, text };
}

const errorLines = (s: EveServer) => s.stderr().split("\n").filter((l) => l.includes('"level":"error"'));

beforeAll(async () => {
  platform = await newPlatform();
  instance = await startInstance();
  [a, b] = await Promise.all([startServer(platform), startServer(platform)]);
  const reg = await call(a, "POST", "/admin/managed-db/instances", {
    provider: "local",
    provider_instance_id: "one",
    region: "local",
    engine_version: "15",
    host: "127.0.0.1",
    port: instance.port,
    admin_user: "postgres",
    admin_password: instance.cluster.password,
    instance_class: "db.p1",
  });
  expect(reg.status).toBe(201);
  expect((await call(b, "POST", "/projects", { name: "shop" })).status).toBe(201);
}, 180_000);

afterAll(async () => {
  await Promise.all([a?.stop("SIGKILL"), b?.stop("SIGKILL")]);
  instance?.stop();
});

describe("two replicas, one platform database", () => {
  test("deploying the same environment on both at once makes one tenant and no error", async () => {
    const [ra, rb] = await Promise.all([
      call(a, "POST", "/projects/shop/envs/dual/deploy", { manifest: manifest() }),
      call(b, "POST", "/projects/shop/envs/dual/deploy", { manifest: manifest() }),
    ]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    expect([ra.body.services[0].action, rb.body.services[0].action].sort()).toEqual(["provisioned", "unchanged"]);
    expect(ra.body.services[0].tenant_id).toBe(rb.body.services[0].tenant_id);
    const st = await call(a, "GET", "/projects/shop/envs/dual/db/managed");
    expect(st.body.status).toBe("ready");
    const dbs = await instance.sql("select count(*)::int as n from pg_database where datname like 't\\_%'");
    expect(dbs[0]!.n).toBe(1);
    expect([...errorLines(a), ...errorLines(b)]).toEqual([]);
  }, 120_000);

  test("a replica killed -9 while provisioning: the other finishes the deploy (resumed, one tenant)", async () => {
    const doomed = await startServer(platform);
    const started = call(doomed, "POST", "/projects/shop/envs/crash/deploy", { manifest: manifest("[pgcrypto, citext, hstore, pg_trgm]") }).catch((e) => e);
    // Kill it once provisioning has begun (its log names each step).
    for (let i = 0; i < 400 && !/"msg":"provisioning"/.test(doomed.stderr()); i++) await Bun.sleep(5);
    expect(doomed.stderr()).toMatch(/"msg":"provisioning"/);
    await doomed.stop("SIGKILL");
    await started;
    const r = await call(b, "POST", "/projects/shop/envs/crash/deploy", { manifest: manifest("[pgcrypto, citext, hstore, pg_trgm]") });
    expect([r.status, r.status === 200 ? "" : r.text]).toEqual([200, ""]);
    expect(["retried", "unchanged"]).toContain(r.body.services[0].action);
    const st = await call(a, "GET", "/projects/shop/envs/crash/db/managed");
    expect(st.body).toMatchObject({ status: "ready", extensions: ["pgcrypto", "citext", "hstore", "pg_trgm"] });
    expect(st.body.installed_extensions.map((e: { name: string }) => e.name).sort()).toEqual(["citext", "hstore", "pg_trgm", "pgcrypto"]);
    const envTenants = await call(a, "GET", "/projects/shop/envs");
    expect(envTenants.body.items.find((e: { name: string }) => e.name === "crash").databases).toHaveLength(1);
  }, 120_000);

  test("a write operation on a busy tenant is 409 naming the running one, whichever replica gets it", async () => {
    const slow = fetch(a.url + "/projects/shop/envs/dual/db/sql", {
      method: "POST",
      headers: { authorization: `Bearer ${platform.adminToken}`, "content-type": "application/json", accept: NDJSON },
      body: JSON.stringify({ sql: "select pg_sleep(1.5)", source: "--sql", params: null, write: true }),
    }).then((r) => r.text());
    await Bun.sleep(500);
    const busy = await call(b, "POST", "/projects/shop/envs/dual/db/migrate", { migrations: [] });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe("E_BUSY");
    expect(busy.body.error.details.operation_id).toMatch(/^op_/);
    // Reads are not blocked by a write.
    expect((await call(b, "POST", "/projects/shop/envs/dual/db/migrations", {})).status).toBe(200);
    expect(await slow).toContain('"result"');
    expect((await call(b, "POST", "/projects/shop/envs/dual/db/migrate", { migrations: [] })).status).toBe(200);
  }, 60_000);

  test("SIGTERM: the running request finishes, then the replica exits 0", async () => {
    const c = await startServer(platform);
    const running = fetch(c.url + "/projects/shop/envs/dual/db/sql", {
      method: "POST",
      headers: { authorization: `Bearer ${platform.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ sql: "select pg_sleep(1) as slept", source: "--sql", params: null, write: false }),
    });
    await Bun.sleep(300);
    const exit = c.stop("SIGTERM");
    const res = await running;
    expect(res.status).toBe(200);
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(c.stderr()).toMatch(/"msg":"stopped"/);
  }, 60_000);
});
