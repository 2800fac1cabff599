import { beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RlsInitResult, RlsReport } from "../../plugins/rls/schema.ts";
import { runEve } from "../helpers/cli.ts";
import { freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir } from "../helpers/fs.ts";

let url: string;

beforeAll(async () => {
  url = await freshDatabase("e2e_rls");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table notes (id int, owner text);
      create policy notes_owner on notes for select using (owner = current_user);
      create table locked (id int);
      alter table locked enable row level security;
    `),
  );
});

describe("eve db rls", () => {
  test("human output: tables, policies and findings with fixes", async () => {
    const r = await runEve(["db", "rls", "--url", url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("RLS on postgres@");
    expect(r.stdout).toContain("public.notes  table  owner postgres  RLS disabled");
    expect(r.stdout).toContain("  notes_owner  SELECT  PERMISSIVE  to public\n      USING (owner = CURRENT_USER)");
    expect(r.stdout).toContain("public.locked  table  owner postgres  RLS enabled\n  no policies");
    expect(r.stdout).toContain("findings: 1 high, 1 low, 1 info");
    expect(r.stdout).toContain("HIGH    public.notes has 1 policy but RLS is disabled");
    expect(r.stdout).toContain("fix: ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;");
    expect(r.stdout).not.toContain(new URL(url).password);
  });

  test("--json: one document matching the schema", async () => {
    const r = await runEve(["db", "rls", "--url", url, "--json"]);
    expect(r.code).toBe(0);
    const report = RlsReport.parse(JSON.parse(r.stdout));
    expect(report.relations.map((x) => [x.name, x.rlsEnabled, x.policies.length])).toEqual([["locked", true, 0], ["notes", false, 1]]);
    expect(report.findings.map((f) => f.rule).sort()).toEqual(["policies-without-rls", "rls-without-policy", "role-bypasses-rls"]);
  });

  test("--check exits 5 at or above --fail-on (default high); below it exits 0", async () => {
    const failing = await runEve(["db", "rls", "--url", url, "--check", "--json"]);
    expect(failing.code).toBe(5);
    expect(RlsReport.parse(JSON.parse(failing.stdout)).summary.findings.high).toBe(1);
    expect(failing.stderr).toContain("error: 1 RLS finding at or above high");

    await withSql(url, (sql) => sql`alter table notes enable row level security`);
    const passing = await runEve(["db", "rls", "--url", url, "--check"]);
    expect(passing.code).toBe(0);
    const low = await runEve(["db", "rls", "--url", url, "--fail-on", "low"]);
    expect(low.code).toBe(5);
    expect(low.stderr).toContain("1 RLS finding at or above low");
    const bad = await runEve(["db", "rls", "--url", url, "--fail-on", "severe"]);
    expect(bad.code).toBe(2);
  });
});

describe("eve db rls init", () => {
  test("applies, then a rerun reports nothing changed (human and --json)", async () => {
    const db = await freshDatabase("e2e_rls_init");
    const first = await runEve(["db", "rls", "init", "--with-groups", "--url", db]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^RLS scaffolding \(with groups\) applied to postgres@.*\n {2}\+ schema app\n/);
    expect(first.stdout).toContain("  + function app.enable_group_rls(tbl regclass, col name)");
    const again = await runEve(["db", "rls", "init", "--with-groups", "--url", db]);
    expect(again.stdout).toBe(`RLS scaffolding already up to date on ${new URL(db).username}@127.0.0.1:${new URL(db).port}${new URL(db).pathname} (nothing changed)\n`);
    const json = await runEve(["db", "rls", "init", "--with-groups", "--url", db, "--json"]);
    expect(RlsInitResult.parse(JSON.parse(json.stdout))).toMatchObject({ mode: "database", changed: false, created: [], updated: [] });
  });

  test("--out FILE and --out - write the SQL; --migration writes a migration that eve db migrate applies", async () => {
    const dir = tempDir();
    const file = join(dir, "rls.sql");
    const out = await runEve(["db", "rls", "init", "--with-groups", "--out", file, "--json"]);
    expect(out.code).toBe(0);
    expect(RlsInitResult.parse(JSON.parse(out.stdout))).toMatchObject({ mode: "file", path: file, changed: true });
    const sql = readFileSync(file, "utf8");
    expect(sql).toContain("CREATE OR REPLACE FUNCTION app.enable_group_rls");
    const same = await runEve(["db", "rls", "init", "--with-groups", "--out", file]);
    expect(same.stdout).toBe(`${file} is already up to date\n`);
    const clash = await runEve(["db", "rls", "init", "--out", file]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain("--force");
    const stdout = await runEve(["db", "rls", "init", "--with-groups", "--out", "-"]);
    expect(stdout.stdout).toBe(sql);

    const migrations = join(dir, "migrations");
    const mig = await runEve(["db", "rls", "init", "--with-groups", "--migration", "--path", migrations]);
    expect(mig.code).toBe(0);
    const [name] = readdirSync(migrations);
    expect(name).toMatch(/^\d{14}_rls_scaffolding\.sql$/);
    expect(mig.stdout).toContain(`wrote migration ${join(migrations, name!)}`);
    expect(readFileSync(join(migrations, name!), "utf8")).toContain(sql);
    const db = await freshDatabase("e2e_rls_mig");
    const applied = await runEve(["db", "migrate", "--url", db, "--path", migrations]);
    expect(applied.code).toBe(0);
    const check = await runEve(["db", "rls", "init", "--with-groups", "--url", db, "--json"]);
    expect(JSON.parse(check.stdout)).toMatchObject({ changed: false });
  });

  test("no database and no file: usage error naming the flags", async () => {
    const r = await runEve(["db", "rls", "init", "--with-groups"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: no database given");
    expect(r.stderr).toContain("--out FILE / --migration");
    const both = await runEve(["db", "rls", "init", "--out", "x.sql", "--url", url]);
    expect(both.code).toBe(2);
    const env = await runEve(["db", "rls", "init", "--migration", "--env", "staging"]);
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("error: --env applies the scaffolding; --out/--migration write it to a file: choose one");
  });

  test("server WARNINGs raised while applying are printed on stderr as they come", async () => {
    const db = await freshDatabase("e2e_rls_warn");
    await withSql(db, (sql) =>
      sql.unsafe(`
        create function warn_ddl() returns event_trigger language plpgsql as
          $$ begin raise warning 'ddl seen: %', tg_tag; end $$;
        create event trigger warn_ddl on ddl_command_end execute function warn_ddl();
      `),
    );
    const r = await runEve(["db", "rls", "init", "--url", db, "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning: ddl seen: CREATE FUNCTION\n");
    expect(RlsInitResult.parse(JSON.parse(r.stdout))).toMatchObject({ mode: "database", changed: true });
  });
});
