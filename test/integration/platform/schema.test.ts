import { afterAll, describe, expect, test } from "bun:test";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { ensurePlatformSchema, PLATFORM_MIGRATIONS, platformStatus } from "../../../plugins/platform/migrations.ts";
import { isId, newId } from "../../../plugins/platform/ids.ts";
import { dropDatabases, freshDatabase } from "../../helpers/db.ts";
import { runMigrate } from "./fixture.ts";

const urls: string[] = [];
const pools: Db[] = [];

async function freshPool(max = 4): Promise<Db> {
  const url = await freshDatabase("plats");
  urls.push(url);
  const db = connect(url, { max });
  pools.push(db);
  return db;
}

afterAll(async () => {
  for (const p of pools) await close(p);
  await dropDatabases(urls);
});

const tables = async (db: Db) =>
  (await db`select tablename from pg_tables where schemaname = 'eve_platform' order by 1`).map((r) => r.tablename as string);

describe("ids", () => {
  test("prefix + 26 lowercase base32 characters, unique and in creation order even within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => newId("mdbt"));
    for (const id of ids.slice(0, 50)) {
      expect(id).toMatch(/^mdbt_[0-9a-hjkmnp-tv-z]{26}$/);
      expect(isId("mdbt", id)).toBe(true);
      expect(isId("mdbi", id)).toBe(false);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The first 10 characters are the time in milliseconds.
    const t = Number.parseInt([...ids[0]!.slice(5, 15)].map((c) => "0123456789abcdefghjkmnpqrstvwxyz".indexOf(c).toString(32)).join(""), 32);
    expect(Math.abs(t - Date.now())).toBeLessThan(60_000);
    for (const bad of ["mdbt_", "mdbt_" + "i".repeat(26), "mdbt_" + "0".repeat(25), "mdbt_" + "0".repeat(27), "MDBT_" + "0".repeat(26)]) expect(isId("mdbt", bad)).toBe(false);
  });
});

describe("platform schema", () => {
  test("migration names follow the file rule", () => {
    for (const m of PLATFORM_MIGRATIONS) expect(m.name).toMatch(/^(\d{14})_([a-z0-9_]+)\.sql$/);
  });

  test("a new database: pending until ensured, then every table exists in eve_platform and the status is current", async () => {
    const db = await freshPool();
    expect(await platformStatus(db)).toEqual({ current: false, pending: PLATFORM_MIGRATIONS.map((m) => m.name) });
    await ensurePlatformSchema(db, runMigrate);
    expect(await tables(db)).toEqual(["environments", "idempotency", "instances", "operations", "projects", "schema_migrations", "settings", "tenants", "tokens"]);
    expect(await platformStatus(db)).toEqual({ current: true, pending: [] });
    // Nothing leaked into public, and the pool's sessions keep their own search_path.
    expect((await db`select count(*)::int as n from pg_tables where schemaname = 'public'`)[0]!.n).toBe(0);
    const paths = await Promise.all([1, 2, 3, 4].map(() => db`select current_setting('search_path') as p, pg_sleep(0.05)`));
    for (const [r] of paths) expect(r!.p).toBe('"$user", public');
  });

  test("running it again is a no-op (no new history rows, no errors)", async () => {
    const db = await freshPool();
    await ensurePlatformSchema(db, runMigrate);
    const before = await db`select name, applied_at from eve_platform.schema_migrations order by name`;
    let migrated = 0;
    await ensurePlatformSchema(db, async (d, files) => {
      migrated++;
      return runMigrate(d, files);
    });
    expect(migrated).toBe(1);
    expect(await db`select name, applied_at from eve_platform.schema_migrations order by name`).toEqual(before);
  });

  test("two concurrent calls on one database both succeed and apply each file once", async () => {
    const url = await freshDatabase("platc");
    urls.push(url);
    const a = connect(url, { max: 2 });
    const b = connect(url, { max: 2 });
    pools.push(a, b);
    await Promise.all([ensurePlatformSchema(a, runMigrate), ensurePlatformSchema(b, runMigrate)]);
    const rows = await a`select name from eve_platform.schema_migrations order by name`;
    expect(rows.map((r) => r.name)).toEqual(PLATFORM_MIGRATIONS.map((m) => m.name));
    expect(await platformStatus(b)).toEqual({ current: true, pending: [] });
  });

  test("constraints hold: token scope, tenant uniqueness among live rows, one running operation per tenant", async () => {
    const db = await freshPool();
    await ensurePlatformSchema(db, runMigrate);
    const hash = (n: number) => new Uint8Array(32).fill(n);
    // admin xor project
    const proj = newId("proj");
    await db`insert into eve_platform.projects (id, name) values (${proj}, 'p')`;
    const bad = await db`insert into eve_platform.tokens (id, name, hash, prefix, admin, project_id, role) values (${newId("tok")}, 'x', ${hash(1)}, 'eve_pat_x', true, ${proj}, 'read')`.catch((e) => e);
    expect(bad.code).toBe("23514");
    const none = await db`insert into eve_platform.tokens (id, name, hash, prefix, admin) values (${newId("tok")}, 'x', ${hash(2)}, 'eve_pat_x', false)`.catch((e) => e);
    expect(none.code).toBe("23514");
    const badId = await db`insert into eve_platform.projects (id, name) values ('proj_../../etc', 'q')`.catch((e) => e);
    expect(badId.code).toBe("23514");
    const badName = await db`insert into eve_platform.projects (id, name) values (${newId("proj")}, 'Robert''); drop table x;--')`.catch((e) => e);
    expect(badName.code).toBe("23514");

    const env = newId("env");
    await db`insert into eve_platform.environments (id, project_id, name) values (${env}, ${proj}, 'dev')`;
    const inst = newId("mdbi");
    await db`insert into eve_platform.instances (id, provider, provider_instance_id, region, engine, engine_version, host, port, admin_user, admin_password_enc, instance_class, max_tenants)
             values (${inst}, 'local', 'a', 'r', 'postgres', '16', 'h', 5432, 'u', 'v1:x', 'db.p1', 50)`;
    const tenant = async (db_name: string, deleted = false) =>
      db`insert into eve_platform.tenants (id, project_id, env_id, service_name, instance_id, db_name, owner_role, login_roles, readonly_role, class, engine_version, deleted_at)
         values (${newId("mdbt")}, ${proj}, ${env}, 'db', ${inst}, ${db_name}, 'o', ${"{l1,l2}"}::text[], 'ro', 'db.p1', '16', ${deleted ? new Date() : null})
         returning id`;
    const [t1] = await tenant("d1", true);
    const [t2] = await tenant("d2");
    expect((await tenant("d3").catch((e) => e)).code).toBe("23505");

    await db`insert into eve_platform.operations (id, tenant_id, name) values (${newId("op")}, ${t2!.id}, 'migrate')`;
    const second = await db`insert into eve_platform.operations (id, tenant_id, name) values (${newId("op")}, ${t2!.id}, 'sql')`.catch((e) => e);
    expect(second.code).toBe("23505");
    await db`insert into eve_platform.operations (id, tenant_id, name) values (${newId("op")}, ${t1!.id}, 'sql')`;
  });
});
