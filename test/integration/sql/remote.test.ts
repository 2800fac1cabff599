/**
 * `eve db sql --env` against a real HTTP route running db.sql (the
 * operation mounted with core/http/routes.ts on a loopback server, its deps
 * lent from a test database): the command prints what it prints with --url
 * in every format, the server plans and refuses the SQL itself (the CLI does
 * not plan in --env mode), and the --write warning still comes first.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import process from "node:process";
import { close, connect, type Notice } from "../../../core/db/index.ts";
import { describeTarget, parseDbUrl } from "../../../core/db/url.ts";
import { EveError } from "../../../core/errors.ts";
import { createOutput } from "../../../core/io.ts";
import type { OpDeps } from "../../../core/operation.ts";
import type { Context } from "../../../core/plugin.ts";
import { mountOperation } from "../../../core/http/routes.ts";
import { serve, type HttpServer } from "../../../core/runtime/index.ts";
import sqlCommand from "../../../plugins/sql/commands/sql.ts";
import { sqlOp } from "../../../plugins/sql/ops/sql.ts";
import { dropDatabases, freshDatabase, withSql } from "../../helpers/db.ts";
import { bytesWriter } from "./helpers.ts";

let url: string;
let server: HttpServer;
let runs = 0;

beforeAll(async () => {
  url = await freshDatabase("sqlremote");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table t (id bigint primary key, v text, tags int[], meta jsonb, at timestamptz);
      insert into t values (1, 'a,"b"', '{1,NULL}', '{"x": 1}', '2026-03-04 05:06:07+00'), (2, null, null, null, null);
    `),
  );
  const app = new Hono();
  // The tenant's deps, as the control plane lends them: the op's session options, notices routed.
  mountOperation(app, "/projects/:project/envs/:env", sqlOp, async (_c, op, input) => {
    runs++;
    let onNotice: (n: Notice) => void = () => {};
    const db = connect(url, { ...op.connection!(input), onNotice: (n) => onNotice(n) });
    const deps: OpDeps = {
      db,
      url,
      label: describeTarget(parseDbUrl(url)),
      mode: "managed",
      onNotice: (h) => void (onNotice = h),
      toolEnv: {},
      now: () => new Date(),
      signal: new AbortController().signal,
    };
    return { deps, release: () => close(db) };
  }, { requestId: () => "req-1" });
  server = serve(app.fetch, { hostname: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await server?.stop();
  await dropDatabases([url]);
});

/** Run the command in-process, with --url or --env, and keep what it wrote. */
async function eve(target: "url" | "env", opts: Record<string, unknown>) {
  const stdout = bytesWriter();
  const stderr = bytesWriter();
  const env = { EVE_API_URL: server.url, EVE_TOKEN: "eve_pat_test", EVE_PROJECT: "p" };
  const ctx: Context = {
    env,
    cwd: process.cwd(),
    out: createOutput(stdout, stderr),
    debug: false,
    signal: new AbortController().signal,
    now: () => new Date(),
    version: "test",
  };
  const flags = { ...(target === "url" ? { url, waitTimeout: 60_000 } : { env: "staging" }), ...opts };
  let error: unknown;
  let code: number | void = undefined;
  try {
    code = await sqlCommand.run(ctx, flags, []);
  } catch (e) {
    error = e;
  }
  return { code, error, stdout: stdout.text(), stderr: stderr.text() };
}

const noDuration = (s: string) => s.replace(/"durationMs": \d+/, '"durationMs": 0');

const SQL = "select * from t order by id;\nselect count(*) as n, 1::int2 as id, 2 as id from t";

describe("eve db sql --env prints what --url prints", () => {
  for (const flag of ["table", "json", "ndjson", "csv"]) {
    test(flag, async () => {
      const opts = { sql: SQL, ...(flag === "table" ? {} : { [flag]: true }) };
      const before = runs;
      const local = await eve("url", opts);
      const remote = await eve("env", opts);
      expect(runs).toBe(before + 1);
      expect([local.error, remote.error]).toEqual([undefined, undefined]);
      expect(noDuration(remote.stdout)).toBe(noDuration(local.stdout));
      expect(remote.stderr).toBe(local.stderr);
      expect(local.stdout).toContain(flag === "table" ? "(2 rows)" : "2026-03-04");
    });
  }

  test("a refusal comes from the server's own gate, with its details", async () => {
    const sql = "select 1;\nselect pg_terminate_backend(1)";
    const local = await eve("url", { sql });
    const before = runs;
    const remote = await eve("env", { sql });
    expect(runs).toBe(before + 1);
    const [l, r] = [local.error as EveError, remote.error as EveError];
    expect(r).toBeInstanceOf(EveError);
    expect([r.code, r.exitCode, r.message, r.hint, r.context]).toEqual([l.code, l.exitCode, l.message, l.hint, l.context]);
    expect(r.details).toEqual(l.details as Record<string, unknown>);
    expect(remote.stdout).toBe("");
  });

  test("--write: the warning comes first, then the results; a SQL error after output closes the --json document", async () => {
    const write = await eve("env", { sql: "create temp table x (i int); insert into x values (1), (2)", write: true });
    expect(write.stderr.split("\n")[0]).toBe("warning: --write: 2 statements run read-write in one transaction (all or nothing)");
    expect(write.stdout).toBe("CREATE TABLE\n\nINSERT 0 2\n");
    const local = await eve("url", { sql: "select id from t order by id; select * from nope", json: true });
    const remote = await eve("env", { sql: "select id from t order by id; select * from nope", json: true });
    expect(noDuration(remote.stdout)).toBe(noDuration(local.stdout));
    expect(JSON.parse(remote.stdout).error).toMatchObject({ code: "E_SQL", sqlstate: "42P01" });
  });
});
