/**
 * The managed workflow end to end, as a user types it: a real `eve server`
 * process (the compiled binary under EVE_E2E_BIN), two registered Postgres
 * instances, login, tokens, a project, the manifest deployed to environments,
 * and the database commands run with --env — compared, for one scenario
 * table, with the same commands run with --url on an identical tenant.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { tempDir, writeFiles } from "../helpers/fs.ts";
import { cliFor, newPlatform, startServer, type EveServer, type Platform } from "../helpers/eve-server.ts";
import { startInstance, type TestInstance } from "../helpers/pg-instance.ts";

const manifest = `services:
  db:
    x-eve:
      role: managed_db
      managed:
        class: db.p1
        engine: postgres
        engine_version: "15"
        extensions: [pgcrypto]
  api:
    environment:
      DATABASE_URL: \${managed.db.url}
`;

let platform: Platform;
let server: EveServer;
let instances: TestInstance[] = [];
let admin: ReturnType<typeof cliFor>;
const app = tempDir("eve-app-");
const migrations = join(app, "db/migrations");

beforeAll(async () => {
  platform = await newPlatform();
  instances = await Promise.all([startInstance(), startInstance()]);
  server = await startServer(platform);
  admin = cliFor(server, platform.adminToken);
  mkdirSync(join(app, ".eve"), { recursive: true });
  writeFileSync(join(app, ".eve/manifest.yaml"), manifest);
  writeFiles(migrations, {
    "20260101000000_users.sql": "create table users (id bigserial primary key, email text not null unique, tags text[], created timestamptz not null default '2026-01-01T00:00:00Z');\n",
    "20260101000001_seed.sql": "insert into users (email, tags) values ('a@x.test', '{a,b}'), ('b@x.test', null);\n",
    "20260101000002_policy.sql": "alter table users enable row level security;\ncreate policy read_all on users for select using (true);\n",
  });
}, 180_000);

afterAll(async () => {
  await server?.stop("SIGTERM");
  for (const i of instances) i.stop();
});

const ok = (r: { code: number; stdout: string; stderr: string }) => {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r;
};

describe("the managed workflow", () => {
  test("instances, project, deploy onto the least-loaded instance, tokens", async () => {
    ok(await admin(["admin", "instances", "add", "--admin-url", instances[0]!.superUrl, "--engine-version", "15"]));
    // The second instance is registered with a non-superuser admin (CREATEDB CREATEROLE).
    ok(await admin(["admin", "instances", "add", "--admin-url", instances[1]!.adminUrl, "--engine-version", "15"]));
    const wrong = await admin(["admin", "instances", "add", "--admin-url", instances[1]!.adminUrl, "--engine-version", "16", "--provider-instance-id", "x"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/15.*16|16.*15/);
    expect(wrong.stderr).not.toContain(new URL(instances[1]!.adminUrl).password);
    const list = JSON.parse(ok(await admin(["admin", "instances", "list", "--json"])).stdout);
    expect(list.items).toHaveLength(2);

    ok(await admin(["project", "create", "shop"]));
    for (const env of ["staging", "mirror", "prod"]) {
      const d = ok(await admin(["env", "deploy", "--env", env, "--project", "shop"], { cwd: app }));
      expect(d.stdout).toMatch(/db\s+provisioned \(db\.p1, ready\)/);
    }
    const again = ok(await admin(["env", "deploy", "--env", "staging", "--project", "shop"], { cwd: app }));
    expect(again.stdout).toMatch(/db\s+unchanged/);
    const after = JSON.parse(ok(await admin(["admin", "instances", "list", "--json"])).stdout);
    expect(after.items.map((i: { tenant_count: number }) => i.tenant_count).sort()).toEqual([1, 2]);
    const envs = ok(await admin(["env", "list", "--project", "shop"]));
    expect(envs.stdout).toMatch(/staging .*db \(db\.p1, ready\)/);
  }, 180_000);

  test("a write token migrates; a read token reads but cannot write; secrets stay hidden", async () => {
    const writeToken = ok(await admin(["token", "create", "--name", "ci", "--project", "shop", "--role", "write"])).stdout.trim();
    const readToken = ok(await admin(["token", "create", "--name", "viewer", "--project", "shop", "--role", "read"])).stdout.trim();
    expect(writeToken).toMatch(/^eve_pat_[0-9A-Za-z]{40}$/);
    const ci = cliFor(server, writeToken, { EVE_PROJECT: "shop" });
    const viewer = cliFor(server, readToken, { EVE_PROJECT: "shop" });
    const m = ok(await ci(["db", "migrate", "--env", "staging", "--path", migrations]));
    expect(m.stdout).toMatch(/✓ 20260101000000_users\.sql/);
    expect(m.stdout).toMatch(/applied 3 migrations/);
    const again = ok(await ci(["db", "migrate", "--env", "staging", "--path", migrations]));
    expect(again.stdout).toMatch(/no pending migrations \(3 applied\)/);
    const denied = await viewer(["db", "migrate", "--env", "staging", "--path", migrations]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/needs role write/);
    const rows = JSON.parse(ok(await viewer(["db", "sql", "--env", "staging", "--sql", "select count(*)::int as n from users", "--json"])).stdout);
    expect(rows.results[0].rows).toEqual([{ n: 2 }]);
    const sneaky = await viewer(["db", "sql", "--env", "staging", "--sql", "delete from users", "--write"]);
    expect(sneaky.code).not.toBe(0);
    const gate = await ci(["db", "sql", "--env", "staging", "--sql", "delete from users"]);
    expect(gate.code).toBe(4);
    expect(gate.stderr).toMatch(/read-only|E_READ_ONLY|--write/);
    const rendered = ok(await viewer(["env", "render", "--env", "staging"]));
    expect(rendered.stdout).toContain(":********@");
    const secret = await viewer(["env", "render", "--env", "staging", "--show-secrets"]);
    expect(secret.code).not.toBe(0);
  }, 180_000);

  test("migrate --env installs the extensions its files need through the platform (allowlisted only)", async () => {
    const owner = cliFor(server, platform.adminToken, { EVE_PROJECT: "shop" });
    ok(await admin(["env", "deploy", "--env", "ext", "--project", "shop"], { cwd: app }));
    const dir = writeFiles(join(tempDir("eve-ext-"), "m"), {
      "20260101000000_uuid.sql": "create table a (id uuid primary key default uuid_generate_v4());\n",
      "20260101000001_citext.sql": "create extension if not exists citext;\ncreate table b (email citext);\n",
    });
    const m = ok(await owner(["db", "migrate", "--env", "ext", "--path", dir]));
    expect(m.stdout).toMatch(/applied 2 migrations/);
    expect(m.stderr).toMatch(/created extension uuid-ossp/);
    writeFileSync(join(dir, "20260101000002_dblink.sql"), "create extension dblink;\n");
    const refused = await owner(["db", "migrate", "--env", "ext", "--path", dir]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/extension "dblink" is not allowed on managed databases/);
    const left = JSON.parse(ok(await owner(["db", "migrations", "--env", "ext", "--path", dir, "--json"])).stdout);
    expect(left.summary).toMatchObject({ applied: 2, pending: 1 });
  }, 120_000);

  test("reset and wipe --env empty the tenant as the platform and leave it working (grants, default privileges, extensions)", async () => {
    const owner = cliFor(server, platform.adminToken, { EVE_PROJECT: "shop" });
    const refused = await owner(["db", "reset", "--env", "staging", "--path", migrations]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--force/);
    const r = ok(await owner(["db", "reset", "--env", "staging", "--path", migrations, "--force"]));
    expect(r.stdout).toMatch(/applied 3 migrations/);
    // Reads go through the read-only role: the tables made after the reset are readable by it again.
    const rows = JSON.parse(ok(await owner(["db", "sql", "--env", "staging", "--sql", "select count(*)::int as n from users", "--json"])).stdout);
    expect(rows.results[0].rows).toEqual([{ n: 2 }]);
    const st = JSON.parse(ok(await owner(["db", "status", "--env", "staging", "--json"])).stdout);
    expect(st.managed.drift).toEqual([]);
    expect(st.managed.installed_extensions.map((e: { name: string }) => e.name)).toContain("pgcrypto");
    ok(await owner(["db", "wipe", "--env", "staging", "--force"]));
    const gone = await owner(["db", "sql", "--env", "staging", "--sql", "select count(*) from users"]);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toMatch(/42P01|does not exist/);
    ok(await owner(["db", "migrate", "--env", "staging", "--path", migrations]));
    const again = JSON.parse(ok(await owner(["db", "sql", "--env", "staging", "--sql", "select count(*)::int as n from users", "--json"])).stdout);
    expect(again.results[0].rows).toEqual([{ n: 2 }]);
  }, 120_000);

  test("wipe and reset of production need --danger-reset-production as well as --force", async () => {
    const owner = cliFor(server, platform.adminToken, { EVE_PROJECT: "shop" });
    const r = await owner(["db", "wipe", "--env", "prod", "--force"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--danger-reset-production/);
  }, 60_000);
});

/** Output with what legitimately differs between two identical tenants removed: names, ports, times. */
function normalize(s: string): string {
  return s
    .replace(/t_[0-9a-z]{26}/g, "T")
    .replace(/127\.0\.0\.1:\d+/g, "HOST")
    .replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d(:\d\d)?)?/g, "TIME")
    .replace(/"(durationMs|duration_ms|latencyMs|elapsedMs)": ?[\d.]+/g, '"$1": 0')
    .replace(/\b\d+(\.\d+)?\s?(ms|s)\b/g, "DUR");
}

