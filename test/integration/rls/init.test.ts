import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import postgres from "postgres";
import { close, connect } from "../../../core/db/index.ts";
import { applyScaffold } from "../../../plugins/rls/apply.ts";
import { inspectRls } from "../../../plugins/rls/inspect.ts";
import { renderScaffold } from "../../../plugins/rls/scaffold.ts";
import { RlsInitResult } from "../../../plugins/rls/schema.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { createRole, dropRoles, type TestRole } from "../../helpers/roles.ts";

let url: string;
let owner: TestRole;
let app: TestRole;

async function init(u: string, withGroups: boolean) {
  const db = connect(u);
  try {
    return RlsInitResult.parse(await applyScaffold(db, { withGroups, database: "test" }));
  } finally {
    await close(db);
  }
}

/** Run `fn` in one transaction as `role` with the given context (unset when undefined). */
async function as<T>(role: TestRole, ctx: { user?: string; groups?: string }, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return withSql(role.urlFor(url), (sql) =>
    sql.begin(async (tx) => {
      if (ctx.user !== undefined) await tx`select set_config('app.user_id', ${ctx.user}, true)`;
      if (ctx.groups !== undefined) await tx`select set_config('app.group_ids', ${ctx.groups}, true)`;
      return fn(tx);
    }) as Promise<T>,
  );
}

const bodies = (role: TestRole, ctx: { user?: string; groups?: string }) =>
  as(role, ctx, async (tx) => (await tx`select body from docs order by body`).map((r) => r.body as string));

const sqlState = (p: Promise<unknown>) => p.then(() => "ok", (e) => (e as { code?: string }).code ?? String(e));

