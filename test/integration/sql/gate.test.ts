/**
 * The read-only rules against a real server: refused statements never reach
 * it, the session itself is read-only, and what the parser cannot see is
 * contained by the READ ONLY transaction and its rollback.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { ensureParser } from "../../../core/sql/index.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { failure, run } from "./helpers.ts";

let url: string;
const count = (where = "true") => withSql(url, async (sql) => Number((await sql.unsafe(`select count(*)::int as n from items where ${where}`))[0]!.n));

beforeAll(async () => {
  await ensureParser();
  url = await freshDatabase("sqlgate");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table items (id int primary key, name text);
      insert into items values (1, 'one');
      create function lift_read_only() returns text language sql as $$ select set_config('default_transaction_read_only', 'off', false) $$;
      create role lifted nologin;
      alter role lifted set default_transaction_read_only = off;
      grant all on items to lifted;
    `),
  );
});

describe("the COMMIT; INSERT escape", () => {
  test("is real without the gate: a read-only transaction ended by COMMIT lets the INSERT through", async () => {
    // What the original tool did: BEGIN; SET TRANSACTION READ ONLY; <user SQL>; COMMIT.
    await withSql(url, (sql) => sql.unsafe("begin; set transaction read only; commit; insert into items values (900, 'escaped'); commit;"));
    expect(await count("id = 900")).toBe(1);
    await withSql(url, (sql) => sql.unsafe("delete from items where id = 900"));
  });

  test("is refused before sending, and the row is not written", async () => {
    const e = await failure(url, "select 1;\nCOMMIT; INSERT INTO items VALUES (901, 'escaped')");
    expect(e.code).toBe("E_READ_ONLY");
    expect(e.exitCode).toBe(4);
    expect(e.message).toContain('statement 2 of 3 at line 2:1 ("COMMIT")');
    expect(e.hint).toContain("--write allows it");
    expect(await count("id = 901")).toBe(0);
  });

  test("with --write the same text runs (and the row is written)", async () => {
    const r = await run(url, "COMMIT; INSERT INTO items VALUES (902, 'written')", { write: true });
    expect(r.summary.mode).toBe("autocommit");
    expect(await count("id = 902")).toBe(1);
  });
});

describe("refusals", () => {
  test.each([
    ["set default_transaction_read_only = off; insert into items values (910, 'x')", /SET default_transaction_read_only changes the read-only setting/],
    ["reset all", /RESET ALL/],
    ["set transaction read write", /SET TRANSACTION/],
    ["set session characteristics as transaction read write", /SESSION CHARACTERISTICS/],
    ["select set_config('default_transaction_read_only', 'off', false)", /set_config/],
    ["do $$ begin insert into items values (911, 'do'); end $$", /DO blocks/],
    ["begin; insert into items values (912, 'x'); commit", /transaction control \(BEGIN\)/],
    ["savepoint s", /transaction control/],
    ["prepare transaction 'eve_test'", /transaction control/],
    ["alter system set default_transaction_read_only = off", /ALTER SYSTEM/],
    ["copy items to '/tmp/eve-sql-gate-test.csv'", /file/],
    ["copy items from '/tmp/eve-sql-gate-test.csv'", /COPY … FROM/],
    ["lock items in access exclusive mode", /LOCK/],
    ["vacuum items", /VACUUM/],
    ["analyze items", /ANALYZE/],
    ["checkpoint", /CHECKPOINT/],
    ["select dblink_exec('dbname=x', 'insert into items values (913, $$x$$)')", /dblink_exec/],
    ["select pg_terminate_backend(pg_backend_pid())", /other sessions/],
  ])("%s", async (sql, why) => {
    const e = await failure(url, sql);
    expect(e.code).toBe("E_READ_ONLY");
    expect(e.message).toMatch(why);
    expect(e.hint).toContain("--write");
  });

  test("nothing is sent: a refusal does not even need a reachable server", async () => {
    const e = await failure("postgres://nobody:secret@127.0.0.1:1/none", "select 1; commit");
    expect(e.code).toBe("E_READ_ONLY");
  });

  test("no refused statement changed anything", async () => {
    expect(await count("id between 910 and 913")).toBe(0);
    const r = await run(url, "show default_transaction_read_only");
    expect(r.results[0]!.rows).toEqual([{ default_transaction_read_only: "on" }]);
  });

  test("a DO block runs with --write", async () => {
    await run(url, "do $$ begin insert into items values (914, 'do'); end $$", { write: true });
    expect(await count("id = 914")).toBe(1);
  });
});

describe("the read-only session", () => {
  test("runs with default_transaction_read_only and in a read-only transaction", async () => {
    const r = await run(url, "show default_transaction_read_only; show transaction_read_only");
    expect(r.results.map((x) => x.rows[0])).toEqual([{ default_transaction_read_only: "on" }, { transaction_read_only: "on" }]);
    expect(r.summary).toMatchObject({ readOnly: true, mode: "read-only" });
  });

  test("a plain INSERT is not caught by the parser: the server refuses it (25006), --write allows it", async () => {
    const e = await failure(url, "insert into items values (920, 'x')");
    expect(e.code).toBe("E_SQL");
    expect(e.exitCode).toBe(4);
    expect(e.details?.sqlstate).toBe("25006");
    expect(e.message).toBe("line 1:1: cannot execute INSERT in a read-only transaction (SQLSTATE 25006)");
    expect(e.hint).toContain("--write allows writes");
    expect(await count("id = 920")).toBe(0);
    const ok = await run(url, "insert into items values (920, 'x')", { write: true });
    expect(ok.results[0]).toMatchObject({ command: "INSERT", tag: "INSERT 0 1", rowCount: 1 });
    expect(await count("id = 920")).toBe(1);
  });

  test("a function the parser cannot see into cannot lift read-only for the statements after it", async () => {
    const e = await failure(url, "select lift_read_only(); insert into items values (921, 'x')");
    expect(e.details?.sqlstate).toBe("25006");
    expect(await count("id = 921")).toBe(0);
  });

  test("SET ROLE is allowed but does not lift read-only, even for a role whose settings would", async () => {
    const e = await failure(url, "set role lifted; insert into items values (922, 'x')");
    expect(e.details?.sqlstate).toBe("25006");
    expect(await count("id = 922")).toBe(0);
  });

  test("everything runs in one transaction that is rolled back (session settings included)", async () => {
    const r = await run(url, "set local app.user_id = '7'; select current_setting('app.user_id') as uid; select count(*) as n from items");
    expect(r.results[1]!.rows).toEqual([{ uid: "7" }]);
    expect(r.results[2]!.rows[0]).toHaveProperty("n");
  });
});
