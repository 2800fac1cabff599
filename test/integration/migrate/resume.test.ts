/**
 * Per-statement progress of no-transaction files: a `running` history row
 * advanced after each statement, a refusal naming what completed, `--resume`,
 * and the message defects of issue 7 §6 (doubled `;`, stray WARNING, empty files).
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(30_000); // real servers on a shared, busy machine
import { close, connect, type Db, type Notice } from "../../../core/db/index.ts";
import { readMigrationDir, sha256 } from "../../../core/migrations/files.ts";
import { migrate, type MigrateEvent } from "../../../plugins/migrate/runner.ts";
import { freshDatabase } from "../../helpers/db.ts";
import { tempDir, writeFiles } from "../../helpers/fs.ts";

const open: Db[] = [];
afterAll(async () => {
  await Promise.all(open.map((db) => close(db, 1)));
}, 20_000);

/** A fresh database with a session that records server notices/warnings. */
async function fresh(): Promise<{ db: Db; notices: Notice[] }> {
  const notices: Notice[] = [];
  const db = connect(await freshDatabase("resume"), { onNotice: (n) => notices.push(n) });
  open.push(db);
  return { db, notices };
}

async function run(db: Db, dir: string, opts: Partial<Parameters<typeof migrate>[2]> = {}, events: MigrateEvent[] = []) {
  return migrate(db, await readMigrationDir(dir), { database: "t", directory: dir, ...opts }, (e) => events.push(e));
}

const row = async (db: Db, name: string) =>
  (await db`select kind, statements_done, details from schema_migrations where name = ${name}`)[0] as
    | { kind: string; statements_done: number | null; details: { statements?: number } | null }
    | undefined;

const relations = async (db: Db) =>
  (await db`select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'i') order by 1`).map((r) => r.relname as string);

// Statement 3 divides by the number of rows in `flag`: it fails until the user inserts one.
const FILE = "20260101000002_steps.sql";
const steps = {
  "20260101000001_base.sql": "create table flag (x int);\ncreate table items (id int primary key, v int);\ninsert into items select g, g from generate_series(1, 50) g;\n",
  [FILE]:
    "-- eve:no-transaction\n" +
    "create index concurrently items_v_idx on items (v);\n" +
    "create table audit (id int);\n" +
    "insert into audit select 1 / (select count(*) from flag)::int;\n" +
    "create index concurrently audit_id_idx on audit (id);\n",
  "20260101000003_after.sql": "create table later (id int);\n",
};

