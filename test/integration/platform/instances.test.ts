import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { close, connect } from "../../../core/db/index.ts";
import { EveError } from "../../../core/errors.ts";
import { loadMasterKey, type MasterKey } from "../../../core/secrets.ts";
import { newId } from "../../../plugins/platform/ids.ts";
import {
  drainInstance,
  getInstance,
  instanceAdminUrl,
  instanceJson,
  listInstances,
  registerInstance,
  type InstanceInput,
} from "../../../plugins/platform/instances.ts";
import { adminUrl, withSql } from "../../helpers/db.ts";
import { freePort } from "../../helpers/pg.ts";
import { createRole, dropRoles } from "../../helpers/roles.ts";
import { platformDb, type PlatformDb } from "./fixture.ts";

let p: PlatformDb;
let key: MasterKey;
let server: { host: string; port: number; user: string; password: string; major: string; version: string };
let seq = 0;

beforeAll(async () => {
  p = await platformDb();
  key = await loadMasterKey({ EVE_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") });
  const u = new URL(await adminUrl());
  const [v] = await withSql(u.toString(), (sql) => sql`select current_setting('server_version_num')::int as n, current_setting('server_version') as v`);
  server = { host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), major: String(Math.floor(v!.n / 10000)), version: String(v!.v).split(" ")[0]! };
});
afterAll(async () => {
  await p.done();
  await dropRoles([]);
});

/** A valid registration for the test server as its superuser, with a new provider id. */
const input = (over: Partial<InstanceInput> = {}): InstanceInput => ({
  provider: "local",
  provider_instance_id: `pg-${process.pid}-${seq++}`,
  region: "local",
  engine: "postgres",
  engine_version: server.major,
  host: server.host,
  port: server.port,
  admin_user: server.user,
  admin_password: server.password,
  instance_class: "db.p1",
  ...over,
});

async function failure(f: Promise<unknown>): Promise<EveError> {
  const e = await f.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(EveError);
  return e as EveError;
}

const instanceCount = async () => (await p.db`select count(*)::int as n from eve_platform.instances`)[0]!.n as number;

describe("registerInstance", () => {
  test("registers a reachable instance with defaults; the password is stored encrypted and decrypts to a working URL", async () => {
    const inst = await registerInstance(p.db, key, input({ provider_instance_id: "main" }));
    expect(inst).toMatchObject({ provider: "local", providerInstanceId: "main", engineVersion: server.major, port: server.port, adminDatabase: "postgres", maxTenants: 50, status: "active", tenantCount: 0 });
    expect(inst.id).toMatch(/^mdbi_[0-9a-z]{26}$/);
    const [row] = await p.db`select admin_password_enc, to_jsonb(i)::text as all from eve_platform.instances i where id = ${inst.id}`;
    expect(row!.admin_password_enc).toMatch(/^v1:/);
    expect(row!.all).not.toContain(server.password);
    const json = instanceJson(inst);
    expect(JSON.stringify(json)).not.toContain(server.password);
    expect(Object.keys(json)).not.toContain("admin_password");
    expect(Object.keys(json)).not.toContain("admin_password_enc");
    expect(json).toMatchObject({ id: inst.id, provider_instance_id: "main", engine_version: server.major, tenant_count: 0, status: "active" });
    const url = await instanceAdminUrl(key, inst);
    const db = connect(url);
    try {
      expect((await db`select current_user as u`)[0]!.u).toBe(server.user);
    } finally {
      await close(db);
    }
  });

  test("a duplicate (provider, provider_instance_id) is E_CONFLICT, also when registered concurrently", async () => {
    const first = await registerInstance(p.db, key, input({ provider_instance_id: "dup" }));
    const e = await failure(registerInstance(p.db, key, input({ provider_instance_id: "dup" })));
    expect(e.code).toBe("E_CONFLICT");
    expect(e.message).toContain(first.id);
    const both = await Promise.allSettled([1, 2, 3].map(() => registerInstance(p.db, key, input({ provider_instance_id: "race" }))));
    expect(both.filter((r) => r.status === "fulfilled").length).toBe(1);
    for (const r of both) if (r.status === "rejected") expect(r.reason.code).toBe("E_CONFLICT");
  });

  test("a wrong engine_version is refused naming the real version", async () => {
    const before = await instanceCount();
    const wrong = String(Number(server.major) + 1);
    const e = await failure(registerInstance(p.db, key, input({ engine_version: wrong })));
    expect(e.code).toBe("E_ENGINE_VERSION");
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe(`instance ${server.host}:${server.port} runs PostgreSQL ${server.version} but engine_version is ${wrong}`);
    expect(await instanceCount()).toBe(before);
  });

  test("an admin role without the privileges it needs is refused naming exactly what is missing", async () => {
    const before = await instanceCount();
    const none = await createRole("inst_nopriv", "NOCREATEDB NOCREATEROLE");
    const e1 = await failure(registerInstance(p.db, key, input({ admin_user: none.name, admin_password: none.password })));
    expect(e1.code).toBe("E_INSTANCE_PRIVILEGES");
    expect(e1.exitCode).toBe(4);
    expect(e1.message).toBe(`admin role "${none.name}" on ${server.host}:${server.port} needs CREATEDB and CREATEROLE (or superuser)`);
    expect(e1.message + e1.hint).not.toContain(none.password);

    const dbOnly = await createRole("inst_dbonly", "CREATEDB NOCREATEROLE");
    const e2 = await failure(registerInstance(p.db, key, input({ admin_user: dbOnly.name, admin_password: dbOnly.password })));
    expect(e2.message).toBe(`admin role "${dbOnly.name}" on ${server.host}:${server.port} needs CREATEROLE (or superuser)`);
    expect(await instanceCount()).toBe(before);

    const both = await createRole("inst_both", "CREATEDB CREATEROLE");
    const ok = await registerInstance(p.db, key, input({ admin_user: both.name, admin_password: both.password }));
    expect(ok.adminUser).toBe(both.name);
  });

  test("an unreachable port is E_INSTANCE_UNREACHABLE naming host:port, never the password", async () => {
    const port = await freePort();
    const e = await failure(registerInstance(p.db, key, input({ port, admin_password: "Sup3r-S3cret-pw" })));
    expect(e.code).toBe("E_INSTANCE_UNREACHABLE");
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(`${server.host}:${port}`);
    expect(`${e.message} ${e.hint} ${JSON.stringify(e.details ?? {})}`).not.toContain("Sup3r-S3cret-pw");
  });

  test("rejected credentials are E_INSTANCE_LOGIN without the password", async () => {
    const e = await failure(registerInstance(p.db, key, input({ admin_password: "wrong-Pa55word" })));
    expect(e.code).toBe("E_INSTANCE_LOGIN");
    expect(e.message).toContain(`${server.host}:${server.port}`);
    expect(`${e.message} ${e.hint}`).not.toContain("wrong-Pa55word");
  });

  test("invalid bodies are E_USAGE naming the field; nothing is probed or stored", async () => {
    const before = await instanceCount();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ provider: "AWS RDS" }, "provider"],
      [{ engine: "mysql" }, "engine"],
      [{ engine_version: "16.2" }, "engine_version"],
      [{ host: "db.example.com/../../x" }, "host"],
      [{ host: "h?sslmode=disable" }, "host"],
      [{ port: 70000 }, "port"],
      [{ port: "5432" }, "port"],
      [{ max_tenants: 0 }, "max_tenants"],
      [{ admin_password: "" }, "admin_password"],
      [{ provider_instance_id: "a\nb" }, "provider_instance_id"],
      [{ adminPassword: "camel-Secret" }, "adminPassword"],
    ];
    for (const [over, field] of cases) {
      const e = await failure(registerInstance(p.db, key, { ...input(), ...over }));
      expect(e.code).toBe("E_USAGE");
      expect(e.message).toContain(field);
      expect(e.message).not.toContain(server.password);
    }
    const { admin_password: _, ...missing } = input();
    expect((await failure(registerInstance(p.db, key, missing))).message).toContain("admin_password");
    expect(await instanceCount()).toBe(before);
  });
});

