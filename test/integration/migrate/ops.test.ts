/**
 * db.migrate as an operation: run with deps over a real database, its result,
 * events and errors survive the wire (JSON) and parse with its schemas; a
 * failure carries what was applied before it; managed mode refuses --shadow-url.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { migrateOp } from "../../../plugins/migrate/ops/migrate.ts";
import { MigrateResult } from "../../../plugins/migrate/schema.ts";
import { dropDatabases, freshDatabase, withSql } from "../../helpers/db.ts";
import { expectWireSafe, runOp } from "./op-deps.ts";

const urls: string[] = [];
afterAll(() => dropDatabases(urls));

async function fresh(): Promise<string> {
  const url = await freshDatabase("migrate_op");
  urls.push(url);
  return url;
}

const FILES = [
  { name: "20260101000001_users.sql", sql: "create table users (id int primary key);\n" },
  { name: "20260101000002_notice.sql", sql: "do $$ begin raise notice 'hello from the server'; end $$;\ncreate table posts (id int);\n" },
];
const tables = (url: string) => withSql(url, async (sql) => (await sql`select tablename from pg_tables where schemaname = 'public' order by 1`).map((r) => r.tablename));

describe("db.migrate operation", () => {
  test("applies the files, reporting each as it applies and the server's notices; everything survives JSON", async () => {
    const url = await fresh();
    const run = await runOp(migrateOp, url, { migrations: FILES, directory: "db/migrations" });
    expect(run.error).toBeUndefined();
    expect(run.result!.applied.map((a) => [a.name, a.kind])).toEqual([
      ["20260101000001_users.sql", "applied"],
      ["20260101000002_notice.sql", "applied"],
    ]);
    expect(run.result!.directory).toBe("db/migrations");
    expect(run.events.filter((e) => e.type === "applied").map((e) => e.type === "applied" && e.item.name)).toEqual(FILES.map((f) => f.name));
    expect(run.events).toContainEqual({ type: "server-notice", severity: "NOTICE", message: "hello from the server" });
    expectWireSafe(migrateOp, run);
    expect(await tables(url)).toEqual(["posts", "schema_migrations", "users"]);

    // Only what this run applied is reported as applied.
    const again = await runOp(migrateOp, url, { migrations: FILES, directory: null });
    expect([again.result!.applied, again.result!.alreadyApplied, again.result!.directory]).toEqual([[], 2, "the request"]);
  });

  test("a failing file: the error carries the partial result in details.partial, through JSON", async () => {
    const url = await fresh();
    const bad = { name: "20260101000003_bad.sql", sql: "create table half (a int);\nselect 1/0;\n" };
    const run = await runOp(migrateOp, url, { migrations: [...FILES, bad], directory: "dir" });
    expect(run.error).toBeDefined();
    expect([run.error!.code, run.error!.exitCode]).toEqual(["E_SQL", 4]);
    const partial = MigrateResult.parse(run.error!.details!.partial);
    expect(partial.applied.map((a) => a.name)).toEqual(FILES.map((f) => f.name));
    expect(run.error!.details!.sqlstate).toBe("22012");
    expectWireSafe(migrateOp, run);
    expect(await tables(url)).toEqual(["posts", "schema_migrations", "users"]);
  });

  test("bad names are refused as data before anything runs; a drifted file too", async () => {
    const url = await fresh();
    const names = await runOp(migrateOp, url, { migrations: [...FILES, { name: "oops.sql", sql: "select 1;" }], directory: "d" });
    expect([names.error!.code, names.error!.exitCode, names.error!.context]).toEqual(["E_USAGE", 2, ["  oops.sql"]]);
    expect(names.error!.details).toEqual({ badNames: ["oops.sql"], duplicateVersions: [] });
    expectWireSafe(migrateOp, names);
    expect(await tables(url)).toEqual([]);

    await runOp(migrateOp, url, { migrations: FILES, directory: "d" });
    const drift = await runOp(migrateOp, url, { migrations: [{ ...FILES[0]!, sql: "create table users (id bigint primary key);\n" }, FILES[1]!], directory: "d" });
    expect([drift.error!.code, drift.error!.exitCode]).toEqual(["E_DRIFT", 5]);
    expectWireSafe(migrateOp, drift);
  });

  test("managed mode refuses a --shadow-url (the control plane gives its own); direct mode checks it", async () => {
    const url = await fresh();
    const managed = await runOp(migrateOp, url, { migrations: FILES, shadowUrl: "postgres://x@localhost/y" }, { mode: "managed" });
    expect([managed.error!.code, managed.error!.exitCode]).toEqual(["E_USAGE", 2]);
    expect(managed.error!.message).toContain("--shadow-url is for direct mode only");
    expectWireSafe(migrateOp, managed);
    const direct = await runOp(migrateOp, url, { migrations: FILES, shadowUrl: "mysql://nope" });
    expect(direct.error!.exitCode).toBe(2);
    expect(direct.error!.message).toContain("--shadow-url");
    expect(await tables(url)).toEqual([]);
  });
});
