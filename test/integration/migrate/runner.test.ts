import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { readMigrationDir, sha256 } from "../../../core/migrations/files.ts";
import { migrate, type MigrateEvent } from "../../../plugins/migrate/runner.ts";
import { freshDatabase } from "../../helpers/db.ts";
import { tempDir, writeFiles } from "../../helpers/fs.ts";

let url: string;
let db: Db;

/** A fresh database per test (within this file's cluster). */
async function fresh(): Promise<Db> {
  url = await freshDatabase("mig");
  db = connect(url);
  return db;
}

async function run(dir: string, opts: Partial<Parameters<typeof migrate>[2]> = {}, events: MigrateEvent[] = []) {
  const files = await readMigrationDir(dir);
  return migrate(db, files, { database: "test", directory: dir, ...opts }, (e) => events.push(e));
}

const tables = async () => (await db`select relname from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace order by 1`).map((r) => r.relname);
const historyRows = async () => await db`select name, checksum, kind, details from schema_migrations order by name`;

afterAll(async () => {
  if (db) await close(db);
});

describe("migrate engine", () => {
  beforeAll(fresh);

  test("applies files in order, each with its history row, then is a no-op", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000002_posts.sql": "create table posts (id serial primary key, user_id int references users(id));\ninsert into posts (user_id) values (1);\n",
      "20260101000001_users.sql": "create table users (id serial primary key, email text);\ninsert into users (email) values ('a@example.com');\n",
    });
    const r = await run(dir);
    expect(r.applied.map((a) => [a.name, a.kind, a.transaction])).toEqual([
      ["20260101000001_users.sql", "applied", true],
      ["20260101000002_posts.sql", "applied", true],
    ]);
    expect(await tables()).toEqual(["posts", "schema_migrations", "users"]);
    const rows = await historyRows();
    expect(rows.map((r) => r.name)).toEqual(["20260101000001_users.sql", "20260101000002_posts.sql"]);
    expect(rows[0]!.checksum).toBe(sha256("create table users (id serial primary key, email text);\ninsert into users (email) values ('a@example.com');\n"));
    const again = await run(dir);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(2);
  });

  test("a failing file is rolled back with its history row; earlier files stay", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000003_ok.sql": "create table ok (a int);",
      "20260101000004_bad.sql": "create table half (a int);\ninsert into half values (1);\nselect 1/0;\n",
    });
    const err = await run(dir).catch((e) => e);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain("20260101000004_bad.sql");
    expect(err.message).toContain("division by zero");
    expect(err.message).toContain("SQLSTATE 22012");
    expect(await tables()).toContain("ok");
    expect(await tables()).not.toContain("half");
    expect((await historyRows()).map((r) => r.name)).not.toContain("20260101000004_bad.sql");
  });

  test("errors with a position name file, line and column", async () => {
    const dir = writeFiles(tempDir(), { "20260101000005_typo.sql": "create table t5 (a int);\n\nselect nosuch\n  from t5;\n" });
    const err = await run(dir).catch((e) => e);
    expect(err.message).toContain("20260101000005_typo.sql:3:8");
    expect(err.message).toContain('column "nosuch" does not exist');
    expect(err.hint).toContain("line 3: select nosuch");
    expect(await tables()).not.toContain("t5");
  });
});

