/**
 * eve db sql streaming vs psql's COPY, measured in one run on a throwaway cluster.
 *
 * A 5-column table of ROWS rows (default 5,000,000: bigint, text, numeric,
 * timestamptz, boolean) is read to /dev/null by
 *   baseline  psql -X -c "COPY (select * from bench_rows) TO STDOUT CSV HEADER"
 *   csv       eve db sql --sql "select * from bench_rows" --csv
 *   ndjson    eve db sql --sql "select * from bench_rows" --ndjson
 * in PAIRS (csv) and NDJSON_PAIRS alternating pairs (the order flips every pair),
 * printing medians, ratios and eve's peak RSS (/usr/bin/time %M). Then, unless
 * BIG_ROWS=0, one run of each format over BIG_ROWS generated rows (default
 * 20,000,000) shows that eve's memory does not grow with the row count.
 * Run through bench/sql.sh, which builds the binary (EVE_BIN).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import process from "node:process";
import postgres from "postgres";
import { startCluster } from "../test/helpers/pg.ts";
import { median, report } from "./lib.ts";

const env = process.env;
const ROWS = Number(env.ROWS ?? 5_000_000);
const PAIRS = Number(env.PAIRS ?? 10);
const NDJSON_PAIRS = Number(env.NDJSON_PAIRS ?? PAIRS);
const BIG_ROWS = Number(env.BIG_ROWS ?? 20_000_000);
const EVE = env.EVE_BIN;
if (!EVE || !existsSync(EVE)) throw new Error("set EVE_BIN to a compiled eve (bash bench/sql.sh builds one)");
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

interface Run {
  ms: number;
  rssKb?: number;
}

/** Run with stdout to /dev/null (or a hash), timing wall clock and peak RSS. */
function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Run {
  const devnull = openSync("/dev/null", "w");
  try {
    const [file, argv] = TIME ? [TIME, ["-f", "__RSS__%M", cmd, ...args]] : [cmd, args];
    const t0 = performance.now();
    const r = spawnSync(file, argv, { stdio: ["ignore", devnull, "pipe"], env: { ...env, ...extraEnv }, maxBuffer: 1 << 26 });
    const ms = performance.now() - t0;
    const stderr = String(r.stderr ?? "");
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${stderr.slice(0, 2000)}`);
    const m = /__RSS__(\d+)/.exec(stderr);
    return { ms, rssKb: m ? Number(m[1]) : undefined };
  } finally {
    closeSync(devnull);
  }
}

function digest(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${String(r.stderr).slice(0, 2000)}`);
  return createHash("sha256").update(r.stdout).digest("hex");
}

log("starting a throwaway cluster");
// Synchronized scans would let concurrent or successive scans start mid-table;
// off, every run reads the rows in the same order (for the equality check).
const cluster = await startCluster({ settings: { synchronize_seqscans: "off", shared_buffers: "256MB" } });
const psql = `${cluster.binDir}/psql`;
const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
await admin.unsafe("create database bench");
const url = cluster.url.replace(/\/postgres$/, "/bench");
const db = postgres(url, { max: 1, onnotice: () => {} });
log(`creating ${ROWS.toLocaleString("en")} rows`);
await db.unsafe(`
  create table bench_rows (id bigint primary key, name text not null, amount numeric(12,2), created_at timestamptz not null, active boolean);
  insert into bench_rows
    select g, 'user ' || g || case when g % 10 = 0 then ', "quoted"' else '' end, (g % 100000) / 100.0,
           timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', case when g % 7 = 0 then null else g % 2 = 0 end
    from generate_series(1, ${ROWS}) g
`);
await db.unsafe("vacuum (freeze, analyze) bench_rows");
const server = (await db`show server_version`)[0]!.server_version as string;
await db.end();
await admin.end();

const query = "select * from bench_rows";
const psqlArgs = ["-X", "-q", "-d", url, "-c", `COPY (${query}) TO STDOUT CSV HEADER`];
const eveArgs = (fmt: string, q = query) => ["db", "sql", "--url", url, "--sql", q, fmt];

