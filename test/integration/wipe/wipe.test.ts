import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { describeTarget, parseDbUrl } from "../../../core/db/index.ts";
import { wipeDatabase, type WipeEvent } from "../../../core/db/recreate.ts";
import { WipeResult } from "../../../plugins/migrate/schema.ts";
import { adminUrl, freshDatabase, withSql } from "../../helpers/db.ts";
import { createRole, dropRoles, type TestRole } from "../../helpers/roles.ts";

let owner: TestRole; // CREATEDB, owns the database: database mode
let plainOwner: TestRole; // owns the database, no CREATEDB: schema mode
let other: TestRole;
const urls: string[] = [];

const nameOf = (u: string) => new URL(u).pathname.slice(1);

async function wipe(u: string, events: WipeEvent[] = [], schemasOnly = false) {
  return WipeResult.parse(await wipeDatabase(u, { label: describeTarget(parseDbUrl(u)), report: (e) => events.push(e), schemasOnly }));
}

async function dbFacts(name: string) {
  return withSql(await adminUrl(), async (sql) => {
    const [d] = await sql`
      select pg_get_userbyid(datdba) as owner, pg_encoding_to_char(encoding) as enc, datcollate, datctype, datlocprovider::text as provider,
             daticulocale as icu, datconnlimit, datacl::text as acl, shobj_description(oid, 'pg_database') as comment,
             (select setconfig::text from pg_db_role_setting where setdatabase = d.oid and setrole = 0) as settings
      from pg_database d where datname = ${name}`;
    return d;
  });
}

const userTables = (u: string) =>
  withSql(u, async (sql) => (await sql`select schemaname || '.' || tablename as t from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1`).map((r) => r.t));
const schemas = (u: string) =>
  withSql(u, async (sql) =>
    (await sql`select nspname || ' ' || pg_get_userbyid(nspowner) || ' ' || coalesce(nspacl::text, '-') || ' ' || coalesce(obj_description(oid, 'pg_namespace'), '-') as s
               from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by 1`).map((r) => r.s),
  );

/** A database owned by `role` with a table, rows, settings, a grant and a comment. */
async function populated(role: TestRole, prefix: string): Promise<string> {
  const url = await freshDatabase(prefix);
  urls.push(url);
  const name = nameOf(url);
  await withSql(url, (sql) =>
    sql.unsafe(`
      alter database "${name}" owner to "${role.name}";
      alter database "${name}" set search_path = app, "$user", public;
      alter database "${name}" set work_mem = '8MB';
      alter database "${name}" connection limit 50;
      comment on database "${name}" is 'keep me';
      revoke connect, temporary on database "${name}" from public;
      grant connect on database "${name}" to "${other.name}";
      grant usage on schema public to "${other.name}";
    `),
  );
  await withSql(role.urlFor(url), (sql) =>
    sql.unsafe(`
      create schema app;
      create table app.items (id int primary key);
      insert into app.items select generate_series(1, 500);
      create table public.notes (body text);
      insert into notes values ('x');
      analyze;
    `),
  );
  return url;
}

beforeAll(async () => {
  owner = await createRole("wipe_owner", "createdb");
  plainOwner = await createRole("wipe_plain");
  other = await createRole("wipe_other");
});

afterAll(() => dropRoles(urls));

