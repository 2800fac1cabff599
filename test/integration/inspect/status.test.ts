import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { readMigrationDir } from "../../../core/migrations/files.ts";
import { renderStatus } from "../../../plugins/inspect/render-status.ts";
import { StatusResult } from "../../../plugins/inspect/schema.ts";
import { inspectStatus } from "../../../plugins/inspect/status-query.ts";
import { migrate } from "../../../plugins/migrate/runner.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";

let url: string;
let db: Db;
const dirs: string[] = [];

beforeAll(async () => {
  url = await freshDatabase("status");
  db = connect(url, { max: 1 });
});
afterAll(async () => {
  await close(db);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "eve-status-"));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

/** Wait until `check` returns a value (polling pg_stat_activity catches up asynchronously). */
async function until<T>(check: () => Promise<T | null | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("inspectStatus", () => {
  test("server, database, connections and extensions", async () => {
    const s = await inspectStatus(db, { target: "me@host:5432/db" });
    expect(() => StatusResult.parse(s)).not.toThrow();
    const facts = await withSql(url, async (sql) => {
      const [r] = await sql`select current_database() as name, current_setting('server_version_num')::int as num,
        current_setting('max_connections')::int as max, pg_database_size(current_database())::float8 as size`;
      return r!;
    });
    expect(s.target).toBe("me@host:5432/db");
    expect(s.reachable).toBe(true);
    expect(s.latencyMs).toBeGreaterThan(0);
    expect(s.latencyMs).toBeLessThan(1000);
    expect(s.server.versionNum).toBe(facts.num);
    expect(s.server.version).toMatch(/^\d+\.\d+$/);
    expect(s.server.inRecovery).toBe(false);
    expect(Date.parse(s.server.startedAt)).toBeLessThanOrEqual(Date.now());
    expect(s.database).toMatchObject({ name: facts.name, owner: "postgres", encoding: "UTF8" });
    expect(s.database.sizeBytes).toBeGreaterThan(1_000_000);
    expect(s.connections.max).toBe(facts.max);
    expect(s.connections.used).toBeGreaterThanOrEqual(1);
    expect(s.connections.thisDatabase).toBeGreaterThanOrEqual(1);
    expect(s.connections.used).toBeGreaterThanOrEqual(s.connections.thisDatabase);
    expect(s.extensions).toContainEqual({ name: "plpgsql", version: expect.any(String), schema: "pg_catalog" });
    expect(s.migrations).toEqual({ table: "public.schema_migrations", exists: false, applied: 0, latest: null, directory: null, pending: null, drifted: null, missing: null });
    expect(renderStatus(s)).toContain("none (no public.schema_migrations table)");
  });

  test("a second connection to this database is counted", async () => {
    const before = (await inspectStatus(db, { target: "x" })).connections.thisDatabase;
    await withSql(url, async (sql) => {
      await sql`select 1`;
      const during = (await inspectStatus(db, { target: "x" })).connections.thisDatabase;
      expect(during).toBe(before + 1);
    });
  });

  test("longest-running query and oldest open transaction, excluding our own session", async () => {
    const idle = await inspectStatus(db, { target: "x" });
    expect(idle.longestQuery).toBeNull();
    expect(idle.oldestTransaction).toBeNull();

    // Two more sessions: one holds a transaction open, the other runs a long query.
    const tx = connect(url, { max: 1, applicationName: "status-test" });
    const sleeper = connect(url, { max: 1, applicationName: "status-test" });
    try {
      await tx.unsafe("begin");
      const [{ pid: txPid }] = (await tx`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
      const long = sleeper`select pg_sleep(30), 'a long query text that is clearly longer than eighty characters in total, yes'`.execute();
      long.catch(() => {});
      const running = await until(async () => {
        const s = await inspectStatus(db, { target: "x" });
        return s.longestQuery && s.oldestTransaction ? s : null;
      }, "the sleeping query");
      expect(running.longestQuery).toMatchObject({ state: "active", user: "postgres", application: "status-test" });
      expect(running.longestQuery!.pid).not.toBe(txPid);
      expect(running.longestQuery!.query).toStartWith("select pg_sleep(30)");
      expect(running.longestQuery!.query).toHaveLength(80);
      expect(running.longestQuery!.durationMs).toBeGreaterThanOrEqual(0);
      // The sleeper's implicit transaction started after the explicit one.
      expect(running.oldestTransaction).toMatchObject({ pid: txPid, state: "idle in transaction", application: "status-test" });
      expect(running.oldestTransaction!.ageMs).toBeGreaterThanOrEqual(0);
      const text = renderStatus(running);
      expect(text).toContain(`longest query       pid ${running.longestQuery!.pid}`);
      expect(text).toContain(`oldest transaction  pid ${txPid}, open`);
      await db`select pg_cancel_backend(${running.longestQuery!.pid})`;
      await tx.unsafe("rollback");
    } finally {
      await close(tx, 1);
      await close(sleeper, 1);
    }
  });

  test("migration summary: applied count and latest; with files: pending, drifted, missing", async () => {
    const dir = migrationsDir({
      "20260101000000_one.sql": "create table one (id int);",
      "20260102000000_two.sql": "create table two (id int);",
      "20260103000000_three.sql": "create table three (id int);\n",
    });
    await migrate(db, await readMigrationDir(dir), { database: "test", directory: dir });
    let s = await inspectStatus(db, { target: "x" });
    expect(s.migrations).toMatchObject({ table: "public.schema_migrations", exists: true, applied: 3, directory: null, pending: null });
    expect(s.migrations.latest!.name).toBe("20260103000000_three.sql");
    expect(Date.parse(s.migrations.latest!.appliedAt)).toBeGreaterThan(Date.now() - 60_000);

    // Change one applied file, remove another, add a new one.
    writeFileSync(join(dir, "20260102000000_two.sql"), "create table two (id bigint);");
    unlinkSync(join(dir, "20260101000000_one.sql"));
    writeFileSync(join(dir, "20260104000000_four.sql"), "create table four (id int);");
    // CRLF-only changes are not drift.
    writeFileSync(join(dir, "20260103000000_three.sql"), "create table three (id int);\r\n");
    s = await inspectStatus(db, { target: "x", migrations: { directory: "db/migrations", files: await readMigrationDir(dir) } });
    expect(s.migrations).toMatchObject({
      applied: 3,
      directory: "db/migrations",
      pending: ["20260104000000_four.sql"],
      drifted: ["20260102000000_two.sql"],
      missing: ["20260101000000_one.sql"],
    });
    const text = renderStatus(s);
    expect(text).toContain("3 applied, latest 20260103000000_three.sql at ");
    expect(text).toContain("db/migrations: 1 pending, 1 drifted, 1 missing");
    expect(text).toMatch(/ {2}pending +20260104000000_four\.sql/);
  });

  test("a history table made by the original runner (no kind/duration columns) and an empty search_path", async () => {
    const other = await freshDatabase("status_old");
    await withSql(other, (sql) =>
      sql.unsafe(`create table schema_migrations (name text primary key, checksum text not null, applied_at timestamptz not null default now());
        insert into schema_migrations (name, checksum, applied_at) values
          ('20250101000000_a.sql', 'x', '2025-01-01T00:00:00Z'), ('20250301000000_c.sql', 'y', '2025-01-02T00:00:00Z'),
          ('20250201000000_b.sql', 'z', '2025-06-01T00:00:00Z');`),
    );
    const conn = connect(other);
    try {
      const s = await inspectStatus(conn, { target: "x" });
      // Latest = highest version, not the most recent applied_at.
      expect(s.migrations).toMatchObject({ exists: true, applied: 3, latest: { name: "20250301000000_c.sql", appliedAt: "2025-01-02T00:00:00.000Z" } });
      await conn`set search_path = ''`;
      const noSchema = await inspectStatus(conn, { target: "x" });
      expect(noSchema.migrations).toMatchObject({ table: null, exists: false, applied: 0, latest: null });
      expect(renderStatus(noSchema)).toContain("no current schema (empty search_path)");
    } finally {
      await close(conn);
    }
  });
});
