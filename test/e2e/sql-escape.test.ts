/**
 * `eve db sql` without --write under attack, run as the CLI (source, or the
 * compiled binary with EVE_E2E_BIN), as a superuser (the worst case: every
 * function below would work for it). Every attempt must be refused or be
 * harmless, and after each one nothing changed: rows, sequences, files on
 * the host, replication slots, other sessions, statistics, session locks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { runEve } from "../helpers/cli.ts";
import { adminUrl, freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir } from "../helpers/fs.ts";
import { createRole, dropRoles } from "../helpers/roles.ts";

let url: string;
let dbName: string;
let victim: postgres.Sql;
let victimPid: number;
const marker = join(tmpdir(), `eve-escape-${process.pid}-marker`);
const hostFile = join(tmpdir(), `eve-escape-${process.pid}-hostfile.txt`);
const sqlArgs = (...rest: string[]) => ["db", "sql", "--url", url, ...rest];

interface State {
  items: number;
  seq: string;
  slots: number;
  origins: number;
  dbStatsReset: string | null;
  bgwriterStatsReset: string | null;
  seqScanAtLeast: boolean;
  victimAlive: boolean;
  markerExists: boolean;
  advisoryLocks: number;
}

let lastSeqScan = 0;

/** Everything an escape could change, read from outside eve. */
async function state(): Promise<State> {
  const s = await withSql(url, async (sql) => {
    const [r] = await sql.unsafe(`
      select (select count(*)::int from items) as items,
             (select last_value::text from seq) as seq,
             (select count(*)::int from pg_replication_slots) as slots,
             (select count(*)::int from pg_replication_origin) as origins,
             (select stats_reset::text from pg_stat_database where datname = current_database()) as db_reset,
             (select stats_reset::text from pg_stat_bgwriter) as bg_reset,
             (select coalesce(seq_scan, 0)::int from pg_stat_user_tables where relname = 'items') as seq_scan,
             (select count(*)::int from pg_locks where locktype = 'advisory') as advisory`);
    return r!;
  });
  let victimAlive = false;
  try {
    const [v] = await victim`select pg_backend_pid() as pid`;
    victimAlive = v!.pid === victimPid;
  } catch {
    victimAlive = false;
  }
  const seqScan = Number(s.seq_scan);
  const seqScanAtLeast = seqScan >= lastSeqScan;
  lastSeqScan = Math.max(lastSeqScan, seqScan);
  return {
    items: s.items,
    seq: s.seq,
    slots: s.slots,
    origins: s.origins,
    dbStatsReset: s.db_reset,
    bgwriterStatsReset: s.bg_reset,
    seqScanAtLeast,
    victimAlive,
    markerExists: existsSync(marker),
    advisoryLocks: s.advisory,
  };
}

let before: State;

