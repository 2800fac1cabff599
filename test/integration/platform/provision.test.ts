/**
 * Provisioning a tenant on a private instance, with a superuser admin and with
 * a CREATEDB CREATEROLE admin: the shape it leaves, a second run writing
 * nothing (catalog rows keep their xmin), runs killed before each step
 * converging to the same shape, drift reconciled, inspection, URLs, drop.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import {
  dropTenant,
  inspectTenant,
  PROVISION_STEPS,
  provisionTenant,
  reconcileLimits,
  tenantNames,
  tenantUrl,
  type ProvisionSpec,
  type TenantNames,
} from "../../../plugins/platform/provision.ts";
import { scramMatches, scramVerifier } from "../../../plugins/platform/scram.ts";
import { EXTENSION_ALLOWLIST } from "../../../plugins/platform/tiers.ts";
import { loginUrl, startInstance, type TestInstance } from "../../helpers/pg-instance.ts";

const TIER = { connectionLimit: 7, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 60_000 };
let inst: TestInstance;
let seq = 0;

beforeAll(async () => {
  inst = await startInstance({ log_statement: "all" });
});
afterAll(() => inst?.stop());

function spec(extensions: string[] = ["pg_trgm"]): ProvisionSpec {
  return { tenantId: `mdbt_${Date.now().toString(36)}${seq++}x${Math.random().toString(36).slice(2, 8)}`, class: TIER, extensions, loginPassword: "Login" + Math.random().toString(36).slice(2), readonlyPassword: "Ro" + Math.random().toString(36).slice(2) };
}

async function q<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return [...(await c.unsafe(text, params as never[]))] as T[];
  } finally {
    await c.end();
  }
}

const dbUrl = (url: string, db: string) => Object.assign(new URL(url), { pathname: "/" + db }).toString();

/** Catalog facts of a tenant, read as superuser. `withVersions` keeps xmin (any write changes it) and password verifiers. */
async function snapshot(n: TenantNames, withVersions: boolean): Promise<string> {
  const roles = [n.ownerRole, ...n.loginRoles, n.readonlyRole];
  const list = roles.map((r) => `'${r}'`).join(",");
  const v = (t: string) => (withVersions ? `, ${t}.xmin::text as v` : "");
  const parts = {
    roles: await q(inst.superUrl, `select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil, ${withVersions ? "rolpassword" : "rolpassword is not null as haspw"}${v("a")} from pg_authid a where rolname in (${list}) order by rolname`),
    members: await q(inst.superUrl, `select r.rolname as role, m.rolname as member, admin_option${v("am")} from pg_auth_members am join pg_roles r on r.oid = am.roleid join pg_roles m on m.oid = am.member where r.rolname in (${list}) or m.rolname in (${list}) order by 2, 3`),
    settings: await q(inst.superUrl, `select coalesce(r.rolname, '') as role, coalesce(d.datname, '') as db, setconfig${v("s")} from pg_db_role_setting s left join pg_roles r on r.oid = s.setrole left join pg_database d on d.oid = s.setdatabase where r.rolname in (${list}) or d.datname = '${n.database}' order by 2, 1`),
    database: await q(inst.superUrl, `select pg_get_userbyid(datdba) as owner, datacl::text, datconnlimit${v("d")} from pg_database d where datname = '${n.database}'`),
    schema: await q(dbUrl(inst.superUrl, n.database), `select nspowner::regrole::text as owner, nspacl::text${v("n")} from pg_namespace n where nspname = 'public'`),
    defaults: await q(dbUrl(inst.superUrl, n.database), `select defaclrole::regrole::text as role, defaclobjtype, defaclacl::text${v("x")} from pg_default_acl x order by 2, 3`),
    extensions: await q(dbUrl(inst.superUrl, n.database), `select extname, extversion${v("e")} from pg_extension e order by 1`),
  };
  return JSON.stringify(parts).replaceAll(n.database, "T");
}


