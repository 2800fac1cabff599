/**
 * The README's first command: on a throwaway local Postgres (the test
 * harness), create and apply the example migrations with the compiled binary
 * and show `eve db migrations`. Everything is removed at the end.
 *   npm run demo      (= ensure Postgres, build dist/eve, bun scripts/demo.ts)
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, writeFileSync } from "node:fs";
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

function step(args: string[], note: string): string {
  console.log(`\n# ${note}\n$ eve ${args.join(" ").replace(url, shown)}`);
  const r = spawnSync(eve!, args, { cwd: work, encoding: "utf8", env: { ...process.env, DATABASE_URL: url } });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) {
    cluster.stop();
    console.error(`demo failed: eve exited ${r.status}`);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
}

try {
  console.log(`throwaway Postgres on ${shown} (DATABASE_URL), project in ${work}`);
  step(["db", "migrate", "--dry-run"], "what would run (nothing is written)");
  step(["db", "migrate"], "apply the example migrations in examples/migrations");
  const path = step(["db", "new", "add bio to users"], "create a new migration").trim();
  writeFileSync(path, "alter table users add column bio text;\n", { flag: "a" });
  step(["db", "migrate"], "apply it");
  step(["db", "migrations"], "the history");
} finally {
  cluster.stop();
}