describe("non-transactional files", () => {
  beforeAll(fresh);

  test("CREATE INDEX CONCURRENTLY runs statement by statement and leaves a valid index", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_t.sql": "create table t (a int); insert into t select generate_series(1, 1000);",
      "20260101000002_idx.sql": "create index concurrently t_a_idx on t (a);\ncreate index concurrently t_a2_idx on t ((a * 2));\n",
    });
    const r = await run(dir);
    expect(r.applied[1]).toMatchObject({ name: "20260101000002_idx.sql", transaction: false });
    const idx = [...await db`select indexrelid::regclass::text as name, indisvalid from pg_index where indrelid = 't'::regclass order by 1`];
    expect(idx).toEqual([{ name: "t_a2_idx", indisvalid: true }, { name: "t_a_idx", indisvalid: true }]);
  });

  test("the directive forces statement-by-statement and a failure names the statement", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000003_d.sql": "-- eve:no-transaction\ncreate table d1 (a int);\ncreate table d1 (a int);\n",
    });
    const err = await run(dir).catch((e) => e);
    expect(err.message).toContain("20260101000003_d.sql:3:");
    expect(err.message).toContain("statement 2 of 2");
    expect(err.hint).toContain("statement 1 of this file ran outside a transaction and was kept");
    expect(await tables()).toContain("d1");
    expect((await historyRows()).filter((r) => r.kind !== "running").map((r) => r.name)).not.toContain("20260101000003_d.sql");
  });

  test("a file with its own BEGIN/COMMIT is applied atomically with its history row", async () => {
    // The previous test left 20260101000003_d.sql partially applied (see resume.test.ts).
    await db`delete from schema_migrations where kind = 'running'`;
    const dir = writeFiles(tempDir(), {
      "20260101000003_d.sql": "-- eve:no-transaction\ncreate table if not exists d1 (a int);\n",
      "20260101000004_own.sql": "BEGIN;\ncreate table own1 (a int);\ninsert into own1 values (1);\nCOMMIT;\n",
      "20260101000005_own_bad.sql": "BEGIN;\ncreate table own2 (a int);\nselect 1/0;\nCOMMIT;\n",
    });
    const err = await run(dir).catch((e) => e);
    expect(err.message).toContain("20260101000005_own_bad.sql");
    const names = (await historyRows()).map((r) => r.name);
    expect(names).toContain("20260101000004_own.sql");
    expect(names).not.toContain("20260101000005_own_bad.sql");
    expect(await tables()).toContain("own1");
    expect(await tables()).not.toContain("own2");
    // The session is usable after the failed explicit transaction.
    expect((await db`select 1 as one`)[0]!.one).toBe(1);
  });
});

describe("baseline", () => {
  beforeAll(fresh);

  test("a database holding half a file's objects matches no prefix: refused before anything is written", async () => {
    // Objects of file 1 and part of file 2 exist (created by hand, no history): no prefix of the files gives this schema.
    await db.unsafe("create table accounts (id int primary key); create type mood as enum ('ok'); create table orders (id int primary key);");
    const dir = writeFiles(tempDir(), {
      "20260101000001_accounts.sql": "create table accounts (id int primary key);\ncreate type mood as enum ('ok');\n",
      "20260101000002_orders.sql": "create table orders (id int primary key);\ncreate index orders_id on orders (id);\ncreate table items (id int primary key);\n",
      "20260101000003_more.sql": "create table more (id int);\n",
    });
    const err = await run(dir, { url }).catch((e) => e);
    expect(err.exitCode).toBe(5);
    expect(err.code).toBe("E_ADOPT_NO_MATCH");
    expect(err.message).toContain("closest: after 1 file (20260101000001_accounts.sql), 4 objects differ");
    expect(err.context).toEqual([
      "  + extra table public.orders",
      "  + extra column public.orders.id",
      "  + extra constraint public.orders.orders_pkey",
      "  + extra index public.orders_pkey",
    ]);
    expect(err.hint).toContain("--baseline 20260101000001");
    expect(await tables()).toEqual(["accounts", "orders"]);
  });

  test("files that do not apply to an empty database cannot be adopted: refused, nothing written", async () => {
    const url3 = await freshDatabase("mig");
    const db3 = connect(url3);
    try {
      await db3.unsafe("create table pre (id int)");
      const dir = writeFiles(tempDir(), {
        "20260101000001_pre.sql": "create table pre (id int);",
        "20260101000002_new.sql": "create table fresh (id int);",
        "20260101000003_dup.sql": "create table fresh (id int);",
      });
      const err = await migrate(db3, await readMigrationDir(dir), { database: "t", directory: dir, url: url3 }).catch((e) => e);
      expect(err.code).toBe("E_ADOPT_SHADOW");
      expect(err.message).toContain("20260101000003_dup.sql");
      expect(err.message).toContain("42P07");
      expect((await db3`select to_regclass('schema_migrations') is null as none, to_regclass('fresh') is null as nofresh`)[0]).toEqual({ none: true, nofresh: true });
    } finally {
      await close(db3);
    }
  });

  test("--baseline VERSION marks files without running them", async () => {
    const url4 = await freshDatabase("mig");
    const db4 = connect(url4);
    try {
      const dir = writeFiles(tempDir(), {
        "20260101000001_a.sql": "select 1/0;",
        "20260101000002_b.sql": "select 1/0;",
        "20260101000003_c.sql": "create table c (id int);",
      });
      const r = await migrate(db4, await readMigrationDir(dir), { database: "t", directory: dir, baseline: "20260101000002" });
      expect(r.applied.map((a) => [a.name, a.kind])).toEqual([
        ["20260101000001_a.sql", "marked"],
        ["20260101000002_b.sql", "marked"],
        ["20260101000003_c.sql", "applied"],
      ]);
      const err = await migrate(db4, await readMigrationDir(dir), { database: "t", directory: dir, baseline: "2026" }).catch((e) => e);
      expect(err.exitCode).toBe(2);
    } finally {
      await close(db4);
    }
  });
});