beforeAll(async () => {
  url = await freshDatabase("sqlescape");
  dbName = new URL(url).pathname.slice(1);
  writeFileSync(hostFile, "a line of a file on the database host\n");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table items (id int primary key, name text);
      insert into items select g, 'item ' || g from generate_series(1, 5) g;
      create sequence seq;
      select nextval('seq');
      create extension dblink;
      create extension postgres_fdw;
      create extension file_fdw;
      create schema hidden;
      create extension tablefunc schema hidden;
      create server files foreign data wrapper file_fdw;
      create foreign table host_file (line text) server files options (filename '${hostFile}');
      create view v_foreign as select * from host_file;
      create view v_nested as select * from v_foreign;
      create table measurements (at date, line text) partition by range (at);
      create table measurements_local partition of measurements for values from ('2020-01-01') to ('2030-01-01');
      create foreign table measurements_remote partition of measurements for values from ('1900-01-01') to ('2020-01-01') server files options (filename '${hostFile}');
      create table plain_parent (line text);
      create foreign table child_remote () inherits (plain_parent) server files options (filename '${hostFile}');
      create view v_kill as select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = 'eve-escape-victim';
      create view v_outer as select * from v_kill;
      create schema util;
      create function util.peek(p int) returns boolean language sql as 'select pg_catalog.pg_terminate_backend(p)';
      create function util.stop_backend(int) returns boolean language internal strict as 'pg_terminate_backend';
      create function util.harmless(int) returns int language sql as 'select $1 + 1';
      create function public.by_row(r record) returns boolean language plpgsql as $f$ begin return pg_terminate_backend((r).pid); end $f$;
      create function util.kill_pair(a int, b int) returns boolean language sql as 'select pg_terminate_backend(b)';
      create operator util.=!> (leftarg = int, rightarg = int, function = util.kill_pair);
      create function util.read_host() returns setof text language sql as 'select line from public.host_file';
      create function util.run(q text) returns void language plpgsql as $f$ begin execute q; end $f$;
      create function util.shell(cmd text) returns void language plpgsql as $f$ begin execute format('copy (select 1) to program %L', cmd); end $f$;
      create table guarded (id int);
      insert into guarded values (1);
      alter table guarded enable row level security;
      alter table guarded force row level security;
      create policy kill_on_read on guarded using (pg_terminate_backend(id) is not null);
      create table guarded2 (id int);
      alter table guarded2 enable row level security;
      alter table guarded2 force row level security;
      create policy via_function on guarded2 using (util.kill_pair(id, id));
      select pg_stat_reset();
    `),
  );
  victim = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: "eve-escape-victim" } });
  victimPid = (await victim`select pg_backend_pid() as pid`)[0]!.pid as number;
  rmSync(marker, { force: true });
  // Let the stats reset above land before it is compared.
  await Bun.sleep(200);
  before = await state();
  expect(before.victimAlive).toBe(true);
});

afterAll(async () => {
  await victim?.end({ timeout: 1 }).catch(() => {});
  rmSync(hostFile, { force: true });
  rmSync(marker, { force: true });
  await dropRoles([url]);
});

/** Run eve read-only; it must be refused (exit 4, E_READ_ONLY, the reason), and nothing changed. */
async function refused(why: RegExp, ...args: string[]) {
  const r = await runEve(sqlArgs(...args));
  expect(r.stderr).toMatch(why);
  expect(r.stderr).toMatch(/error: (refused|the session has)/);
  expect(r.code).toBe(4);
  expect(r.stdout).toBe("");
  expect(await state()).toEqual({ ...before, seqScanAtLeast: true });
  return r;
}

/** Run eve read-only; it may succeed or fail at the server, but nothing changed. */
async function harmless(...args: string[]) {
  const r = await runEve(sqlArgs(...args));
  expect(await state()).toEqual({ ...before, seqScanAtLeast: true });
  return r;
}

describe("parser differential: settings that change how the server reads SQL", () => {
  test.each([
    ["SET", "set standard_conforming_strings = off;\nselect 'x\\' || ' ); commit; begin read write; insert into items values (100); --' as a"],
    ["SET LOCAL", "set local standard_conforming_strings to off; select 'x\\' , pg_terminate_backend(42), '' as a"],
    ["SET SESSION mixed case", "SET SESSION Standard_Conforming_Strings = 'OFF'; select 1"],
    ["RESET", "reset standard_conforming_strings; select 1"],
    ["set_config", "select set_config('standard_conforming_strings', 'off', false);\nselect 'x\\' || ' ; insert into items values (101); --'"],
    ["set_config schema-qualified, cast name", "select pg_catalog.set_config('standard_conforming_strings'::text, 'off', true)"],
    ["set_config in a subquery", "select * from (select set_config('standard_conforming_strings', 'off', false)) s"],
    ["set_config computed name", "select set_config(concat('standard_', 'conforming_strings'), 'off', false)"],
    ["set_config name from a table", "select set_config(name, 'off', false) from pg_settings where name like 'standard_conf%'"],
    ["client_encoding", "set client_encoding = 'SJIS'; select 1"],
    ["SET NAMES", "set names 'GBK'; select 1"],
    ["backslash_quote", "set backslash_quote = on"],
    ["escape_string_warning", "set escape_string_warning = off"],
    ["set_config of client_encoding", "select set_config('client_encoding', 'BIG5', false)"],
    ["read-only setting via set_config in a CTE", "with x as (select set_config('transaction_read_only', 'off', true)) select * from x"],
  ])("%s is refused", async (_, sql) => {
    await refused(/changes how the server reads|read-only setting|computed setting name/, "--sql", sql);
  });

  test("the settings are pinned at session start, whatever the URL's options say", async () => {
    const r = await harmless("--url", `${url}?options=-c%20standard_conforming_strings%3Doff%20-c%20backslash_quote%3Don`, "--sql", "show standard_conforming_strings; select 'x\\' as lit", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.results[0].rows).toEqual([{ standard_conforming_strings: "on" }]);
    expect(doc.results[1].rows).toEqual([{ lit: "x\\" }]);
  });

  test("a URL parameter that overrides a pinned setting is refused before any statement runs", async () => {
    await refused(/the session has standard_conforming_strings = off; read-only mode needs on/, "--url", `${url}?standard_conforming_strings=off`, "--sql", "select 'x\\' || ' ; insert into items values (102); --'");
    await refused(/the session has default_transaction_read_only = off/, "--url", `${url}?default_transaction_read_only=off`, "--sql", "select 1");
  });

  test("backslashes, E'' strings, dollar quotes and comments are read the same way by the gate and the server", async () => {
    const text = [
      "select 'a\\' as plain,",
      "       E'b\\'; commit; insert into items values (103); --' as e,",
      "       $q$ '; commit; insert into items values (104); $q$ as dollar,",
      "       $$ $q$ $$ as nested_dollar,",
      "       /* ' ; insert into items values (105); /* nested */ still comment */ 1 as c, -- ' ; delete from items",
      "       U&'\\0041' as u",
    ].join("\n");
    const r = await harmless("--sql", text, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0].rows).toEqual([
      { plain: "a\\", e: "b'; commit; insert into items values (103); --", dollar: " '; commit; insert into items values (104); ", nested_dollar: " $q$ ", c: 1, u: "A" },
    ]);
  });

  test("text the gate reads as code after a backslash is checked as code", async () => {
    await refused(/pg_terminate_backend\(\) signals other sessions/, "--sql", `select 'x\\', pg_terminate_backend(${0}) --'`);
    await refused(/pg_cancel_backend\(\) signals/, "--sql", "select E'\\\\', pg_cancel_backend(1), ''");
  });
});