/** An independent catalog dump: pg_dump --schema-only (the strongest "nothing changed" oracle). */
function schemaDump(u: string): string {
  const r = spawnSync("pg_dump", ["--schema-only", "--no-comments", u], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr}`);
  // \restrict lines carry a random key per run (pg_dump's psql-meta-command guard).
  return r.stdout.replace(/^\\(un)?restrict .*$/gm, "");
}

async function catalog(u: string) {
  return withSql(u, async (sql) => ({
    functions: await sql`select p.oid::regprocedure::text as f, pg_get_functiondef(p.oid) as def, p.proacl::text as acl
                         from pg_proc p where p.pronamespace = 'app'::regnamespace order by 1`,
    policies: await sql`select polrelid::regclass::text as t, polname, polcmd::text, polpermissive, pg_get_expr(polqual, polrelid) as q,
                               pg_get_expr(polwithcheck, polrelid) as c from pg_policy order by 1, 2`,
    indexes: await sql`select indexrelid::regclass::text as i, pg_get_indexdef(indexrelid) as def from pg_index i
                       join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
                       where n.nspname in ('app', 'public') order by 1`,
    rls: await sql`select oid::regclass::text as t, relrowsecurity, relforcerowsecurity from pg_class
                   where relkind = 'r' and relnamespace in ('app'::regnamespace, 'public'::regnamespace) order by 1`,
  }));
}

beforeAll(async () => {
  url = await freshDatabase("rls_init");
  owner = await createRole("rls_init_owner");
  app = await createRole("rls_init_app");
  const dbName = new URL(url).pathname.slice(1);
  await withSql(url, (sql) => sql.unsafe(`grant create on database "${dbName}" to "${owner.name}"; grant create, usage on schema public to "${owner.name}"`));
});

afterAll(() => dropRoles([url]));

describe("eve db rls init engine", () => {
  test("applies as a non-superuser owner in one transaction; a rerun changes nothing", async () => {
    const first = await init(owner.urlFor(url), true);
    expect(first).toMatchObject({ mode: "database", withGroups: true, changed: true, updated: [] });
    expect(first.mode === "database" && first.created).toEqual(
      expect.arrayContaining([
        "schema app",
        "function app.current_user_id()",
        "function app.current_group_ids()",
        "function app.user_group_ids()",
        "function app.has_group(group_id text)",
        "function app.enable_group_rls(tbl regclass, col name)",
        "table app.groups",
        "table app.group_members",
        "index app.group_members_pkey",
        "index app.group_members_user_id_idx",
      ]),
    );
    await withSql(owner.urlFor(url), (sql) =>
      sql.unsafe(`
        create table docs (id int generated always as identity primary key, group_id text not null, body text);
        select app.enable_group_rls('docs');
        grant select, insert, update, delete on docs to "${app.name}";
        insert into app.groups (id, name) values ('g1', 'one'), ('g2', 'two');
        insert into app.group_members (group_id, user_id) values ('g1', 'u1'), ('g2', 'u2');
        begin;
        select set_config('app.group_ids', '["g1","g2"]', true);
        insert into docs (group_id, body) values ('g1', 'a1'), ('g1', 'a2'), ('g2', 'b1');
        commit;
      `),
    );
    const before = await catalog(url);
    const dumpBefore = schemaDump(url);
    const second = await init(owner.urlFor(url), true);
    expect(second).toMatchObject({ mode: "database", changed: false, created: [], updated: [] });
    await withSql(owner.urlFor(url), (sql) => sql`select app.enable_group_rls('docs')`);
    expect(await catalog(url)).toEqual(before);
    expect(schemaDump(url)).toBe(dumpBefore);
    expect(before.policies.map((p) => [p.t, p.polname, p.polcmd])).toEqual([
      ["docs", "group_id_delete", "d"],
      ["docs", "group_id_insert", "a"],
      ["docs", "group_id_select", "r"],
      ["docs", "group_id_update", "w"],
    ]);
    expect(before.indexes.map((i) => i.i)).toContain("docs_group_id_idx");
    expect(before.rls.find((r) => r.t === "docs")).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
    const userGroupIds = before.functions.find((f) => f.f === "app.user_group_ids()")!.def as string;
    expect(userGroupIds).toContain("SECURITY DEFINER");
    expect(userGroupIds).toContain("SET search_path TO 'pg_catalog', 'pg_temp'");
  });

  test("two users in different groups each see only their group's rows", async () => {
    expect(await bodies(app, { user: "u1" })).toEqual(["a1", "a2"]);
    expect(await bodies(app, { user: "u2" })).toEqual(["b1"]);
    // Groups may also come from the setting alone (no membership row).
    expect(await bodies(app, { groups: '["g2"]' })).toEqual(["b1"]);
    expect(await bodies(app, { user: "u1", groups: '["g2"]' })).toEqual(["a1", "a2", "b1"]);
  });

  test("no context (or an empty one) sees nothing, not even the FORCEd owner", async () => {
    expect(await bodies(app, {})).toEqual([]);
    expect(await bodies(app, { user: "", groups: "" })).toEqual([]);
    expect(await bodies(app, { user: "nobody", groups: "[]" })).toEqual([]);
    expect(await bodies(owner, {})).toEqual([]);
  });

  test("cross-group INSERT and UPDATE are rejected; other groups' rows cannot be touched", async () => {
    expect(await sqlState(as(app, { user: "u1" }, (tx) => tx`insert into docs (group_id, body) values ('g2', 'x')`))).toBe("42501");
    expect(await sqlState(as(app, { user: "u1" }, (tx) => tx`update docs set group_id = 'g2' where body = 'a1'`))).toBe("42501");
    expect(await sqlState(as(app, {}, (tx) => tx`insert into docs (group_id, body) values ('g1', 'x')`))).toBe("42501");
    const updated = await as(app, { user: "u1" }, (tx) => tx`update docs set body = 'hacked' where group_id = 'g2'`);
    const deleted = await as(app, { user: "u1" }, (tx) => tx`delete from docs where group_id = 'g2'`);
    expect([updated.count, deleted.count]).toEqual([0, 0]);
    expect(await bodies(app, { user: "u2" })).toEqual(["b1"]);
    // Own group: allowed.
    await as(app, { user: "u1" }, (tx) => tx`insert into docs (group_id, body) values ('g1', 'a3')`);
    expect(await bodies(app, { user: "u1" })).toEqual(["a1", "a2", "a3"]);
    // The membership table itself is not readable by the app role.
    expect(await sqlState(as(app, { user: "u1" }, (tx) => tx`select * from app.group_members`))).toBe("42501");
  });

  test("context helpers tolerate unset, empty and non-array values; has_group uses memberships", async () => {
    const read = (ctx: { user?: string; groups?: string }) =>
      as(app, ctx, async (tx) => (await tx`select app.current_user_id() as u, app.current_group_ids()::text as g, app.user_group_ids()::text as ug, app.has_group('g1') as h`)[0]);
    expect(await read({})).toEqual({ u: null, g: "{}", ug: "{}", h: false });
    expect(await read({ user: " ", groups: " " })).toEqual({ u: null, g: "{}", ug: "{}", h: false });
    expect(await read({ groups: '{"a":1}' })).toMatchObject({ g: "{}" });
    expect(await read({ groups: '["b", null, "", 7, "a"]' })).toMatchObject({ g: "{7,a,b}" });
    expect(await read({ user: "u1" })).toEqual({ u: "u1", g: "{}", ug: "{g1}", h: true });
  });

  test("a uuid group column is compared as uuid (with its index) and filters the same way", async () => {
    const g = "5f0c8a4e-7f52-4c1d-9c7e-0d6f3b1a2b3c";
    await withSql(owner.urlFor(url), (sql) =>
      sql.unsafe(`
        create table teams_docs (id int, team uuid not null);
        select app.enable_group_rls('teams_docs', 'team');
        grant select on teams_docs to "${app.name}";
        begin;
        select set_config('app.group_ids', '["${g}", "00000000-0000-0000-0000-000000000000"]', true);
        insert into teams_docs values (1, '${g}'), (2, '00000000-0000-0000-0000-000000000000');
        commit;
      `),
    );
    const ids = await as(app, { groups: `["${g}"]` }, async (tx) => (await tx`select id from teams_docs`).map((r) => r.id));
    expect(ids).toEqual([1]);
    const [pol] = await withSql(url, (sql) => sql`select pg_get_expr(polqual, polrelid) as q from pg_policy where polname = 'team_select'`);
    expect(pol!.q).toContain("::uuid[]");
  });

  test("the scaffold and a table protected by enable_group_rls give eve db rls no finding", async () => {
    const db = connect(app.urlFor(url));
    try {
      const r = await inspectRls(db, "test");
      expect(r.findings).toEqual([]);
      expect(r.relations.find((x) => x.name === "docs")).toMatchObject({ rlsEnabled: true, rlsForced: true });
    } finally {
      await close(db);
    }
  });

  test("without --with-groups on a database that has them: refused, nothing changed", async () => {
    const err = await init(owner.urlFor(url), false).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("--with-groups");
  });

  test("without groups: settings-only helpers; the SQL is stable text", async () => {
    const plain = await freshDatabase("rls_init_plain");
    const r = await init(plain, false);
    expect(r.mode === "database" && r.created.sort()).toEqual(
      ["function app.current_group_ids()", "function app.current_user_id()", "function app.has_group(group_id text)", "schema app"],
    );
    const [row] = await withSql(plain, (sql) =>
      sql.begin(async (tx) => {
        await tx`select set_config('app.group_ids', '["x"]', true)`;
        return tx`select app.has_group('x') as yes, app.has_group('y') as no, to_regclass('app.groups') as groups`;
      }),
    );
    expect(row).toEqual({ yes: true, no: false, groups: null });
    expect(renderScaffold({ withGroups: true })).toBe(renderScaffold({ withGroups: true }));
    expect(renderScaffold({ withGroups: true })).toContain("set_config('app.user_id', $1, true)");
  });
});
