import { beforeAll, describe, expect, test } from "bun:test";
import { copyStdioReason, isCopyableQuery, maxParamRef, readOnlyRefusal } from "../../core/sql/classify.ts";
import { ensureParser, splitStatements } from "../../core/sql/index.ts";

beforeAll(() => ensureParser());

const one = (sql: string) => splitStatements(sql)[0]!;
const refusal = (sql: string) => readOnlyRefusal(one(sql));

describe("readOnlyRefusal", () => {
  test.each([
    ["commit", /transaction control \(COMMIT\)/],
    ["rollback", /transaction control/],
    ["begin read write", /transaction control \(BEGIN\)/],
    ["start transaction", /transaction control/],
    ["savepoint a", /transaction control/],
    ["release savepoint a", /transaction control/],
    ["prepare transaction 'x'", /transaction control \(PREPARE\)/],
    ["commit prepared 'x'", /transaction control/],
    ["end", /transaction control/],
    ["set default_transaction_read_only = off", /SET default_transaction_read_only/],
    ["SET Default_Transaction_Read_Only TO false", /read-only setting/],
    ["set session default_transaction_read_only = off", /read-only setting/],
    ["set local transaction_read_only = off", /SET transaction_read_only/],
    ["reset default_transaction_read_only", /RESET default_transaction_read_only/],
    ["reset all", /RESET ALL/],
    ["set transaction read write", /SET TRANSACTION/],
    ["set session characteristics as transaction read write", /SESSION CHARACTERISTICS/],
    ["do $$ begin insert into t values (1); end $$", /DO blocks/],
    ["call p()", /CALL/],
    ["alter system set default_transaction_read_only = off", /ALTER SYSTEM/],
    ["copy t from '/tmp/x'", /COPY … FROM/],
    ["copy t to '/tmp/x'", /file/],
    ["copy (select 1) to program 'id'", /PROGRAM/],
    ["lock table t in access exclusive mode", /LOCK/],
    ["lock t", /LOCK/],
    ["vacuum t", /VACUUM/],
    ["analyze t", /ANALYZE/],
    ["cluster t using t_pkey", /CLUSTER/],
    ["reindex table t", /REINDEX/],
    ["checkpoint", /CHECKPOINT/],
    ["load 'auto_explain'", /LOAD/],
    ["select set_config('default_transaction_read_only', 'off', false)", /set_config\('default_transaction_read_only'/],
    ["select pg_catalog.set_config('transaction_read_only'::text, 'off', true)", /read-only setting/],
    ["select set_config(name, 'off', false) from (select 'default_transaction_read_only' as name) s", /computed setting name/],
    ["select * from t where x = (select set_config($1, 'off', false))", /computed/],
    ["select dblink_exec('dbname=x', 'insert into t values (1)')", /dblink_exec\(\) runs SQL over its own connection/],
    ["select * from public.dblink('dbname=x', 'delete from t returning 1') as r(x int)", /dblink\(\)/],
    ["select pg_background_launch('insert into t values (1)')", /background worker/],
    ["select lo_export(1234, '/tmp/x')", /files on the database server/],
    ["select pg_terminate_backend(123)", /other sessions/],
    ["select pg_reload_conf()", /server state/],
    ["select pg_stat_reset()", /statistics/],
    ["select pg_create_logical_replication_slot('s', 'test_decoding')", /replication/],
    ["explain analyze select set_config('default_transaction_read_only', 'off', false)", /read-only setting/],
    ["prepare p as select dblink_exec('x', 'y')", /dblink_exec/],
    ["with x as (select set_config('transaction_read_only', 'off', true)) select * from x", /read-only setting/],
  ])("refuses %s", (sql, why) => {
    expect(refusal(sql)).toMatch(why);
  });

  test.each([
    "select 1",
    "select * from t where id = $1",
    "with x as (select 1) select * from x",
    "values (1), (2)",
    "table t",
    "show default_transaction_read_only",
    "explain select * from t",
    "set search_path = app, public",
    "set statement_timeout = '5s'",
    "set local app.user_id = '42'",
    "set role app_user",
    "reset role",
    "set session authorization app_user",
    "select set_config('app.user_id', '42', true)",
    "select set_config('search_path'::text, 'app', false)",
    // Plain writes are not refused here: the read-only session rejects them at the server.
    "insert into t values (1)",
    "update t set x = 1",
    "delete from t",
    "create table x (id int)",
    "select nextval('s')",
    "declare c cursor for select 1",
    "fetch 10 from c",
    "listen ch",
    "notify ch",
    "discard plans",
    "prepare q as select 1",
    "execute q",
  ])("allows %s", (sql) => {
    expect(refusal(sql)).toBeUndefined();
  });
});

describe("statement facts", () => {
  test("maxParamRef finds the highest $n anywhere in the tree", () => {
    expect(maxParamRef(one("select 1"))).toBe(0);
    expect(maxParamRef(one("select $1, (select $3 where $2 > 0)"))).toBe(3);
    expect(maxParamRef(one("insert into t values ($2) returning $1"))).toBe(2);
  });

  test("isCopyableQuery: plain queries only", () => {
    expect(isCopyableQuery(one("select * from t"))).toBe(true);
    expect(isCopyableQuery(one("values (1)"))).toBe(true);
    expect(isCopyableQuery(one("with a as (select 1) select * from a"))).toBe(true);
    expect(isCopyableQuery(one("select 1 into t2"))).toBe(false);
    expect(isCopyableQuery(one("select * from t for update"))).toBe(false);
    expect(isCopyableQuery(one("with a as (insert into t values (1) returning *) select * from a"))).toBe(false);
    expect(isCopyableQuery(one("show work_mem"))).toBe(false);
    expect(isCopyableQuery(one("insert into t values (1) returning *"))).toBe(false);
  });

  test("copyStdioReason: COPY with STDIN/STDOUT only", () => {
    expect(copyStdioReason(one("copy t to stdout"))).toBe("COPY … TO STDOUT");
    expect(copyStdioReason(one("copy t from stdin"))).toBe("COPY … FROM STDIN");
    expect(copyStdioReason(one("copy t to '/tmp/x'"))).toBeUndefined();
    expect(copyStdioReason(one("select 1"))).toBeUndefined();
  });
});
