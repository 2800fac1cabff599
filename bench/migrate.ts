/**
 * eve vs dbmate vs a psql single-session floor on 1,000 generated migrations
 * (tables, FKs, indexes, plpgsql functions with $$ bodies, inserts), each
 * tool on a fresh database per run, alternating order in each pair.
 * Also: a no-op `eve db migrate` over 1,000 applied files, and cold start.
 *   bash bench/migrate.sh [pairs]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import { startCluster } from "../test/helpers/pg.ts";
import { tempDir } from "../test/helpers/fs.ts";
import { fmt, median, must, report, scratchDatabases, timed } from "./lib.ts";

const root = resolve(import.meta.dir, "..");
const eve = join(root, "dist/eve");
const dbmate = join(root, "node_modules/@dbmate/linux-x64/bin/dbmate");
const pairs = Number(process.argv[2] ?? 10);
const count = Number(process.env.BENCH_MIGRATIONS ?? 1000);

function migrationBody(i: number): string {
  const prev = i > 1 ? `,\n  parent_id bigint references t_${i - 1} (id) on delete cascade` : "";
  return `-- migrate:up
create table t_${i} (
  id bigserial primary key,
  name text not null,
  score numeric(10, 2) default 0,
  created_at timestamptz not null default now()${prev}
);
create index t_${i}_name_idx on t_${i} (name);
create unique index t_${i}_name_score_key on t_${i} (name, score);
create function f_${i}(x integer) returns integer language plpgsql immutable as $$
begin
  -- a body with ; and 'quotes'
  return x + ${i};
end
$$;
insert into t_${i} (name, score) values ('a', 1), ('b', 2), ('c', 3);

-- migrate:down
`;
}

const dir = tempDir("eve-bench-mig-");
const migDir = join(dir, "migrations");
mkdirSync(migDir);
const all: string[] = [];
for (let i = 1; i <= count; i++) {
  const v = String(20260101000000 + i);
  const body = migrationBody(i);
  writeFileSync(join(migDir, `${v}_m${i}.sql`), body);
  all.push(`BEGIN;\n${body}\nINSERT INTO psql_migrations VALUES ('${v}');\nCOMMIT;\n`);
}
writeFileSync(join(dir, "all.sql"), "CREATE TABLE psql_migrations (version text primary key);\n" + all.join(""));

const cluster = await startCluster();
const dbs = scratchDatabases(cluster.url);
const freshDb = dbs.fresh;
const dropDb = dbs.drop;

const env = { ...process.env, NO_COLOR: "1" };
const runEve = (url: string) => must(timed(eve, ["db", "migrate", "--url", url, "--path", migDir], { env }), "eve migrate");
const runDbmate = (url: string) =>
  must(timed(dbmate, ["--url", url + "?sslmode=disable", "--migrations-dir", migDir, "--no-dump-schema", "up"], { env }), "dbmate up");
const runPsql = (url: string) => must(timed("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", join(dir, "all.sql")], { env }), "psql");

console.log(`bench/migrate: ${count} migrations, ${pairs} alternating pairs, PostgreSQL on loopback (fsync off), 2 cores`);
const t = { eve: [] as number[], dbmate: [] as number[], psql: [] as number[] };
for (let p = 0; p < pairs; p++) {
  const order = p % 2 === 0 ? (["eve", "dbmate", "psql"] as const) : (["psql", "dbmate", "eve"] as const);
  for (const tool of order) {
    const url = await freshDb();
    const r = tool === "eve" ? runEve(url) : tool === "dbmate" ? runDbmate(url) : runPsql(url);
    t[tool].push(r.ms);
    await dropDb(url);
  }
  process.stderr.write(`pair ${p + 1}/${pairs}: eve ${fmt(t.eve[p]!)}, dbmate ${fmt(t.dbmate[p]!)}, psql ${fmt(t.psql[p]!)}\n`);
}
console.log(`apply ${count}: medians eve ${fmt(median(t.eve))}, dbmate ${fmt(median(t.dbmate))}, psql ${fmt(median(t.psql))}`);
report("apply eve/dbmate", { name: "eve", ms: t.eve }, { name: "dbmate", ms: t.dbmate }, 1.0);
report("apply eve/psql", { name: "eve", ms: t.eve }, { name: "psql", ms: t.psql });

// No-op: everything applied; eve must read 1,000 files, hash them, compare, and exit.
const applied = await freshDb();
runEve(applied);
const appliedDbmate = await freshDb();
runDbmate(appliedDbmate);
const noop = { eve: [] as number[], dbmate: [] as number[] };
for (let p = 0; p < Math.max(pairs, 10); p++) {
  const first = p % 2 === 0;
  if (first) noop.eve.push(runEve(applied).ms);
  noop.dbmate.push(runDbmate(appliedDbmate).ms);
  if (!first) noop.eve.push(runEve(applied).ms);
}
console.log(`no-op migrate over ${count} applied files: eve median ${fmt(median(noop.eve))} (target < 150 ms: ${median(noop.eve) < 150 ? "met" : "NOT met"})`);
report("no-op eve/dbmate", { name: "eve", ms: noop.eve }, { name: "dbmate", ms: noop.dbmate });

// Cold start.
const cold = { eve: [] as number[], dbmate: [] as number[] };
for (let p = 0; p < 20; p++) {
  cold.eve.push(must(timed(eve, ["--version"]), "eve --version").ms);
  cold.dbmate.push(must(timed(dbmate, ["--help"]), "dbmate --help").ms);
}
report("cold start eve --version / dbmate --help", { name: "eve", ms: cold.eve }, { name: "dbmate", ms: cold.dbmate }, 3.0);
const rss = timed(eve, ["db", "migrate", "--url", applied, "--path", migDir], { env, rss: true });
console.log(`eve peak RSS, no-op over ${count} files: ${((rss.maxRssKb ?? 0) / 1024).toFixed(1)} MiB`);

await dbs.end();
cluster.stop();
