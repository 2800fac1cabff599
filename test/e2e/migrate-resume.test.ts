/**
 * Issue 7 §5 as a user meets it: `eve db migrate` killed with SIGKILL inside a
 * multi-statement no-transaction file, at statement 1, 2 and 3 of 4. Each rerun
 * refuses (exit 5) naming the completed statements and the next one,
 * `eve db migrations --check` shows the file as running, `--resume` finishes
 * it, and the final schema equals a clean run's (pg_dump --schema-only).
 * Plus the migration items of §6 through the CLI.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { runEve } from "../helpers/cli.ts";
import { freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir, writeFiles } from "../helpers/fs.ts";
import { pgBinDir } from "../helpers/pg.ts";

setDefaultTimeout(60_000); // the CLI from source on a shared, busy machine

const BASE = {
  "20260101000001_base.sql":
    "create table items (id int primary key, v int);\ncreate table gate2 (x int);\ncreate table gate3 (x int);\n" +
    "insert into items select g, g % 7 from generate_series(1, 200) g;\n",
};
const STEPS = "20260101000002_steps.sql";
// Four statements; statement k waits on a lock the test holds on its gate table.
const STEP_FILE =
  "-- eve:no-transaction\n" +
  "create index concurrently items_v_idx on items (v);\n" + // 1: waits for SHARE UPDATE EXCLUSIVE on items
  "alter table gate2 add column note text;\n" + // 2: waits for ACCESS EXCLUSIVE on gate2
  "create index concurrently gate3_x_idx on gate3 (x);\n" + // 3: waits for SHARE UPDATE EXCLUSIVE on gate3
  "create view item_notes as select i.id, g.note from items i left join gate2 g on g.x = i.id;\n";
const AFTER = { "20260101000003_after.sql": "create table later (id int references items (id));\n" };
const SCENARIOS: Array<{ k: number; gate: string; title: string; leftover?: string }> = [
  { k: 1, gate: "lock table items in share update exclusive mode", title: "statement 1 of 4" },
  { k: 2, gate: "lock table gate2 in access share mode", title: "statement 2 of 4" },
  { k: 3, gate: "lock table gate3 in share update exclusive mode", title: "statement 3 of 4" },
  // CREATE INDEX CONCURRENTLY has made its (invalid) catalog entry and waits for older transactions.
  { k: 3, gate: "lock table gate3 in row exclusive mode", title: "statement 3 of 4, mid-CREATE INDEX CONCURRENTLY", leftover: "gate3_x_idx" },
];
const LINES = [
  "statement 1, line 2: create index concurrently items_v_idx on items (v)",
  "statement 2, line 3: alter table gate2 add column note text",
  "statement 3, line 4: create index concurrently gate3_x_idx on gate3 (x)",
];

function schemaDump(url: string): string {
  const r = spawnSync(join(pgBinDir(), "pg_dump"), ["--schema-only", "--no-owner", "--exclude-table=schema_migrations", url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr}`);
  return r.stdout.replace(/^\\(un)?restrict .*$/gm, "");
}

/** Poll until `check` is true (up to 20 s). */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const eveBackends = (url: string, where = "true") =>
  withSql(url, (sql) => sql.unsafe(`select pid from pg_stat_activity where application_name = 'eve migrate' and datname = current_database() and ${where}`));

async function cleanRunDump(): Promise<string> {
  const url = await freshDatabase("resume_e2e");
  const dir = writeFiles(tempDir(), { ...BASE, [STEPS]: STEP_FILE, ...AFTER });
  const r = await runEve(["db", "migrate", "--url", url, "--path", dir]);
  expect(r.code).toBe(0);
  return schemaDump(url);
}

