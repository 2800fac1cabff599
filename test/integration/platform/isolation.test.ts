/**
 * Isolation between two tenants on one hardened instance, as tenant A's own
 * roles logging in with their passwords over TCP, for tenants provisioned by a
 * superuser admin and by a CREATEDB CREATEROLE admin.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import {
  dropTenant,
  hardenInstance,
  provisionTenant,
  reconcileLimits,
  tenantNames,
  tenantUrl,
  type ProvisionSpec,
  type TenantNames,
} from "../../../plugins/platform/provision.ts";
import { loginUrl, startInstance, type TestInstance } from "../../helpers/pg-instance.ts";

const TIER = { connectionLimit: 10, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 60_000 };
let inst: TestInstance;

beforeAll(async () => {
  inst = await startInstance();
  expect(await hardenInstance(inst.adminUrl)).toEqual({ hardened: [], skipped: ["postgres", "template1"] }); // owns neither
  expect(await hardenInstance(inst.superUrl)).toEqual({ hardened: ["postgres", "template1"], skipped: [] });
  // The platform's non-superuser admin keeps its maintenance database.
  await inst.sql(`grant connect on database postgres to ${inst.adminUser}`);
});
afterAll(() => inst?.stop());

interface Tenant {
  spec: ProvisionSpec;
  n: TenantNames;
  login: string;
  readonly: string;
}

async function provision(adminUrl: string, label: string, extensions: string[]): Promise<Tenant> {
  const spec: ProvisionSpec = {
    tenantId: `mdbt_${label}${Math.random().toString(36).slice(2, 10)}`,
    class: TIER,
    extensions,
    loginPassword: "L" + Math.random().toString(36).slice(2),
    readonlyPassword: "R" + Math.random().toString(36).slice(2),
  };
  await provisionTenant(adminUrl, spec);
  const n = tenantNames(spec.tenantId);
  return { spec, n, login: tenantUrl(inst, n, "login", spec.loginPassword), readonly: tenantUrl(inst, n, "readonly", spec.readonlyPassword) };
}

/** Run statements on one session of `url`; returns the last statement's rows. */
async function run(url: string, ...statements: string[]): Promise<Record<string, unknown>[]> {
  const c = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    let rows: Record<string, unknown>[] = [];
    for (const s of statements) rows = [...(await c.unsafe(s))] as Record<string, unknown>[];
    return rows;
  } finally {
    await c.end();
  }
}

/** The SQLSTATE the statement fails with (throws if it succeeds). */
async function refused(url: string, ...statements: string[]): Promise<string> {
  const e = await run(url, ...statements).then(
    () => {
      throw new Error(`expected a refusal: ${statements.at(-1)}`);
    },
    (err) => err,
  );
  return (e as { code: string }).code;
}

const onDb = (url: string, db: string) => Object.assign(new URL(url), { pathname: "/" + db }).toString();