describe("no statement is pasted into a wrapper: --csv, --file, --file -, --params", () => {
  test("CSV: text that would close COPY's parenthesis is refused or harmless", async () => {
    await refused(/changes how the server reads/, "--csv", "--sql", "set standard_conforming_strings = off; select 'a\\' || ' ) to stdout; commit; insert into items values (110); copy (select 1 --' as x");
    // What the gate reads as a syntax error is not sent at all.
    const syntax = await harmless("--csv", "--sql", "select 'a\\' ) to stdout; commit; insert into items values (110); copy (select 1");
    expect(syntax.code).toBe(4);
    expect(syntax.stderr).toContain("nothing was sent to the database");
    const r = await harmless("--csv", "--sql", "select ') to stdout; insert into items values (111); copy (select 1' as \"a)\" -- ) to stdout; insert into items values (112)");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('a)\n) to stdout; insert into items values (111); copy (select 1\n');
    const c = await harmless("--csv", "--sql", "select 1 as a /* ) to stdout; insert into items values (113); copy (select 1 */");
    expect(c.code).toBe(0);
    expect(c.stdout).toBe("a\n1\n");
  });

  test("CSV: a server error after an earlier COPY ends the run (no hang), whatever comes after", async () => {
    for (const sql of ["select 1; select 1/0", "select 1; select 1/0; select 2", "select 1/0; select 2", "select g from generate_series(1, 100000) g; select 1; select (select 1/0); show work_mem", "select 1; show nope", "select 1 as a; select case when g = 90000 then 1 / (g - g) else g end from generate_series(1, 100000) g; select 2"]) {
      const r = await runEve(sqlArgs("--csv", "--sql", sql), { timeoutMs: 20_000 });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/SQLSTATE/);
    }
    expect(await state()).toEqual({ ...before, seqScanAtLeast: true });
  });

  test("--file and --file - are checked the same way", async () => {
    const dir = tempDir();
    const file = join(dir, "escape.sql");
    writeFileSync(file, "select 1;\n-- a comment\nselect pg_terminate_backend(pid) from pg_stat_activity where application_name = 'eve-escape-victim';\n");
    const r = await refused(/pg_terminate_backend\(\) signals other sessions/, "--file", file);
    expect(r.stderr).toContain("escape.sql:3:1");
    const s = await runEve(sqlArgs("--file", "-"), { input: "set standard_conforming_strings = off;\nselect 'x\\' || ' ; insert into items values (114); --';\n" });
    expect(s.code).toBe(4);
    expect(s.stderr).toContain("changes how the server reads");
    expect(await state()).toEqual({ ...before, seqScanAtLeast: true });
  });

  test("--params are bound, never pasted into the text", async () => {
    const evil = "x'); commit; insert into items values (115); select ('";
    const r = await harmless("--sql", "select $1::text as v, $2::text as w", "--params", JSON.stringify([evil, "a\\' ); insert into items values (116); --"]), "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0].rows).toEqual([{ v: evil, w: "a\\' ); insert into items values (116); --" }]);
    const c = await harmless("--csv", "--sql", "select $1::text as v", "--params", JSON.stringify([") to stdout; insert into items values (117); --"]));
    expect(c.code).toBe(0);
    expect(c.stdout).toBe("v\n) to stdout; insert into items values (117); --\n");
  });
});