describe("checks before anything runs", () => {
  beforeAll(fresh);

  test("drift stops the run before pending files apply (exit 5, both sums)", async () => {
    const dir = writeFiles(tempDir(), { "20260101000001_a.sql": "create table a (id int);\n" });
    await run(dir);
    writeFiles(dir, { "20260101000001_a.sql": "create table a (id bigint);\n", "20260101000002_b.sql": "create table b (id int);\n" });
    const err = await run(dir).catch((e) => e);
    expect(err.exitCode).toBe(5);
    expect(err.code).toBe("E_DRIFT");
    expect(err.message).toContain("20260101000001_a.sql");
    expect(err.message).toContain(sha256("create table a (id int);\n"));
    expect(err.message).toContain(sha256("create table a (id bigint);\n"));
    expect(await tables()).not.toContain("b");
  });

  test("a CRLF-only or BOM-only change is a notice, not drift", async () => {
    const dir = writeFiles(tempDir(), { "20260101000001_a.sql": "create table a (id int);\n" });
    writeFiles(dir, { "20260101000001_a.sql": "\uFEFFcreate table a (id int);\r\n", "20260101000002_b.sql": "create table b (id int);\n" });
    const events: MigrateEvent[] = [];
    const r = await run(dir, {}, events);
    expect(r.applied.map((a) => a.name)).toEqual(["20260101000002_b.sql"]);
    expect(r.notices.join("\n")).toContain("only line endings or a byte-order mark changed");
    expect(events.some((e) => e.type === "notice")).toBe(true);
  });

  test("out-of-order pending files are refused unless allowed; missing files are reported", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_a.sql": "create table a (id int);\n",
      "20260101000002_b.sql": "create table b (id int);\n",
      "20251231000000_old.sql": "create table old (id int);\n",
    });
    const err = await run(dir).catch((e) => e);
    expect(err.code).toBe("E_OUT_OF_ORDER");
    expect(err.message).toContain("20251231000000_old.sql");
    expect(await tables()).not.toContain("old");
    const r = await run(dir, { allowOutOfOrder: true });
    expect(r.applied.map((a) => a.name)).toEqual(["20251231000000_old.sql"]);
    const dir2 = writeFiles(tempDir(), { "20260101000002_b.sql": "create table b (id int);\n", "20251231000000_old.sql": "create table old (id int);\n" });
    const r2 = await run(dir2);
    expect(r2.missing).toEqual(["20260101000001_a.sql"]);
  });

  test("dry run writes nothing, not even the history table", async () => {
    const url5 = await freshDatabase("mig");
    const db5 = connect(url5);
    try {
      const dir = writeFiles(tempDir(), {
        "20260101000001_a.sql": "create table a (id uuid default uuid_generate_v4());\n",
        "20260101000002_i.sql": "create index concurrently a_i on a (id);\n",
      });
      const r = await migrate(db5, await readMigrationDir(dir), { database: "t", directory: dir, dryRun: true });
      expect(r.dryRun).toBe(true);
      expect(r.applied).toEqual([]);
      expect(r.planned).toEqual([
        { name: "20260101000001_a.sql", version: "20260101000001", action: "apply", transaction: true },
        { name: "20260101000002_i.sql", version: "20260101000002", action: "apply", transaction: false, reason: "CREATE INDEX CONCURRENTLY" },
      ]);
      expect(r.extensions).toEqual([{ name: "uuid-ossp", neededBy: ["20260101000001_a.sql"] }]);
      const n = await db5`select count(*)::int as n from pg_class where relnamespace = 'public'::regnamespace`;
      expect(n[0]!.n).toBe(0);
      expect((await db5`select count(*)::int as n from pg_extension where extname = 'uuid-ossp'`)[0]!.n).toBe(0);
    } finally {
      await close(db5);
    }
  });
});

