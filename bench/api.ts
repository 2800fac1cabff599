/**
 * The control plane under load, against floors timed in the same run:
 *  1. GET …/db/managed with autocannon (50 connections, 10 s) on `eve server`
 *     (compiled) vs a bare Hono route on Bun doing the same token and tenant
 *     lookups (bench/api-floor.ts); alternating runs, medians of req/s and p99.
 *  2. Provisioning 50 environments in a row: median time per tenant.
 *  3. `eve db sql --env` vs `--url` on a one-row query: median added ms.
 *  4. `eve db migrate --env` vs `--url` on 1,000 files: ratio.
 *   bash bench/api.sh [pairs=3]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import postgres from "postgres";
import { startCluster } from "../test/helpers/pg.ts";
import { tempDir } from "../test/helpers/fs.ts";
import { randomToken } from "../test/helpers/eve-server.ts";
import { fmt, median, must, report, timed } from "./lib.ts";

const root = resolve(import.meta.dir, "..");
const eve = join(root, "dist/eve");
const pairs = Number(process.argv[2] ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

/** Start a server; its stderr (the access log) goes to a file, as a deployment's log would, not through this process. */
function start(cmd: string, args: string[], env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const logFile = join(tempDir("eve-bench-log-"), "stderr.log");
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", openSync(logFile, "w")] });
  const err = () => readFileSync(logFile, "utf8").slice(-4000);
  return new Promise((res, rej) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /^(http:\/\/\S+)$/m.exec(out);
      if (m) res({ url: m[1]!, child });
    });
    child.on("close", (c) => rej(new Error(`${cmd} exited ${c}: ${err()}`)));
  });
}

/** autocannon as a child process (node), its JSON summary. */
function cannon(url: string, token: string): { rps: number; p99: number; non2xx: number } {
  const r = must(timed("npx", ["--no-install", "autocannon", "-j", "-c", "50", "-d", String(seconds), "-H", `authorization=Bearer ${token}`, url], { cwd: root }), "autocannon");
  const j = JSON.parse(r.stdout);
  return { rps: j.requests.average, p99: j.latency.p99, non2xx: j.non2xx + j.errors };
}

