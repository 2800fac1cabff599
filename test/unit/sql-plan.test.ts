import { beforeAll, describe, expect, test } from "bun:test";
import { EveError, UsageError } from "../../core/errors.ts";
import { ensureParser } from "../../core/sql/index.ts";
import { maskSecrets, parseParams, planSql, sourceExcerpt, verifiedCopy } from "../../plugins/sql/plan.ts";

beforeAll(() => ensureParser());

const ro = { write: false, params: [], source: "--sql" };
const caught = (f: () => unknown): EveError => {
  try {
    f();
  } catch (e) {
    return e as EveError;
  }
  throw new Error("did not throw");
};

describe("parseParams", () => {
  test("a JSON array becomes text values as written (NULL stays null, objects and arrays stay their JSON)", () => {
    expect(parseParams(undefined)).toEqual([]);
    expect(parseParams('[1, "a", null, true, 2.5, {"k": [1]}, [1, 2]]')).toEqual(["1", "a", null, "true", "2.5", '{"k": [1]}', "[1, 2]"]);
  });

  test("numbers keep every digit; nested values are bound as the exact JSON text", () => {
    expect(parseParams("[12345678901234567890, -9223372036854775808, 0.1000000000000000000001, 1e400, 1E-7]")).toEqual([
      "12345678901234567890",
      "-9223372036854775808",
      "0.1000000000000000000001",
      "1e400",
      "1E-7",
    ]);
    expect(parseParams('[{"id": 99999999999999999999, "s": "a,]}\\"", "n": null}, [[1], {"x": "]"}], " ,[", "", "\\u00e9"]')).toEqual([
      '{"id": 99999999999999999999, "s": "a,]}\\"", "n": null}',
      '[[1], {"x": "]"}]',
      " ,[",
      "",
      "\u00e9",
    ]);
    expect(parseParams("  [ ]  ")).toEqual([]);
    expect(parseParams('\n[\n  false ,\n  "x"\n]\n')).toEqual(["false", "x"]);
  });

  test("bad JSON or a non-array is a usage error naming --params", () => {
    const bad = caught(() => parseParams("[1,"));
    expect(bad).toBeInstanceOf(UsageError);
    expect(bad.exitCode).toBe(2);
    expect(bad.message).toContain("--params must be valid JSON");
    const obj = caught(() => parseParams('{"a": 1}'));
    expect(obj.exitCode).toBe(2);
    expect(obj.message).toBe("--params must be a JSON array (got object)");
    expect(caught(() => parseParams("42")).message).toContain("(got number)");
  });
});

describe("planSql", () => {
  test("read-only: one transaction; the refused statement is named with number, line, excerpt and --write", () => {
    const text = "select 1;\n  COMMIT; insert into t values (1);\nset default_transaction_read_only = off";
    const e = caught(() => planSql(text, ro));
    expect(e.code).toBe("E_READ_ONLY");
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe(
      'refused statement 2 of 4 at line 2:3 ("COMMIT"): transaction control (COMMIT) could end the read-only transaction (and 1 more refused statement)',
    );
    expect(e.hint).toContain("--write allows it");
    expect(e.hint).toContain("nothing was sent");
    expect(e.details).toMatchObject({ statement: 2, line: 2, column: 3, excerpt: "COMMIT", refused: [2, 4] });
    expect(e.context).toEqual(["  2 |   COMMIT; insert into t values (1);", "    |   ^"]);
  });

  test("a file source is named in the location", () => {
    const e = caught(() => planSql("do $$ begin end $$", { ...ro, source: "fix.sql" }));
    expect(e.message).toStartWith('refused statement at fix.sql:1:1 ("do $$ begin end $$"): DO blocks');
  });

  test("--write lifts the gate; several statements run in one transaction unless one cannot", () => {
    expect(planSql("select 1", ro).mode).toBe("read-only");
    expect(planSql("commit; insert into t values (1)", { ...ro, write: true }).mode).toBe("autocommit");
    expect(planSql("insert into t values (1); insert into t values (2)", { ...ro, write: true }).mode).toBe("transaction");
    expect(planSql("insert into t values (1)", { ...ro, write: true }).mode).toBe("autocommit");
    const vac = planSql("delete from t; vacuum t", { ...ro, write: true });
    expect(vac.mode).toBe("autocommit");
    expect(vac.autocommitReason).toBe("statement 2 is VACUUM, which cannot run in a transaction");
    expect(planSql("begin; delete from t; commit", { ...ro, write: true }).autocommitReason).toBe("the SQL manages its own transactions");
  });

  test("parameters: each statement binds up to its highest $n; mismatches are usage errors", () => {
    const p = planSql("select $1; select 2; select $2, $1", { ...ro, params: ["a", "b"] });
    expect(p.statements.map((s) => s.paramCount)).toEqual([1, 0, 2]);
    const few = caught(() => planSql("select 1;\nselect $2", { ...ro, params: ["a"] }));
    expect(few.exitCode).toBe(2);
    expect(few.message).toBe('statement 2 of 2 at line 2:1 ("select $2") uses $2 but --params has 1 value');
    const many = caught(() => planSql("select $1", { ...ro, params: ["a", "b"] }));
    expect(many.message).toBe("--params has 2 values but the SQL uses only $1…$1");
    expect(caught(() => planSql("select 1", { ...ro, params: ["a"] })).message).toBe("--params has 1 value but the SQL uses no $n parameters");
  });

  test("syntax errors carry line:column and the source line; empty input is a usage error", () => {
    const e = caught(() => planSql("select 1;\nselect * frm t", ro));
    expect(e.code).toBe("E_SQL_SYNTAX");
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe('line 2:10: syntax error at or near "frm"');
    expect(e.context).toEqual(["  2 | select * frm t", "    |          ^"]);
    expect(caught(() => planSql("-- nothing\n", ro)).exitCode).toBe(2);
  });

  test("COPY with STDIN/STDOUT is a usage error in every mode", () => {
    const out = caught(() => planSql("copy t to stdout", { ...ro, write: true }));
    expect(out.exitCode).toBe(2);
    expect(out.hint).toContain("--csv");
    expect(caught(() => planSql("copy t from stdin", ro)).exitCode).toBe(2);
  });

  test("sourceExcerpt keeps tabs so the caret lines up", () => {
    expect(sourceExcerpt("a\n\tselect x", 10)).toEqual(["  2 | \tselect x", "    | \t       ^"]);
  });
});