describe("reading and draining", () => {
  test("get, list (paged, newest first), drain; tenant counts exclude deleted tenants", async () => {
    const q = await platformDb(2);
    try {
      const a = await registerInstance(q.db, key, input());
      const b = await registerInstance(q.db, key, input({ max_tenants: 2 }));
      const proj = newId("proj");
      const env = newId("env");
      await q.db`insert into eve_platform.projects (id, name) values (${proj}, 'p')`;
      await q.db`insert into eve_platform.environments (id, project_id, name) values (${env}, ${proj}, 'dev')`;
      for (const [svc, deleted] of [["one", false], ["two", true]] as const) {
        await q.db`insert into eve_platform.tenants (id, project_id, env_id, service_name, instance_id, db_name, owner_role, login_roles, readonly_role, class, engine_version, deleted_at)
          values (${newId("mdbt")}, ${proj}, ${env}, ${svc}, ${a.id}, ${"db_" + svc}, 'o', ${"{l1,l2}"}::text[], 'ro', 'db.p1', '16', ${deleted ? new Date() : null})`;
      }
      expect((await getInstance(q.db, a.id)).tenantCount).toBe(1);
      const page1 = await listInstances(q.db, { limit: 1 });
      expect(page1.items.map((i) => i.id)).toEqual([b.id]);
      const page2 = await listInstances(q.db, { limit: 1, cursor: page1.next_cursor });
      expect(page2.items.map((i) => [i.id, i.tenantCount])).toEqual([[a.id, 1]]);
      expect(page2.next_cursor).toBeNull();

      const drained = await drainInstance(q.db, a.id);
      expect(drained).toMatchObject({ id: a.id, status: "draining", tenantCount: 1 });
      const again = await drainInstance(q.db, a.id);
      expect(again.updatedAt).toEqual(drained.updatedAt);
      expect((await getInstance(q.db, a.id)).status).toBe("draining");
      expect((await getInstance(q.db, b.id)).status).toBe("active");
    } finally {
      await q.done();
    }
  });

  test("unknown or malformed ids are E_NOT_FOUND", async () => {
    for (const id of ["mdbi_00000000000000000000000000", "mdbi_' or 1=1--", "../admin", ""]) {
      expect((await failure(getInstance(p.db, id))).code).toBe("E_NOT_FOUND");
      expect((await failure(drainInstance(p.db, id))).code).toBe("E_NOT_FOUND");
    }
  });

  test("a password ciphertext moved to another instance's row does not decrypt; another key cannot decrypt", async () => {
    const a = await registerInstance(p.db, key, input());
    const b = await registerInstance(p.db, key, input());
    await p.db`update eve_platform.instances set admin_password_enc = (select admin_password_enc from eve_platform.instances where id = ${a.id}) where id = ${b.id}`;
    const moved = await getInstance(p.db, b.id);
    const e = await failure(instanceAdminUrl(key, moved));
    expect(e.code).toBe("E_SECRET_DECRYPT");
    expect(e.message).not.toContain(server.password);
    const other = await loadMasterKey({ EVE_MASTER_KEY: "ab".repeat(32) });
    expect((await failure(instanceAdminUrl(other, await getInstance(p.db, a.id)))).code).toBe("E_SECRET_DECRYPT");
  });
});
