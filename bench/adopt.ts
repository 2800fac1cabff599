/**
 * Adoption detection cost: `eve db migrate` on a database holding the first
 * half of a generated history (applied by psql, not timed: another tool's
 * work) against `eve db migrate` of the same files on an empty database.
 * The adoption run replays every file on a shadow database, fingerprints the
 * catalog after each, records the matching half and applies the rest.
 * Alternating pairs, medians. Goal: under 2× the plain apply.
 *   bash bench/adopt.sh [pairs=5]     (BENCH_ADOPT_FILES=500, BENCH_ADOPT_PREFIX=250)
 */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import process from "node:process";
import { startCluster } from "../test/helpers/pg.ts";
import { tempDir } from "../test/helpers/fs.ts";
import { generateHistory, writeHistory } from "./adopt-history.ts";
import { fmt, median, must, report, scratchDatabases, timed } from "./lib.ts";

const root = resolve(import.meta.dir, "..");
const eve = process.env.EVE_BIN ? [process.env.EVE_BIN] : [process.execPath, join(root, "cli/main.ts")];
const pairs = Number(process.argv[2] ?? 5);
const count = Number(process.env.BENCH_ADOPT_FILES ?? 500);
const prefix = Number(process.env.BENCH_ADOPT_PREFIX ?? Math.floor(count / 2));

const history = generateHistory(count);
const dir = tempDir("eve-bench-adopt-");
writeHistory(dir, history);

const cluster = await startCluster();
const psql = join(cluster.binDir, "psql");
const dbs = scratchDatabases(cluster.url);
function psqlPrefix(url: string): void {
  // One psql session, files in order, autocommit (CREATE INDEX CONCURRENTLY runs as it would by hand).
  const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, ...history.slice(0, prefix).flatMap((f) => ["-f", join(dir, f.name)])];
  const r = spawnSync(psql, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

const env = { ...process.env, NO_COLOR: "1" };
const runEve = (url: string) => must(timed(eve[0]!, [...eve.slice(1), "db", "migrate", "--url", url, "--path", dir, "--json"], { env }), "eve migrate");

console.log(
  `bench/adopt: ${count} files (CREATE/ALTER ADD+DROP COLUMN/constraint re-add/CIC/functions/views/data), database at ${prefix} files, ` +
    `${pairs} alternating pairs, eve ${process.env.EVE_BIN ? "binary" : "from source (bun cli/main.ts)"}, PostgreSQL on loopback (fsync off), 2 shared cores under load from other work`,
);
const t = { adopt: [] as number[], plain: [] as number[], detect: [] as number[] };
for (let p = 0; p < pairs; p++) {
  const adoptUrl = await dbs.fresh();
  psqlPrefix(adoptUrl);
  const plainUrl = await dbs.fresh();
  const order = p % 2 === 0 ? (["adopt", "plain"] as const) : (["plain", "adopt"] as const);
  for (const which of order) {
    const r = runEve(which === "adopt" ? adoptUrl : plainUrl);
    t[which].push(r.ms);
    const doc = JSON.parse(r.stdout);
    if (which === "adopt") {
      if (doc.adoption?.matched !== prefix && !(history[prefix - 1]?.dataOnly || history[prefix]?.dataOnly)) {
        throw new Error(`adopted ${doc.adoption?.matched} files, expected ${prefix}`);
      }
      t.detect.push(doc.adoption.durationMs);
    } else if (doc.adoption !== null || doc.applied.length !== count) throw new Error("plain apply did not apply every file");
  }
  await dbs.drop(adoptUrl);
  await dbs.drop(plainUrl);
  process.stderr.write(`pair ${p + 1}/${pairs}: adopt ${fmt(t.adopt[p]!)} (detection ${fmt(t.detect[p]!)}), plain ${fmt(t.plain[p]!)}\n`);
}
console.log(`detection (shadow replay of ${count} files + fingerprints), median: ${fmt(median(t.detect))}`);
report(`adoption run at ${prefix}/${count} vs plain apply of ${count}`, { name: "adopt", ms: t.adopt }, { name: "plain", ms: t.plain }, 2.0);
await dbs.end();
cluster.stop();