describe("wipe engine: database mode", () => {
  test("drops and recreates with the same owner, encoding, locale, settings, grants and comment; other sessions end", async () => {
    const url = await populated(owner, "wipe_db");
    const name = nameOf(url);
    const before = await dbFacts(name);
    const idle = postgres(owner.urlFor(url), { max: 1, onnotice: () => {} });
    const pid = (await idle`select pg_backend_pid() as pid`)[0]!.pid;
    const r = await wipe(owner.urlFor(url));
    expect(r).toMatchObject({ mode: "database", name, fallbackReason: null, terminatedSessions: 1, warnings: [] });
    expect(r.before).toMatchObject({ tables: 2, rowsEstimate: 501, schemas: ["app", "public"] });
    expect(r.recreated).toEqual({ owner: owner.name, encoding: "UTF8", collate: "C.UTF-8", ctype: "C.UTF-8", localeProvider: "libc", locale: null });
    expect(await dbFacts(name)).toEqual(before);
    expect(before).toMatchObject({ settings: '{"search_path=app, \\"$user\\", public",work_mem=8MB}', datconnlimit: 50, comment: "keep me" });
    expect(before!.acl).toContain(`${other.name}=c/`);
    expect(await userTables(url)).toEqual([]);
    expect(await schemas(url)).toEqual([
      "public pg_database_owner {pg_database_owner=UC/pg_database_owner,=U/pg_database_owner} standard public schema",
    ]);
    // postgres.js reconnects on its own: a new backend (of the new database) answers.
    const [again] = await idle`select pg_backend_pid() as pid`.catch(() => idle`select pg_backend_pid() as pid`);
    expect(again!.pid).not.toBe(pid);
    await idle.end({ timeout: 1 });
  });

  test("an ICU database keeps its locale provider and ICU locale", async () => {
    const admin = await adminUrl();
    const name = `eve_wipe_icu_${Date.now().toString(36)}`;
    await withSql(admin, (sql) => sql.unsafe(`create database "${name}" template template0 locale_provider icu icu_locale 'en-US' encoding 'UTF8' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'`));
    const u = new URL(admin);
    u.pathname = "/" + name;
    urls.push(u.toString());
    await withSql(u.toString(), (sql) => sql`create table t (a text)`);
    const r = await wipe(u.toString());
    expect(r.recreated).toMatchObject({ localeProvider: "icu", locale: "en-US" });
    expect(await dbFacts(name)).toMatchObject({ provider: "i", icu: "en-US" });
    expect(await userTables(u.toString())).toEqual([]);
  });
});

describe("wipe engine: schema mode fallback", () => {
  test("an owner without CREATEDB drops every schema and recreates public with its grants", async () => {
    const url = await populated(plainOwner, "wipe_schemas");
    const events: WipeEvent[] = [];
    const before = await dbFacts(nameOf(url));
    const r = await wipe(plainOwner.urlFor(url), events);
    expect(r.mode).toBe("schemas");
    expect(r.fallbackReason).toContain("lacks CREATEDB");
    expect(events).toEqual([{ type: "fallback", reason: r.fallbackReason! }]);
    expect(r.schemas).toEqual({ dropped: ["app", "public"], recreated: ["public"] });
    expect(await userTables(url)).toEqual([]);
    expect(await schemas(url)).toEqual([
      `public pg_database_owner {pg_database_owner=UC/pg_database_owner,=U/pg_database_owner,${other.name}=U/pg_database_owner} standard public schema`,
    ]);
    expect(await dbFacts(nameOf(url))).toEqual(before);
  });

  test("sessions of roles it cannot terminate: schema mode, and says why", async () => {
    const url = await populated(owner, "wipe_sessions");
    const otherSession = postgres(other.urlFor(url), { max: 1, onnotice: () => {} });
    await otherSession`select 1`;
    try {
      const r = await wipe(owner.urlFor(url));
      expect(r.mode).toBe("schemas");
      expect(r.fallbackReason).toBe("1 other session belongs to roles this role cannot terminate");
      expect(await userTables(url)).toEqual([]);
    } finally {
      await otherSession.end({ timeout: 1 });
    }
  });

  test("maintenance database unreachable: schema mode", async () => {
    const url = await populated(owner, "wipe_maint");
    const admin = await adminUrl();
    await withSql(admin, (sql) => sql.unsafe(`revoke connect on database postgres from public; revoke connect on database template1 from public`));
    try {
      const r = await wipe(owner.urlFor(url));
      expect(r.mode).toBe("schemas");
      expect(r.fallbackReason).toContain("cannot connect to the maintenance database (postgres, template1)");
    } finally {
      await withSql(admin, (sql) => sql.unsafe(`grant connect on database postgres to public; grant connect on database template1 to public`));
    }
    expect(await userTables(url)).toEqual([]);
  });

  test("a role that may not drop public fails in one transaction: nothing is dropped", async () => {
    const url = await freshDatabase("wipe_denied");
    urls.push(url);
    await withSql(url, (sql) => sql.unsafe(`grant create on database "${nameOf(url)}" to "${other.name}"`));
    await withSql(other.urlFor(url), (sql) => sql.unsafe(`create schema mine; create table mine.keep (a int)`));
    const err = await wipe(other.urlFor(url)).catch((e) => e);
    expect(err.code).toBe("E_WIPE");
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain("must be owner of schema public");
    expect(err.hint).toContain("nothing was dropped");
    expect(await userTables(url)).toEqual(["mine.keep"]);
  });
});