describe("kill -9 inside a no-transaction file, then --resume", () => {
  let clean: string | undefined;

  for (const { k, gate: gateSql, title, leftover } of SCENARIOS) {
    test(`killed during ${title}: the rerun refuses with the right list, --resume completes, schema equals a clean run's`, async () => {
      clean ??= await cleanRunDump();
      const url = await freshDatabase("resume_e2e");
      const dir = writeFiles(tempDir(), BASE);
      expect((await runEve(["db", "migrate", "--url", url, "--path", dir])).code).toBe(0);
      writeFiles(dir, { [STEPS]: STEP_FILE, ...AFTER });

      // Hold statement k's gate, start eve, kill it while statement k waits.
      await withSql(url, async (sql) => {
        const gate = await sql.reserve();
        try {
          await gate.unsafe("begin");
          await gate.unsafe(gateSql);
          const child = runEve(["db", "migrate", "--url", url, "--path", dir]);
          // Statement k itself waits on the gate (not an earlier statement's passing wait, e.g. on autovacuum).
          const statement = LINES[k - 1]!.slice(LINES[k - 1]!.indexOf(": ") + 2);
          const waiting = await until(async () => (await eveBackends(url, `wait_event_type = 'Lock' and query like '%${statement}%'`)).length > 0);
          expect(waiting).toBe(true);
          child.kill("SIGKILL");
          expect((await child).code).toBe(137);
          // The server notices the dead client and ends its session before the gate opens,
          // so statement k cannot complete behind eve's back.
          expect(await until(async () => (await eveBackends(url)).length === 0)).toBe(true);
          await gate.unsafe("commit");
        } finally {
          gate.release();
        }
      });

      const row = await withSql(url, (sql) => sql`select kind, statements_done from schema_migrations where name = ${STEPS}`);
      expect([...row]).toEqual([{ kind: "running", statements_done: k - 1 }]);

      // The rerun refuses before anything runs, naming what completed and what is next.
      const refused = await runEve(["db", "migrate", "--url", url, "--path", dir]);
      expect(refused.code).toBe(5);
      const header =
        k === 1
          ? `error: ${STEPS} is partially applied: no statement completed; statement 1 of 4 (line 2) had started when the run stopped`
          : `error: ${STEPS} is partially applied: ${k === 2 ? "statement 1" : `statements 1-${k - 1}`} of 4 completed outside a transaction; the next is statement ${k} (line ${k + 1})`;
      const lines = refused.stderr.split("\n");
      expect(lines[0]).toBe(header);
      expect(lines.slice(1, k + 1)).toEqual([...LINES.slice(0, k - 1).map((l) => `  done  ${l}`), `  next  ${LINES[k - 1]}`]);
      const invalid = await withSql(url, (sql) => sql`select indexrelid::regclass::text as i from pg_index where not indisvalid`);
      expect(invalid.map((r) => r.i)).toEqual(leftover ? [leftover] : []);
      if (leftover) expect(lines[k + 1]).toBe(`  left  an INVALID index ${leftover}: statement ${k} was cut off while building it; --resume drops it and runs the statement again`);
      else expect(lines[k + 1]).toStartWith("hint: ");
      expect(refused.stderr).toContain(`run \`eve db migrate --resume\` to continue with statement ${k}`);
      expect(refused.stderr).not.toContain("nothing from this file was applied");
      const json = await runEve(["db", "migrate", "--url", url, "--path", dir, "--json"]);
      expect(json.code).toBe(5);
      expect(JSON.parse(json.stdout).error).toMatchObject({ code: "E_PARTIAL", file: STEPS, statementsDone: k - 1, statements: 4, next: { statement: k, line: k + 1 } });
      const later = await withSql(url, (sql) => sql`select to_regclass('later') is not null as e`);
      expect(later[0]!.e).toBe(false);

      // `eve db migrations` shows it; --check fails on it.
      const list = await runEve(["db", "migrations", "--url", url, "--path", dir, "--check"]);
      expect(list.code).toBe(5);
      expect(list.stdout).toMatch(new RegExp(`${STEPS}\\s+running \\(${k - 1}/4 statements done\\)`));
      expect(list.stdout).toContain("1 partially applied");
      expect(list.stderr).toContain("1 partially applied migration(s)");
      // `eve db status` does not count it as applied.
      const status = await runEve(["db", "status", "--url", url, "--path", dir, "--json"]);
      expect(status.stderr).toBe("");
      expect(JSON.parse(status.stdout).migrations).toMatchObject({ applied: 1, pending: [STEPS, "20260101000003_after.sql"], drifted: [] });

      const resumed = await runEve(["db", "migrate", "--url", url, "--path", dir, "--resume"]);
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toContain(`${STEPS}`);
      if (k > 1) expect(resumed.stdout).toContain(`(resumed at statement ${k}, outside a transaction)`);
      if (leftover) expect(resumed.stderr).toContain(`notice: ${STEPS}: dropped the INVALID index ${leftover} that statement ${k} left when it was cut off; running it again`);
      expect(resumed.stdout).toContain("20260101000003_after.sql");

      expect(schemaDump(url)).toBe(clean);
      const state = await withSql(url, async (sql) => ({
        invalid: (await sql`select count(*)::int as n from pg_index where not indisvalid`)[0]!.n,
        history: (await sql`select name, kind, statements_done from schema_migrations order by name`).map((r) => [r.name, r.kind, r.statements_done]),
      }));
      expect(state).toEqual({
        invalid: 0,
        history: [
          ["20260101000001_base.sql", "applied", null],
          [STEPS, "applied", null],
          ["20260101000003_after.sql", "applied", null],
        ],
      });
      const ok = await runEve(["db", "migrations", "--url", url, "--path", dir, "--check"]);
      expect(ok.code).toBe(0);
    }, 120_000);
  }
});

