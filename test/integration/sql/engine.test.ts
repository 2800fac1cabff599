/**
 * The engine against a real server: types, parameters, transactions in
 * --write mode, streaming through both paths (cursor and COPY), cancellation,
 * and error positions.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { bufferWriter } from "../../../core/io.ts";
import { InterruptedError, OutputClosedError } from "../../../core/errors.ts";
import { ensureParser } from "../../../core/sql/index.ts";
import postgres from "postgres";
import { close, connect } from "../../../core/db/index.ts";
import type { EveError } from "../../../core/errors.ts";
import { runSql, sessionOptions } from "../../../plugins/sql/engine.ts";
import type { ResultSink } from "../../../plugins/sql/schema.ts";
import { planSql } from "../../../plugins/sql/plan.ts";
import { collectSink, csvSink, ndjsonSink } from "../../../plugins/sql/sinks.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { failure, run } from "./helpers.ts";

let url: string;

beforeAll(async () => {
  await ensureParser();
  url = await freshDatabase("sqleng");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table items (id int primary key, name text, price numeric, qty bigint, tags text[], meta jsonb);
      insert into items select g, 'item ' || g, g * 1.25, g * 10000000000, array['a', 'b'], jsonb_build_object('g', g) from generate_series(1, 1000) g;
      insert into items values (1001, E'comma, "quote"\\nnewline', null, null, null, null), (1002, '', 0, 0, '{}', 'null');
    `),
  );
});

describe("types", () => {
  test("values keep their meaning: numbers, bigint/numeric strings, booleans, json, arrays, NULL", async () => {
    const r = await run(
      url,
      `select 1::int2 a, 2::int4 b, 3::int8 c, 1.50::numeric d, 0.5::float8 e, 'NaN'::float8 f, true g, null::text h,
              '{"k": [1, null]}'::jsonb i, '[1, 2]'::json j, array[1, null, 3] k, array[true] l, '2024-01-02'::date m,
              '\\x0102'::bytea n, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid o, interval '1 day' p`,
    );
    expect(r.results[0]!.rows[0]).toEqual({
      a: 1, b: 2, c: "3", d: "1.50", e: 0.5, f: "NaN", g: true, h: null,
      i: { k: [1, null] }, j: [1, 2], k: [1, null, 3], l: [true], m: "2024-01-02",
      n: "\\x0102", o: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", p: "1 day",
    });
    expect(r.results[0]!.columns.map((c) => c.type)).toEqual([
      "smallint", "integer", "bigint", "numeric", "double precision", "double precision", "boolean", "text",
      "jsonb", "json", "integer[]", "boolean[]", "date", "bytea", "uuid", "interval",
    ]);
  });

  test("several statements: each result in order with its command tag and row count", async () => {
    const r = await run(url, "select id from items where id <= 2 order by id;\nshow search_path;\nset statement_timeout = '5s';\nselect 1 where false");
    expect(r.results.map((x) => [x.statement, x.line, x.tag, x.rowCount, x.rows.length])).toEqual([
      [1, 1, "SELECT 2", 2, 2],
      [2, 2, "SHOW", 1, 1],
      [3, 3, "SET", 0, 0],
      [4, 4, "SELECT 0", 0, 0],
    ]);
    expect(r.results[3]!.columns).toEqual([{ name: "?column?", type: "integer", typeOid: 23 }]);
  });
});

describe("parameters", () => {
  test("bind as $1…, typed by the server; each statement takes what it uses", async () => {
    const r = await run(url, "select name from items where id = $1; select $2::int + 1 as n, $1 as again, $3::text is null as isnull", {
      params: ["3", "41", null],
    });
    expect(r.results[0]!.rows).toEqual([{ name: "item 3" }]);
    expect(r.results[1]!.rows).toEqual([{ n: 42, again: "3", isnull: true }]);
  });
});

describe("--write transactions", () => {
  test("several statements are all or nothing; the error names line:column, SQLSTATE and detail", async () => {
    const e = await failure(url, "insert into items (id, name) values (2000, 'new');\ninsert into items (id, name)\n  values (1, 'dup')", { write: true });
    expect(e.message).toBe('line 2:1: duplicate key value violates unique constraint "items_pkey" (SQLSTATE 23505) in statement 2 of 2');
    expect(e.context).toEqual(["  2 | insert into items (id, name)", "    | ^", "detail: Key (id)=(1) already exists."]);
    expect(e.hint).toContain("rolled back: nothing was written");
    const r = await run(url, "select count(*)::int as n from items where id = 2000");
    expect(r.results[0]!.rows).toEqual([{ n: 0 }]);
  });

  test("statements that cannot run in a transaction run in autocommit", async () => {
    const r = await run(url, "update items set qty = qty where id = 1; vacuum items", { write: true });
    expect(r.summary.mode).toBe("autocommit");
    expect(r.results.map((x) => x.tag)).toEqual(["UPDATE 1", "VACUUM"]);
  });

  test("INSERT … RETURNING returns rows and the INSERT tag", async () => {
    const r = await run(url, "insert into items (id, name) values (3000, 'r') returning id, name", { write: true });
    expect(r.results[0]).toMatchObject({ command: "INSERT", tag: "INSERT 0 1", rowCount: 1, rows: [{ id: 3000, name: "r" }] });
  });
});

describe("errors", () => {
  test("the position becomes line:column of the whole text, with the source line", async () => {
    const e = await failure(url, "select 1;\nselect *\n  from items\n  where nope = 1", { source: "report.sql" });
    expect(e.message).toBe('report.sql:4:9: column "nope" does not exist (SQLSTATE 42703) in statement 2 of 2');
    expect(e.context?.slice(0, 2)).toEqual(["  4 |   where nope = 1", "    |         ^"]);
    expect(e.details).toMatchObject({ sqlstate: "42703", line: 4, column: 9, statement: 2 });
  });

  test("the same position through the CSV (COPY) path, and the server's hint", async () => {
    const sink = csvSink(bufferWriter(), () => {});
    const e = await failure(url, "select 1;\nselect nme from items", { sink });
    expect(e.message).toStartWith('line 2:8: column "nme" does not exist (SQLSTATE 42703)');
    expect(e.hint).toContain('Perhaps you meant to reference the column "items.name"');
  });
});

describe("streaming", () => {
  const text = "select * from items where id <= 1002 order by id";

  test("CSV through COPY is byte-identical to rows rendered from the cursor path", async () => {
    const copied = bufferWriter();
    const c1 = csvSink(copied, () => {});
    await run(url, text, { sink: c1 });
    await c1.finish();
    const rendered = bufferWriter();
    const c2 = csvSink(rendered, () => {});
    // A parameter rules out COPY, so the same rows come through the cursor.
    await run(url, "select * from items where id <= 1002 and $1::int = 1 order by id", { sink: c2, params: ["1"] });
    await c2.finish();
    expect(copied.text()).toBe(rendered.text());
    expect(copied.text()).toContain('1001,"comma, ""quote""\nnewline",,,,\n1002,"",0,0,{},null\n');
    expect(copied.text().split("\n")[0]).toBe("id,name,price,qty,tags,meta");
  });

  test("rows arrive in batches and the sink's backpressure is respected", async () => {
    let batches = 0;
    let pending = 0;
    const lines: string[] = [];
    const slow = ndjsonSink(
      {
        write: (c) => (lines.push(String(c)), false),
        once: (_e, cb) => void setTimeout(cb, 1),
      },
      () => {},
    );
    const sink: ResultSink = {
      ...slow,
      rows: async (rows) => {
        batches++;
        expect(pending).toBe(0); // never called again before the previous batch was written
        pending++;
        await slow.rows(rows);
        pending--;
      },
    };
    await run(url, text, { sink, batchRows: 100 });
    await slow.finish();
    expect(batches).toBe(11);
    expect(lines.join("").trim().split("\n").length).toBe(1002);
  });

  test("abort cancels the running query on the server", async () => {
    const ac = new AbortController();
    const p = run(url, "select pg_sleep(30)", { signal: ac.signal });
    await waitFor(async () => (await activeQueries("pg_sleep(30)")) === 1);
    ac.abort(new InterruptedError());
    const e = await p.then(() => undefined, (x) => x);
    expect(e).toBeInstanceOf(InterruptedError);
    await waitFor(async () => (await activeQueries("pg_sleep(30)")) === 0);
  });

  test("a closed output (EPIPE) stops a COPY stream and cancels it on the server", async () => {
    let writes = 0;
    const sink = csvSink(
      {
        write: () => {
          if (++writes > 2) throw Object.assign(new Error("broken pipe"), { code: "EPIPE" });
          return true;
        },
      },
      () => {},
    );
    const e = await failure(url, "select g, repeat('x', 100) from generate_series(1, 2000000) g", { sink });
    expect(e).toBeInstanceOf(OutputClosedError);
    expect(await activeQueries("generate_series(1, 2000000)")).toBe(0);
  });
});

async function activeQueries(fragment: string): Promise<number> {
  return withSql(url, async (sql) => {
    const r = await sql`select count(*)::int as n from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and strpos(query, ${fragment}) > 0`;
    return r[0]!.n as number;
  });
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("one statement per Parse message (extended protocol) on every path", () => {
  // A plan whose text was tampered with after the gate, as a parser
  // differential would do: the server itself must refuse the second statement.
  const tampered = (text: string, copyText?: string) => {
    const plan = planSql("select 1 as a", { write: true, params: [], source: "--sql" });
    const s = plan.statements[0]!;
    plan.statements[0] = { ...s, stmt: { ...s.stmt, text }, copyText };
    return plan;
  };
  const runPlan = async (plan: ReturnType<typeof tampered>, sink: ResultSink = collectSink()) => {
    const db = connect(url, sessionOptions(true));
    try {
      await runSql(db, { text: "select 1 as a", write: true, database: "test" }, sink, plan);
    } catch (e) {
      return e as EveError;
    } finally {
      await close(db);
    }
    throw new Error("expected the server to refuse");
  };

  test("the cursor path: a second statement in the text is refused by the server, even with --write", async () => {
    const e = await runPlan(tampered("select 1 as a; insert into items values (5001, 'smuggled')"));
    expect(e.message).toContain("cannot insert multiple commands into a prepared statement");
    expect(await withSql(url, async (sql) => (await sql`select count(*)::int as n from items where id = 5001`)[0]!.n)).toBe(0);
  });

  test("the COPY path: the same for text that closes the COPY's parenthesis", async () => {
    const sink = csvSink(bufferWriter(), () => {});
    const e = await runPlan(tampered("select 1 as a", "COPY (select 1 as a) TO STDOUT (FORMAT csv, HEADER); insert into items values (5002, 'smuggled')"), sink);
    expect(e.message).toContain("cannot insert multiple commands into a prepared statement");
    expect(await withSql(url, async (sql) => (await sql`select count(*)::int as n from items where id = 5002`)[0]!.n)).toBe(0);
  });

  test("the read-only catalog check runs on the session before the first statement", async () => {
    await withSql(url, (sql) => sql.unsafe("create or replace view cancel_all as select pg_cancel_backend(pid) as c from pg_stat_activity where false"));
    const e = await failure(url, "select 1; select * from cancel_all");
    expect(e.code).toBe("E_READ_ONLY");
    expect(e.message).toContain("statement 2 of 2");
    expect(e.message).toContain("public.cancel_all (a view), which calls pg_cancel_backend(), which signals other sessions");
    expect(e.hint).toContain("nothing was run");
  });

  test("an abort while the check waits ends the run at once", async () => {
    const locker = postgres(url, { max: 1, onnotice: () => {} });
    const ac = new AbortController();
    try {
      let release!: () => void;
      const hold = new Promise<void>((r) => (release = r));
      const held = locker.begin(async (sql) => {
        await sql`lock table pg_catalog.pg_proc in access exclusive mode`;
        await hold;
      });
      await Bun.sleep(200);
      const started = performance.now();
      setTimeout(() => ac.abort(new InterruptedError()), 500);
      const e = await failure(url, "select now()", { signal: ac.signal });
      expect(e).toBeInstanceOf(InterruptedError);
      expect(performance.now() - started).toBeLessThan(3000);
      release();
      await held;
    } finally {
      await locker.end({ timeout: 1 });
    }
  });
});
