/**
 * An in-process control plane for HTTP tests (app.request(), no socket): a
 * fresh platform database on the shared test cluster, its schema migrated by
 * our engine, a master key, the bootstrap admin token, and helpers to call
 * the API and to register a private throwaway instance.
 */
import { close, connect, type Db } from "../../core/db/index.ts";
import type { Operation } from "../../core/operation.ts";
import { importKey, type MasterKey } from "../../core/secrets.ts";
import { migrate } from "../../plugins/migrate/runner.ts";
import { ensurePlatformSchema, platformStatus } from "../../plugins/platform/migrations.ts";
import { buildApp } from "../../plugins/platform/server/app.ts";
import { jsonLogger } from "../../plugins/platform/server/log.ts";
import { verifyMasterKey } from "../../plugins/platform/settings.ts";
import { bootstrapAdminToken } from "../../plugins/platform/tokens.ts";
import { freshDatabase } from "./db.ts";
import { startInstance, type TestInstance } from "./pg-instance.ts";

export interface Reply {
  status: number;
  body: any;
  headers: Headers;
  text: string;
}

export interface ControlPlane {
  db: Db;
  platformUrl: string;
  key: MasterKey;
  adminToken: string;
  logs: string[];
  app: ReturnType<typeof buildApp>;
  request(method: string, path: string, o?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<Reply>;
  /** Start a private instance and register it (superuser admin unless nonSuper). */
  addInstance(o?: { nonSuper?: boolean; maxTenants?: number }): Promise<{ id: string; instance: TestInstance }>;
  stop(): Promise<void>;
}

export async function startControlPlane(o: { operations?: Operation[]; maxBodyBytes?: number } = {}): Promise<ControlPlane> {
  const platformUrl = await freshDatabase("platform");
  const db = connect(platformUrl, { max: 10, applicationName: "eve server (test)" });
  await ensurePlatformSchema(db, (conn, files) => migrate(conn, files, { database: "platform", directory: "eve_platform" }));
  const key = await importKey(crypto.getRandomValues(new Uint8Array(32)));
  await verifyMasterKey(db, key);
  const boot = await bootstrapAdminToken(db);
  const logs: string[] = [];
  const shutdown = new AbortController();
  const app = buildApp({
    db,
    platformUrl,
    key,
    operations: o.operations ?? [],
    log: jsonLogger((l) => void logs.push(l)),
    replica: "test:1",
    version: "test",
    toolEnv: process.env,
    shutdown: shutdown.signal,
    maxBodyBytes: o.maxBodyBytes,
    async ready() {
      const s = await platformStatus(db);
      return { ready: s.current };
    },
  });
  const instances: TestInstance[] = [];
  const cp: ControlPlane = {
    db,
    platformUrl,
    key,
    adminToken: boot.token!,
    logs,
    app,
    async request(method, path, r = {}) {
      const headers: Record<string, string> = { ...r.headers };
      const token = r.token === undefined ? boot.token! : r.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = r.raw;
      if (r.body !== undefined) {
        body = JSON.stringify(r.body);
        headers["content-type"] = "application/json";
      }
      const res = await app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      return { status: res.status, body: parsed, headers: res.headers, text };
    },
    async addInstance(a = {}) {
      const instance = await startInstance();
      instances.push(instance);
      const url = new URL(a.nonSuper ? instance.adminUrl : instance.superUrl);
      const r = await cp.request("POST", "/admin/managed-db/instances", {
        body: {
          provider: "local",
          provider_instance_id: `127.0.0.1:${instance.port}`,
          region: "local",
          engine_version: String(instance.cluster.binDir.match(/postgresql\/(\d+)/)?.[1] ?? "15"),
          host: "127.0.0.1",
          port: instance.port,
          admin_user: decodeURIComponent(url.username),
          admin_password: decodeURIComponent(url.password),
          instance_class: "db.p1",
          max_tenants: a.maxTenants ?? 50,
        },
      });
      if (r.status !== 201) throw new Error(`instance registration failed: ${r.status} ${r.text}`);
      return { id: r.body.id as string, instance };
    },
    async stop() {
      shutdown.abort();
      for (const i of instances) i.stop();
      await close(db, 1);
    },
  };
  return cp;
}
