/**
 * Wipe in schema mode (a role that cannot recreate the database) against a
 * lock held by another session: it says who holds it, honours --lock-timeout
 * (exit 6) and Ctrl-C cancels on the server and rolls back (exit 130); either
 * way nothing changed. Plus SIGTERM, which must end eve at any point.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { runEve } from "../helpers/cli.ts";
import { adminUrl, freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir, writeFiles } from "../helpers/fs.ts";
import { createRole, dropRoles, type TestRole } from "../helpers/roles.ts";
import { startEve } from "../helpers/start-eve.ts";

let url: string;
let name: string;
let owner: TestRole;
const used: string[] = [];

/** Everything a wipe would change: schemas, tables with their row counts, and the rows' sum. */
const state = (u = url) =>
  withSql(u, async (sql) => ({
    schemas: (await sql`select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by 1`).map((r) => r.nspname),
    tables: (await sql`select schemaname || '.' || tablename as t from pg_tables where schemaname in ('app', 'public') order by 1`).map((r) => r.t),
    items: (await sql`select count(*)::int as n, sum(id)::int as s from app.items`)[0],
    notes: (await sql`select count(*)::int as n from public.notes`)[0]!.n,
  }));

/** A superuser session (the owner cannot terminate it) holding a lock on app.items inside an open transaction. */
async function holdLock(): Promise<{ pid: number; release: () => Promise<void> }> {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "lock-holder" },
  });
  const reserved = await sql.reserve();
  await reserved`begin`;
  await reserved`lock table app.items in access share mode`;
  const [row] = await reserved`select pg_backend_pid() as pid`;
  return {
    pid: row!.pid as number,
    release: async () => {
      await reserved`rollback`.catch(() => {});
      reserved.release();
      await sql.end();
    },
  };
}

beforeEach(async () => {
  owner ??= await createRole("e2e_wipelock_owner");
  url = await freshDatabase("e2e_wipelock");
  used.push(url);
  name = new URL(url).pathname.slice(1);
  await withSql(url, (sql) => sql.unsafe(`alter database "${name}" owner to "${owner.name}"; alter schema public owner to "${owner.name}"`));
  await withSql(owner.urlFor(url), (sql) =>
    sql.unsafe(`
      create schema app;
      create table app.items (id int primary key);
      insert into app.items select generate_series(1, 100);
      create table public.notes (body text);
      insert into notes values ('keep'), ('me');
    `),
  );
});

afterAll(() => dropRoles(used));

const before = { schemas: ["app", "public"], tables: ["app.items", "public.notes"], items: { n: 100, s: 5050 }, notes: 2 };

describe("eve db wipe in schema mode, waiting on a lock", () => {
  test("Ctrl-C while it waits: the wait is reported, the statement is cancelled on the server, exit 130, nothing changed", async () => {
    const lock = await holdLock();
    try {
      expect(await state()).toEqual(before);
      const p = startEve(["db", "wipe", "--url", owner.urlFor(url), "--force", "--lock-timeout", "5m"], /waiting for a lock held by/);
      await p.ready;
      p.kill("SIGINT");
      const r = await p.done;
      expect(r.stderr).toContain(`waiting for a lock held by pid ${lock.pid} (application lock-holder, user postgres): up to --lock-timeout 300s per lock; Ctrl-C cancels and changes nothing`);
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain(`error: interrupted: the wipe of ${name} was cancelled and rolled back; nothing was changed`);
      // The holder still holds its lock and eve's session is gone: the cancel reached the server.
      const eve = await withSql(await adminUrl(), (sql) => sql`select count(*)::int as n from pg_stat_activity where datname = ${name} and application_name like 'eve wipe%'`);
      expect(eve[0]!.n).toBe(0);
      expect(await state()).toEqual(before);
    } finally {
      await lock.release();
    }
    expect(await state()).toEqual(before);
  });

  test("--lock-timeout: exit 6 naming the holder, nothing changed", async () => {
    const lock = await holdLock();
    try {
      const started = performance.now();
      const r = await runEve(["db", "wipe", "--url", owner.urlFor(url), "--force", "--lock-timeout", "2s"]);
      const seconds = (performance.now() - started) / 1000;
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toContain(`waiting for a lock held by pid ${lock.pid} (application lock-holder`);
      expect(r.stderr).toContain(`error: timed out after 2s waiting for a lock held by pid ${lock.pid} (application lock-holder, user postgres); nothing was changed in ${name}`);
      expect(r.stderr).toContain("hint: end the session holding the lock, or raise --lock-timeout");
      expect(seconds).toBeGreaterThanOrEqual(2);
      expect(await state()).toEqual(before);
    } finally {
      await lock.release();
    }
  });

  test("reset has --lock-timeout too; once the lock is released, the wipe goes through", async () => {
    const dir = writeFiles(tempDir(), { "20260101000001_t.sql": "create table t (id int);\n" });
    const lock = await holdLock();
    const p = startEve(["db", "reset", "--url", owner.urlFor(url), "--path", dir, "--force", "--lock-timeout", "1m"], /waiting for a lock held by/);
    await p.ready;
    await lock.release();
    const r = await p.done;
    expect(r.code, r.stderr).toBe(0);
    expect((await state().catch(() => null))?.schemas ?? null).toBeNull(); // app.items is gone
    const tables = await withSql(url, (sql) => sql`select tablename from pg_tables where schemaname = 'public' order by 1`);
    expect(tables.map((t) => t.tablename)).toEqual(["schema_migrations", "t"]);
  });
});

describe("SIGTERM ends eve at any point", () => {
  test("during a running query: cancelled on the server, exit 143 at once", async () => {
    const p = startEve(["db", "sql", "--url", url, "--sql", "select pg_sleep(30)", "--debug"], /connecting to/);
    await p.ready;
    // Wait until the query runs on the server.
    for (let i = 0; i < 100; i++) {
      const [row] = await withSql(await adminUrl(), (sql) => sql`select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'`);
      if (row!.n > 0) break;
      await Bun.sleep(100);
    }
    const sent = performance.now();
    p.kill("SIGTERM");
    const r = await p.done;
    expect(r.code, r.stderr).toBe(143);
    expect((performance.now() - sent) / 1000).toBeLessThan(2.5);
    const [left] = await withSql(await adminUrl(), (sql) => sql`select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'`);
    expect(left!.n).toBe(0);
  });

  test("during work that does not stop by itself: eve exits 143 within the grace period", async () => {
    // `migrations` reads the history table; a lock held elsewhere blocks it inside the server.
    const dir = writeFiles(tempDir(), { "20260101000001_t.sql": "create table t (id int);\n" });
    await withSql(url, (sql) => sql`create table schema_migrations (name text primary key, checksum text, applied_at timestamptz)`);
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    const holder = await admin.reserve();
    await holder`begin`;
    await holder`lock table schema_migrations in access exclusive mode`;
    try {
      const p = startEve(["db", "migrations", "--url", url, "--path", dir, "--debug"], /connecting to/);
      await p.ready;
      await Bun.sleep(1500);
      const sent = performance.now();
      p.kill("SIGTERM");
      const r = await p.done;
      const seconds = (performance.now() - sent) / 1000;
      expect(r.code, r.stderr).toBe(143);
      expect(seconds).toBeLessThan(2.5 + 2);
    } finally {
      await holder`rollback`;
      holder.release();
      await admin.end();
    }
  });
});