describe("SQL given as text", () => {
  test.each([
    ["query_to_xml", "select query_to_xml('insert into items values (120) returning 1', true, false, '')"],
    ["query_to_xml killing a session", "select query_to_xml('select pg_terminate_backend(pid) from pg_stat_activity where application_name = ''eve-escape-victim''', true, false, '')"],
    ["query_to_xmlschema", "select query_to_xmlschema('select 1', true, false, '')"],
    ["query_to_xml_and_xmlschema", "select * from pg_catalog.query_to_xml_and_xmlschema('select 1', true, false, '')"],
    ["ts_stat", "select * from ts_stat($$select pg_terminate_backend(pid)::text::tsvector from pg_stat_activity where application_name = 'eve-escape-victim'$$)"],
    ["ts_rewrite with a query", "select ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery')"],
    ["crosstab in another schema", "select * from hidden.crosstab('select 1::text, 2::text, 3::text') as c(a text, b text)"],
    ["crosstab through search_path", "set search_path = hidden, public; select * from crosstab('select 1::text, 2::text, 3::text') as c(a text, b text)"],
    ["connectby", "select * from hidden.connectby('items', 'id', 'id', '1', 0) as t(id int, p int, l int)"],
    ["table_to_xml of a foreign table", "select table_to_xml('host_file'::regclass, true, false, '')"],
  ])("%s is refused", async (_, sql) => {
    await refused(/runs SQL given as text/, "--sql", sql);
  });

  test("any function of tablefunc, reached through search_path in another schema, is refused by the catalog check", async () => {
    const r = await refused(/hidden\.normal_rand\(\) belongs to extension tablefunc, which runs SQL given as text/, "--sql", "set search_path = hidden, public; select * from normal_rand(2, 0, 1)");
    expect(r.stderr).toContain("statement 2 of 2");
  });
});

