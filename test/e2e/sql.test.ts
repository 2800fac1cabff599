/**
 * `eve db sql` as users run it (source, or the compiled binary with
 * EVE_E2E_BIN): output formats, the read-only gate, errors and exit codes,
 * stdin, Ctrl-C and a reader that goes away.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqlResult } from "../../plugins/sql/schema.ts";
import { eveCommand, repoRoot, runEve } from "../helpers/cli.ts";
import { freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir } from "../helpers/fs.ts";
import { createRole, dropRoles } from "../helpers/roles.ts";

let url: string;
let password: string;
const sqlArgs = (...rest: string[]) => ["db", "sql", "--url", url, ...rest];
const noSecret = (r: { stdout: string; stderr: string }) => {
  expect(r.stdout).not.toContain(password);
  expect(r.stderr).not.toContain(password);
};

beforeAll(async () => {
  // An ordinary role that owns its database, as an application's would be
  // (a superuser gets a notice on stderr, tested in sql-escape.test.ts).
  const admin = await freshDatabase("e2esql");
  const role = await createRole("e2e_sql_app");
  await withSql(admin, (sql) => sql.unsafe(`alter database "${new URL(admin).pathname.slice(1)}" owner to "${role.name}"`));
  url = role.urlFor(admin);
  password = decodeURIComponent(new URL(url).password);
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table users (id bigint primary key, email text, active boolean, prefs jsonb, score numeric);
      insert into users values (1, 'a@example.com', true, '{"theme": "dark"}', 1.5), (2, 'b,"x"@example.com', false, null, null);
    `),
  );
});

afterAll(() => dropRoles([url]));

describe("output formats", () => {
  test("human: psql-style table, row count, command tags for each statement", async () => {
    const r = await runEve(sqlArgs("--sql", "select id, email, active from users order by id; set search_path = public"));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [" id |       email       | active", "----+-------------------+--------", "  1 | a@example.com     | t", '  2 | b,"x"@example.com | f', "(2 rows)", "", "SET", ""].join("\n"),
    );
    expect(r.stderr).toBe("");
  });

  test("--json: one document with typed values, for one or several statements", async () => {
    const r = await runEve(sqlArgs("--sql", "select * from users order by id;\nselect count(*) as n from users", "--json"));
    expect(r.code).toBe(0);
    const doc = SqlResult.parse(JSON.parse(r.stdout));
    expect(doc).toMatchObject({ readOnly: true, mode: "read-only" });
    expect(doc.database).not.toContain(password);
    expect(doc.results[0]!.rows).toEqual([
      { id: "1", email: "a@example.com", active: true, prefs: { theme: "dark" }, score: "1.5" },
      { id: "2", email: 'b,"x"@example.com', active: false, prefs: null, score: null },
    ]);
    expect(doc.results[0]!.columns.map((c) => `${c.name}:${c.type}`)).toEqual(["id:bigint", "email:text", "active:boolean", "prefs:jsonb", "score:numeric"]);
    expect(doc.results[1]).toMatchObject({ statement: 2, line: 2, tag: "SELECT 1", rowCount: 1, rows: [{ n: "2" }] });
  });

  test("--ndjson: one object per row; tags on stderr", async () => {
    const r = await runEve(sqlArgs("--sql", "select id, prefs from users order by id", "--ndjson"));
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { id: "1", prefs: { theme: "dark" } },
      { id: "2", prefs: null },
    ]);
    expect(r.stderr.trim()).toBe("SELECT 2");
  });

  test("--csv: header row, RFC 4180 quoting, NULL empty; a header per result set", async () => {
    const r = await runEve(sqlArgs("--sql", "select id, email, score from users order by id; select 'x' as only", "--csv"));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('id,email,score\n1,a@example.com,1.5\n2,"b,""x""@example.com",\n\nonly\nx\n');
    expect(r.stderr.trim().split("\n")).toEqual(["SELECT 2", "SELECT 1"]);
  });

  test("--file, --file - (stdin), DATABASE_URL and --params", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "q.sql"), "-- report\nselect email from users where id = $1;\n");
    const f = await runEve(["db", "sql", "--url", url, "--file", "q.sql", "--params", "[2]", "--csv"], { cwd: dir });
    expect(f.stdout).toBe('email\n"b,""x""@example.com"\n');
    const s = await runEve(["db", "sql", "--file", "-", "--json"], { input: "select 40 + 2 as answer", env: { DATABASE_URL: url } });
    expect(JSON.parse(s.stdout).results[0].rows).toEqual([{ answer: 42 }]);
  });
});

describe("read-only gate", () => {
  test("COMMIT; INSERT is refused before sending (exit 4), naming the statement and --write; nothing written", async () => {
    const r = await runEve(sqlArgs("--sql", "select 1;\ncommit; insert into users values (9, 'evil')"));
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('error: refused statement 2 of 3 at line 2:1 ("commit"): transaction control (COMMIT) could end the read-only transaction');
    expect(r.stderr).toContain("  2 | commit; insert into users values (9, 'evil')");
    expect(r.stderr).toContain("--write allows it");
    const n = await withSql(url, (sql) => sql`select count(*)::int as n from users where id = 9`);
    expect(n[0]!.n).toBe(0);
    const j = await runEve(sqlArgs("--sql", "set default_transaction_read_only = off", "--json"));
    expect(j.code).toBe(4);
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: "E_READ_ONLY", exitCode: 4, statement: 1, line: 1 });
  });

  test("DO is refused without --write; with --write it runs and a warning goes to stderr", async () => {
    const doBlock = "do $$ begin insert into users (id, email) values (10, 'do'); end $$";
    const refused = await runEve(sqlArgs("--sql", doBlock));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("DO blocks run procedural code");
    const ok = await runEve(sqlArgs("--sql", doBlock, "--write"));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("DO\n");
    expect(ok.stderr).toBe("warning: --write: the statement runs read-write\n");
  });

  test("a plain INSERT fails at the server (exit 4, 25006); --write runs it", async () => {
    const r = await runEve(sqlArgs("--sql", "insert into users (id, email) values (11, 'x')"));
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("cannot execute INSERT in a read-only transaction (SQLSTATE 25006)");
    expect(r.stderr).toContain("hint: the session is read-only; --write allows writes");
    const w = await runEve(sqlArgs("--sql", "insert into users (id, email) values (11, 'x'); insert into users (id, email) values (12, 'y')", "--write"));
    expect(w.code).toBe(0);
    expect(w.stdout).toBe("INSERT 0 1\n\nINSERT 0 1\n");
    expect(w.stderr).toContain("2 statements run read-write in one transaction (all or nothing)");
  });
});

describe("errors", () => {
  test("SQL errors: SQLSTATE, line:column, the source line with a caret, detail and hint; exit 4; no password", async () => {
    const r = await runEve(sqlArgs("--sql", "select id\n  from users\n  where emial = 'x'"));
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      [
        'error: line 3:9: column "emial" does not exist (SQLSTATE 42703)',
        "  3 |   where emial = 'x'",
        "    |         ^",
        'hint: Perhaps you meant to reference the column "users.email".',
        "",
      ].join("\n"),
    );
    noSecret(r);
    const dup = await runEve(sqlArgs("--sql", "insert into users (id) values (1)", "--write", "--json"));
    expect(dup.code).toBe(4);
    expect(JSON.parse(dup.stdout).error).toMatchObject({ code: "E_SQL", sqlstate: "23505", detail: "Key (id)=(1) already exists.", line: 1, column: 1 });
    expect(dup.stderr).toContain("detail: Key (id)=(1) already exists.");
  });

  test("usage errors exit 2: --params, formats, missing or double input", async () => {
    const bad = await runEve(sqlArgs("--sql", "select $1", "--params", "[1,"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--params must be valid JSON");
    const obj = await runEve(sqlArgs("--sql", "select $1", "--params", '{"a":1}'));
    expect(obj.code).toBe(2);
    expect(obj.stderr).toContain("--params must be a JSON array");
    expect((await runEve(sqlArgs("--sql", "select 1", "--csv", "--json"))).code).toBe(2);
    expect((await runEve(sqlArgs())).code).toBe(2);
    expect((await runEve(sqlArgs("--sql", "select 1", "--file", "x.sql"))).code).toBe(2);
    const missing = await runEve(sqlArgs("--file", "nope.sql"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read --file nope.sql: ENOENT");
  });

  test("SQL that is not valid UTF-8 is rejected with where the first bad byte is, nothing sent (--file, --file -, --sql)", async () => {
    const dir = tempDir();
    const file = join(dir, "latin1.sql");
    // "café" in Latin-1 on line 2; byte offset 21 is the 0xE9.
    writeFileSync(file, Buffer.concat([Buffer.from("select 1;\nselect 'caf"), Buffer.from([0xe9]), Buffer.from("' as x;\n")]));
    const f = await runEve(sqlArgs("--file", file, "--write"));
    expect(f.code).toBe(2);
    expect(f.stderr).toContain(`--file ${file} is not valid UTF-8: line 2, byte offset 21`);
    expect(f.stderr).toContain("nothing was sent");
    // A truncated multi-byte sequence at the very end.
    writeFileSync(file, Buffer.concat([Buffer.from("select '\u00e9' as ok, '"), Buffer.from([0xe2, 0x82])]));
    const t = await runEve(sqlArgs("--file", file));
    expect(t.code).toBe(2);
    expect(t.stderr).toContain("line 1, byte offset 20");
    const [cmd, ...pre] = eveCommand();
    const child = spawn(cmd!, [...pre, ...sqlArgs("--file", "-")], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.stdin.end(Buffer.concat([Buffer.from("select 1;\n\nselect '"), Buffer.from([0xff]), Buffer.from("'")]));
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    expect(code).toBe(2);
    expect(err).toContain("--file - (stdin) is not valid UTF-8 (or holds U+FFFD, the replacement character): line 3, byte offset 19");
    // A NUL byte would end the text early for the parser and the protocol.
    writeFileSync(file, Buffer.from("select 1 as a;\nselect 2\u0000; select pg_terminate_backend(1)"));
    const nul = await runEve(sqlArgs("--file", file));
    expect(nul.code).toBe(2);
    expect(nul.stderr).toContain(`--file ${file} contains a NUL byte: line 2, byte offset 23`);
    const ok = await runEve(sqlArgs("--sql", "select 'caf\u00e9 \u{1F600}' as x", "--json"));
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).results[0].rows).toEqual([{ x: "caf\u00e9 \u{1F600}" }]);
  });

  test("a password in a statement is masked before the statement is cut or shown, on every path", async () => {
    const secret = "Tr0ub4dor-and-3-more-words";
    // Refused by the gate: the header excerpt and the source line.
    const refusedRun = await runEve(sqlArgs("--sql", `select dblink_exec('host=localhost password=${secret} dbname=x', 'delete from users')`));
    expect(refusedRun.code).toBe(4);
    expect(refusedRun.stderr).toMatch(/password=\*+ dbname=x/);
    // Refused by the server (read-only): the source line under the error.
    const server = await runEve(sqlArgs("--sql", `select 1;\nalter role current_user password '${secret}'`));
    expect(server.code).toBe(4);
    expect(server.stderr).toContain("25006");
    expect(server.stderr).toMatch(/alter role current_user password \*{20,}\n/);
    // A syntax error in the statement (never sent).
    const syntax = await runEve(sqlArgs("--sql", `create user x with password '${secret}' oops`, "--json"));
    expect(syntax.code).toBe(4);
    for (const r of [refusedRun, server, syntax]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(r.stdout + r.stderr).not.toContain("Tr0ub");
    }
  });

  test("--params binds what was written: integers past 2^53, JSON objects and arrays as JSON", async () => {
    const r = await runEve(
      sqlArgs(
        "--sql",
        "select $1::numeric::text as big, $2::int8 as i8, $3::jsonb as obj, $4::jsonb -> 'n' as n, $5::jsonb as arr, jsonb_typeof($3::jsonb) as t, $6::text as s",
        "--params",
        '[123456789012345678901234567890, 9007199254740993, {"a": {"b": [1, 2]}}, {"n": 12345678901234567890}, [1, "x", null], "plain \\"text\\""]',
        "--json",
      ),
    );
    expect(r.code).toBe(0);
    const row = JSON.parse(r.stdout).results[0].rows[0];
    expect(row).toEqual({ big: "123456789012345678901234567890", i8: "9007199254740993", obj: { a: { b: [1, 2] } }, n: 12345678901234567890, arr: [1, "x", null], t: "object", s: 'plain "text"' });
    // The jsonb number kept every digit on the server.
    const exact = await runEve(sqlArgs("--sql", "select ($1::jsonb ->> 'n') as n", "--params", '[{"n": 12345678901234567890}]', "--json"));
    expect(JSON.parse(exact.stdout).results[0].rows[0].n).toBe("12345678901234567890");
  });

  test("--json: arrays as JSON arrays and timestamps as ISO 8601", async () => {
    const r = await runEve(
      sqlArgs(
        "--sql",
        `set timezone = 'UTC'; select array[1, null, 9223372036854775807]::int8[] as i8, array['a"b', 'c\\d', null, 'NULL', '']::text[] as t,
                array[[1.5, 2], [3, null]]::numeric[] as m, '{{x,y},{z,w}}'::text[] as t2,
                '2026-11-30 07:04:26.698144+00'::timestamptz as ts, '2026-11-30 07:04:26.5'::timestamp as lts,
                '-infinity'::timestamptz as ninf, '0044-03-15 BC'::date as bc, array['2026-01-01 00:00:00+00']::timestamptz[] as tsa,
                array[row(1, 'x')] as composite`,
        "--json",
      ),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[1].rows[0]).toEqual({
      i8: ["1", null, "9223372036854775807"],
      t: ['a"b', "c\\d", null, "NULL", ""],
      m: [["1.5", "2"], ["3", null]],
      t2: [["x", "y"], ["z", "w"]],
      ts: "2026-11-30T07:04:26.698144+00:00",
      lts: "2026-11-30T07:04:26.5",
      ninf: "-infinity",
      bc: "-0043-03-15",
      tsa: ["2026-01-01T00:00:00+00:00"],
      composite: '{"(1,x)"}',
    });
  });

  test("a wrong password exits 3 without printing it", async () => {
    const u = new URL(url);
    u.password = "not-the-password-123";
    const r = await runEve(["db", "sql", "--url", u.toString(), "--sql", "select 1"]);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain("not-the-password-123");
  });

  test("help documents the gate, the exit code and the JSON shape", async () => {
    const r = await runEve(["db", "sql", "--help"]);
    for (const s of ["--sql", "--file", "--params", "--write", "--json", "--ndjson", "--csv", "E_READ_ONLY", "exit 4", '"results"']) expect(r.stdout).toContain(s);
  });
});

describe("interruption and closed output", () => {
  test("Ctrl-C cancels the query on the server and exits 130", async () => {
    const p = runEve(sqlArgs("--sql", "select pg_sleep(60)"));
    await waitFor(async () => (await active("pg_sleep(60)")) === 1);
    p.kill("SIGINT");
    const r = await p;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("interrupted");
    await waitFor(async () => (await active("pg_sleep(60)")) === 0);
  });

  test("a reader that goes away (| head) ends the run quietly with exit 0", async () => {
    const [cmd, ...pre] = eveCommand();
    const child = spawn(cmd!, [...pre, ...sqlArgs("--sql", "select g, repeat('x', 200) from generate_series(1, 3000000) g", "--csv")], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(code).toBe(0);
    expect(stderr).toBe("");
    await waitFor(async () => (await active("generate_series(1, 3000000)")) === 0);
  });
});

async function active(fragment: string): Promise<number> {
  return withSql(url, async (sql) => {
    const r = await sql`select count(*)::int as n from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and strpos(query, ${fragment}) > 0`;
    return r[0]!.n as number;
  });
}

async function waitFor(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 50));
  }
}
