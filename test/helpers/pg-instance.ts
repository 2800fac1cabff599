/**
 * A private throwaway Postgres instance for platform tests that change
 * cluster-wide state (roles, CONNECT on `postgres`): its superuser URL and a
 * non-superuser admin (LOGIN CREATEDB CREATEROLE), as a registered instance's
 * admin may be. Password (SCRAM) logins over TCP, as pg.ts sets them up.
 */
import postgres from "postgres";
import { startCluster, type Cluster } from "./pg.ts";

export interface TestInstance {
  host: string;
  port: number;
  /** Superuser URL to `postgres`. */
  superUrl: string;
  /** CREATEDB CREATEROLE (not superuser) URL to `postgres`. */
  adminUrl: string;
  adminUser: string;
  cluster: Cluster;
  /** Run statements as the superuser. */
  sql(text: string): Promise<Record<string, unknown>[]>;
  stop(): void;
}

/** A URL for `user`/`password` on `database` of this instance (password percent-encoded). */
export function loginUrl(i: { host: string; port: number }, user: string, password: string, database: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${i.host}:${i.port}/${encodeURIComponent(database)}`;
}

/** Start an instance; `settings` are extra server settings (e.g. log_statement). */
export async function startInstance(settings: Record<string, string> = {}): Promise<TestInstance> {
  const cluster = await startCluster({ settings });
  const host = "127.0.0.1";
  const adminUser = "eve_platform_admin";
  const adminPassword = "adm" + Math.random().toString(36).slice(2, 12);
  const sql = async (text: string) => {
    const c = postgres(cluster.url, { max: 1, onnotice: () => {} });
    try {
      return [...(await c.unsafe(text))] as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  await sql(`create role ${adminUser} login createdb createrole password '${adminPassword}'`);
  return {
    host,
    port: cluster.port,
    superUrl: cluster.url,
    adminUrl: loginUrl({ host, port: cluster.port }, adminUser, adminPassword, "postgres"),
    adminUser,
    cluster,
    sql,
    stop: () => cluster.stop(),
  };
}