describe("effects outside the transaction", () => {
  test.each([
    [/opens its own connection/, "select * from dblink('dbname=postgres', 'select 1') as r(x int)"],
    [/opens its own connection/, `select dblink_exec('dbname=${"x"}', 'insert into items values (130)')`],
    [/opens its own connection/, "select public.DBLINK_CONNECT('c', 'dbname=postgres')"],
    [/opens its own connection/, "select postgres_fdw_get_connections()"],
    [/reads through a foreign-data wrapper/, "select * from host_file"],
    [/v_foreign reads public\.host_file, a foreign table/, "select count(*) from v_foreign"],
    [/reads public\.host_file, a foreign table/, "select * from v_nested"],
    [/measurements reads public\.measurements_remote, a foreign table/, "select count(*) from measurements where at > '2021-01-01'"],
    [/plain_parent reads public\.child_remote, a foreign table/, "select * from plain_parent"],
    [/public\.v_kill \(a view\), which calls pg_terminate_backend\(\), which signals other sessions/, "select * from v_kill"],
    [/v_outer reads public\.v_kill \(a view\), which calls pg_terminate_backend/, "select * from v_outer"],
    [/signals other sessions/, `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/signals other sessions/, `select pg_catalog."pg_terminate_backend"(pid) from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/signals other sessions/, `select PG_CATALOG.Pg_Cancel_Backend(pid) from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/called as a field/, `select (pid).pg_terminate_backend from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/pg_catalog\.pg_terminate_backend\(\) signals other sessions/, `select a.pg_terminate_backend from (select pid from pg_stat_activity where application_name = 'eve-escape-victim') a`],
    [/public\.by_row\(\) calls pg_terminate_backend\(\)/, `select a.by_row from (select pid from pg_stat_activity where application_name = 'eve-escape-victim') a`],
    [/util\.peek\(\) calls pg_terminate_backend\(\), which signals other sessions/, `set search_path = util, public; select peek(pid) from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/util\.stop_backend\(\) is the built-in pg_terminate_backend, which signals other sessions/, `select util.stop_backend(pid) from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/signals other sessions/, "select pg_log_backend_memory_contexts(pg_backend_pid())"],
    [/operator =!> runs util\.kill_pair\(\) calls pg_terminate_backend\(\)/, `select 1 operator(util.=!>) pid from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/operator =!> runs util\.kill_pair\(\)/, `set search_path = util, public; select 1 =!> pid from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/a row-level security policy of public\.guarded, which calls pg_terminate_backend\(\), which signals other sessions/, "select count(*) from guarded"],
    [/guarded2 calls util\.kill_pair\(\) calls pg_terminate_backend|util\.kill_pair\(\) calls pg_terminate_backend/, "select * from guarded2"],
    [/util\.run\(\) runs dynamic SQL, and the statement passes it text naming pg_terminate_backend\(\)/, `select util.run('select pg_terminate_backend(' || pid || ')') from pg_stat_activity where application_name = 'eve-escape-victim'`],
    [/util\.run\(\) runs dynamic SQL, and the statement passes it text naming copy … to program/, `select util.run($$copy (select 1) to program 'touch ${marker}'$$)`],
    [/util\.shell\(\) runs COPY … TO PROGRAM, which runs a program on the server/, `select util.shell('touch ${marker}')`],
    [/util\.read_host\(\) reads host_file, a foreign table, which reads through a foreign-data wrapper/, "select * from util.read_host()"],
    [/changes replication state/, "select pg_create_physical_replication_slot('eve_escape_slot')"],
    [/changes replication state/, "select * from pg_catalog.pg_create_logical_replication_slot('eve_escape_slot2', 'test_decoding')"],
    [/changes replication state/, "select pg_replication_origin_create('eve_escape_origin')"],
    [/resets statistics/, "select pg_stat_reset()"],
    [/resets statistics/, "select pg_stat_reset_shared('bgwriter')"],
    [/resets statistics/, "select pg_stat_reset_single_table_counters('items'::regclass)"],
    [/changes server state\/configuration/, "select pg_reload_conf()"],
    [/changes server state\/configuration/, "select pg_switch_wal()"],
    [/changes server state\/configuration/, "select pg_create_restore_point('eve')"],
    [/reads files on the server/, "select pg_read_file('/etc/hostname')"],
    [/reads files on the server/, `select pg_read_binary_file('${hostFile}')`],
    [/reads files on the server/, "select * from pg_ls_dir('.')"],
    [/reads files on the server/, "select pg_stat_file('postgresql.conf')"],
    [/reads files on the server/, "select lo_import('/etc/hostname')"],
    [/writes files on the server/, `select lo_export(1, '${marker}')`],
    [/takes a lock that outlives the transaction/, "select pg_advisory_lock(42)"],
    [/takes a lock that outlives the transaction/, "select pg_try_advisory_lock_shared(1, 2)"],
    [/writes to indexes/, "select gin_clean_pending_list('items_pkey'::regclass)"],
    [/writes to indexes/, "select brin_summarize_new_values('items_pkey'::regclass)"],
    [/COPY … TO PROGRAM runs a program/, `copy (select 1) to program 'touch ${marker}'`],
    [/COPY … TO a file/, `copy items to '${marker}'`],
  ])("%s: %s", async (why, sql) => {
    await refused(why, "--sql", sql);
  });

  test.each([
    ["EXPLAIN ANALYZE", "explain analyze select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'eve-escape-victim'"],
    ["PREPARE + EXECUTE", "prepare p(int) as select pg_cancel_backend($1); execute p(1)"],
    ["DECLARE CURSOR + FETCH", "declare c cursor for select pg_stat_reset(); fetch all from c"],
    ["a CTE", "with k as (select pg_terminate_backend(pid) from pg_stat_activity) select * from k"],
    ["a subquery in FROM", "select * from (select pg_switch_wal()) s"],
    ["a subquery in WHERE", "select * from items where id in (select pg_cancel_backend(pid)::int from pg_stat_activity)"],
    ["ORDER BY", "select * from items order by pg_advisory_lock(id)"],
    ["LATERAL", "select * from items, lateral (select pg_read_file('/etc/hostname')) f"],
    ["VALUES", "values (1, pg_rotate_logfile())"],
    ["CASE", "select case when id > 0 then pg_stat_reset() end from items"],
    ["a function argument", "select coalesce(null, dblink_exec('dbname=postgres', 'select 1'))"],
    ["a later statement of several", "select 1; select 2; select pg_create_physical_replication_slot('eve_escape_slot3')"],
  ])("wrapped in %s: refused", async (_, sql) => {
    await refused(/signals|statistics|server state|lock|reads files|connection|replication/, "--sql", sql);
  });

  test("a dynamic-SQL function gets the denied text through --params: refused", async () => {
    await refused(/util\.run\(\) runs dynamic SQL, and the statement passes it text naming pg_cancel_backend\(\)/, "--sql", "select util.run($1)", "--params", JSON.stringify([`select pg_cancel_backend(${victimPid})`]));
    const ok = await harmless("--sql", "select util.run($1)", "--params", JSON.stringify(["select 1"]));
    expect(ok.code).toBe(0);
  });

  test("the same attempts with --write do act (so the assertions above can fail)", async () => {
    const r = await runEve(sqlArgs("--write", "--sql", "set search_path = util, public; select peek(pid) from pg_stat_activity where application_name = 'eve-escape-victim'"));
    expect(r.code).toBe(0);
    // The victim's backend is gone: postgres.js reconnects, to a new backend.
    const [v] = await victim`select pg_backend_pid() as pid`;
    expect(v!.pid).not.toBe(victimPid);
    victimPid = v!.pid as number;
  });
});