describe("tenantNames", () => {
  test("opaque, lowercase names from the id; bad ids are refused", () => {
    expect(tenantNames("mdbt_01JABCDEF")).toEqual({ database: "t_01jabcdef", ownerRole: "t_01jabcdef_owner", loginRoles: ["t_01jabcdef_a", "t_01jabcdef_b"], readonlyRole: "t_01jabcdef_ro" });
    for (const bad of ["mdbt_", "mdbt_x-y", 'mdbt_a"; drop role x; --', "mdbt_" + "a".repeat(60), "mdbt_é"]) {
      expect(() => tenantNames(bad)).toThrow(expect.objectContaining({ code: "E_TENANT_ID" }));
    }
  });
});

describe("SCRAM verifiers", () => {
  test("the verifier checks the password it was made from, with a random salt each time", async () => {
    const a = await scramVerifier("s3cret!");
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    expect(await scramMatches(a, "s3cret!")).toBe(true);
    expect(await scramMatches(a, "s3cret?")).toBe(false);
    expect(await scramVerifier("s3cret!")).not.toBe(a);
    await expect(scramVerifier("naïve")).rejects.toMatchObject({ code: "E_PASSWORD" });
  });

  test("Postgres's own verifier for a password is accepted by scramMatches (same algorithm)", async () => {
    await q(inst.superUrl, "create role eve_scram_probe password 'Pr0be-pw'");
    const [r] = await q<{ v: string }>(inst.superUrl, "select rolpassword as v from pg_authid where rolname = 'eve_scram_probe'");
    await q(inst.superUrl, "drop role eve_scram_probe");
    expect(await scramMatches(r!.v, "Pr0be-pw")).toBe(true);
    expect(await scramMatches(r!.v, "pr0be-pw")).toBe(false);
  });
});

