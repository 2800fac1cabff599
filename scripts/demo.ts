/**
 * The README's first command: on a throwaway local Postgres (the test
 * harness), with the compiled binary: direct mode (create and apply the example
 * migrations, show the history), then the managed workflow (an `eve server`
 * control plane on the same Postgres, an instance registered, a manifest
 * deployed into a hardened tenant, and the same commands with --env).
 * Everything is removed at the end.
 *   npm run demo      (= ensure Postgres, build dist/eve, bun scripts/demo.ts)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import { startCluster } from "../test/helpers/pg.ts";
import { tempDir } from "../test/helpers/fs.ts";

const root = resolve(import.meta.dir, "..");
const eve = existsSync(join(root, "dist/eve")) ? join(root, "dist/eve") : null;
if (!eve) {
  console.error("dist/eve not found: run `bun build.ts` first (npm run demo does)");
  process.exit(1);
}

const cluster = await startCluster();
const work = tempDir("eve-demo-");
cpSync(join(root, "examples/migrations"), join(work, "db/migrations"), { recursive: true });
const url = cluster.url;
const shown = url.replace(/:[^:@/]+@/, ":***@");

let env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: url, XDG_CONFIG_HOME: join(work, ".config") };
let server: ChildProcess | null = null;

function step(args: string[], note: string): string {
  console.log(`\n# ${note}\n$ eve ${args.join(" ").replace(url, shown)}`);
  const r = spawnSync(eve!, args, { cwd: work, encoding: "utf8", env });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) {
    server?.kill("SIGKILL");
    cluster.stop();
    console.error(`demo failed: eve exited ${r.status}`);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
}

/** `eve server` on a platform database of the same cluster; resolves with its URL. */
async function startServer(platformUrl: string, token: string): Promise<string> {
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  server = spawn(eve!, ["server", "--listen", "127.0.0.1:0"], { env: { ...process.env, EVE_DATABASE_URL: platformUrl, EVE_MASTER_KEY: key, EVE_ADMIN_TOKEN: token }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  server.stderr!.on("data", (d) => (err += d));
  return new Promise((res, rej) => {
    server!.stdout!.on("data", (d) => {
      out += d;
      const m = /^(http:\/\/\S+)$/m.exec(out);
      if (m) res(m[1]!);
    });
    server!.on("close", (c) => rej(new Error(`eve server exited ${c}: ${err}`)));
  });
}

try {
  console.log(`throwaway Postgres on ${shown} (DATABASE_URL), project in ${work}`);
  console.log("\n## direct mode: eve against a database URL");
  step(["db", "migrate", "--dry-run"], "what would run (nothing is written)");
  step(["db", "migrate"], "apply the example migrations in examples/migrations");
  const path = step(["db", "new", "add bio to users"], "create a new migration").trim();
  writeFileSync(path, "alter table users add column bio text;\n", { flag: "a" });
  step(["db", "migrate"], "apply it");
  step(["db", "migrations"], "the history");

  console.log("\n## managed mode: a control plane provisions one isolated database per environment");
  spawnSync(eve!, ["db", "sql", "--write", "--sql", "create database eve_platform"], { env });
  const bytes = crypto.getRandomValues(new Uint8Array(40));
  const token = "eve_pat_" + [...bytes].map((b) => "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[b % 62]).join("");
  const api = await startServer(url.replace(/\/postgres$/, "/eve_platform"), token);
  console.log(`\n# eve server is listening on ${api} (state in database eve_platform, secrets under EVE_MASTER_KEY)`);
  env = { ...env, DATABASE_URL: undefined, EVE_TOKEN: token };
  step(["login", "--api", api, "--project", "shop"], "store the API URL and token (from EVE_TOKEN) as a profile");
  const major = /postgresql\/(\d+)/.exec(cluster.binDir)?.[1] ?? "15";
  step(["admin", "instances", "add", "--admin-url", url, "--engine-version", major], "register a Postgres instance for tenants (its version and privileges are checked)");
  step(["project", "create", "shop"], "create a project");
  mkdirSync(join(work, ".eve"), { recursive: true });
  writeFileSync(
    join(work, ".eve/manifest.yaml"),
    `services:\n  db:\n    x-eve:\n      role: managed_db\n      managed: {class: db.p1, engine: postgres, engine_version: "${major}", extensions: [pgcrypto]}\n  api:\n    environment:\n      DATABASE_URL: \${managed.db.url}\n`,
  );
  step(["env", "deploy", "--env", "staging"], "deploy .eve/manifest.yaml: provision the staging database");
  step(["db", "migrate", "--env", "staging"], "the same migrations, through the control plane");
  step(["db", "sql", "--env", "staging", "--sql", "select count(*) as users from users"], "read-only SQL as the tenant's read-only role");
  step(["db", "status", "--env", "staging"], "the tenant: state, class, limits and drift, then the database report");
  step(["env", "render", "--env", "staging"], "the services with ${managed.*} filled in (passwords hidden)");
} finally {
  (server as ChildProcess | null)?.kill("SIGTERM");
  cluster.stop();
}