describe.each(["superuser", "CREATEDB CREATEROLE admin"])("tenants provisioned by a %s", (label) => {
  let adminUrl: string;
  let a: Tenant;
  let b: Tenant;

  beforeAll(async () => {
    adminUrl = label === "superuser" ? inst.superUrl : inst.adminUrl;
    a = await provision(adminUrl, "a", []);
    b = await provision(adminUrl, "b", ["pg_trgm"]);
    await run(b.login, "create table secrets (v text)", "insert into secrets values ('b-only')");
  });
  afterAll(async () => {
    await dropTenant(adminUrl, a.n);
    await dropTenant(adminUrl, b.n);
  });

  test("A's roles reach only A's database: not B's, not postgres, not template1", async () => {
    expect(await run(a.login, "select current_database() as d")).toEqual([{ d: a.n.database }]);
    for (const db of [b.n.database, "postgres", "template1"]) {
      expect(await refused(onDb(a.login, db), "select 1")).toBe("42501");
      expect(await refused(onDb(a.readonly, db), "select 1")).toBe("42501");
    }
    // Nor with the idle slot's role name and A's password.
    expect(await refused(loginUrl(inst, a.n.loginRoles[1], a.spec.loginPassword, a.n.database), "select 1")).toBe("28P01");
  });

  test("A cannot create schemas, objects outside its schema, temporary tables or extensions (not even trusted ones)", async () => {
    expect(await refused(a.login, "create schema mine")).toBe("42501");
    expect(await refused(a.login, "create table pg_catalog.mine (a int)")).toBe("42501");
    expect(await refused(a.login, "create table information_schema.mine (a int)")).toBe("42501");
    expect(await refused(a.login, "create temporary table mine (a int)")).toBe("42501");
    for (const ext of ["pg_trgm", "hstore", "citext"]) expect(await refused(a.login, `create extension ${ext}`)).toBe("42501");
    expect(await refused(a.login, "set role none", "create schema mine")).toBe("42501");
  });

  test("A cannot lift its connection limits", async () => {
    expect(await refused(a.login, `alter database ${a.n.database} connection limit -1`)).toBe("42501");
    expect(await refused(a.login, `alter role ${a.n.loginRoles[0]} connection limit -1`)).toBe("42501");
    expect(await refused(a.login, "set role none", `alter role ${a.n.loginRoles[0]} connection limit -1`)).toBe("42501");
    expect(await refused(a.login, `alter role ${a.n.loginRoles[0]} createdb`)).toBe("42501");
  });

  test("role settings A changes itself are found and undone by the next reconcile", async () => {
    await run(
      a.login,
      "set role none",
      `alter role ${a.n.loginRoles[0]} set statement_timeout = 0`,
      `alter role ${a.n.loginRoles[0]} in database ${a.n.database} set idle_in_transaction_session_timeout = 0`,
      `alter role ${a.n.loginRoles[0]} reset role`,
    );
    expect(await run(a.login, "select current_user::text as u, current_setting('idle_in_transaction_session_timeout') as i")).toEqual([{ u: a.n.loginRoles[0], i: "0" }]);
    const drift = await reconcileLimits(adminUrl, a.n, TIER);
    expect(drift).toEqual(expect.arrayContaining([
      { object: `role ${a.n.loginRoles[0]}`, setting: "statement_timeout", expected: null, found: "0" },
      { object: `role ${a.n.loginRoles[0]}`, setting: "role", expected: a.n.ownerRole, found: null },
      { object: `role ${a.n.loginRoles[0]} in database ${a.n.database}`, setting: "idle_in_transaction_session_timeout", expected: "60000", found: "0" },
    ]));
    expect(drift).toHaveLength(3);
    expect(await run(a.login, "select current_user::text as u, current_setting('statement_timeout') as s, current_setting('idle_in_transaction_session_timeout') as i")).toEqual([{ u: a.n.ownerRole, s: "30s", i: "1min" }]);
    expect(await reconcileLimits(adminUrl, a.n, TIER)).toEqual([]);
  });

  test("tables A creates belong to the owner role and are readable, not writable, by A's read-only role", async () => {
    await run(a.login, "create table items (id int primary key, v text)", "insert into items values (1, 'x')", "create sequence counter");
    const [t] = await run(onDb(inst.superUrl, a.n.database), "select tableowner::text as o from pg_tables where tablename = 'items'");
    expect(t!.o).toBe(a.n.ownerRole);
    expect(await run(a.readonly, "select v from items")).toEqual([{ v: "x" }]);
    expect(await run(a.readonly, "select last_value::int as l from counter")).toEqual([{ l: 1 }]);
    expect(await refused(a.readonly, "insert into items values (2, 'y')")).toBe("42501");
    expect(await refused(a.readonly, "update items set v = 'z'")).toBe("42501");
    expect(await refused(a.readonly, "delete from items")).toBe("42501");
    expect(await refused(a.readonly, "create table mine (a int)")).toBe("42501");
    expect(await refused(a.readonly, "select nextval('counter')")).toBe("42501");
  });

  test("A sees nothing of B's data; the catalog shows only opaque names", async () => {
    expect(await refused(a.login, "select * from secrets")).toBe("42P01");
    expect(await refused(a.login, `select * from ${b.n.database}.public.secrets`)).toBe("0A000"); // no cross-database references
    const dbs = (await run(a.login, "select datname from pg_database order by 1")).map((r) => r.datname as string);
    expect(dbs).toContain(b.n.database);
    for (const d of dbs) expect(d).toMatch(/^(postgres|template[01]|t_[a-z0-9]+)$/);
  });

  test("the tier's statement_timeout applies to A's sessions (a tiny one set by reconcile)", async () => {
    const tiny = { ...TIER, statementTimeoutMs: 200 };
    await reconcileLimits(adminUrl, a.n, tiny);
    try {
      expect(await refused(a.login, "select pg_sleep(2)")).toBe("57014");
      expect(await refused(a.readonly, "select pg_sleep(2)")).toBe("57014");
    } finally {
      await reconcileLimits(adminUrl, a.n, TIER);
    }
    expect(await run(a.login, "select pg_sleep(0.3)::text as s")).toEqual([{ s: "" }]);
  });
});