log("checking that eve --csv writes exactly what psql's COPY writes");
const same = digest(psql, psqlArgs) === digest(EVE, eveArgs("--csv"));
log(same ? "identical output" : "OUTPUT DIFFERS");

// Warm-up: cache the table, start the binaries once.
run(psql, psqlArgs);
run(EVE, eveArgs("--csv"));

const series = { psqlCsv: [] as Run[], eveCsv: [] as Run[], psqlNd: [] as Run[], eveNd: [] as Run[] };
for (let i = 0; i < PAIRS; i++) {
  log(`csv pair ${i + 1}/${PAIRS}`);
  if (i % 2 === 0) {
    series.psqlCsv.push(run(psql, psqlArgs));
    series.eveCsv.push(run(EVE, eveArgs("--csv")));
  } else {
    series.eveCsv.push(run(EVE, eveArgs("--csv")));
    series.psqlCsv.push(run(psql, psqlArgs));
  }
}
for (let i = 0; i < NDJSON_PAIRS; i++) {
  log(`ndjson pair ${i + 1}/${NDJSON_PAIRS}`);
  if (i % 2 === 0) {
    series.psqlNd.push(run(psql, psqlArgs));
    series.eveNd.push(run(EVE, eveArgs("--ndjson")));
  } else {
    series.eveNd.push(run(EVE, eveArgs("--ndjson")));
    series.psqlNd.push(run(psql, psqlArgs));
  }
}

let big: { csv: Run; ndjson: Run } | undefined;
if (BIG_ROWS > 0) {
  const gen = `select g as id, 'user ' || g as name, (g % 100000) / 100.0 as amount, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' as created_at, g % 2 = 0 as active from generate_series(1, ${BIG_ROWS}) g`;
  log(`one run of each format over ${BIG_ROWS.toLocaleString("en")} generated rows`);
  big = { csv: run(EVE, eveArgs("--csv", gen)), ndjson: run(EVE, eveArgs("--ndjson", gen)) };
}
cluster.stop();

const ms = (rs: Run[]) => rs.map((r) => r.ms);
const mb = (kb?: number) => (kb === undefined ? "n/a" : `${(kb / 1024).toFixed(0)} MB`);
const peak = (rs: Run[]) => (rs.some((r) => r.rssKb === undefined) ? undefined : Math.max(...rs.map((r) => r.rssKb!)));
console.log(`\neve db sql vs psql COPY — ${ROWS.toLocaleString("en")} rows × 5 columns to /dev/null, PostgreSQL ${server}, ${navigator.hardwareConcurrency} CPUs`);
console.log(`output check: eve --csv ${same ? "is byte-identical to" : "DIFFERS from"} psql COPY … CSV HEADER`);
report("csv   ", { name: "eve --csv", ms: ms(series.eveCsv) }, { name: "psql COPY", ms: ms(series.psqlCsv) }, 1.3);
if (NDJSON_PAIRS > 0) report("ndjson", { name: "eve --ndjson", ms: ms(series.eveNd) }, { name: "psql COPY csv", ms: ms(series.psqlNd) });
const rssLine = (name: string, rs: Run[]) =>
  `${name} peak ${mb(peak(rs))} (median ${rs.some((r) => r.rssKb === undefined) ? "n/a" : mb(median(rs.map((r) => r.rssKb!)))})`;
console.log(`eve peak RSS (/usr/bin/time %M; target ≤ 120 MB): ${rssLine("csv", series.eveCsv)}; ${NDJSON_PAIRS > 0 ? rssLine("ndjson", series.eveNd) : ""}`);
if (big) console.log(`eve peak RSS at ${BIG_ROWS.toLocaleString("en")} rows: csv ${mb(big.csv.rssKb)} in ${(big.csv.ms / 1000).toFixed(1)} s, ndjson ${mb(big.ndjson.rssKb)} in ${(big.ndjson.ms / 1000).toFixed(1)} s`);
console.log(`psql peak RSS for comparison: ${mb(peak(series.psqlCsv))}`);
