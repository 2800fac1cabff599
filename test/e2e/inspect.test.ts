/** End-to-end: `eve db schema` and `eve db status`, human and --json output, exit codes, no leaked passwords. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SchemaResult, StatusResult } from "../../plugins/inspect/schema.ts";
import { runEve } from "../helpers/cli.ts";
import { freePort } from "../helpers/pg.ts";
import { fixtureDatabase } from "../integration/inspect/fixture.ts";

let url: string;
let password: string;
let cwd: string;

beforeAll(async () => {
  url = await fixtureDatabase("e2e_inspect");
  password = decodeURIComponent(new URL(url).password);
  // An empty working directory: no ./db/migrations for status to pick up.
  cwd = mkdtempSync(join(tmpdir(), "eve-inspect-"));
}, 60_000);
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const noSecret = (r: { stdout: string; stderr: string }) => {
  expect(password.length).toBeGreaterThan(3);
  expect(r.stdout).not.toContain(password);
  expect(r.stderr).not.toContain(password);
};

describe("eve db schema", () => {
  test("human tree", async () => {
    const r = await runEve(["db", "schema", "--url", url], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const needle of [
      "schema app  owner postgres  -- Application objects",
      "├─ table users  rows unknown · RLS enabled, forced  -- People who can log in",
      "partitioned table events",
      "enum user_status: invited, pending, active, suspended",
      "function log_change() → trigger  plpgsql · volatile · security definer · set search_path=app, pg_temp",
      "extensions: citext",
      "domain email_address: character varying(200) · collate app.ci",
      "collation ci: icu · locale und-u-ks-level2 · nondeterministic",
      "to inspect_writer  INSERT, SELECT (with grant option)",
    ]) {
      expect(r.stdout).toContain(needle);
    }
    expect(r.stdout).not.toContain("pg_catalog.");
    noSecret(r);
  });

  test("--json is one document matching SchemaResult", async () => {
    const r = await runEve(["db", "schema", "--url", url, "--json"], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const doc = SchemaResult.parse(JSON.parse(r.stdout));
    expect(doc.schemas.map((s) => s.name)).toEqual(["app", "public"]);
    expect(doc.schemas[0]!.tables.find((t) => t.name === "users")!.rls).toEqual({ enabled: true, forced: true });
    const app = doc.schemas[0]!;
    expect([app.domains, app.compositeTypes, app.rangeTypes, app.collations].map((l) => l.map((x) => x.name))).toEqual([
      ["email_address"],
      ["address"],
      ["floatrange"],
      ["c_utf8", "ci"],
    ]);
    expect(app.privileges.map((p) => p.grantee)).toEqual(["inspect_reader", "inspect_writer", "postgres"]);
    noSecret(r);
  });

  test("repeatable --schema/--table filters, URL from DATABASE_URL", async () => {
    const r = await runEve(["db", "schema", "--schema", "app", "--table", "users", "--table", "app.rooms", "--json"], {
      cwd,
      env: { DATABASE_URL: url },
    });
    expect(r.code).toBe(0);
    const doc = SchemaResult.parse(JSON.parse(r.stdout));
    expect(doc.filter).toEqual({ schemas: ["app"], tables: ["users", "app.rooms"] });
    expect(doc.schemas.map((s) => [s.name, s.tables.map((t) => t.name)])).toEqual([["app", ["rooms", "users"]]]);
  });

  test("a filter naming nothing exits 1 with a one-line error", async () => {
    const r = await runEve(["db", "schema", "--url", url, "--table", "nope"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toBe("error: no table, view or sequence named nope");
    const j = await runEve(["db", "schema", "--url", url, "--schema", "nope", "--json"], { cwd });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: "E_NOT_FOUND", message: "schema not found: nope" });
  });

  test("no database given is a usage error", async () => {
    const r = await runEve(["db", "schema"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no database given");
  });
});

describe("eve db status", () => {
  test("human output", async () => {
    const r = await runEve(["db", "status", "--url", url], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const db = new URL(url).pathname.slice(1);
    expect(r.stdout.split("\n")[0]).toMatch(new RegExp(`^postgres@127\\.0\\.0\\.1:\\d+/${db}: reachable$`));
    expect(r.stdout).toMatch(/\n {2}server +PostgreSQL \d+\.\d+ \(primary\), up since /);
    expect(r.stdout).toMatch(/\n {2}latency +\d+\.\d\d ms round trip/);
    expect(r.stdout).toMatch(new RegExp(`\\n {2}database +${db}, [\\d.]+ MiB, owner postgres, UTF8`));
    expect(r.stdout).toMatch(/\n {2}connections +\d+ of 200 in use/);
    expect(r.stdout).toMatch(/\n {2}extensions +citext [\d.]+, plpgsql 1\.0/);
    expect(r.stdout).toContain("migrations          none (no public.schema_migrations table)");
    expect(r.stdout).toContain("longest query       none running");
    expect(r.stdout).toContain("oldest transaction  none open");
    noSecret(r);
  });

  test("--json with --path: pending migrations", async () => {
    const dir = join(cwd, "migs");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, "20260101000000_first.sql"), "create table first (id int);\n");
    const r = await runEve(["db", "status", "--url", url, "--path", "migs", "--json"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = StatusResult.parse(JSON.parse(r.stdout));
    expect(doc.reachable).toBe(true);
    expect(doc.target).not.toContain(password);
    expect(doc.database.name).toBe(new URL(url).pathname.slice(1));
    expect(doc.connections.max).toBe(200);
    expect(doc.extensions.map((e) => e.name)).toEqual(["citext", "plpgsql"]);
    expect(doc.migrations).toMatchObject({ exists: false, applied: 0, directory: "migs", pending: ["20260101000000_first.sql"], drifted: [], missing: [] });
    noSecret(r);
  });

  test("a bad migration file name is a usage error before connecting", async () => {
    const dir = join(cwd, "badmigs");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "oops.sql"), "select 1;\n");
    const r = await runEve(["db", "status", "--url", url, "--path", "badmigs"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("invalid migration file name");
  });

  test("wrong password: exit 3, one-line error, no password anywhere", async () => {
    const u = new URL(url);
    u.password = "wrong-secret-pw";
    for (const json of [false, true]) {
      const r = await runEve(["db", "status", "--url", u.toString(), ...(json ? ["--json"] : [])], { cwd });
      expect(r.code).toBe(3);
      const [first, second] = r.stderr.split("\n");
      expect(first).toMatch(/^error: authentication failed for postgres@127\.0\.0\.1:\d+\/\S+: password authentication failed for user "postgres"$/);
      expect(second).toBe("hint: check the user and password in --url or DATABASE_URL");
      expect(r.stdout + r.stderr).not.toContain("wrong-secret-pw");
      noSecret(r);
      if (json) expect(JSON.parse(r.stdout).error).toMatchObject({ code: "E_AUTH", exitCode: 3 });
      else expect(r.stdout).toBe("");
    }
  });

  test("unreachable server: exit 3, one-line error, no password", async () => {
    const port = await freePort();
    const r = await runEve(["db", "status", "--url", `postgres://app:hunter2secret@127.0.0.1:${port}/app`], { cwd });
    expect(r.code).toBe(3);
    expect(r.stderr.split("\n")[0]).toBe(`error: cannot connect to app@127.0.0.1:${port}/app: connection refused`);
    expect(r.stdout + r.stderr).not.toContain("hunter2secret");
    const s = await runEve(["db", "schema", "--json"], { cwd, env: { DATABASE_URL: `postgres://app:hunter2secret@127.0.0.1:${port}/app` } });
    expect(s.code).toBe(3);
    expect(JSON.parse(s.stdout).error.code).toBe("E_CONNECT");
    expect(s.stdout + s.stderr).not.toContain("hunter2secret");
  });
});
