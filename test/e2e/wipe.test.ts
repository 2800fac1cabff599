import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { ResetResult, WipePreview, WipeResult } from "../../plugins/migrate/schema.ts";
import { runEve } from "../helpers/cli.ts";
import { freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir, writeFiles } from "../helpers/fs.ts";
import { createRole, dropRoles } from "../helpers/roles.ts";

let url: string;
let name: string;
const used: string[] = [];

const tables = (u = url) =>
  withSql(u, async (sql) => (await sql`select tablename from pg_tables where schemaname = 'public' order by 1`).map((r) => r.tablename));

const migrations = () =>
  writeFiles(tempDir(), {
    "20260101000001_users.sql": "create table users (id int primary key);\n",
    "20260101000002_posts.sql": "create table posts (id int primary key, user_id int references users(id));\n",
  });

beforeEach(async () => {
  url = await freshDatabase("e2e_wipe");
  used.push(url);
  name = new URL(url).pathname.slice(1);
  await withSql(url, (sql) => sql.unsafe("create table precious (a int); insert into precious select generate_series(1, 25)"));
});

afterAll(() => dropRoles(used));

describe("eve db wipe", () => {
  test("without --force: exit 1, what would be lost on stderr, nothing on stdout, nothing dropped", async () => {
    const r = await runEve(["db", "wipe", "--url", url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`wipe would permanently delete everything in database ${name}`);
    expect(r.stderr).toMatch(/ {2}size {5}\d+\.\d MiB\n {2}tables {3}1 \(~25 rows estimated\)\n {2}schemas {2}public\n {2}owner {4}postgres\n/);
    expect(r.stderr).toContain(`error: refusing to wipe database ${name} without --force\nhint: pass --force to drop and recreate it`);
    expect(r.stderr).not.toContain(new URL(url).password);
    const json = await runEve(["db", "wipe", "--url", url, "--json"]);
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout);
    expect(WipePreview.parse(doc)).toMatchObject({ refused: true, name, tables: 1, rowsEstimate: 25, plan: "database" });
    expect(doc.error.code).toBe("E_REFUSED");
    expect(await tables()).toEqual(["precious"]);
  });

  test("--force: drops and recreates the database (human, then --json)", async () => {
    const r = await runEve(["db", "wipe", "--url", url, "--force"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wiped ${name} \\(1 table, .*\\): dropped and recreated the database \\(owner postgres, UTF8, C\\.UTF-8/C\\.UTF-8\\) in \\d`));
    expect(await tables()).toEqual([]);
    await withSql(url, (sql) => sql`create table again (a int)`);
    const j = await runEve(["db", "wipe", "--url", url, "--force", "--json"]);
    expect(j.code).toBe(0);
    expect(WipeResult.parse(JSON.parse(j.stdout))).toMatchObject({ mode: "database", name, before: { tables: 1 }, schemas: null });
    expect(await tables()).toEqual([]);
  });

  test("a role that may not recreate the database: schema by schema, and it says so", async () => {
    const owner = await createRole("e2e_wipe_owner");
    await withSql(url, (sql) => sql.unsafe(`alter database "${name}" owner to "${owner.name}"; alter table precious owner to "${owner.name}"`));
    const r = await runEve(["db", "wipe", "--url", owner.urlFor(url), "--force"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: cannot drop the database (role ${owner.name} lacks CREATEDB, needed to recreate database ${name}); dropping and recreating every schema instead`);
    expect(r.stdout).toContain(`wiped ${name} (1 table, `);
    expect(r.stdout).toContain("schema by schema: dropped public; recreated public");
    expect(await tables()).toEqual([]);
  });
});

describe("eve db reset", () => {
  test("without --force: exit 1 and the migration count; nothing dropped", async () => {
    const r = await runEve(["db", "reset", "--url", url, "--path", migrations()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("then     apply 2 migration files");
    expect(r.stderr).toContain("hint: pass --force to drop and recreate it, then apply the migrations");
    expect(await tables()).toEqual(["precious"]);
  });

  test("--force: wipe then migrate (human, then --json)", async () => {
    const dir = migrations();
    const r = await runEve(["db", "reset", "--url", url, "--path", dir, "--force"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^wiped ${name} \\(1 table, .*dropped and recreated the database`));
    expect(lines.slice(1, 3).map((l) => l.replace(/\s+\d+ms$/, ""))).toEqual(["  ✓ 20260101000001_users.sql", "  ✓ 20260101000002_posts.sql"]);
    expect(lines[3]).toMatch(/^applied 2 migrations in /);
    expect(await tables()).toEqual(["posts", "schema_migrations", "users"]);
    const j = await runEve(["db", "reset", "--url", url, "--path", dir, "--force", "--json"]);
    expect(j.code).toBe(0);
    const doc = ResetResult.parse(JSON.parse(j.stdout));
    expect(doc.wipe.before.tables).toBe(3);
    expect(doc.migrate!.applied.map((a) => a.name)).toEqual(["20260101000001_users.sql", "20260101000002_posts.sql"]);
  });

  test("a migration failing after the wipe: says the database was wiped; --json holds the wipe, the partial run and the error", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_users.sql": "create table users (id int primary key);\n",
      "20260101000002_bad.sql": "select 1/0;\n",
    });
    const r = await runEve(["db", "reset", "--url", url, "--path", dir, "--force"]);
    expect(r.code).toBe(4);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^wiped ${name} \\(1 table, `));
    expect(lines.slice(1).map((l) => l.replace(/\s+\d+ms$/, ""))).toEqual(["  ✓ 20260101000001_users.sql"]);
    expect(r.stderr).toContain("the database was wiped; the migrations stopped at the error below\nerror: ");
    expect(await tables()).toEqual(["schema_migrations", "users"]);
    const j = await runEve(["db", "reset", "--url", url, "--path", dir, "--force", "--json"]);
    expect(j.code).toBe(4);
    const doc = JSON.parse(j.stdout);
    expect(doc).toMatchObject({ wipe: { name, before: { tables: 2 } }, migrate: { applied: [{ name: "20260101000001_users.sql" }] }, error: { code: "E_SQL", sqlstate: "22012" } });
    expect(Object.keys(doc)).toEqual(["database", "wipe", "migrate", "error"]);
    expect(doc.error).not.toHaveProperty("wiped");
    expect(doc.error).not.toHaveProperty("partial");
  });

  test("--no-migrate: wipe only, the directory is not read", async () => {
    const r = await runEve(["db", "reset", "--url", url, "--path", "/nonexistent", "--no-migrate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("then     apply");
    expect(await tables()).toEqual(["precious"]);
    const f = await runEve(["db", "reset", "--url", url, "--path", "/nonexistent", "--no-migrate", "--force"]);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(new RegExp(`^wiped ${name} \\(1 table, .*\nskipped the migrations \\(--no-migrate\\): the database is empty\n$`));
    expect(await tables()).toEqual([]);
  });

  test("an invalid migrations directory stops it before anything is dropped", async () => {
    const dir = writeFiles(tempDir(), { "20260101000001_users.sql": "create table users (id int);", "users2.sql": "select 1;" });
    const r = await runEve(["db", "reset", "--url", url, "--path", dir, "--force"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: 1 invalid migration file name in ");
    expect(r.stderr).toContain("\n  users2.sql\nhint: names must match YYYYMMDDHHmmss_description.sql");
    const missing = await runEve(["db", "reset", "--url", url, "--path", dir + "/nope", "--force", "--json"]);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.message).toContain("migrations directory not found");
    expect(await tables()).toEqual(["precious"]);
  });
});