describe.each(["superuser", "CREATEDB CREATEROLE admin"])("provisioning with a %s", (label) => {
  let adminUrl: string;
  let adminUser: string;
  beforeAll(() => {
    [adminUrl, adminUser] = label === "superuser" ? [inst.superUrl, "postgres"] : [inst.adminUrl, inst.adminUser];
  });

  test("the tenant has the hardened shape; the login and read-only passwords work over TCP", async () => {
    const s = spec(["pg_trgm", "uuid-ossp"]);
    const steps: string[] = [];
    const r = await provisionTenant(adminUrl, s, (step) => steps.push(step));
    const n = tenantNames(s.tenantId);
    expect(r).toEqual(n);
    expect(steps).toEqual([...PROVISION_STEPS]);

    const roles = await q(inst.superUrl, `select rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin, rolinherit, rolconnlimit from pg_roles where rolname like $1 order by 1`, [`${n.database}\\_%`]);
    expect(roles).toEqual([n.loginRoles[0], n.loginRoles[1], n.ownerRole, n.readonlyRole].map((rolname) => ({
      rolname, rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false, rolcanlogin: rolname !== n.ownerRole, rolinherit: true, rolconnlimit: 7,
    })));
    const members = await q(inst.superUrl, `select m.rolname as member from pg_auth_members am join pg_roles r on r.oid = am.roleid join pg_roles m on m.oid = am.member where r.rolname = $1 order by 1`, [n.ownerRole]);
    expect(members.map((m) => m.member).sort()).toEqual([...n.loginRoles, ...(adminUser === "postgres" ? [] : [adminUser])].sort());

    const [d] = await q(inst.superUrl, `select pg_get_userbyid(datdba) as owner, datconnlimit, datacl::text as acl from pg_database where datname = $1`, [n.database]);
    expect(d!.owner).toBe(adminUser);
    expect(d!.datconnlimit).toBe(7);
    expect(String(d!.acl)).not.toMatch(/[{,]=/); // no PUBLIC entry
    expect(String(d!.acl)).toContain(`${n.ownerRole}=c/`);
    expect(String(d!.acl)).toContain(`${n.readonlyRole}=c/`);

    const settings = await q(inst.superUrl, `select coalesce(r.rolname, '') as role, coalesce(d.datname, '') as db, setconfig from pg_db_role_setting s left join pg_roles r on r.oid = s.setrole left join pg_database d on d.oid = s.setdatabase where r.rolname like $1 or d.datname = $2 order by 1, 2`, [`${n.database}\\_%`, n.database]);
    const limits = ["statement_timeout=30000", "idle_in_transaction_session_timeout=60000"];
    expect(settings).toEqual([
      { role: "", db: n.database, setconfig: limits },
      { role: n.loginRoles[0], db: "", setconfig: [`role=${n.ownerRole}`] },
      { role: n.loginRoles[0], db: n.database, setconfig: limits },
      { role: n.loginRoles[1], db: "", setconfig: [`role=${n.ownerRole}`] },
      { role: n.loginRoles[1], db: n.database, setconfig: limits },
      { role: n.ownerRole, db: n.database, setconfig: limits },
      { role: n.readonlyRole, db: n.database, setconfig: limits },
    ]);

    const tenantDb = dbUrl(inst.superUrl, n.database);
    const [schema] = await q(tenantDb, `select nspowner::regrole::text as owner, nspacl::text as acl from pg_namespace where nspname = 'public'`);
    expect(schema).toEqual({ owner: n.ownerRole, acl: `{${n.ownerRole}=UC/${n.ownerRole},${n.readonlyRole}=U/${n.ownerRole}}` });
    const defaults = await q(tenantDb, `select defaclobjtype as kind, defaclacl::text as acl from pg_default_acl where defaclrole = $1::regrole order by 1`, [n.ownerRole]);
    expect(defaults).toEqual([{ kind: "S", acl: `{${n.readonlyRole}=r/${n.ownerRole}}` }, { kind: "r", acl: `{${n.readonlyRole}=r/${n.ownerRole}}` }]);
    expect((await q(tenantDb, `select extname from pg_extension order by 1`)).map((e) => e.extname)).toEqual(["pg_trgm", "plpgsql", "uuid-ossp"]);

    const [login] = await q(tenantUrl(inst, n, "login", s.loginPassword), "select session_user::text as s, current_user::text as c, current_setting('statement_timeout') as st");
    expect(login).toEqual({ s: n.loginRoles[0], c: n.ownerRole, st: "30s" });
    const [ro] = await q(tenantUrl(inst, n, "readonly", s.readonlyPassword), "select current_user::text as c");
    expect(ro!.c).toBe(n.readonlyRole);
    await expect(q(loginUrl(inst, n.loginRoles[1], s.loginPassword, n.database), "select 1")).rejects.toMatchObject({ code: "28P01" });
    await dropTenant(adminUrl, n);
  });

  test("a second run writes nothing: every catalog row keeps its version, passwords included", async () => {
    const s = spec();
    await provisionTenant(adminUrl, s);
    const n = tenantNames(s.tenantId);
    const before = await snapshot(n, true);
    await provisionTenant(adminUrl, s);
    expect(await snapshot(n, true)).toBe(before);
    await dropTenant(adminUrl, n);
  });

  test("runs stopped before each step (a kill), then run again, converge to the shape of an uninterrupted run", async () => {
    const ref = spec();
    await provisionTenant(adminUrl, ref);
    const refShape = await snapshot(tenantNames(ref.tenantId), false);
    for (const [k, stop] of PROVISION_STEPS.entries()) {
      const s = spec();
      const n = tenantNames(s.tenantId);
      const killed = await provisionTenant(adminUrl, s, (step) => {
        if (step === stop) throw new Error("killed");
      }).catch((e) => e);
      expect(killed.message).toBe("killed");
      if (k > 0) await provisionTenant(adminUrl, { ...s }, undefined, { through: PROVISION_STEPS[k - 1] });
      await provisionTenant(adminUrl, s);
      expect(await snapshot(n, false)).toBe(refShape.replaceAll(tenantNames(ref.tenantId).database, n.database));
      const [login] = await q(tenantUrl(inst, n, "login", s.loginPassword), "select current_user::text as c");
      expect(login!.c).toBe(n.ownerRole);
      await dropTenant(adminUrl, n);
    }
    await dropTenant(adminUrl, tenantNames(ref.tenantId));
  });

  test("a half-made tenant (roles with wrong attributes, a database with PUBLIC access) is repaired", async () => {
    const s = spec([]);
    const n = tenantNames(s.tenantId);
    await q(inst.superUrl, `create role ${n.ownerRole} login createdb connection limit 3`);
    await q(inst.superUrl, `create role ${n.loginRoles[0]} login password 'other-pw'`);
    await q(inst.superUrl, `create database ${n.database}`);
    await q(inst.superUrl, `alter database ${n.database} owner to ${adminUser}`);
    await provisionTenant(adminUrl, s);
    const [owner] = await q(inst.superUrl, `select rolcanlogin, rolcreatedb, rolconnlimit from pg_roles where rolname = $1`, [n.ownerRole]);
    expect(owner).toEqual({ rolcanlogin: false, rolcreatedb: false, rolconnlimit: 7 });
    const [pub] = await q(inst.superUrl, `select has_database_privilege('public', $1, 'CONNECT') as c, has_database_privilege('public', $1, 'TEMPORARY') as t`, [n.database]);
    expect(pub).toEqual({ c: false, t: false });
    if (adminUser === "postgres") {
      // A superuser reads the verifier and puts back the platform's password.
      const [login] = await q(tenantUrl(inst, n, "login", s.loginPassword), "select 1 as one");
      expect(login!.one).toBe(1);
    }
    expect(await reconcileLimits(adminUrl, n, TIER)).toEqual([]);
    await dropTenant(adminUrl, n);
  });

  test("reconcile and inspect: drift shown, then fixed; size, sessions, limits, extensions", async () => {
    const s = spec(["pg_trgm"]);
    await provisionTenant(adminUrl, s);
    const n = tenantNames(s.tenantId);
    await q(inst.superUrl, `alter role ${n.loginRoles[0]} set statement_timeout = 0`);
    await q(inst.superUrl, `alter role ${n.loginRoles[0]} in database ${n.database} set statement_timeout = '30s'`); // same value, other unit: no drift
    await q(inst.superUrl, `alter role ${n.readonlyRole} connection limit -1`);
    await q(inst.superUrl, `alter database ${n.database} connection limit -1`);
    await q(inst.superUrl, `grant temporary on database ${n.database} to public`);
    const hold = postgres(tenantUrl(inst, n, "login", s.loginPassword), { max: 1 });
    await hold`select 1`;
    try {
      const seen = await inspectTenant(adminUrl, n, TIER);
      expect(seen.sizeBytes).toBeGreaterThan(1_000_000);
      expect(seen.connections).toBe(1);
      expect(seen.limits).toEqual({ connectionLimit: -1, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 60_000 });
      expect(seen.extensions).toEqual([{ name: "pg_trgm", version: expect.any(String) }]);
      const expected = [
        { object: `role ${n.readonlyRole}`, setting: "connection limit", expected: "7", found: "-1" },
        { object: `database ${n.database}`, setting: "connection limit", expected: "7", found: "-1" },
        { object: `database ${n.database}`, setting: "TEMPORARY for PUBLIC", expected: "revoked", found: "granted" },
        { object: `role ${n.loginRoles[0]}`, setting: "statement_timeout", expected: null, found: "0" },
      ];
      expect(seen.drift).toEqual(expected);
      expect((await inspectTenant(adminUrl, n, TIER)).drift).toEqual(expected); // inspecting changed nothing
      expect(await reconcileLimits(adminUrl, n, TIER)).toEqual(expected);
      expect(await reconcileLimits(adminUrl, n, TIER)).toEqual([]);
      expect((await inspectTenant(adminUrl, n, TIER)).limits.connectionLimit).toBe(7);
    } finally {
      await hold.end();
    }
    await dropTenant(adminUrl, n);
  });

  test("extensions: allowed but unavailable on the instance, or not allowed → refused, naming it", async () => {
    // An allowlisted extension this instance lacks (pgvector is not part of contrib).
    const available = new Set((await q(inst.superUrl, "select name from pg_available_extensions")).map((r) => r.name));
    const lacking = EXTENSION_ALLOWLIST.find((e) => !available.has(e));
    expect(lacking).toBeDefined();
    const s = spec(["pg_trgm", lacking!]);
    const err = await provisionTenant(adminUrl, s).catch((e) => e);
    expect([err.code, err.exitCode]).toEqual(["E_EXTENSION_UNAVAILABLE", 4]);
    expect(err.message).toBe(`extension "${lacking}" is not available on this instance`);
    for (const name of ["pg_stat_statements", "dblink", "pg_trgm; drop database x"]) {
      const bad = spec(["pg_trgm", name]);
      const refused = await provisionTenant(adminUrl, bad).catch((e) => e);
      expect([refused.code, refused.exitCode, refused.details.extension]).toEqual(["E_EXTENSION_NOT_ALLOWED", 2, name]);
      const [made] = await q(inst.superUrl, "select count(*)::int as n from pg_roles where rolname like $1", [`${tenantNames(bad.tenantId).database}\\_%`]);
      expect(made!.n).toBe(0); // refused before anything was created
    }
    await dropTenant(adminUrl, tenantNames(s.tenantId));
  });

  test("dropTenant ends sessions, removes the database and the four roles, and can run again", async () => {
    const s = spec([]);
    await provisionTenant(adminUrl, s);
    const n = tenantNames(s.tenantId);
    const hold = postgres(tenantUrl(inst, n, "login", s.loginPassword), { max: 1, onnotice: () => {} });
    await hold`create table kept (a int)`;
    await dropTenant(adminUrl, n);
    await hold.end().catch(() => {});
    const left = await q(inst.superUrl, `select (select count(*)::int from pg_database where datname = $1) as dbs, (select count(*)::int from pg_roles where rolname like $2) as roles`, [n.database, `${n.database}\\_%`]);
    expect(left).toEqual([{ dbs: 0, roles: 0 }]);
    await dropTenant(adminUrl, n);
  });
});

test("tenantUrl percent-encodes the password and brackets an IPv6 host", () => {
  const n = tenantNames("mdbt_abc");
  expect(tenantUrl({ host: "db.example", port: 5433 }, n, "login", "p@ss:/w?#%")).toBe("postgres://t_abc_a:p%40ss%3A%2Fw%3F%23%25@db.example:5433/t_abc");
  expect(tenantUrl({ host: "::1", port: 5432 }, n, "readonly", "x")).toBe("postgres://t_abc_ro:x@[::1]:5432/t_abc");
});

test("no password reaches the server's statement log (log_statement = all)", async () => {
  const s = spec([]);
  await provisionTenant(inst.adminUrl, s);
  await provisionTenant(inst.superUrl, s); // the superuser path re-checks verifiers
  const log = readFileSync(join(inst.cluster.dir, "log"), "utf8");
  expect(log).toContain(`CREATE ROLE "${tenantNames(s.tenantId).loginRoles[0]}" LOGIN PASSWORD 'SCRAM-SHA-256$4096:`);
  expect(log).not.toContain(s.loginPassword);
  expect(log).not.toContain(s.readonlyPassword);
  await dropTenant(inst.superUrl, tenantNames(s.tenantId));
});
