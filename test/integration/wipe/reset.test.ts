import { beforeEach, describe, expect, test } from "bun:test";
import { bufferWriter, createOutput } from "../../../core/io.ts";
import type { Context } from "../../../core/plugin.ts";
import reset from "../../../plugins/migrate/commands/reset.ts";
import wipe from "../../../plugins/migrate/commands/wipe.ts";
import { ResetResult, WipePreview } from "../../../plugins/migrate/schema.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { tempDir, writeFiles } from "../../helpers/fs.ts";

let url: string;

function context(json = false) {
  const stdout = bufferWriter();
  const stderr = bufferWriter();
  const ctx: Context = {
    env: {},
    cwd: process.cwd(),
    out: createOutput(stdout, stderr, { json }),
    debug: false,
    signal: new AbortController().signal,
    now: () => new Date(),
    version: "test",
  };
  return { ctx, stdout, stderr };
}

const tables = () =>
  withSql(url, async (sql) => (await sql`select tablename from pg_tables where schemaname = 'public' order by 1`).map((r) => r.tablename));

const GOOD = {
  "20260101000001_users.sql": "create table users (id int primary key, email text);\n",
  "20260101000002_posts.sql": "create table posts (id int primary key, user_id int references users(id));\n",
};

beforeEach(async () => {
  url = await freshDatabase("reset");
  await withSql(url, (sql) => sql.unsafe("create table precious (a int); insert into precious select generate_series(1, 10)"));
});

describe("eve db reset / wipe commands", () => {
  test("without --force: refuses (exit 1), prints what would be lost, drops nothing", async () => {
    const { ctx, stdout, stderr } = context();
    const err = await reset.run(ctx, { url, path: writeFiles(tempDir(), GOOD) }, []).catch((e) => e);
    expect([err.code, err.exitCode]).toEqual(["E_REFUSED", 1]);
    expect(stdout.text()).toBe("");
    expect(stderr.text()).toContain("tables   1 (~10 rows estimated)");
    expect(stderr.text()).toContain("then     apply 2 migration files");
    expect(await tables()).toEqual(["precious"]);

    const json = context(true);
    const werr = await wipe.run(json.ctx, { url, json: true }, []).catch((e) => e);
    expect(werr.exitCode).toBe(1);
    const doc = JSON.parse(json.stdout.text());
    expect(WipePreview.parse(doc)).toMatchObject({ refused: true, tables: 1, rowsEstimate: 10, schemas: ["public"], plan: "database" });
    expect(doc.error).toMatchObject({ code: "E_REFUSED", exitCode: 1 });
    expect(await tables()).toEqual(["precious"]);
  });

  test("a bad migration file name stops reset before anything is dropped (exit 2)", async () => {
    const dir = writeFiles(tempDir(), { ...GOOD, "create_more.sql": "create table more (a int);" });
    const err = await reset.run(context().ctx, { url, path: dir, force: true }, []).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("1 invalid migration file name");
    expect(err.context).toContain("  create_more.sql");
    expect(await tables()).toEqual(["precious"]);
  });

  test("duplicate versions and syntax errors also stop it first", async () => {
    const dup = writeFiles(tempDir(), { ...GOOD, "20260101000002_again.sql": "select 1;" });
    const e1 = await reset.run(context().ctx, { url, path: dup, force: true }, []).catch((e) => e);
    expect([e1.exitCode, e1.message]).toEqual([2, expect.stringContaining("1 duplicate version (2 files)")]);
    expect(e1.context).toContain("  version 20260101000002 is used by 20260101000002_again.sql, 20260101000002_posts.sql");
    const bad = writeFiles(tempDir(), { ...GOOD, "20260101000003_bad.sql": "create table ok (a int);\ncreate tabel oops (a int);\n" });
    const e2 = await reset.run(context().ctx, { url, path: bad, force: true }, []).catch((e) => e);
    expect([e2.code, e2.exitCode]).toEqual(["E_SQL_SYNTAX", 4]);
    expect(e2.message).toContain("20260101000003_bad.sql:2:");
    expect(e2.hint).toContain("nothing was dropped");
    expect(await tables()).toEqual(["precious"]);
  });

  test("--force: wipes, then applies every migration", async () => {
    const { ctx, stdout } = context(true);
    await reset.run(ctx, { url, path: writeFiles(tempDir(), GOOD), force: true, json: true }, []);
    const r = ResetResult.parse(JSON.parse(stdout.text()));
    expect(r.wipe).toMatchObject({ mode: "database", before: { tables: 1, rowsEstimate: 10 } });
    expect(r.migrate!.applied.map((a) => a.name)).toEqual(["20260101000001_users.sql", "20260101000002_posts.sql"]);
    expect(await tables()).toEqual(["posts", "schema_migrations", "users"]);
  });
});