describe("a no-transaction file that fails midway", () => {
  test("keeps a running row with its progress; the rerun refuses; --resume finishes it, then later files run", async () => {
    const { db, notices } = await fresh();
    const dir = writeFiles(tempDir(), steps);
    const err = await run(db, dir).catch((e) => e);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain(`${FILE}:4:`);
    expect(err.message).toContain("statement 3 of 4");
    expect(err.hint).toContain("statements 1-2 of this file ran outside a transaction and were kept");
    expect(err.hint).toContain("eve db migrate --resume");
    // §6: the source line ends the hint once; no doubled semicolon.
    expect(err.hint).toEndWith("line 4: insert into audit select 1 / (select count(*) from flag)::int;");
    expect(err.hint).not.toContain(";;");
    // §6: no ROLLBACK was sent outside a transaction.
    expect(notices.map((n) => n.message)).not.toContain("there is no transaction in progress");
    expect(await row(db, FILE)).toEqual({ kind: "running", statements_done: 2, details: { statements: 4 } });
    expect(await relations(db)).toEqual(["audit", "flag", "items", "items_pkey", "items_v_idx", "schema_migrations", "schema_migrations_pkey"]);

    // The rerun refuses before anything else runs (the later file stays pending).
    const refused = await run(db, dir).catch((e) => e);
    expect(refused.exitCode).toBe(5);
    expect(refused.code).toBe("E_PARTIAL");
    expect(refused.message).toBe(`${FILE} is partially applied: statements 1-2 of 4 completed outside a transaction; the next is statement 3 (line 4)`);
    expect(refused.context).toEqual([
      "  done  statement 1, line 2: create index concurrently items_v_idx on items (v)",
      "  done  statement 2, line 3: create table audit (id int)",
      "  next  statement 3, line 4: insert into audit select 1 / (select count(*) from flag)::int",
    ]);
    expect(refused.hint).toContain("--resume");
    expect(refused.details).toMatchObject({ file: FILE, statementsDone: 2, statements: 4, next: { statement: 3, line: 4 } });
    // The dry run refuses the same way.
    expect((await run(db, dir, { dryRun: true }).catch((e) => e)).code).toBe("E_PARTIAL");
    expect(await relations(db)).not.toContain("later");

    // --resume before the cause is fixed fails again at statement 3; progress is unchanged.
    const again = await run(db, dir, { resume: true }).catch((e) => e);
    expect(again.message).toContain("statement 3 of 4");
    expect(await row(db, FILE)).toMatchObject({ kind: "running", statements_done: 2 });

    await db`insert into flag values (1)`;
    const dry = await run(db, dir, { resume: true, dryRun: true });
    expect(dry.planned.map((p) => [p.name, p.action])).toEqual([[FILE, "resume"], ["20260101000003_after.sql", "apply"]]);
    const events: MigrateEvent[] = [];
    const r = await run(db, dir, { resume: true }, events);
    expect(r.applied.map((a) => [a.name, a.kind, a.resumedAt])).toEqual([
      [FILE, "applied", 3],
      ["20260101000003_after.sql", "applied", undefined],
    ]);
    expect(events.filter((e) => e.type === "applied").map((e) => (e as { item: { name: string } }).item.name)).toEqual([FILE, "20260101000003_after.sql"]);
    expect(await row(db, FILE)).toMatchObject({ kind: "applied", statements_done: null });
    expect((await db`select count(*)::int as n from audit`)[0]!.n).toBe(1); // statement 3 ran exactly once
    expect(await relations(db)).toContain("audit_id_idx");
    expect(await relations(db)).toContain("later");

    // --resume with nothing partially applied is a usage error.
    const nothing = await run(db, dir, { resume: true }).catch((e) => e);
    expect(nothing.exitCode).toBe(2);
    expect(nothing.message).toContain("no migration is partially applied");
  });

  test("a failure at the first statement leaves no row: the file is simply pending again", async () => {
    const { db, notices } = await fresh();
    const dir = writeFiles(tempDir(), { "20260101000001_x.sql": "-- eve:no-transaction\nselect 1/0;\ncreate table x (a int);\n" });
    const err = await run(db, dir).catch((e) => e);
    expect(err.hint).toContain("nothing from this file was applied");
    expect(await row(db, "20260101000001_x.sql")).toBeUndefined();
    expect(notices).toEqual([]);
    writeFiles(dir, { "20260101000001_x.sql": "-- eve:no-transaction\nselect 1;\ncreate table x (a int);\n" });
    expect((await run(db, dir)).applied.map((a) => a.kind)).toEqual(["applied"]);
  });

  test("a running row whose file changed is drift; one whose file is gone is refused; both exit 5 and run nothing", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), steps);
    await run(db, dir).catch(() => {});
    writeFiles(dir, { [FILE]: steps[FILE].replace("create table audit (id int)", "create table audit (id bigint)") });
    for (const resume of [false, true]) {
      const err = await run(db, dir, { resume }).catch((e) => e);
      expect(err.exitCode).toBe(5);
      expect(err.code).toBe("E_DRIFT");
      expect(err.message).toContain(`${FILE} is partially applied (2 of 4 statements completed) and was modified since it started`);
      expect(err.message).toContain(sha256(steps[FILE]));
    }
    // A CRLF-only change is not drift: the statements are the same.
    writeFiles(dir, { [FILE]: steps[FILE].replace(/\n/g, "\r\n") });
    expect((await run(db, dir).catch((e) => e)).code).toBe("E_PARTIAL");
    const gone = writeFiles(tempDir(), { "20260101000001_base.sql": steps["20260101000001_base.sql"] });
    const err = await run(db, gone, { resume: true }).catch((e) => e);
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain(`${FILE} is partially applied (2 of 4 statements completed) but its file is gone`);
    expect(await relations(db)).not.toContain("audit_id_idx");
  });

  test("a file's own BEGIN inside a no-transaction file: a failure rolls its block back and the progress with it", async () => {
    const { db, notices } = await fresh();
    const dir = writeFiles(tempDir(), {
      "20260101000001_mixed.sql":
        "-- eve:no-transaction\ncreate table a (id int);\nbegin;\ncreate table b (id int);\nselect 1/0;\ncommit;\ncreate table c (id int);\n",
    });
    const err = await run(db, dir).catch((e) => e);
    expect(err.message).toContain("statement 4 of 6");
    // Statements 2-3 (BEGIN, create b) were rolled back with the block: only statement 1 counts.
    expect(await row(db, "20260101000001_mixed.sql")).toMatchObject({ kind: "running", statements_done: 1 });
    expect(await relations(db)).not.toContain("b");
    expect(notices).toEqual([]);
    expect((await db`select 1 as one`)[0]!.one).toBe(1); // the session is usable
    const refused = await run(db, dir).catch((e) => e);
    expect(refused.message).toContain("statement 1 of 6 completed");
  });

  test("every statement is recorded: the row tracks progress after each one", async () => {
    const { db } = await fresh();
    // Each statement reads the progress recorded so far into a log table.
    const log = (n: number) => `insert into log select ${n}, statements_done from schema_migrations where name = '20260101000002_p.sql'`;
    const dir = writeFiles(tempDir(), {
      "20260101000001_log.sql": "create table log (stmt int, done int);\n",
      "20260101000002_p.sql": `-- eve:no-transaction\n${log(1)};\n${log(2)};\ncreate index concurrently log_idx on log (stmt);\n${log(4)};\n`,
    });
    await run(db, dir);
    expect([...await db`select stmt, done from log order by stmt`]).toEqual([
      { stmt: 1, done: 0 },
      { stmt: 2, done: 1 },
      { stmt: 4, done: 3 },
    ]);
  });
});

