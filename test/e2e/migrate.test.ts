/**
 * The CLI as users run it (source, or the compiled binary with EVE_E2E_BIN):
 * stdout, stderr and exit codes of new / migrate / migrations.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../helpers/pg.ts";
import { runEve } from "../helpers/cli.ts";
import { freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir, writeFiles } from "../helpers/fs.ts";

const password = (url: string) => decodeURIComponent(new URL(url).password);

/** Wait (up to 20 s) until a `pg_sleep(30)` statement is running on the server. */
async function sleepRunning(url: string): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const rows = await withSql(url, (sql) => sql`select 1 from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid() and state = 'active' and datname = current_database()`);
    if (rows.length > 0) return true;
  }
  return false;
}

describe("eve (global)", () => {
  test("--version prints version and commit", async () => {
    const r = await runEve(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^eve \d+\.\d+\.\d+ \(commit [0-9a-z]+/);
  });

  test("help is complete and unknown commands/flags are usage errors with a suggestion", async () => {
    const help = await runEve(["db", "migrate", "--help"]);
    expect(help.code).toBe(0);
    for (const flag of ["--url", "--path", "--dry-run", "--lock-timeout", "--allow-out-of-order", "--baseline", "--shadow-url", "--wait", "--json"]) {
      expect(help.stdout).toContain(flag);
    }
    const db = await runEve(["db", "--help"]);
    expect(db.stdout).toContain("migrate");
    expect(db.stdout).toContain("migrations");
    const bad = await runEve(["db", "migrat"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown command 'migrat'");
    expect(bad.stderr).toContain("did you mean migrate?");
    const flag = await runEve(["db", "migrate", "--dry-rnu"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--dry-rnu'");
    expect(flag.stderr).toContain("--dry-run");
    // A group's own flags do not leak into its subcommands.
    const leak = await runEve(["db", "rls", "init", "--check"]);
    expect(leak.code).toBe(2);
    expect(leak.stderr).toContain("unknown option '--check'");
  });

  test("help exit-codes and help environment", async () => {
    const codes = await runEve(["help", "exit-codes"]);
    expect(codes.code).toBe(0);
    for (const n of ["0", "1", "2", "3", "4", "5", "6"]) expect(codes.stdout).toMatch(new RegExp(`^\\s+${n}\\s+\\w`, "m"));
    const env = await runEve(["help", "environment"]);
    expect(env.stdout).toContain("DATABASE_URL");
    expect(env.stdout).toContain("MIGRATIONS_DIR");
  });
});

describe("eve db new", () => {
  test("creates a normalised UTC file, bumps instead of reusing a version", async () => {
    const cwd = tempDir();
    const a = await runEve(["db", "new", "Create", "Users", "table"], { cwd });
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toMatch(/db\/migrations\/\d{14}_create_users_table\.sql$/);
    const b = await runEve(["db", "new", "create users table", "--path", "other", "--json"], { cwd });
    expect(JSON.parse(b.stdout).path).toMatch(/other\/\d{14}_create_users_table\.sql$/);
    await runEve(["db", "new", "x"], { cwd });
    const versions = readdirSync(join(cwd, "db/migrations")).map((n) => n.slice(0, 14));
    expect(new Set(versions).size).toBe(2);
  });
});

describe("eve db migrate", () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase("e2e");
  });

  test("applies, lists durations, and --json is one clean document", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_users.sql": "create table users (id uuid primary key default uuid_generate_v4());\n",
      "20260101000002_idx.sql": "create index concurrently users_id on users (id);\n",
    });
    const r = await runEve(["db", "migrate", "--url", url, "--path", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ 20260101000001_users\.sql\s+\d+ms/);
    expect(r.stdout).toMatch(/✓ 20260101000002_idx\.sql\s+\d+ms \(outside a transaction\)/);
    expect(r.stdout).toContain("applied 2 migrations");
    expect(r.stderr).toContain("created extension uuid-ossp");
    expect(r.stdout + r.stderr).not.toContain(password(url));
    const again = await runEve(["db", "migrate", "--url", url, "--path", dir, "--json"]);
    expect(again.code).toBe(0);
    const doc = JSON.parse(again.stdout);
    expect(doc).toMatchObject({ applied: [], alreadyApplied: 2, dryRun: false, table: "public.schema_migrations" });
    const list = await runEve(["db", "migrations", "--url", url, "--path", dir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/20260101000001_users\.sql\s+applied\s+\d{4}-\d\d-\d\d/);
    expect(list.stdout).toContain("2 applied, 0 pending, 0 missing, 0 drifted");
  });

  test("bad names are all reported before any database work (exit 2)", async () => {
    const fresh = await freshDatabase("e2e");
    const dir = writeFiles(tempDir(), { "1_a.sql": "", "20260101000001_B.sql": "", "20260101000002_ok.sql": "select 1;" });
    const r = await runEve(["db", "migrate", "--url", fresh, "--path", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("1_a.sql");
    expect(r.stderr).toContain("20260101000001_B.sql");
    expect(r.stderr.trim().split("\n")).toHaveLength(4); // a header counting them, one line per name, one hint
    const n = await withSql(fresh, (sql) => sql`select count(*)::int as n from pg_class where relname = 'schema_migrations'`);
    expect(n[0]!.n).toBe(0);
  });

  test("a failing file: human lines for what applied, then the error; --json is one document, the partial run and the error", async () => {
    const fresh = await freshDatabase("e2e");
    const dir = writeFiles(tempDir(), {
      "20260101000001_a.sql": "create table a (id int);\n",
      "20260101000002_bad.sql": "create table half (id int);\nselect 1/0;\n",
    });
    const r = await runEve(["db", "migrate", "--url", fresh, "--path", dir]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^ {2}✓ 20260101000001_a\.sql\s+\d+ms\n$/);
    expect(r.stderr).toContain("error: ");
    expect(r.stderr).toContain("division by zero");
    writeFiles(dir, { "20260101000003_c.sql": "create table c (id int);\n" });
    const j = await runEve(["db", "migrate", "--url", fresh, "--path", dir, "--json"]);
    expect(j.code).toBe(4);
    const doc = JSON.parse(j.stdout);
    expect(doc).toMatchObject({ applied: [], alreadyApplied: 1, dryRun: false, error: { code: "E_SQL", exitCode: 4, sqlstate: "22012" } });
    expect(doc.error).not.toHaveProperty("partial");
    const tables = await withSql(fresh, (sql) => sql`select tablename from pg_tables where schemaname = 'public' order by 1`);
    expect(tables.map((t) => t.tablename)).toEqual(["a", "schema_migrations"]);
  });

  test("drift exits 5 and --check reports pending", async () => {
    const fresh = await freshDatabase("e2e");
    const dir = writeFiles(tempDir(), { "20260101000001_a.sql": "create table a (id int);\n" });
    expect((await runEve(["db", "migrate", "--url", fresh, "--path", dir])).code).toBe(0);
    writeFiles(dir, { "20260101000002_b.sql": "create table b (id int);\n" });
    const check = await runEve(["db", "migrations", "--url", fresh, "--path", dir, "--check"]);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/20260101000002_b\.sql\s+pending/);
    writeFiles(dir, { "20260101000001_a.sql": "create table a (id bigint);\n" });
    const r = await runEve(["db", "migrate", "--url", fresh, "--path", dir]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("20260101000001_a.sql");
    expect(r.stderr).toContain("modified");
    const list = await runEve(["db", "migrations", "--url", fresh, "--path", dir, "--json"]);
    const doc = JSON.parse(list.stdout);
    expect(doc.migrations.map((m: { status: string }) => m.status)).toEqual(["drifted", "pending"]);
  });

  test("DATABASE_URL and MIGRATIONS_DIR make it the container entrypoint; --wait-timeout bounds --wait", async () => {
    const fresh = await freshDatabase("e2e");
    const dir = writeFiles(tempDir(), { "20260101000001_a.sql": "create table a (id int);\n" });
    const r = await runEve(["db", "migrate", "--wait"], { env: { DATABASE_URL: fresh, MIGRATIONS_DIR: dir } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("applied 1 migration");
    const none = await runEve(["db", "migrate"], { env: { DATABASE_URL: undefined, MIGRATIONS_DIR: dir } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no database given");
    expect(none.stderr).toContain("DATABASE_URL");
  });

  test("unreachable server and wrong password: one clear line, exit 3, no password", async () => {
    const dir = writeFiles(tempDir(), { "20260101000001_a.sql": "select 1;\n" });
    const port = await freePort();
    const t0 = Date.now();
    const down = await runEve(["db", "migrate", "--url", `postgres://app:s3cretpw@127.0.0.1:${port}/app`, "--path", dir, "--wait", "--wait-timeout", "1s"]);
    expect(down.code).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(down.stderr).toContain(`cannot connect to app@127.0.0.1:${port}/app: connection refused`);
    expect(down.stderr).not.toContain("s3cretpw");
    const u = new URL(url);
    u.password = "wrong-pass-123";
    const auth = await runEve(["db", "migrate", "--url", u.toString(), "--path", dir]);
    expect(auth.code).toBe(3);
    expect(auth.stderr).toContain("authentication failed");
    expect(auth.stderr + auth.stdout).not.toContain("wrong-pass-123");
    const json = await runEve(["db", "migrate", "--url", u.toString(), "--path", dir, "--json"]);
    expect(JSON.parse(json.stdout).error.code).toBe("E_AUTH");
    expect(json.stdout).not.toContain("wrong-pass-123");
    // `--json` as an option's value is not the flag: no JSON document for this error.
    const value = await runEve(["db", "migrate", "--url", u.toString(), "--path", "--json"]);
    expect(value.stderr).toContain("migrations directory not found");
    expect(value.stdout).toBe("");
    const debug = await runEve(["db", "migrate", "--url", u.toString(), "--path", dir, "--debug"]);
    expect(debug.stderr).not.toContain("wrong-pass-123");
  });
});

describe("concurrency and crashes", () => {
  test("two runners at once on an empty database: both exit 0, each migration applied once", async () => {
    const url = await freshDatabase("e2e");
    const files: Record<string, string> = {};
    for (let i = 1; i <= 20; i++) {
      const v = `202601010000${String(i).padStart(2, "0")}`;
      files[`${v}_m${i}.sql`] = `create table if not exists runs (name text); insert into runs values ('m${i}'); create table t${i} (id int); select pg_sleep(0.02);\n`;
    }
    const dir = writeFiles(tempDir(), files);
    const [a, b] = await Promise.all([
      runEve(["db", "migrate", "--url", url, "--path", dir]),
      runEve(["db", "migrate", "--url", url, "--path", dir]),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const counts = await withSql(url, (sql) => sql`select name, count(*)::int as n from runs group by name`);
    expect(counts).toHaveLength(20);
    expect(counts.every((c) => c.n === 1)).toBe(true);
    expect(a.stdout.split("✓").length - 1 + (b.stdout.split("✓").length - 1)).toBe(20);
  });

  test("lock timeout exits 6 while another session holds the lock", async () => {
    const url = await freshDatabase("e2e");
    const dir = writeFiles(tempDir(), { "20260101000001_a.sql": "create table a (id int);\n" });
    // Learn the key by running once, then hold it from another session.
    expect((await runEve(["db", "migrate", "--url", url, "--path", dir])).code).toBe(0);
    const { advisoryKey } = await import("../../core/db/lock.ts");
    const key = advisoryKey("eve:migrate:public.schema_migrations");
    await withSql(url, async (sql) => {
      await sql`select pg_advisory_lock(${key}::bigint)`;
      const r = await runEve(["db", "migrate", "--url", url, "--path", dir, "--lock-timeout", "1s"]);
      expect(r.code).toBe(6);
      expect(r.stderr).toContain("waiting for the migration lock");
      expect(r.stderr).toContain("timed out after 1s");
    });
  });

  test("kill -9 in the middle of a migration leaves nothing behind and a rerun completes", async () => {
    const url = await freshDatabase("e2e");
    // The marker lives in a schema no migration creates: adoption ignores it (and finds prefix 0).
    await withSql(url, (sql) => sql`create schema ctl; create table ctl.sleep_marker (x int)`.simple());
    const dir = writeFiles(tempDir(), {
      "20260101000001_a.sql": "create table a (id int);\n",
      "20260101000002_slow.sql":
        "create table slow (id int);\ninsert into slow values (1);\nselect pg_sleep(30) from pg_class where relname = 'sleep_marker';\n",
    });
    const child = runEve(["db", "migrate", "--url", url, "--path", dir]);
    expect(await sleepRunning(url)).toBe(true);
    child.kill("SIGKILL");
    const result = await child;
    expect(result.code).toBe(137);
    // The server notices the dead client (client_connection_check_interval) and rolls back.
    const gone = Date.now() + 15_000;
    let left = 1;
    while (Date.now() < gone && left > 0) {
      await new Promise((r) => setTimeout(r, 200));
      left = (await withSql(url, (sql) => sql`select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()`))[0]!.n;
    }
    expect(left).toBe(0);
    const state = await withSql(url, async (sql) => ({
      slow: (await sql`select to_regclass('slow') is not null as e`)[0]!.e,
      rows: (await sql`select name from schema_migrations order by name`).map((r) => r.name),
    }));
    expect(state).toEqual({ slow: false, rows: ["20260101000001_a.sql"] });
    await withSql(url, (sql) => sql`drop table ctl.sleep_marker`);
    const rerun = await runEve(["db", "migrate", "--url", url, "--path", dir]);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain("20260101000002_slow.sql");
  });

  test("Ctrl-C cancels the running migration on the server and rolls it back (exit 130)", async () => {
    const url = await freshDatabase("e2e");
    const dir = writeFiles(tempDir(), {
      "20260101000001_slow.sql": "create table slow (id int);\nselect pg_sleep(30);\n",
    });
    const child = runEve(["db", "migrate", "--url", url, "--path", dir]);
    expect(await sleepRunning(url)).toBe(true);
    const t0 = Date.now();
    child.kill("SIGINT");
    const r = await child;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("interrupted: 20260101000001_slow.sql was cancelled and rolled back");
    const slow = await withSql(url, (sql) => sql`select to_regclass('slow') is not null as e`);
    expect(slow[0]!.e).toBe(false);
  });
});
