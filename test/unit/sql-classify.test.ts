import { beforeAll, describe, expect, test } from "bun:test";
import { copyStdioReason, isCopyableQuery, maxParamRef, readOnlyRefusal, referencedNames, sameTree, textMentions } from "../../core/sql/classify.ts";
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
    ["set local transaction_read_only = off", /SET LOCAL transaction_read_only/],
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
    ["select dblink_exec('dbname=x', 'insert into t values (1)')", /dblink_exec\(\) opens its own connection/],
    ["select * from public.dblink('dbname=x', 'delete from t returning 1') as r(x int)", /dblink\(\)/],
    ["select pg_background_launch('insert into t values (1)')", /runs SQL given as text/],
    ["select lo_export(1234, '/tmp/x')", /writes files on the server/],
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

describe("refusal by category", () => {
  test.each([
    // Settings that change how the server reads the SQL text that follows.
    ["set standard_conforming_strings = off", /SET standard_conforming_strings changes how the server reads/],
    ["SET LOCAL Standard_Conforming_Strings TO off", /SET LOCAL standard_conforming_strings/],
    ["reset standard_conforming_strings", /RESET standard_conforming_strings/],
    ["set client_encoding = 'SJIS'", /client_encoding/],
    ["set names 'BIG5'", /client_encoding/],
    ["set backslash_quote = on", /backslash_quote/],
    ["set escape_string_warning to off", /escape_string_warning/],
    ["select set_config('standard_conforming_strings', 'off', false)", /set_config\('standard_conforming_strings', …\) changes how the server reads/],
    ["select pg_catalog.set_config('CLIENT_ENCODING'::text, 'GBK', true)", /changes how the server reads/],
    ["select set_config(lower('STANDARD_CONFORMING_STRINGS'), 'off', false)", /computed setting name/],
    ["select set_config('standard_' || 'conforming_strings', 'off', false)", /computed/],
    // SQL given as text.
    ["select query_to_xml('insert into t values (1) returning 1', true, false, '')", /query_to_xml\(\) runs SQL given as text/],
    ["select * from pg_catalog.query_to_xmlschema('select 1', true, false, '')", /runs SQL given as text/],
    ["select query_to_xml_and_xmlschema('select 1', true, false, '')", /runs SQL given as text/],
    ["select * from ts_stat('select to_tsvector(x) from t')", /ts_stat\(\) runs SQL given as text/],
    ["select ts_rewrite('a & b'::tsquery, 'select t, s from aliases')", /ts_rewrite\(\) runs SQL given as text/],
    ["select * from crosstab('select 1, 2, 3') as c(a int, b int)", /crosstab\(\) runs SQL given as text/],
    ["select * from public.crosstab3('select 1')", /runs SQL given as text/],
    ["select * from connectby('t', 'id', 'parent', '1', 0) as c(id int, p int, l int)", /runs SQL given as text/],
    ["select * from pgr_dijkstra('select id, source, target, cost from edges', 1, 2)", /runs SQL given as text/],
    ["select table_to_xml('ft'::regclass, true, false, '')", /runs SQL given as text/],
    // Own connections, signals, replication, stats, server state, files, locks, indexes.
    ["select * from dblink('dbname=x', 'select 1') as r(x int)", /dblink\(\) opens its own connection/],
    ["select dblink_connect('c', 'dbname=x')", /opens its own connection/],
    ["select postgres_fdw_disconnect_all()", /opens its own connection/],
    ["select pg_cancel_backend(42)", /pg_cancel_backend\(\) signals other sessions/],
    ["select pg_log_backend_memory_contexts(42)", /signals other sessions/],
    ["select pg_create_physical_replication_slot('s')", /changes replication state/],
    ["select * from pg_logical_slot_get_changes('s', null, null)", /changes replication state/],
    ["select pg_replication_origin_create('o')", /changes replication state/],
    ["select pg_stat_reset_shared('bgwriter')", /resets statistics/],
    ["select pg_stat_reset_single_table_counters('t'::regclass)", /resets statistics/],
    ["select pg_stat_statements_reset()", /resets statistics/],
    ["select pg_rotate_logfile()", /changes server state\/configuration/],
    ["select pg_switch_wal()", /changes server state/],
    ["select pg_create_restore_point('x')", /changes server state/],
    ["select pg_wal_replay_pause()", /changes server state/],
    ["select pg_read_file('/etc/passwd')", /pg_read_file\(\) reads files on the server/],
    ["select pg_read_binary_file('postgresql.conf', 0, 10)", /reads files on the server/],
    ["select * from pg_ls_dir('.')", /reads files on the server/],
    ["select * from pg_ls_waldir()", /reads files on the server/],
    ["select pg_stat_file('postgresql.conf')", /reads files on the server/],
    ["select lo_import('/etc/passwd')", /reads files on the server/],
    ["select pg_file_write('x', 'y', false)", /writes files on the server/],
    ["select pg_advisory_lock(1)", /pg_advisory_lock\(\) takes a lock that outlives the transaction/],
    ["select pg_try_advisory_lock_shared(1, 2)", /takes a lock that outlives/],
    ["select brin_summarize_new_values('i'::regclass)", /writes to indexes/],
    ["select gin_clean_pending_list('i')", /writes to indexes/],
    // How the name is written or reached.
    ["select pg_catalog.pg_terminate_backend(42)", /pg_terminate_backend\(\) signals/],
    ['select "pg_terminate_backend"(42)', /signals other sessions/],
    ["select PG_Terminate_Backend(42)", /signals other sessions/],
    ['select "PG_TERMINATE_BACKEND"(42)', /signals other sessions/],
    ["select (42).pg_terminate_backend", /called as a field/],
    ["select (pid).pg_terminate_backend from pg_stat_activity", /signals other sessions/],
    ["select ((pid)).pg_cancel_backend from pg_stat_activity a", /signals other sessions/],
    // t.f is f(t) only for functions of t's row type: left to the catalog check.
    ["select a.pg_cancel_backend, u.dblink_token from pg_stat_activity a, users u", undefined],
    ["select ((42)).pg_catalog", undefined],
    // Wherever the call sits.
    ["explain analyze select pg_terminate_backend(42)", /signals/],
    ["explain (analyze, format json) select * from dblink('x', 'y') as r(a int)", /dblink/],
    ["prepare p(int) as select pg_cancel_backend($1)", /signals/],
    ["declare c cursor for select pg_stat_reset()", /resets statistics/],
    ["declare c cursor with hold for select query_to_xml('select 1', true, false, '')", /runs SQL given as text/],
    ["with x as (select pg_switch_wal()) select * from x", /server state/],
    ["with recursive r(n) as (select 1 union all select n + 1 from r where pg_advisory_lock(n) is null) select * from r", /lock/],
    ["select * from (select pg_reload_conf()) s", /server state/],
    ["select * from t where id in (select pg_terminate_backend(pid) from pg_stat_activity)", /signals/],
    ["select * from t order by pg_cancel_backend(id)", /signals/],
    ["select * from t, lateral (select pg_read_file('/etc/hosts')) f", /reads files/],
    ["values (1, pg_rotate_logfile())", /server state/],
    ["select case when true then pg_promote() end", /server state/],
    ["select coalesce(null, pg_stat_reset()::text)", /statistics/],
    ["select array[pg_switch_wal()]", /server state/],
    ["select count(*) filter (where pg_advisory_lock(1) is null) from t", /lock/],
    ["select sum(x) over (order by pg_cancel_backend(x)) from t", /signals/],
    ["select * from t group by 1 having bool_and(pg_cancel_backend(1))", /signals/],
    ["select 1 where exists (select from dblink('x','y') as r(a int))", /dblink/],
    ["select row(1, pg_terminate_backend(2))", /signals/],
    ["select * from rows from (pg_ls_dir('.'), generate_series(1, 2))", /reads files/],
    ["insert into t select pg_terminate_backend(1)", /signals/],
  ])("%s", (sql, why) => {
    if (why === undefined) expect(refusal(sql)).toBeUndefined();
    else expect(refusal(sql)).toMatch(why);
  });

  test.each([
    "select now(), count(*), jsonb_build_object('a', 1) -> 'a', '{\"x\": 2}'::jsonb ->> 'x' from t",
    "select pg_advisory_xact_lock(1)",
    "select pg_try_advisory_xact_lock(1)",
    "select ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)",
    "select pg_backend_pid(), pg_stat_get_numscans('t'::regclass)",
    "select current_setting('standard_conforming_strings')",
    "select set_config('statement_timeout', '5s', true)",
    "set statement_timeout = '5s'",
    "set search_path = other, public",
    "set role reader",
    "select t.name from t",
    "select pg_size_pretty(pg_database_size(current_database()))",
  ])("allows %s", (sql) => {
    expect(refusal(sql)).toBeUndefined();
  });
});

