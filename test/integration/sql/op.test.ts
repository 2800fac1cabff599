/**
 * db.sql as an operation against a real server: what it produces survives
 * the wire (result, events and errors as JSON through the op's schemas, the
 * same text after), it plans and gates the text itself, binds JSON
 * parameters, batches rows and CSV into bounded events, and needs write
 * access only with write.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EveError } from "../../../core/errors.ts";
import { accessOf } from "../../../core/operation.ts";
import { sqlOp } from "../../../plugins/sql/ops/sql.ts";
import type { SqlEvent } from "../../../plugins/sql/schema.ts";
import { dropDatabases, freshDatabase, withSql } from "../../helpers/db.ts";
import { errorOverTheWire, overTheWire as wire } from "../../helpers/op-run.ts";
import { runOp, type OpRun } from "./helpers.ts";

/** The run as the other side of the wire gets it (test/helpers/op-run.ts), its events typed. */
const overTheWire = (run: OpRun) => wire(sqlOp, run) as { result: typeof run.result & object; events: SqlEvent[] };

let url: string;

beforeAll(async () => {
  url = await freshDatabase("sqlop");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table items (id bigint primary key, name text, tags text[], meta jsonb, at timestamptz);
      insert into items select g, 'item ' || g, case when g % 3 = 0 then null else array['a', 'b,c'] end,
        case when g % 2 = 0 then null else jsonb_build_object('g', g) end, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour'
      from generate_series(1, 1000) g;
    `),
  );
});

afterAll(() => dropDatabases([url]));

// The test role is a superuser: read-only runs start with the privileged-role notice.
const types = (r: OpRun) => r.events.map((e) => e.type).filter((t) => t !== "notice");

describe("db.sql over the wire", () => {
  test("result and every event (rows and the CSV fast path) round-trip through JSON and the schemas", async () => {
    const sql = "select * from items where id <= 3 order by id;\nshow search_path";
    for (const csv of [false, true]) {
      const { result, events } = overTheWire(await runOp(url, { sql, csv }));
      expect(result).toMatchObject({ database: "app@db.example:5432/app", readOnly: true, mode: "read-only" });
      expect(result.statements.map((s) => [s.statement, s.line, s.tag, s.rowCount])).toEqual([
        [1, 1, "SELECT 3", 3],
        [2, 2, "SHOW", 1],
      ]);
      expect(events[0]).toEqual({ type: "start", database: "app@db.example:5432/app", readOnly: true, mode: "read-only", statements: 2 });
      expect(types({ events })).toEqual(
        csv ? ["start", "columns", "csv", "complete", "columns", "rows", "complete"] : ["start", "columns", "rows", "complete", "columns", "rows", "complete"],
      );
      const data = events.filter((e) => e.type !== "notice");
      if (csv) expect(data[2]).toEqual({ type: "csv", chunk: expect.stringMatching(/^id,name,tags,meta,at\n1,item 1,"{a,""b,c""}","{""g"": 1}",2026-01-01 01:00:00\+00\n/) });
      else expect((data[2] as Extract<SqlEvent, { type: "rows" }>).rows[2]).toEqual(["3", "item 3", null, '{"g": 3}', "2026-01-01 03:00:00+00"]);
    }
  });

  test("a refusal, a syntax error and a SQL error (SQLSTATE, position, excerpt) survive errorToJson/errorFromJson", async () => {
    const refused = await runOp(url, { sql: "select 1;\nselect pg_terminate_backend(1)" });
    expect(types(refused)).toEqual([]);
    const r = errorOverTheWire(refused.error);
    expect(r.code).toBe("E_READ_ONLY");
    expect(r.details).toMatchObject({ statement: 2, line: 2, refused: [2] });

    const syntax = errorOverTheWire((await runOp(url, { sql: "select from from", source: "report.sql" })).error);
    expect(syntax.code).toBe("E_SQL_SYNTAX");
    expect(syntax.message).toStartWith("report.sql:1:");

    const failed = await runOp(url, { sql: "select 1 as one;\nselect * from nope" });
    expect(types(failed)).toEqual(["start", "columns", "rows", "complete"]);
    const e = errorOverTheWire(failed.error);
    expect(e.message).toBe('line 2:15: relation "nope" does not exist (SQLSTATE 42P01) in statement 2 of 2');
    expect(e.details).toMatchObject({ sqlstate: "42P01", position: 15, statement: 2, line: 2, column: 15 });
    expect(e.context).toEqual(["  2 | select * from nope", "    |               ^"]);
  });

  test("the privileged-role notice and server notices are events", async () => {
    const run = await runOp(url, { sql: "do $$ begin raise notice 'hello %', 42; end $$", write: true });
    overTheWire(run);
    expect(run.events).toContainEqual({ type: "server-notice", severity: "NOTICE", message: "hello 42" });
    // The test role is a superuser: read-only runs say so.
    expect((await runOp(url, { sql: "select 1" })).events[1]).toEqual({ type: "notice", line: expect.stringContaining("read-only mode is a safety gate") });
  });
});

describe("the operation judges the text itself", () => {
  test("plans and gates what it receives (no client plan): a write is refused unless write, and write needs write access", async () => {
    const input = sqlOp.input.parse({ sql: "insert into items (id) values (5000)" });
    expect(accessOf(sqlOp, input)).toBe("read");
    expect(accessOf(sqlOp, { ...input, write: true })).toBe("write");
    const e = (await runOp(url, { sql: "select 1; commit" })).error as EveError;
    expect(e.code).toBe("E_READ_ONLY");
    const w = await runOp(url, { sql: "insert into items (id) values (5000); delete from items where id = 5000", write: true });
    expect(w.events[0]).toEqual({ type: "start", database: "app@db.example:5432/app", readOnly: false, mode: "transaction", statements: 2 });
    expect(w.result!.statements.map((s) => s.tag)).toEqual(["INSERT 0 1", "DELETE 1"]);
  });

  test("NUL and lone surrogates (possible in a JSON body) are refused before anything is sent", async () => {
    const nul = (await runOp(url, { sql: "select 1;\nselect 'a\0b'" })).error as EveError;
    expect([nul.code, nul.message]).toEqual(["E_USAGE", "--sql contains a NUL byte: line 2, byte offset 19"]);
    const lone = (await runOp(url, { sql: "select 'é\uD800'", source: "x.sql" })).error as EveError;
    expect([lone.code, lone.message]).toEqual(["E_USAGE", "--file x.sql is not valid Unicode (a lone UTF-16 surrogate): line 1, byte offset 10"]);
    expect(lone.details).toEqual({ line: 1, byteOffset: 10 });
  });

  test("JSON parameters bind as text: strings as is (the CLI's exact digits), numbers, booleans, objects and arrays as JSON, null as NULL", async () => {
    const run = await runOp(url, {
      sql: "select $1::text a, $2::numeric b, $3::numeric c, $4::bool d, $5::jsonb ->> 'k' e, $6::jsonb -> 1 f, $7::text is null g",
      params: ["x", "12345678901234567890.5", 1.25, true, { k: "v" }, [1, 2], null],
    });
    expect(run.error).toBeUndefined();
    const rows = (run.events.find((e) => e.type === "rows") as Extract<SqlEvent, { type: "rows" }>).rows;
    expect(rows).toEqual([["x", "12345678901234567890.5", "1.25", "t", "v", "2", "t"]]);
  });
});

describe("bounded events", () => {
  test("rows come at most 256 per event, or about 64 KiB of values", async () => {
    const many = await runOp(url, { sql: "select id from items order by id" });
    const sizes = many.events.flatMap((e) => (e.type === "rows" ? [e.rows.length] : []));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(Math.max(...sizes)).toBe(256);
    const wide = await runOp(url, { sql: "select repeat('x', 20000) as v from generate_series(1, 10)" });
    expect(wide.events.flatMap((e) => (e.type === "rows" ? [e.rows.length] : []))).toEqual([4, 4, 2]);
  });

  test("server-written CSV comes as ~64 KiB text chunks; a character split between network chunks stays whole", async () => {
    const run = await runOp(url, { sql: "select g, repeat('é€𝄞', 5000) as s from generate_series(1, 20) g", csv: true });
    const chunks = run.events.flatMap((e) => (e.type === "csv" ? [e.chunk] : []));
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(new TextEncoder().encode(c).length).toBeLessThanOrEqual(1 << 16);
    const text = chunks.join("");
    expect(text).not.toContain("\uFFFD");
    const lines = text.split("\n");
    expect(lines[0]).toBe("g,s");
    expect(lines[20]).toBe(`20,${"é€𝄞".repeat(5000)}`);
  });
});