describe("--url and --env print the same thing", () => {
  // One scenario table drives both modes; reads use the role --env reads with (read-only), writes the login role.
  const scenario: Array<{ name: string; args: string[]; write?: boolean }> = [
    { name: "migrate", args: ["db", "migrate", "--path", migrations], write: true },
    { name: "migrate (no-op)", args: ["db", "migrate", "--path", migrations], write: true },
    { name: "migrate --json (no-op)", args: ["db", "migrate", "--path", migrations, "--json"], write: true },
    { name: "migrations", args: ["db", "migrations", "--path", migrations] },
    { name: "migrations --json", args: ["db", "migrations", "--path", migrations, "--json"] },
    { name: "sql (table)", args: ["db", "sql", "--sql", "select id, email, tags, created from users order by id; select count(*) from users"] },
    { name: "sql --json", args: ["db", "sql", "--sql", "select id, email, tags, created from users order by id", "--json"] },
    { name: "sql --ndjson", args: ["db", "sql", "--sql", "select id, email, tags, created from users order by id", "--ndjson"] },
    { name: "sql --csv", args: ["db", "sql", "--sql", "select id, email, tags, created from users order by id", "--csv"] },
    { name: "sql error", args: ["db", "sql", "--sql", "select nope from users"] },
    { name: "sql --write", args: ["db", "sql", "--sql", "update users set email = email where id = 1", "--write"], write: true },
    { name: "schema", args: ["db", "schema"] },
    { name: "schema --json", args: ["db", "schema", "--json"] },
    { name: "rls", args: ["db", "rls"] },
    { name: "rls --json", args: ["db", "rls", "--json"] },
  ];
  let viaEnv: ReturnType<typeof cliFor>;
  let urls: { url: string; readonly: string };

  beforeAll(async () => {
    const m = manifest.replace("      DATABASE_URL: ${managed.db.url}", "      DATABASE_URL: ${managed.db.url}\n      RO: ${managed.db.readonly_url}");
    const dir = tempDir("eve-eq-");
    mkdirSync(join(dir, ".eve"));
    writeFileSync(join(dir, ".eve/manifest.yaml"), m);
    for (const env of ["eqa", "eqb"]) ok(await admin(["env", "deploy", "--env", env, "--project", "shop"], { cwd: dir }));
    const rendered = JSON.parse(ok(await admin(["env", "render", "--env", "eqb", "--project", "shop", "--show-secrets", "--json"], { cwd: dir })).stdout);
    urls = { url: rendered.services.api.environment.DATABASE_URL, readonly: rendered.services.api.environment.RO };
    viaEnv = cliFor(server, platform.adminToken, { EVE_PROJECT: "shop" });
  }, 120_000);

  test("each step of the scenario, in order", async () => {
    for (const step of scenario) {
      const e = await viaEnv([...step.args, "--env", "eqa"]);
      const u = await viaEnv([...step.args, "--url", step.write ? urls.url : urls.readonly]);
      // Not two identical failures: every step succeeds except the one that is meant to fail.
      expect([step.name, e.code, e.stdout.length > 0 || step.name === "sql error"]).toEqual([step.name, step.name === "sql error" ? 4 : 0, true]);
      expect({ step: step.name, code: e.code, stdout: normalize(e.stdout), stderr: normalize(e.stderr) }).toEqual({
        step: step.name,
        code: u.code,
        stdout: normalize(u.stdout),
        stderr: normalize(u.stderr),
      });
    }
  }, 300_000);
});
