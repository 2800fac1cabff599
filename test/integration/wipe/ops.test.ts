/**
 * db.wipe and db.reset as operations: the refusal carries its preview as
 * data; reset validates everything (names, text, syntax, the preview) before
 * anything is dropped; a migration failure after the wipe says so as data;
 * results, events and errors survive the wire and parse with the schemas.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { resetOp } from "../../../plugins/migrate/ops/reset.ts";
import { wipeOp } from "../../../plugins/migrate/ops/wipe.ts";
import { MigrateResult, WipePreview, WipeResult } from "../../../plugins/migrate/schema.ts";
import { dropDatabases, freshDatabase, withSql } from "../../helpers/db.ts";
import { expectWireSafe, runOp } from "../migrate/op-deps.ts";

let url: string;
const urls: string[] = [];
afterAll(() => dropDatabases(urls));

beforeEach(async () => {
  url = await freshDatabase("wipe_op");
  urls.push(url);
  await withSql(url, (sql) => sql.unsafe("create table precious (a int); insert into precious select generate_series(1, 10)"));
});

const tables = () => withSql(url, async (sql) => (await sql`select tablename from pg_tables where schemaname = 'public' order by 1`).map((r) => r.tablename));
const GOOD = [
  { name: "20260101000001_users.sql", sql: "create table users (id int primary key);\n" },
  { name: "20260101000002_posts.sql", sql: "create table posts (id int primary key, user_id int references users(id));\n" },
];

describe("db.wipe operation", () => {
  test("without force: refused (exit 1) with the preview as data; nothing dropped", async () => {
    const run = await runOp(wipeOp, url, {});
    expect([run.error!.code, run.error!.exitCode]).toEqual(["E_REFUSED", 1]);
    expect(WipePreview.parse(run.error!.details!.preview)).toMatchObject({ refused: true, tables: 1, rowsEstimate: 10, schemas: ["public"], plan: "database" });
    expectWireSafe(wipeOp, run);
    expect(await tables()).toEqual(["precious"]);
  });

  test("force: wipes; its own held session is not counted among the sessions it ended", async () => {
    const run = await runOp(wipeOp, url, { force: true });
    expect(run.result).toMatchObject({ mode: "database", terminatedSessions: 0, before: { tables: 1 } });
    expectWireSafe(wipeOp, run);
    expect(await tables()).toEqual([]);
  });

  test("schema mode: the fallback event, and the same result shape", async () => {
    const run = await runOp(wipeOp, url, { force: true, schemasOnly: true, lockTimeoutMs: 5000 });
    expect(run.events).toEqual([{ type: "fallback", reason: "schema mode requested" }]);
    expect(run.result).toMatchObject({ mode: "schemas", schemas: { dropped: ["public"], recreated: ["public"] } });
    expectWireSafe(wipeOp, run);
    expect(await tables()).toEqual([]);
  });

  test("managed mode: the control plane's wipe is used (deps.wipeDatabase), with the same events", async () => {
    let called = 0;
    const run = await runOp(wipeOp, url, { force: true }, {
      mode: "managed",
      wipeDatabase: async (o) => {
        called++;
        o.report?.({ type: "warning", message: "platform wipe" });
        return WipeResult.parse({
          database: o.label, name: "x", mode: "schemas", fallbackReason: "managed", terminatedSessions: 0,
          before: { sizeBytes: 1, tables: 1, rowsEstimate: 10, schemas: ["public"] }, recreated: null,
          schemas: { dropped: ["public"], recreated: ["public"] }, warnings: ["platform wipe"], durationMs: 1,
        });
      },
    });
    expect(called).toBe(1);
    expect(run.events).toEqual([{ type: "warning", message: "platform wipe" }]);
    expectWireSafe(wipeOp, run);
    expect(await tables()).toEqual(["precious"]); // the fake platform wipe dropped nothing
  });
});

describe("db.reset operation", () => {
  test("validates before dropping: a bad file name, a duplicate version, bad text or bad SQL → nothing dropped, data intact", async () => {
    const cases: Array<[unknown[], string, number]> = [
      [[...GOOD, { name: "create_more.sql", sql: "create table more (a int);" }], "E_USAGE", 2],
      [[...GOOD, { name: "20260101000002_again.sql", sql: "select 1;" }], "E_USAGE", 2],
      [[...GOOD, { name: "20260101000003_lone.sql", sql: "select '\ud800';" }], "E_USAGE", 2],
      [[...GOOD, { name: "20260101000003_bad.sql", sql: "create table ok (a int);\ncreate tabel oops (a int);\n" }], "E_SQL_SYNTAX", 4],
    ];
    for (const [migrations, code, exit] of cases) {
      const run = await runOp(resetOp, url, { migrations, force: true, directory: "db/migrations" });
      expect<unknown[]>([run.error?.code, run.error?.exitCode]).toEqual([code, exit]);
      expect(run.events).toEqual([]);
      expectWireSafe(resetOp, run);
      expect(await tables()).toEqual(["precious"]);
      expect(await withSql(url, async (sql) => (await sql`select count(*)::int as n from precious`)[0]!.n)).toBe(10);
    }
  });

  test("without force: refused with the preview (and the number of files) as data", async () => {
    const run = await runOp(resetOp, url, { migrations: GOOD });
    expect(run.error!.code).toBe("E_REFUSED");
    expect(run.error!.hint).toContain("then apply the migrations");
    expect(WipePreview.parse(run.error!.details!.preview)).toMatchObject({ tables: 1, migrations: 2 });
    expectWireSafe(resetOp, run);
    expect(await tables()).toEqual(["precious"]);
  });

  test("force: wipe, then every migration, as one operation; events tagged by phase", async () => {
    const run = await runOp(resetOp, url, { migrations: GOOD, directory: "db/migrations", force: true });
    expect(run.error).toBeUndefined();
    expect(run.result!.wipe).toMatchObject({ mode: "database", terminatedSessions: 0, before: { tables: 1, rowsEstimate: 10 } });
    expect(run.result!.migrate!.applied.map((a) => a.name)).toEqual(GOOD.map((f) => f.name));
    const types = run.events.map((e) => (e.type === "migrate" ? `migrate:${e.event.type}` : e.type));
    expect(types).toEqual(["wiped", "migrate:start", "migrate:applied", "migrate:start", "migrate:applied"]);
    expectWireSafe(resetOp, run);
    expect(await tables()).toEqual(["posts", "schema_migrations", "users"]);
  });

  test("a migration failing after the wipe: the error carries the wipe and the partial run as data", async () => {
    const bad = { name: "20260101000003_bad.sql", sql: "select 1/0;\n" };
    const run = await runOp(resetOp, url, { migrations: [...GOOD, bad], force: true, schemasOnly: true });
    expect([run.error!.code, run.error!.exitCode]).toEqual(["E_SQL", 4]);
    expect(WipeResult.parse(run.error!.details!.wiped).mode).toBe("schemas");
    expect(MigrateResult.parse(run.error!.details!.partial).applied.map((a) => a.name)).toEqual(GOOD.map((f) => f.name));
    expectWireSafe(resetOp, run);
    expect(await tables()).toEqual(["posts", "schema_migrations", "users"]);
  });

  test("noMigrate: wipe only (migrate null); files with it are refused before anything is dropped", async () => {
    const both = await runOp(resetOp, url, { migrations: GOOD, noMigrate: true, force: true });
    expect(both.error!.code).toBe("E_USAGE");
    expect(await tables()).toEqual(["precious"]);
    const run = await runOp(resetOp, url, { noMigrate: true, force: true });
    expect(run.result!.migrate).toBeNull();
    expectWireSafe(resetOp, run);
    expect(await tables()).toEqual([]);
  });
});
