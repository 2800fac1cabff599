/**
 * `eve db migrate` on databases another tool migrated (applied by plain psql),
 * through the CLI: the adoption decision in human and --json output, exit 5
 * with the closest prefix when nothing matches, --dry-run, --shadow-url, Ctrl-C.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { generateHistory, writeHistory } from "../../bench/adopt-history.ts";
import { runEve } from "../helpers/cli.ts";
import { adminUrl, dropDatabases, freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir } from "../helpers/fs.ts";
import { freePort, pgBinDir } from "../helpers/pg.ts";

const N = 50;
const history = generateHistory(N);
const dir = tempDir("eve-e2e-adopt-");
writeHistory(dir, history);

const made: string[] = [];
afterAll(async () => {
  await dropDatabases(made);
}, 60_000);

async function target(k: number): Promise<string> {
  const url = await freshDatabase("e2eadopt");
  made.push(url);
  const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, ...history.slice(0, k).flatMap((f) => ["-f", join(dir, f.name)])];
  const r = spawnSync(join(pgBinDir(), "psql"), args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return url;
}

const historyTable = (url: string) => withSql(url, async (sql) => (await sql`select to_regclass('schema_migrations')::text as t`)[0]!.t as string | null);
const shadowsLeft = async () => withSql(await adminUrl(), async (sql) => (await sql`select datname from pg_database where datname like '%eve_shadow%'`).length);

describe("eve db migrate on a database migrated by another tool", () => {
  test("adopts the longest matching prefix, names the assumed files, counts recorded and run files apart", async () => {
    const url = await target(40); // files 39 and 40 only update data
    const r = await runEve(["db", "migrate", "--url", url, "--path", dir], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`replaying the ${N} files on a shadow database`);
    expect(r.stderr).toContain(`matches the result of the first 40 of ${N} migration files (up to ${history[39]!.name}): they are recorded as adopted, not run; the other 10 are applied`);
    expect(r.stderr).toContain(`${history[38]!.name}, ${history[39]!.name} are assumed applied`);
    expect(r.stderr).toContain(`--baseline ${history[37]!.version}`);
    expect(r.stdout).toContain(`≈ ${history[0]!.name}  (adopted: recorded, not run)`);
    expect(r.stdout).toMatch(new RegExp(`✓ ${history[40]!.name} `));
    expect(r.stdout).toMatch(/adopted 40 files \(recorded, not run: the schema already matched\), applied 10 migrations on .* in /);
    expect(await shadowsLeft()).toBe(0);
    const list = await runEve(["db", "migrations", "--url", url, "--path", dir, "--json"]);
    const statuses = JSON.parse(list.stdout).migrations.map((m: { status: string }) => m.status);
    expect(statuses).toEqual([...Array(40).fill("adopted"), ...Array(10).fill("applied")]);
  }, 180_000);

  test("--json carries the adoption decision; --dry-run shows it and writes nothing", async () => {
    const url = await target(17);
    const dry = await runEve(["db", "migrate", "--url", url, "--path", dir, "--dry-run"], { timeoutMs: 120_000 });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`${history[16]!.name}  adopt: the database's schema already matches; record, do not run`);
    expect(dry.stdout).toContain(`${history[17]!.name}  apply`);
    expect(dry.stdout).toContain(`adoption: 17 of ${N} files match the database`);
    expect(await historyTable(url)).toBeNull();
    const r = await runEve(["db", "migrate", "--url", url, "--path", dir, "--json"], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.adoption).toMatchObject({ matched: 17, files: N, lastAdopted: history[16]!.name, assumed: [], matches: [17], ignoredSchemas: [] });
    expect(doc.applied.filter((a: { kind: string }) => a.kind === "adopted")).toHaveLength(17);
    expect(doc.applied.filter((a: { kind: string }) => a.kind === "applied")).toHaveLength(N - 17);
  }, 180_000);

  test("a hand-modified database matches no prefix: exit 5, the closest prefix and the difference, nothing written", async () => {
    const url = await target(23);
    await withSql(url, (sql) => sql.unsafe("alter table t_2 add column hand text; alter table t_1 drop constraint t_1_len"));
    const r = await runEve(["db", "migrate", "--url", url, "--path", dir], { timeoutMs: 120_000 });
    expect(r.code).toBe(5);
    expect(r.stderr.split(`replaying the ${N} files`).length - 1).toBe(1);
    expect(r.stderr).toContain("no prefix of the files matches the database: replaying them once more to find the closest one");
    expect(r.stderr).toContain(`closest: after 23 files (${history[22]!.name}), 2 objects differ`);
    expect(r.stderr).toContain("  - missing constraint public.t_1.t_1_len");
    expect(r.stderr).toContain("  + extra column public.t_2.hand");
    expect(r.stderr).toContain(`--baseline ${history[22]!.version}`);
    expect(r.stderr).toContain("nothing was written");
    expect(await historyTable(url)).toBeNull();
    expect(await shadowsLeft()).toBe(0);
    const json = await runEve(["db", "migrate", "--url", url, "--path", dir, "--json"], { timeoutMs: 120_000 });
    expect(json.code).toBe(5);
    const doc = JSON.parse(json.stdout);
    expect(doc.error).toMatchObject({ code: "E_ADOPT_NO_MATCH", exitCode: 5, closest: { files: 23, file: history[22]!.name }, differenceCount: 2 });
    expect(doc.applied).toEqual([]);
  }, 180_000);

  test("--shadow-url: a bad value is a usage error; an unreachable server exits 3 without its password; Ctrl-C drops the shadow", async () => {
    const url = await target(5);
    const bad = await runEve(["db", "migrate", "--url", url, "--path", dir, "--shadow-url", "mysql://x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--shadow-url");
    const port = await freePort();
    const down = await runEve(["db", "migrate", "--url", url, "--path", dir, "--shadow-url", `postgres://app:sh4dowpw@127.0.0.1:${port}/x`]);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain("cannot use the shadow database server (--shadow-url)");
    expect(down.stderr).not.toContain("sh4dowpw");
    expect(await historyTable(url)).toBeNull();

    const child = runEve(["db", "migrate", "--url", url, "--path", dir], { timeoutMs: 120_000 });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await shadowsLeft()) === 0) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    const r = await child;
    expect(r.code).toBe(130);
    expect(await shadowsLeft()).toBe(0);
    expect(await historyTable(url)).toBeNull();
  }, 180_000);
});