const cluster = await startCluster({ settings: { max_connections: "300" } });
const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
await admin`create database platform`;
const platformUrl = cluster.url.replace(/\/postgres$/, "/platform");
const token = randomToken();
const env = { EVE_DATABASE_URL: platformUrl, EVE_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"), EVE_ADMIN_TOKEN: token, NO_COLOR: "1" };
const server = await start(eve, ["server", "--listen", "127.0.0.1:0"], env);
const cfg = tempDir("eve-bench-cfg-");
const cli = (args: string[], cwd = root) => must(timed(eve, args, { cwd, env: { ...process.env, XDG_CONFIG_HOME: cfg, EVE_API_URL: server.url, EVE_TOKEN: token, EVE_PROJECT: "bench", NO_COLOR: "1" } }), args.join(" "));
cli(["admin", "instances", "add", "--admin-url", cluster.url, "--engine-version", String(/postgresql\/(\d+)/.exec(cluster.binDir)?.[1] ?? "15"), "--max-tenants", "200"]);
cli(["project", "create", "bench"]);
const app = tempDir("eve-bench-app-");
mkdirSync(join(app, ".eve"));
writeFileSync(join(app, ".eve/manifest.yaml"), "services:\n  db:\n    x-eve:\n      role: managed_db\n      managed: {class: db.p1, engine: postgres}\n");

console.log(`\neve control plane — ${seconds} s runs, 50 connections, ${pairs} alternating pairs\n`);

// 2. Provisioning 50 environments in a row (first, so the status bench has a realistic platform).
const per: number[] = [];
for (let i = 0; i < 50; i++) per.push(cli(["env", "deploy", "--env", `e${i}`], app).ms);
const deployCli = median(Array.from({ length: 5 }, () => cli(["env", "deploy", "--env", "e0"], app).ms));
console.log(`provisioning: 50 environments, median ${fmt(median(per))} per tenant (CLI round trip incl.; a no-op re-deploy takes ${fmt(deployCli)}) (goal ≤ 300 ms)`);

// 1. GET …/db/managed vs the floor.
const floor = await start(process.execPath, [join(root, "bench/api-floor.ts"), platformUrl, "0"], {});
const path = "/projects/bench/envs/e0/db/managed";
const eveRuns: Array<ReturnType<typeof cannon>> = [];
const floorRuns: Array<ReturnType<typeof cannon>> = [];
for (let i = 0; i < pairs; i++) {
  const order = i % 2 ? ["eve", "floor"] : ["floor", "eve"];
  for (const w of order) (w === "eve" ? eveRuns : floorRuns).push(cannon((w === "eve" ? server.url : floor.url) + path, token));
}
const rpsE = median(eveRuns.map((r) => r.rps));
const rpsF = median(floorRuns.map((r) => r.rps));
const p99E = median(eveRuns.map((r) => r.p99));
console.log(
  `GET …/db/managed: eve ${rpsE.toFixed(0)} req/s p99 ${p99E} ms vs floor ${rpsF.toFixed(0)} req/s p99 ${median(floorRuns.map((r) => r.p99))} ms → ${(rpsE / rpsF).toFixed(2)}× the floor (goal ≥ 0.6×, p99 ≤ 20 ms); non-2xx: ${eveRuns.reduce((n, r) => n + r.non2xx, 0)} / ${floorRuns.reduce((n, r) => n + r.non2xx, 0)}`,
);
floor.child.kill();

// 3. sql --env vs --url, one row.
const roUrl = await (async () => {
  // The read-only URL of e0's tenant, as `--env` reads connect with.
  writeFileSync(join(app, ".eve/manifest.yaml"), "services:\n  db:\n    x-eve:\n      role: managed_db\n      managed: {class: db.p1, engine: postgres}\n  api:\n    environment: {RO: \"${managed.db.readonly_url}\"}\n");
  cli(["env", "deploy", "--env", "e0"], app);
  return JSON.parse(cli(["env", "render", "--env", "e0", "--show-secrets", "--json"], app).stdout).services.api.environment.RO as string;
})();
const sqlEnv: number[] = [];
const sqlUrl: number[] = [];
for (let i = 0; i < 10; i++) {
  const a = () => sqlEnv.push(cli(["db", "sql", "--env", "e0", "--sql", "select 1 as x"]).ms);
  const b = () => sqlUrl.push(cli(["db", "sql", "--url", roUrl, "--sql", "select 1 as x"]).ms);
  if (i % 2) (a(), b());
  else (b(), a());
}
console.log(`eve db sql, one row: --env ${fmt(median(sqlEnv))} vs --url ${fmt(median(sqlUrl))} → +${(median(sqlEnv) - median(sqlUrl)).toFixed(1)} ms (goal ≤ 30 ms)`);

// 4. migrate --env vs --url on 1,000 files (fresh tenants each run).
const count = Number(process.env.BENCH_MIGRATIONS ?? 1000);
const dir = join(tempDir("eve-bench-api-mig-"), "m");
mkdirSync(dir);
for (let i = 1; i <= count; i++) {
  writeFileSync(join(dir, `${20260101000000 + i}_m${i}.sql`), `create table t_${i} (id bigserial primary key, name text not null);\ncreate index t_${i}_n on t_${i} (name);\ninsert into t_${i} (name) values ('a'), ('b');\n`);
}
const migEnv: number[] = [];
const migUrl: number[] = [];
for (let i = 0; i < pairs; i++) {
  const envName = `m${i}`;
  writeFileSync(join(app, ".eve/manifest.yaml"), "services:\n  db:\n    x-eve:\n      role: managed_db\n      managed: {class: db.p1, engine: postgres}\n  api:\n    environment: {URL: \"${managed.db.url}\"}\n");
  cli(["env", "deploy", "--env", envName], app);
  cli(["env", "deploy", "--env", `${envName}u`], app);
  const loginUrl = JSON.parse(cli(["env", "render", "--env", `${envName}u`, "--show-secrets", "--json"], app).stdout).services.api.environment.URL as string;
  const a = () => migEnv.push(cli(["db", "migrate", "--env", envName, "--path", dir]).ms);
  const b = () => migUrl.push(cli(["db", "migrate", "--url", loginUrl, "--path", dir]).ms);
  if (i % 2) (a(), b());
  else (b(), a());
}
report(`eve db migrate, ${count} files`, { name: "--env", ms: migEnv }, { name: "--url", ms: migUrl }, 1.2);

server.child.kill("SIGTERM");
await admin.end();
cluster.stop();
process.exit(0);