describe("legitimate read-only work still runs", () => {
  test("functions, aggregates, jsonb, settings, SET ROLE, transaction-scoped locks", async () => {
    const reader = await createRole("escape_reader");
    await withSql(url, (sql) => sql.unsafe(`grant select on items to "${reader.name}"; grant "${reader.name}" to current_user`));
    const r = await harmless(
      "--sql",
      [
        "set search_path = util, public",
        "set statement_timeout = '5s'",
        "select now() <= clock_timestamp() as ok, count(*) as n, jsonb_build_object('a', 1) -> 'a' as j, '{\"x\": [1, 2]}'::jsonb #>> '{x,1}' as k from items",
        "select harmless(41) as h",
        "select pg_advisory_xact_lock(7), pg_try_advisory_xact_lock(8) as got",
        `set role "${reader.name}"`,
        "select current_user = session_user as same, count(*) as n from public.items",
      ].join(";\n"),
      "--json",
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.results[2].rows).toEqual([{ ok: true, n: "5", j: 1, k: "2" }]);
    expect(doc.results[3].rows).toEqual([{ h: 42 }]);
    expect(doc.results[4].rows[0].got).toBe(true);
    expect(doc.results[6].rows).toEqual([{ same: false, n: "5" }]);
  });
});

describe("privileged roles get a one-line notice", () => {
  test("a superuser: one line on stderr, stdout stays clean JSON", async () => {
    const r = await harmless("--sql", "select 1 as x", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0].rows).toEqual([{ x: 1 }]);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^notice: role postgres is a superuser: read-only mode is a safety gate against mistakes and cannot stop everything such a role can do .*the permission boundary is a read-only role$/);
  });

  test("a member of pg_signal_backend is told; a plain role is not", async () => {
    const plain = await createRole("escape_plain");
    const signaller = await createRole("escape_signaller");
    await withSql(url, (sql) => sql.unsafe(`grant pg_signal_backend to "${signaller.name}"; grant connect on database "${dbName}" to "${plain.name}", "${signaller.name}"`));
    const p = await runEve(["db", "sql", "--url", plain.urlFor(url), "--sql", "select 1"]);
    expect(p.code).toBe(0);
    expect(p.stderr).toBe("");
    const s = await runEve(["db", "sql", "--url", signaller.urlFor(url), "--sql", "select 1"]);
    expect(s.code).toBe(0);
    expect(s.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^notice: role escape_signaller_\w+ is a member of pg_signal_backend: read-only mode is a safety gate/)]);
    // The gate holds for it too.
    const k = await runEve(["db", "sql", "--url", signaller.urlFor(url), "--sql", `select pg_terminate_backend(${victimPid})`]);
    expect(k.code).toBe(4);
    expect(k.stderr).toContain("signals other sessions");
  });
});

describe("SIGTERM ends eve at any point", () => {
  test("while the server-side check waits on a lock", async () => {
    const locker = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const held = locker.begin(async (sql) => {
        await sql`lock table pg_catalog.pg_proc in access exclusive mode`;
        await new Promise((r) => setTimeout(r, 8000));
      });
      await Bun.sleep(300);
      const started = Date.now();
      const run = runEve(sqlArgs("--sql", "select now()"), { timeoutMs: 30_000 });
      // Wait until eve's session is blocked on the lock (asked from another
      // database: this one's catalog is locked).
      const admin = await adminUrl();
      for (let i = 0; i < 100; i++) {
        const [w] = await withSql(admin, (sql) => sql`select count(*)::int as n from pg_stat_activity where application_name = 'eve sql' and wait_event_type = 'Lock'`);
        if (w!.n > 0) break;
        await Bun.sleep(100);
      }
      run.kill("SIGTERM");
      const r = await run;
      expect(Date.now() - started).toBeLessThan(7000);
      expect(r.code).not.toBe(0);
      await held.catch(() => {});
    } finally {
      await locker.end({ timeout: 1 });
    }
  }, 40_000);
});
