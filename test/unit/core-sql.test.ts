import { beforeAll, describe, expect, test } from "bun:test";
import { ensureParser, functionCalls, lineCol, nonTransactionalReason, ParseError, splitStatements } from "../../core/sql/index.ts";

beforeAll(() => ensureParser());

describe("splitStatements", () => {
  test("positions survive comments, dollar quotes and multi-byte text", () => {
    const text = "-- header\nselect 'é;';\n\n/* c */ create function f() returns int language sql as $$ select 1; $$;\nselect 2";
    const s = splitStatements(text);
    expect(s.map((x) => x.type)).toEqual(["SelectStmt", "CreateFunctionStmt", "SelectStmt"]);
    expect(s[0]).toMatchObject({ line: 2, column: 1, text: "select 'é;'" });
    expect(s[1]).toMatchObject({ line: 4, column: 9 });
    expect(text.slice(s[1]!.start)).toStartWith("create function");
    expect(s[2]).toMatchObject({ line: 5, column: 1, text: "select 2" });
  });

  test("syntax errors carry line and column", () => {
    const err = (() => {
      try {
        splitStatements("select 1;\nselect from where;");
      } catch (e) {
        return e;
      }
    })() as ParseError;
    expect(err).toBeInstanceOf(ParseError);
    expect(err.line).toBe(2);
    expect(err.column).toBe(13);
  });

  test("lineCol", () => {
    expect(lineCol("ab\ncd", 4)).toEqual({ line: 2, column: 2 });
  });
});

describe("classification", () => {
  const reason = (sql: string, v = 150000) => splitStatements(sql).map((s) => nonTransactionalReason(s, v)).find(Boolean);
  test("statements that cannot run in a transaction block", () => {
    expect(reason("create index concurrently i on t(a)")).toBe("CREATE INDEX CONCURRENTLY");
    expect(reason("create index i on t(a)")).toBeUndefined();
    expect(reason("drop index concurrently i")).toBe("DROP INDEX CONCURRENTLY");
    expect(reason("reindex (concurrently) table t")).toBe("REINDEX CONCURRENTLY");
    expect(reason("vacuum t")).toBe("VACUUM");
    expect(reason("analyze t")).toBeUndefined();
    expect(reason("begin; select 1; commit")).toContain("own transaction control");
    expect(reason("alter type e add value 'x'", 110000)).toContain("ADD VALUE");
    expect(reason("alter type e add value 'x'", 150000)).toBeUndefined();
    expect(reason("create database x")).toBe("CREATE DATABASE");
  });

  test("function calls, including inside function bodies and DO blocks", () => {
    const calls = functionCalls(
      splitStatements(`
      create table t (id uuid default uuid_generate_v4(), h text default encode(digest('x', 'sha256'), 'hex'));
      create function f() returns text language plpgsql as $$ begin return crypt('a', gen_salt('bf')); end $$;
      do $$ begin perform pgp_sym_encrypt('a', 'b'); end $$;
    `),
    );
    for (const fn of ["uuid_generate_v4", "digest", "encode", "crypt", "gen_salt", "pgp_sym_encrypt"]) expect(calls.has(fn)).toBe(true);
    expect(calls.has("now")).toBe(false);
  });
});
