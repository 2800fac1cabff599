/**
 * Adoption of databases migrated by another tool: a generated history of 110
 * files applied by plain psql up to several prefixes, then `migrate` finds the
 * longest matching prefix on a shadow database, records it, applies the rest,
 * and the final schema equals a clean run's (pg_dump --schema-only).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { readMigrationDir } from "../../../core/migrations/files.ts";
import { migrate, type MigrateEvent } from "../../../plugins/migrate/runner.ts";
import { expectedAdoption, generateHistory, writeHistory } from "../../../bench/adopt-history.ts";
import { adminUrl, dropDatabases, freshDatabase, withSql } from "../../helpers/db.ts";
import { tempDir, writeFiles } from "../../helpers/fs.ts";
import { pgBinDir } from "../../helpers/pg.ts";

const N = 110;
const history = generateHistory(N);
const dir = tempDir("eve-adopt-");
writeHistory(dir, history);
const open: Db[] = [];
const made: string[] = [];
afterAll(async () => {
  await Promise.all(open.map((d) => close(d, 1)));
  await dropDatabases(made);
}, 60_000);

/** Apply the first k files with one plain psql session (autocommit: CIC runs as it would by hand). */
function psqlApply(url: string, k: number): void {
  if (!k) return;
  const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, ...history.slice(0, k).flatMap((f) => ["-f", join(dir, f.name)])];
  const r = spawnSync(join(pgBinDir(), "psql"), args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

function schemaDump(url: string): string {
  const r = spawnSync(join(pgBinDir(), "pg_dump"), ["--schema-only", "--no-owner", "--exclude-table=public.schema_migrations", "-d", url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => !/^(--|\\(un)?restrict )/.test(l)).join("\n");
}

async function target(k: number): Promise<{ url: string; db: Db }> {
  const url = await freshDatabase("adopt");
  made.push(url);
  psqlApply(url, k);
  const db = connect(url);
  open.push(db);
  return { url, db };
}

async function shadowsLeft(): Promise<string[]> {
  return withSql(await adminUrl(), async (sql) => (await sql`select datname from pg_database where datname like '%eve_shadow%'`).map((r) => r.datname as string));
}

let cleanDump = "";

describe("adopting a history applied by psql", () => {
  beforeAll(async () => {
    const { url, db } = await target(0);
    const r = await migrate(db, await readMigrationDir(dir), { database: "clean", directory: dir, url });
    expect(r.adoption).toBeNull();
    expect(r.applied.filter((a) => !a.transaction).map((a) => a.name)).toContain(history[5]!.name); // CIC ran outside a transaction
    cleanDump = schemaDump(url);
    // The psql route gives the same schema as eve's clean run (so comparing dumps below is meaningful).
    const viaPsql = await target(N);
    expect(schemaDump(viaPsql.url)).toBe(cleanDump);
  }, 120_000);

  for (const k of [1, 37, 80, 99, N]) {
    test(`a database at ${k} of ${N} files: the right prefix is adopted, the rest applied, the schema equals a clean run's`, async () => {
      const { url, db } = await target(k);
      const events: MigrateEvent[] = [];
      const r = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url }, (e) => events.push(e));
      const want = expectedAdoption(history, k);
      expect(r.adoption).toMatchObject({ matched: want.matched, files: N, assumed: want.assumed, ignoredSchemas: [] });
      expect(r.applied.filter((a) => a.kind === "adopted").map((a) => a.name)).toEqual(history.slice(0, want.matched).map((f) => f.name));
      expect(r.applied.filter((a) => a.kind === "applied").map((a) => a.name)).toEqual(history.slice(want.matched).map((f) => f.name));
      const rows = await db`select name, kind from schema_migrations order by name`;
      expect(rows.map((x) => x.kind)).toEqual([...Array(want.matched).fill("adopted"), ...Array(N - want.matched).fill("applied")]);
      if (want.assumed.length) {
        const notice = r.notices.find((n) => n.includes("assumed applied"))!;
        expect(notice).toContain(want.assumed.join(", "));
        expect(notice).toContain(`--baseline ${history[want.matched - want.assumed.length - 1]!.version}`);
      }
      expect(events.filter((e) => e.type === "shadow").map((e) => (e as { phase: string }).phase)).toEqual(["create", "drop"]);
      expect(schemaDump(url)).toBe(cleanDump);
      expect(await shadowsLeft()).toEqual([]);
      // A second run is a no-op.
      const again = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url });
      expect(again.applied).toEqual([]);
      expect(again.alreadyApplied).toBe(N);
    }, 180_000);
  }

  test("a database modified by hand matches no prefix: exit 5, nothing written, closest prefix and difference shown", async () => {
    const { url, db } = await target(37);
    await db.unsafe("alter table t_1 add column hand integer; create index hand_idx on t_2 (name)");
    const before = schemaDump(url);
    const err = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url }).catch((e) => e);
    expect(err.exitCode).toBe(5);
    expect(err.code).toBe("E_ADOPT_NO_MATCH");
    expect(err.message).toContain(`closest: after 37 files (${history[36]!.name}), 2 objects differ`);
    expect(err.context).toEqual(["  + extra index public.hand_idx", "  + extra column public.t_1.hand"]);
    expect(err.hint).toContain(`--baseline ${history[36]!.version}`);
    expect(err.details.differences).toEqual([
      { change: "extra", kind: "index", name: "public.hand_idx" },
      { change: "extra", kind: "column", name: "public.t_1.hand" },
    ]);
    expect((await db`select to_regclass('schema_migrations') as t`)[0]!.t).toBeNull();
    expect(schemaDump(url)).toBe(before);
    expect(await shadowsLeft()).toEqual([]);
    // The way out: record the files by hand.
    const r = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url, baseline: history[36]!.version });
    expect(r.applied.filter((a) => a.kind === "marked")).toHaveLength(37);
  }, 180_000);

  test("a missing object and a changed definition are named; the bounded list counts the rest", async () => {
    const { url, db } = await target(20);
    await db.unsafe("drop index t_1_name_idx; alter table t_1 alter column note set default 'z'");
    for (let i = 0; i < 25; i++) await db.unsafe(`create table hand_${i} (id int)`);
    const err = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url }).catch((e) => e);
    expect(err.code).toBe("E_ADOPT_NO_MATCH");
    // Many extra objects do not pull the closest prefix towards longer ones (differences are counted by name).
    expect(err.message).toContain(`closest: after 20 files (${history[19]!.name}), 52 objects differ`);
    expect(err.context.slice(0, 3)).toEqual(["  - missing index public.t_1_name_idx", "  ~ different column public.t_1.note", "  + extra table public.hand_0"]);
    expect(err.context).toHaveLength(21);
    expect(err.context[20]).toBe("  … and 32 more");
    expect(err.details.differenceCount).toBe(52);
  }, 180_000);

  test("--dry-run shows the adoption decision and writes nothing", async () => {
    const { url, db } = await target(80);
    const r = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url, dryRun: true });
    expect(r.adoption).toMatchObject({ matched: 80, assumed: [history[78]!.name, history[79]!.name] });
    expect(r.planned.filter((p) => p.action === "adopt")).toHaveLength(80);
    expect(r.planned.filter((p) => p.action === "apply")).toHaveLength(N - 80);
    expect(r.applied).toEqual([]);
    expect((await db`select to_regclass('schema_migrations') as t`)[0]!.t).toBeNull();
    expect(await shadowsLeft()).toEqual([]);
  }, 180_000);

  test("schemas no file creates are not compared, and are reported", async () => {
    const { url, db } = await target(10);
    await db.unsafe("create schema platform; create table platform.users (id int); create function platform.f() returns int language sql as 'select 1'");
    const r = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url });
    expect(r.adoption).toMatchObject({ matched: 10, ignoredSchemas: ["platform"] });
    expect(r.notices.join("\n")).toContain("not compared: platform");
  }, 180_000);

  test("a database restored from a schema dump (other OIDs, creation order, no dropped-column gaps) is adopted whole", async () => {
    const { url, db } = await target(0);
    const dump = spawnSync(join(pgBinDir(), "pg_dump"), ["--no-owner", "-d", (await target(N)).url], { encoding: "utf8", maxBuffer: 1 << 26 });
    const restore = spawnSync(join(pgBinDir(), "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url], { input: dump.stdout, encoding: "utf8" });
    expect(restore.status).toBe(0);
    const r = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url });
    expect(r.adoption).toMatchObject({ matched: N });
    expect(r.applied.every((a) => a.kind === "adopted")).toBe(true);
  }, 180_000);

  test("the shadow's name is opaque: nothing of a long, mixed-case target name", async () => {
    const dbName = `Adopt-$Target_${"Z".repeat(60)}`.slice(0, 63);
    const admin = await adminUrl();
    await withSql(admin, (sql) => sql.unsafe(`create database "${dbName}"`));
    const u = new URL(admin);
    u.pathname = "/" + dbName;
    made.push(u.toString());
    psqlApply(u.toString(), 12);
    const db = connect(u.toString());
    open.push(db);
    const r = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url: u.toString() });
    expect(r.adoption!.matched).toBe(12);
    expect(r.adoption!.shadow).toMatch(/^eve_shadow_[a-z0-9_]+$/);
    expect(await shadowsLeft()).toEqual([]);
  }, 180_000);

  test("shadows left by killed runs are swept when old and unused; a young one is left alone", async () => {
    const admin = await adminUrl();
    const old = `eve_shadow_${(Date.now() - 11 * 60_000).toString(36)}_killed`;
    const young = `eve_shadow_${Date.now().toString(36)}_running`;
    await withSql(admin, async (sql) => {
      await sql.unsafe(`create database ${old}`);
      await sql.unsafe(`create database ${young}`);
    });
    const { url, db } = await target(3);
    const events: MigrateEvent[] = [];
    await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url }, (e) => events.push(e));
    expect(events.filter((e) => e.type === "shadow" && e.phase === "swept").map((e) => (e as { name: string }).name)).toEqual([old]);
    const left = await withSql(admin, async (sql) => (await sql`select datname from pg_database where datname like 'eve_shadow%' order by 1`).map((r) => r.datname));
    expect(left).toEqual([young]);
    await withSql(admin, (sql) => sql.unsafe(`drop database ${young}`));
  }, 180_000);

  test("an interrupted adoption drops its shadow and writes nothing", async () => {
    const { url, db } = await target(50);
    const ac = new AbortController();
    const phases: string[] = [];
    // Abort at a defined point: the shadow exists and no file has been replayed on it yet
    // (a timer raced the replay, which may finish first on a fast machine).
    const err = await migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, url, signal: ac.signal }, (e) => {
      if (e.type !== "shadow") return;
      phases.push(e.phase);
      if (e.phase === "create") ac.abort();
    }).catch((e) => e);
    expect(err.exitCode).toBe(130);
    expect(err.message).toContain("interrupted while comparing schemas on the shadow database; nothing was written to the target");
    expect(phases.filter((p) => p !== "swept")).toEqual(["create", "drop"]);
    expect((await db`select to_regclass('schema_migrations') as t`)[0]!.t).toBeNull();
    expect(await shadowsLeft()).toEqual([]);
  }, 180_000);
});