describe("edge cases of partially applied files", () => {
  test("Ctrl-C during a no-transaction file: exit 130, the row keeps the progress, the message offers --resume", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), { "20260101000001_slow.sql": "-- eve:no-transaction\ncreate table a (i int);\nselect pg_sleep(30);\ncreate table b (i int);\n" });
    const abort = new AbortController();
    const watcher = connect(await freshDatabase("resume_w")); // pg_stat_activity is cluster-wide
    const [{ name }] = (await db`select current_database() as name`) as unknown as [{ name: string }];
    open.push(watcher);
    const running = run(db, dir, { signal: abort.signal }).catch((e) => e);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const [r] = await watcher`select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' and datname = ${name}`;
      if (r!.n > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    abort.abort();
    const err = await running;
    expect(err.exitCode).toBe(130);
    expect(err.message).toBe(
      "interrupted: 20260101000001_slow.sql was cancelled; statement 1 of this file ran outside a transaction and was kept; " +
        "the file is recorded as partially applied: fix the cause, then run `eve db migrate --resume` to continue with statement 2; earlier migrations of this run are committed",
    );
    expect(await row(db, "20260101000001_slow.sql")).toMatchObject({ kind: "running", statements_done: 1 });
  });

  test("a CREATE UNIQUE INDEX CONCURRENTLY that fails leaves an INVALID index: the refusal names it, --resume drops and rebuilds it", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), {
      "20260101000001_u.sql": "-- eve:no-transaction\ncreate table u (a int);\ninsert into u values (1), (1);\ncreate unique index concurrently if not exists u_a_idx on u (a);\n",
    });
    const err = await run(db, dir).catch((e) => e);
    expect(err.sqlstate).toBe("23505");
    expect(await row(db, "20260101000001_u.sql")).toMatchObject({ kind: "running", statements_done: 2 });
    const refused = await run(db, dir).catch((e) => e);
    expect(refused.context).toContain("  left  an INVALID index u_a_idx: statement 3 was cut off while building it; --resume drops it and runs the statement again");
    expect(refused.details.invalidIndex).toBe("u_a_idx");
    const dry = await run(db, dir, { resume: true, dryRun: true });
    expect(dry.planned[0]!.reason).toBe("resume at statement 3 of 3, after dropping the INVALID index u_a_idx it left");
    expect([...await db`select indisvalid from pg_index where indexrelid = 'u_a_idx'::regclass`]).toEqual([{ indisvalid: false }]);
    await db`delete from u where ctid = (select max(ctid) from u)`;
    const r = await run(db, dir, { resume: true });
    expect(r.notices).toContain("20260101000001_u.sql: dropped the INVALID index u_a_idx that statement 3 left when it was cut off; running it again");
    // Without the drop, IF NOT EXISTS would have skipped it and left the invalid index in place.
    expect([...await db`select indisvalid from pg_index where indexrelid = 'u_a_idx'::regclass`]).toEqual([{ indisvalid: true }]);
  });

  test("a CIC failing as the first statement keeps the row when it left an INVALID index", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), {
      "20260101000001_v.sql": "create table v (a int);\ninsert into v values (2), (2);\n",
      "20260101000002_idx.sql": "-- eve:no-transaction\ncreate unique index concurrently v_a on v (a);\ncreate table w (a int);\n",
    });
    const failed = await run(db, dir).catch((e) => e);
    expect(failed.hint).toContain("no statement of this file completed; statement 1 left the INVALID index v_a, which --resume drops before running it again");
    expect(await row(db, "20260101000002_idx.sql")).toMatchObject({ kind: "running", statements_done: 0 });
    await db`delete from v where ctid = (select max(ctid) from v)`;
    const r = await run(db, dir, { resume: true });
    expect(r.applied.map((a) => a.kind)).toEqual(["applied"]);
    expect([...await db`select indisvalid from pg_index where indexrelid = 'v_a'::regclass`]).toEqual([{ indisvalid: true }]);
  });

  test("the INVALID index is found and dropped by its quoted name (an index name that looks like SQL stays a name)", async () => {
    const { db } = await fresh();
    const weird = `"Odd ""ix""; drop table keep"`;
    const dir = writeFiles(tempDir(), {
      "20260101000001_v.sql": `create schema "S p"; create table "S p".v (a int); insert into "S p".v values (2), (2); create table keep (a int);\n`,
      "20260101000002_idx.sql": `-- eve:no-transaction\ncreate unique index concurrently ${weird} on "S p".v (a);\n`,
    });
    await run(db, dir).catch(() => {});
    const refused = await run(db, dir).catch((e) => e);
    expect(refused.details.invalidIndex).toBe(`"S p".${weird}`);
    await db.unsafe(`delete from "S p".v where ctid = (select max(ctid) from "S p".v)`);
    await run(db, dir, { resume: true });
    expect([...await db`select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relnamespace = '"S p"'::regnamespace`]).toEqual([
      { relname: 'Odd "ix"; drop table keep', indisvalid: true },
    ]);
    expect((await db`select to_regclass('keep') is not null as e`)[0]!.e).toBe(true);
  });

  test("a file detected as non-transactional (no directive) records progress the same way", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), { "20260101000001_cic.sql": "create table c (a int);\ncreate index concurrently c_a on c (a);\nselect 1/0;\n" });
    const err = await run(db, dir).catch((e) => e);
    expect(err.message).toContain("statement 3 of 3");
    expect(await row(db, "20260101000001_cic.sql")).toMatchObject({ kind: "running", statements_done: 2 });
    expect((await run(db, dir).catch((e) => e)).code).toBe("E_PARTIAL");
  });

  test("killed after a CREATE INDEX CONCURRENTLY finished but before its progress was saved: the refusal says so, --resume counts it as done", async () => {
    const { db } = await fresh();
    const name = "20260101000001_c.sql";
    const dir = writeFiles(tempDir(), { [name]: "-- eve:no-transaction\ncreate table c (a int);\ncreate index concurrently c_a_idx on c (a);\ncreate table c2 (b int);\n" });
    await run(db, dir);
    // The state such a kill leaves: statement 2 done (its index is VALID), progress still 1, statement 3 not run.
    await db`drop table c2`;
    await db`update schema_migrations set kind = 'running', statements_done = 1`;
    const refused = await run(db, dir).catch((e) => e);
    expect(refused.code).toBe("E_PARTIAL");
    expect(refused.context).toContain("  built the VALID index c_a_idx: statement 2 completed but the run stopped before recording it; --resume counts it as done");
    expect(refused.details.builtIndex).toBe("c_a_idx");
    const r = await run(db, dir, { resume: true });
    expect(r.notices).toContain(`${name}: statement 2 had built the VALID index c_a_idx before the run stopped; counted as done`);
    expect(await row(db, name)).toMatchObject({ kind: "applied" });
    expect(await relations(db)).toEqual(["c", "c2", "c_a_idx", "schema_migrations", "schema_migrations_pkey"]);
  });

  test("every statement done but the final mark lost: the next run just marks it applied", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), { "20260101000001_x.sql": "-- eve:no-transaction\ncreate table a (i int);\ncreate table b (i int);\n" });
    await run(db, dir);
    await db`update schema_migrations set kind = 'running', statements_done = 2`;
    const r = await run(db, dir);
    expect(r.applied.map((a) => [a.name, a.kind, a.resumedAt])).toEqual([["20260101000001_x.sql", "applied", undefined]]);
    expect(await row(db, "20260101000001_x.sql")).toMatchObject({ kind: "applied", statements_done: null });
  });

  test("a statement the parser does not know as non-transactional still runs alone (DETACH PARTITION CONCURRENTLY)", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), {
      "20260101000001_p.sql": "create table m (id int) partition by range (id);\ncreate table m1 partition of m for values from (0) to (10);\n",
      "20260101000002_detach.sql": "-- eve:no-transaction\nalter table m detach partition m1 concurrently;\ncreate table after_detach (i int);\n",
    });
    const r = await run(db, dir);
    expect(r.applied.map((a) => a.kind)).toEqual(["applied", "applied"]);
    expect((await db`select count(*)::int as n from pg_inherits`)[0]!.n).toBe(0);
  });

  test("a history table from an older eve (no statements_done column) gains it; its rows stay valid", async () => {
    const { db } = await fresh();
    await db.unsafe("create table schema_migrations (name text primary key, checksum text not null, applied_at timestamptz not null default now(), kind text, duration_ms integer, details jsonb)");
    await db`insert into schema_migrations (name, checksum, kind) values ('20260101000001_a.sql', ${sha256("create table a (i int);\n")}, 'applied')`;
    const dir = writeFiles(tempDir(), {
      "20260101000001_a.sql": "create table a (i int);\n",
      "20260101000002_b.sql": "-- eve:no-transaction\ncreate table b (i int);\n",
    });
    expect((await run(db, dir)).applied.map((a) => a.name)).toEqual(["20260101000002_b.sql"]);
    const cols = await db`select attname from pg_attribute where attrelid = 'schema_migrations'::regclass and attnum > 0 and not attisdropped order by attnum`;
    expect(cols.map((c) => c.attname)).toContain("statements_done");
  });
});

