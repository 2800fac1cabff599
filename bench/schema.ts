/**
 * `eve db schema --json` vs `pg_dump --schema-only`, measured in one run on a
 * throwaway cluster, at several catalog sizes (default 1,000, 5,000 and 10,000
 * tables; see bench/schema-populate.ts for what each table carries).
 *
 * For each size: one warm-up run of each, a check that eve's document lists every
 * table, then PAIRS alternating pairs (the order flips every pair) of
 *   baseline  pg_dump --schema-only -f /dev/null -d URL
 *   eve       eve db schema --url URL --json > /dev/null
 * printing medians, the ratio (target at the largest size: ≤ 1.0) and peak RSS of
 * both (/usr/bin/time %M). Both read the same database on the same server; pg_dump
 * is the server's own version.
 *   SIZES=1000,5000,10000 PAIRS=5 bash bench/schema.sh
 * eve is dist/eve (bench/schema.sh builds it when missing) or EVE_BIN.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import postgres from "postgres";
import { startCluster } from "../test/helpers/pg.ts";
import { median, must, report, timed } from "./lib.ts";
import { populate } from "./schema-populate.ts";

const env = process.env;
const SIZES = (env.SIZES ?? "1000,5000,10000").split(",").map(Number);
const PAIRS = Number(env.PAIRS ?? 5);
const EVE = env.EVE_BIN ?? join(resolve(import.meta.dir, ".."), "dist/eve");
if (!existsSync(EVE)) throw new Error(`no eve binary at ${EVE}: run bun build.ts (bash bench/schema.sh does) or set EVE_BIN`);
const RSS = existsSync("/usr/bin/time");

const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

interface Run {
  ms: number;
  rssKb?: number;
}

/** Run with stdout to /dev/null, timing wall clock and peak RSS. */
function run(cmd: string, args: string[]): Run {
  const devnull = openSync("/dev/null", "w");
  try {
    const t = must(timed(cmd, args, { rss: RSS, stdio: ["ignore", devnull, "pipe"] }), `${cmd} ${args.slice(0, 2).join(" ")}`);
    return { ms: t.ms, rssKb: t.maxRssKb };
  } finally {
    closeSync(devnull);
  }
}

log("starting a throwaway cluster");
// pg_dump locks every table in one transaction: leave the lock table room for 10,000+.
const cluster = await startCluster({ settings: { max_locks_per_transaction: "256", shared_buffers: "256MB" } });
const pgDump = `${cluster.binDir}/pg_dump`;
const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
const server = (await admin`show server_version`)[0]!.server_version as string;

interface Result {
  size: number;
  eve: Run[];
  dump: Run[];
  tables: number;
}
const results: Result[] = [];
for (const size of SIZES) {
  const name = `bench_${size}`;
  await admin.unsafe(`create database ${name}`);
  const url = cluster.url.replace(/\/postgres$/, `/${name}`);
  const db = postgres(url, { max: 1, onnotice: () => {} });
  log(`creating ${size.toLocaleString("en")} tables`);
  await populate(db, size, 250, log);
  await db.end();

  const eveArgs = ["db", "schema", "--url", url, "--json"];
  const dumpArgs = ["--schema-only", "-f", "/dev/null", "-d", url];
  // Sanity: eve's document lists every table (and parses).
  const out = spawnSync(EVE, eveArgs, { maxBuffer: 1 << 30, encoding: "utf8" });
  if (out.status !== 0) throw new Error(`eve exited ${out.status}: ${out.stderr.slice(0, 2000)}`);
  const doc = JSON.parse(out.stdout) as { schemas: Array<{ tables: unknown[] }> };
  const tables = doc.schemas.reduce((n, s) => n + s.tables.length, 0);
  if (tables !== size) throw new Error(`eve listed ${tables} tables, expected ${size}`);
  // Warm-up: server caches and binaries.
  run(pgDump, dumpArgs);
  run(EVE, eveArgs);
  const r: Result = { size, eve: [], dump: [], tables };
  for (let i = 0; i < PAIRS; i++) {
    log(`${size} tables: pair ${i + 1}/${PAIRS}`);
    if (i % 2 === 0) {
      r.dump.push(run(pgDump, dumpArgs));
      r.eve.push(run(EVE, eveArgs));
    } else {
      r.eve.push(run(EVE, eveArgs));
      r.dump.push(run(pgDump, dumpArgs));
    }
  }
  results.push(r);
  // One database at a time: the next size does not share the server with this one's caches
  // (the last one goes with the cluster).
  if (size !== SIZES[SIZES.length - 1]) await admin.unsafe(`drop database ${name}`);
}
await admin.end();
cluster.stop();

const mb = (kb?: number) => (kb === undefined ? "n/a" : `${(kb / 1024).toFixed(0)} MB`);
const peak = (rs: Run[]) => (rs.some((x) => x.rssKb === undefined) ? undefined : Math.max(...rs.map((x) => x.rssKb!)));
console.log(`\neve db schema --json vs pg_dump --schema-only — PostgreSQL ${server}, ${navigator.hardwareConcurrency} CPUs, ${PAIRS} alternating pairs per size`);
const largest = Math.max(...SIZES);
for (const r of results) {
  report(
    `${r.size.toLocaleString("en").padStart(6)} tables`,
    { name: "eve", ms: r.eve.map((x) => x.ms) },
    { name: "pg_dump -s", ms: r.dump.map((x) => x.ms) },
    r.size === largest ? 1.0 : undefined,
  );
}
console.log("peak RSS (/usr/bin/time %M):");
for (const r of results) {
  console.log(`  ${r.size.toLocaleString("en").padStart(6)} tables: eve ${mb(peak(r.eve))} (median ${mb(median(r.eve.map((x) => x.rssKb ?? 0)))}); pg_dump ${mb(peak(r.dump))}`);
}
const [lo, hi] = [results[0], results[results.length - 1]];
if (lo && hi && hi.size > lo.size && peak(lo.eve) !== undefined) {
  // Memory holds the catalog (linear); what matters is the slope, not a per-table quadratic term.
  const slope = (rs: (x: Result) => Run[]) => ((peak(rs(hi))! - peak(rs(lo))!) / 1024 / (hi.size - lo.size)) * 1000;
  console.log(`  growth from ${lo.size.toLocaleString("en")} to ${hi.size.toLocaleString("en")} tables: eve ${slope((x) => x.eve).toFixed(1)} MB per 1,000 tables, pg_dump ${slope((x) => x.dump).toFixed(1)} MB`);
}