describe("ALTER TABLE that creates relations is checked after (the cheap check is skipped only after files that cannot)", () => {
  for (const [what, alter] of [
    ["a serial column (a sequence)", "alter table t add column s serial"],
    ["a primary key column (an index)", "alter table t add column k int primary key"],
    ["a unique constraint (an index)", "alter table t add column u int, add constraint t_u_key unique (u)"],
    ["an identity column (a sequence)", "alter table t add column i int generated always as identity"],
  ] as const) {
    test(what, async () => {
      const files = writeFiles(tempDir(), {
        "20260101000001_t.sql": "create table t (id int);\n",
        "20260101000002_alter.sql": alter + ";\n",
        "20260101000003_data.sql": "update t set id = id + 1;\n",
        "20260101000004_more.sql": "create table more (id int);\n",
      });
      const url = await freshDatabase("adopt");
      made.push(url);
      await withSql(url, (sql) => sql.unsafe(`create table t (id int); ${alter}`));
      const db = connect(url);
      open.push(db);
      const r = await migrate(db, await readMigrationDir(files), { database: "t", directory: files, url });
      expect(r.adoption).toMatchObject({ matched: 3, assumed: ["20260101000003_data.sql"] });
      expect(r.applied.filter((a) => a.kind === "applied").map((a) => a.name)).toEqual(["20260101000004_more.sql"]);
    }, 60_000);
  }
});