describe("migration messages and inputs (issue 7 §6)", () => {
  test("--resume is documented in eve db migrate --help", async () => {
    const help = await runEve(["db", "migrate", "--help"]);
    expect(help.stdout).toMatch(/--resume\s+continue a partially applied no-transaction file/);
    expect(help.stdout).toContain("the next run refuses (exit 5) and lists what completed");
  }, 60_000);

  test("a failing statement outside a transaction: no stray WARNING, no doubled semicolon, --resume offered", async () => {
    const url = await freshDatabase("resume_e2e");
    const dir = writeFiles(tempDir(), { "20260101000001_x.sql": "-- eve:no-transaction\ncreate table x1 (a int);\nselect 1/0;\ncreate table x2 (a int);\n" });
    const r = await runEve(["db", "migrate", "--url", url, "--path", dir]);
    expect(r.code).toBe(4);
    expect(r.stderr).not.toContain("WARNING");
    expect(r.stderr).not.toContain("there is no transaction in progress");
    expect(r.stderr).not.toContain(";;");
    expect(r.stderr).toContain("error: 20260101000001_x.sql:3:1: division by zero (SQLSTATE 22012) in statement 2 of 3 (select 1/0)");
    expect(r.stderr).toContain("hint: statement 1 of this file ran outside a transaction and was kept; the file is recorded as partially applied");
    expect(r.stderr).toContain("line 3: select 1/0;\n");
    // A transactional file's failure: no WARNING either, and the hint ends the line once.
    const url2 = await freshDatabase("resume_e2e");
    const dir2 = writeFiles(tempDir(), { "20260101000001_t.sql": "create table t (a int);\nselect nosuch from t;\n" });
    const t = await runEve(["db", "migrate", "--url", url2, "--path", dir2]);
    expect(t.code).toBe(4);
    expect(t.stderr).not.toContain("WARNING");
    expect(t.stderr).not.toContain(";;");
    const syntax = await runEve(["db", "migrate", "--url", url2, "--path", writeFiles(tempDir(), { "20260101000001_s.sql": "create tabel t (a int);\n" })]);
    expect(syntax.code).toBe(4);
    expect(syntax.stderr).not.toContain(";;");
    expect(syntax.stderr).toContain("hint: nothing was applied; line 1: create tabel t (a int);");
  }, 60_000);

  test("a 0-byte and a comment-only file are both recorded as empty, with a notice", async () => {
    const url = await freshDatabase("resume_e2e");
    const dir = writeFiles(tempDir(), { "20260101000001_zero.sql": "", "20260101000002_note.sql": "-- to do\n", "20260101000003_t.sql": "create table t (a int);\n" });
    const r = await runEve(["db", "migrate", "--url", url, "--path", dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("Query cannot be empty");
    expect(r.stderr).toContain("notice: 20260101000001_zero.sql has no statements (empty or only comments): it was recorded as applied with kind empty");
    expect(r.stderr).toContain("notice: 20260101000002_note.sql has no statements");
    expect(r.stdout).toContain("20260101000001_zero.sql  ");
    expect(r.stdout).toContain("(no statements: recorded as empty)");
    expect(r.stdout).toContain("applied 3 migrations");
    const list = await runEve(["db", "migrations", "--url", url, "--path", dir, "--json"]);
    expect(JSON.parse(list.stdout).migrations.map((m: { status: string }) => m.status)).toEqual(["empty", "empty", "applied"]);
  }, 60_000);

  test("a migration file that is not valid UTF-8 is refused with file, line and byte offset, before any database work (exit 2)", async () => {
    const url = await freshDatabase("resume_e2e");
    const latin1 = new Uint8Array([...new TextEncoder().encode("create table t (a text);\ninsert into t values ('caf"), 0xe9, ...new TextEncoder().encode("');\n")]);
    const dir = writeFiles(tempDir(), { "20260101000001_ok.sql": "create table ok (a int);\n", "20260101000002_latin1.sql": latin1 });
    for (const cmd of [["db", "migrate"], ["db", "migrate", "--dry-run"], ["db", "migrations"]]) {
      const r = await runEve([...cmd, "--url", url, "--path", dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("error: 20260101000002_latin1.sql: invalid UTF-8 byte 0xe9 at line 2, byte offset 51");
    }
    const tables = await withSql(url, (sql) => sql`select count(*)::int as n from pg_class where relnamespace = 'public'::regnamespace`);
    expect(tables[0]!.n).toBe(0); // not even the history table, and not the valid file
  }, 60_000);

  test("the bad-names report: a counting header, then one name per line", async () => {
    const dir = writeFiles(tempDir(), { "oops.sql": "", "2026_x.sql": "", "20260101000001_Up.sql": "", "20260101000002_a.sql": "", "20260101000002_b.sql": "" });
    const r = await runEve(["db", "migrate", "--url", "postgres://u:p@127.0.0.1:1/db", "--path", dir]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`error: 3 invalid migration file names and 1 duplicate version (2 files) in ${dir}:`);
    expect(lines.slice(1, 5)).toEqual(["  20260101000001_Up.sql", "  2026_x.sql", "  oops.sql", "  version 20260101000002 is used by 20260101000002_a.sql, 20260101000002_b.sql"]);
    expect(lines[5]).toStartWith("hint: names must match YYYYMMDDHHmmss_description.sql");
  }, 60_000);
});
