/**
 * Test database factory. One cluster per `bun test` process (or the server in
 * EVE_TEST_DATABASE_URL); every caller of freshDatabase() gets a new database,
 * dropped when the process ends.
 */
import postgres from "postgres";
import process from "node:process";
import { startCluster, type Cluster } from "./pg.ts";

let cluster: Promise<{ adminUrl: string; cluster?: Cluster }> | undefined;

/** Superuser URL of the test server (starting a throwaway cluster on first use). */
export function adminUrl(): Promise<string> {
  cluster ??= (async () => {
    const fromEnv = process.env.EVE_TEST_DATABASE_URL;
    if (fromEnv) return { adminUrl: fromEnv };
    const c = await startCluster();
    return { adminUrl: c.url, cluster: c };
  })();
  return cluster.then((c) => c.adminUrl);
}

export function testCluster(): Promise<Cluster | undefined> {
  return (cluster ?? Promise.resolve({ cluster: undefined })).then((c) => c.cluster);
}

export function urlFor(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = "/" + database;
  return u.toString();
}

let counter = 0;

/** Create an empty database; returns its URL. */
export async function freshDatabase(prefix = "t"): Promise<string> {
  const admin = await adminUrl();
  const name = `eve_${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const sql = postgres(admin, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end();
  }
  return urlFor(admin, name);
}

/** Run queries against a URL with a short-lived pool. */
export async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** Drop databases made by freshDatabase when a file is done (keeps the shared cluster's teardown short). */
export async function dropDatabases(urls: string[]): Promise<void> {
  await withSql(await adminUrl(), async (sql) => {
    for (const u of urls) await sql.unsafe(`drop database if exists "${decodeURIComponent(new URL(u).pathname.slice(1)).replaceAll('"', '""')}" with (force)`);
  });
}