describe("the text sent is the text checked", () => {
  const one = (sql: string) => planSql(sql, ro).statements[0]!;

  test("a plain query gets a verified COPY wrapper; comments and parentheses in it are fine", () => {
    expect(one("select 1 as a").copyText).toBe("COPY (\nselect 1 as a\n) TO STDOUT (FORMAT csv, HEADER)");
    expect(one("select ')' as \"a)\" -- ) to stdout").copyText).toContain("-- ) to stdout\n) TO STDOUT");
    expect(one("select 1 /* ) */").copyable).toBe(true);
    expect(one("show work_mem").copyText).toBeUndefined();
  });

  test("a wrapper that would not parse back to exactly the approved statement is never built", () => {
    const approved = one("select 1 as a").stmt;
    // As if the text had been read differently from how the gate read it.
    expect(verifiedCopy({ ...approved, text: "select 1 as a) to stdout; insert into t values (1); copy (select 1" })).toBeUndefined();
    expect(verifiedCopy({ ...approved, text: "select 2 as a" })).toBeUndefined();
    expect(verifiedCopy({ ...approved, text: "select 1 as a\n) TO STDOUT (FORMAT csv, HEADER); COPY (select 1" })).toBeUndefined();
    expect(verifiedCopy(approved)).toBeDefined();
  });

  test("secrets are masked before a refused statement is cut to an excerpt", () => {
    const secret = "s3cr3t-Value-That-Is-Long";
    const e = caught(() => planSql(`select 1;\nselect dblink_connect('c', 'host=db.internal port=5432 user=app password=${secret} dbname=x')`, ro));
    expect(e.code).toBe("E_READ_ONLY");
    const shown = [e.message, ...(e.context ?? []), JSON.stringify(e.details)].join("\n");
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain("s3cr3t");
    const early = caught(() => planSql(`select dblink_exec('password=${secret}', 'x')`, ro));
    expect(early.message).toContain('("select dblink_exec(\'password=*************************');
    expect(early.message).not.toContain("s3cr");
  });

  test("maskSecrets: URLs, password=, PASSWORD '…' in every quoting, positions kept", () => {
    const cases: Array<[string, string]> = [
      ["alter role app password 'p@ss''word' valid until 'infinity'", "p@ss''word"],
      ["create user u with encrypted password E'a\\'b\\\\c'", "a\\'b\\\\c"],
      ["alter user u password $pw$dollar'quoted$pw$", "dollar'quoted"],
      ["create user mapping for u server s options (user 'a', password 'xyz123')", "xyz123"],
      ["select dblink('host=h password=hunter22 user=u', 'q')", "hunter22"],
      ["select dblink('password = \"with space\" user=u', 'q')", "with space"],
      ["select 'postgres://user:pa55@w0rd@db.example.com/app'", "pa55@w0rd"],
      ["select 'https://bob:topsecret@example.com/x'", "topsecret"],
    ];
    for (const [text, secret] of cases) {
      const masked = maskSecrets(text);
      expect(masked).not.toContain(secret);
      expect(masked.length).toBe(text.length);
    }
    expect(maskSecrets("select password_hash from users")).toBe("select password_hash from users");
  });
});