describe("referencedNames and sameTree", () => {
  test("collects called functions, field selections and relations", () => {
    const r = referencedNames(one('select a.f, (x).g, "Mixed"(1), s.h(2) from s."Tbl" a join u on true, lateral k() where exists (table v)'));
    expect(r.functions.sort()).toEqual(["f", "g", "h", "k", "mixed"]);
    expect(r.relations.sort()).toEqual(["Tbl", "u", "v"]);
  });

  test("sameTree ignores positions only", () => {
    expect(sameTree(one("select 1 + x from t").node, one("select   1+x\nfrom t").node)).toBe(true);
    expect(sameTree(one("select 1 + x from t").node, one("select 1 + y from t").node)).toBe(false);
    expect(sameTree(one("select 'a'").node, one("select E'a'").node)).toBe(true);
    expect(sameTree(one("select 'a'").node, one("select 'a\\'").node)).toBe(false);
    // Every kind of position field (list_start/list_end of array expressions, IN lists…).
    expect(sameTree(one("select array[row(1, 'x')], x in (1, 2), x = any('{1}') from t").node, one("select   array[ row(1,'x') ],x in(1,2), x=any('{1}') from t").node)).toBe(true);
  });
});

describe("textMentions", () => {
  test("denied names and COPY … TO PROGRAM written in strings or bound values", () => {
    expect(textMentions(one("select run('select pg_terminate_backend(' || 1 || ')')"))).toEqual(["pg_terminate_backend"]);
    expect(textMentions(one("select run($$copy (select 1) to program 'id'$$)"))).toEqual(["copy … to program"]);
    expect(textMentions(one("select run($1)"), ["select DBLINK_EXEC('x', 'y')"])).toEqual(["dblink_exec"]);
    expect(textMentions(one("select 'plain text', run('select 1')"))).toEqual([]);
  });
});