describe("adoption needs a shadow database", () => {
  test("a role without CREATEDB is told so (or to use --shadow-url); --shadow-url on another connection works", async () => {
    const url = await freshDatabase("adopt");
    const role = `adopt_nocreatedb_${process.pid}`;
    await withSql(url, async (sql) => {
      await sql.unsafe(`create role ${role} login password 'pw'; grant all on schema public to ${role}`);
    });
    const u = new URL(url);
    u.username = role;
    u.password = "pw";
    const db = connect(u.toString());
    open.push(db);
    await db.unsafe("create table pre (id int)");
    const files = writeFiles(tempDir(), { "20260101000001_pre.sql": "create table pre (id int);\n", "20260101000002_b.sql": "create table b (id int);\n" });
    const err = await migrate(db, await readMigrationDir(files), { database: "t", directory: files, url: u.toString() }).catch((e) => e);
    expect(err.code).toBe("E_ADOPT_SHADOW");
    expect(err.message).toContain(`role ${role} may not create databases (CREATEDB)`);
    expect(err.hint).toContain("--shadow-url");
    expect(err.message + err.hint).not.toContain("pw@");
    expect((await db`select to_regclass('schema_migrations') as t`)[0]!.t).toBeNull();
    // A shadow server where a role may create databases (here: the superuser on the same server).
    const r = await migrate(db, await readMigrationDir(files), { database: "t", directory: files, url: u.toString(), shadowUrl: await adminUrl() });
    expect(r.applied.map((a) => [a.name, a.kind])).toEqual([
      ["20260101000001_pre.sql", "adopted"],
      ["20260101000002_b.sql", "applied"],
    ]);
    expect(await shadowsLeft()).toEqual([]);
    await close(db);
    open.splice(open.indexOf(db), 1);
    await withSql(url, async (sql) => {
      await sql.unsafe(`drop owned by ${role}; drop role ${role}`);
    });
  }, 120_000);
});