describe("empty migration files (issue 7 §6)", () => {
  test("a 0-byte file and a comment-only file are both recorded as kind empty, with a notice", async () => {
    const { db } = await fresh();
    const dir = writeFiles(tempDir(), {
      "20260101000001_zero.sql": "",
      "20260101000002_comment.sql": "-- nothing yet\n/* still nothing */\n",
      "20260101000003_blank.sql": "  \n\n",
      "20260101000004_t.sql": "create table t (a int);\n",
    });
    const dry = await run(db, dir, { dryRun: true });
    expect(dry.notices).toContain("20260101000001_zero.sql has no statements (empty or only comments): it would be recorded as applied with kind empty");
    const events: MigrateEvent[] = [];
    const r = await run(db, dir, {}, events);
    expect(r.applied.map((a) => [a.name, a.kind])).toEqual([
      ["20260101000001_zero.sql", "empty"],
      ["20260101000002_comment.sql", "empty"],
      ["20260101000003_blank.sql", "empty"],
      ["20260101000004_t.sql", "applied"],
    ]);
    expect(r.notices).toContain("20260101000001_zero.sql has no statements (empty or only comments): it was recorded as applied with kind empty");
    expect(r.notices).toContain("20260101000002_comment.sql has no statements (empty or only comments): it was recorded as applied with kind empty");
    expect(events.filter((e) => e.type === "notice")).toHaveLength(3);
    expect((await row(db, "20260101000001_zero.sql"))?.kind).toBe("empty");
    expect((await db`select checksum from schema_migrations where name = '20260101000001_zero.sql'`)[0]!.checksum).toBe(sha256(""));
    // An edit to a recorded empty file is drift like any other.
    writeFiles(dir, { "20260101000001_zero.sql": "drop table t;\n" });
    expect((await run(db, dir).catch((e) => e)).code).toBe("E_DRIFT");
  });
});