describe("extensions", () => {
  beforeAll(fresh);

  test("uuid-ossp and pgcrypto are created only when a pending file calls them", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_plain.sql": "create table p (id uuid default gen_random_uuid());\n",
    });
    const r1 = await run(dir);
    expect(r1.extensions).toEqual([]);
    expect((await db`select count(*)::int as n from pg_extension where extname in ('uuid-ossp', 'pgcrypto')`)[0]!.n).toBe(0);
    writeFiles(dir, {
      "20260101000002_u.sql": "create table u (id uuid default uuid_generate_v4());\n",
      "20260101000003_h.sql": "create function h(t text) returns text language plpgsql as $$ begin return crypt(t, gen_salt('bf')); end $$;\n",
    });
    const events: MigrateEvent[] = [];
    const r2 = await run(dir, {}, events);
    expect(r2.extensions.map((e) => e.name).sort()).toEqual(["pgcrypto", "uuid-ossp"]);
    expect(events.filter((e) => e.type === "extension").length).toBe(2);
    expect((await db`select count(*)::int as n from pg_extension where extname in ('uuid-ossp', 'pgcrypto')`)[0]!.n).toBe(2);
    // A file that creates the extension itself is left alone.
    writeFiles(dir, { "20260101000004_own.sql": "create extension if not exists citext; create table c (e citext default digest('a','sha1')::text);\n" });
    const r3 = await run(dir);
    expect(r3.extensions).toEqual([]);
  });
});

describe("original runner compatibility", () => {
  test("a history table made by the original runner is kept and extended", async () => {
    await fresh();
    await db.unsafe(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW());
      create table a (id int);`);
    const dir = writeFiles(tempDir(), {
      "20260101000001_a.sql": "create table a (id int);\n",
      "20260101000002_b.sql": "create table b (id int);\n",
    });
    await db`insert into schema_migrations (name, checksum) values ('20260101000001_a.sql', ${sha256("create table a (id int);\n")})`;
    const r = await run(dir);
    expect(r.applied.map((a) => a.name)).toEqual(["20260101000002_b.sql"]);
    // The original's insert (two columns) still works on the extended table.
    await db`insert into schema_migrations (name, checksum) values ('x', 'y')`;
    const cols = await db`select attname from pg_attribute where attrelid = 'schema_migrations'::regclass and attnum > 0 order by attnum`;
    expect(cols.map((c) => c.attname)).toEqual(["name", "checksum", "applied_at", "kind", "duration_ms", "details", "statements_done"]);
  });
});
