/**
 * `eve db schema` stays linear in the size of the catalog, checked without
 * timing anything: on a catalog of 400 tables, no node of any catalog query's
 * plan may touch more rows (returned plus filtered away, times loops) than a small
 * multiple of pg_attribute, the largest catalog read. The single query this
 * replaced nested a scan of every relation inside a loop over every constraint:
 * at 1,000 tables one node touched 81 times pg_attribute's row count (3.2M rows);
 * every query here stays at or below 1×.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { populate } from "../../../bench/schema-populate.ts";
import { close, connect, type Db } from "../../../core/db/index.ts";
import * as Q from "../../../plugins/inspect/schema-sql.ts";
import { inspectSchema } from "../../../plugins/inspect/schema-query.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";

const TABLES = 400;
let db: Db;

beforeAll(async () => {
  const url = await freshDatabase("schema_scale");
  await withSql(url, (sql) => populate(sql, TABLES));
  db = connect(url);
}, 180_000);
afterAll(() => close(db));

interface PlanNode {
  "Node Type": string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Join Filter"?: number;
  Plans?: PlanNode[];
}

/** The node that touches the most rows: (returned + filtered out) × loops. */
function heaviest(node: PlanNode): { rows: number; node: string } {
  const own = ((node["Actual Rows"] ?? 0) + (node["Rows Removed by Filter"] ?? 0) + (node["Rows Removed by Join Filter"] ?? 0)) * (node["Actual Loops"] ?? 1);
  let best = { rows: own, node: node["Node Type"] };
  for (const child of node.Plans ?? []) {
    const c = heaviest(child);
    if (c.rows > best.rows) best = c;
  }
  return best;
}

test("no catalog query has a plan node that touches more than 2× pg_attribute's rows", async () => {
  const [{ attrs }] = (await db`select count(*)::int as attrs from pg_attribute`) as unknown as [{ attrs: number }];
  const queries = Object.entries(Q).filter((e): e is [string, string] => typeof e[1] === "string");
  expect(queries.length).toBeGreaterThan(15);
  const report: Record<string, string> = {};
  for (const [name, sql] of queries) {
    const params = sql.includes("$3") ? [null, null, 1, 0] : sql.includes("$2") ? [null, null] : sql.includes("$1") ? [null] : [];
    const [row] = await db.unsafe(`explain (analyze, format json) ${sql}`, params as unknown as string[]);
    const plan = (row as unknown as { "QUERY PLAN": Array<{ Plan: PlanNode }> })["QUERY PLAN"][0]!.Plan;
    const h = heaviest(plan);
    if (h.rows > 2 * attrs) report[name] = `${h.node} touches ${h.rows} rows (pg_attribute has ${attrs})`;
  }
  expect(report).toEqual({});
});

test("the result at 400 tables lists every table, column, index and foreign key", async () => {
  const r = await inspectSchema(db);
  const tables = r.schemas.flatMap((s) => s.tables);
  expect(tables).toHaveLength(TABLES);
  expect(tables.reduce((n, t) => n + t.columns.length, 0)).toBe(TABLES * 6 - 1);
  expect(tables.reduce((n, t) => n + t.indexes.length, 0)).toBe(TABLES * 3);
  expect(tables.reduce((n, t) => n + t.foreignKeys.length, 0)).toBe(TABLES - 1);
  expect(r.schemas.flatMap((s) => s.views)).toHaveLength(TABLES / 50);
  expect(tables.every((t) => t.privileges.some((p) => p.grantee === "bench_reader"))).toBe(true);
});
