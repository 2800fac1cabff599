/** `eve admin instances add|list|show|drain`: the Postgres servers tenants are placed on (admin tokens). */
import { parseDbUrl } from "../../../core/db/index.ts";
import { apiRequest } from "../../../core/http/client.ts";
import { UsageError } from "../../../core/errors.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { enc, printList, printRecord, remoteOf, remoteOptions, type Flags } from "./common.ts";

type AddOpts = Flags & {
  adminUrl?: string;
  provider?: string;
  providerInstanceId?: string;
  region?: string;
  engineVersion?: string;
  host?: string;
  port?: string;
  adminUser?: string;
  adminDatabase?: string;
  instanceClass?: string;
  maxTenants?: string;
};

export const instancesAdd = defineCommand<AddOpts>({
  path: ["admin", "instances", "add"],
  summary: "register a Postgres instance for tenants (its admin role and version are checked)",
  description:
    "The admin credentials come from --admin-url postgres://USER:PASSWORD@HOST:PORT/DB (host, port, user,\n" +
    "database and password in one; never printed), or from --host/--port/--admin-user with the password\n" +
    "in EVE_INSTANCE_ADMIN_PASSWORD. The server connects with them, checks that the server's major\n" +
    "version is --engine-version and that the role is a superuser or has CREATEDB and CREATEROLE, and\n" +
    "refuses otherwise, naming what is missing. The password is stored encrypted (EVE_MASTER_KEY).",
  options: [
    { flags: "--admin-url <url>", description: "admin connection URL (password included)" },
    { flags: "--engine-version <major>", description: 'PostgreSQL major version, e.g. "16" (checked against the server)' },
    { flags: "--provider <name>", description: "provider (local, aws-rds, …)", default: "local" },
    { flags: "--provider-instance-id <id>", description: "the provider's id of the instance (default: host:port)" },
    { flags: "--region <region>", description: "region", default: "local" },
    { flags: "--host <host>", description: "host (when not in --admin-url)" },
    { flags: "--port <port>", description: "port (when not in --admin-url)", default: "5432" },
    { flags: "--admin-user <user>", description: "admin role (when not in --admin-url)" },
    { flags: "--admin-database <db>", description: "database the admin connects to", default: "postgres" },
    { flags: "--instance-class <class>", description: "the instance's size class (informational)", default: "db.p1" },
    { flags: "--max-tenants <n>", description: "most tenants placed on it", default: "50" },
    { flags: "--json", description: "print the instance as JSON" },
    ...remoteOptions,
  ],
  examples: ["eve admin instances add --admin-url postgres://eve_admin:…@10.0.0.5:5432/postgres --engine-version 16 --max-tenants 100"],
  async run(ctx, opts) {
    if (!opts.engineVersion) throw new UsageError("--engine-version is required", { hint: 'e.g. --engine-version 16 (the server\'s major version)' });
    let host = opts.host;
    let port = Number(opts.port ?? 5432);
    let user = opts.adminUser;
    let database = opts.adminDatabase ?? "postgres";
    let password = ctx.env.EVE_INSTANCE_ADMIN_PASSWORD;
    if (opts.adminUrl) {
      const t = parseDbUrl(opts.adminUrl, "--admin-url");
      host = t.host;
      port = t.port;
      user = t.user ?? user;
      database = t.database || database;
      password = t.password ?? password;
    }
    if (!host || !user) throw new UsageError("the instance's host and admin user are needed", { hint: "pass --admin-url postgres://USER:PASSWORD@HOST:PORT/postgres" });
    if (!password) throw new UsageError("no admin password", { hint: "put it in --admin-url or in EVE_INSTANCE_ADMIN_PASSWORD" });
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be 1-65535 (got ${opts.port})`);
    const maxTenants = Number(opts.maxTenants ?? 50);
    if (!Number.isInteger(maxTenants) || maxTenants < 1) throw new UsageError(`--max-tenants must be a positive whole number (got ${opts.maxTenants})`);
    const remote = await remoteOf(ctx, opts, false);
    const body = {
      provider: opts.provider ?? "local",
      provider_instance_id: opts.providerInstanceId ?? `${host}:${port}`,
      region: opts.region ?? "local",
      engine: "postgres",
      engine_version: opts.engineVersion,
      host,
      port,
      admin_user: user,
      admin_password: password,
      admin_database: database,
      instance_class: opts.instanceClass ?? "db.p1",
      max_tenants: maxTenants,
    };
    const inst = await apiRequest<Record<string, unknown>>(remote, "POST", "/admin/managed-db/instances", body, { signal: ctx.signal });
    if (opts.json) return void ctx.out.printJson(inst);
    ctx.out.print(`registered ${String(inst.id)}: PostgreSQL ${String(inst.engine_version)} at ${String(inst.host)}:${String(inst.port)}, up to ${String(inst.max_tenants)} tenants`);
  },
});

export const instancesList = defineCommand<Flags & { limit?: string; cursor?: string }>({
  path: ["admin", "instances", "list"],
  summary: "list registered instances",
  options: [{ flags: "--limit <n>", description: "page size (1-200)" }, { flags: "--cursor <c>", description: "next page" }, { flags: "--json", description: "JSON {items, next_cursor}" }, ...remoteOptions],
  async run(ctx, opts) {
    const remote = await remoteOf(ctx, opts, false);
    const q = new URLSearchParams({ ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.cursor ? { cursor: opts.cursor } : {}) });
    const body = await apiRequest<{ items: Array<Record<string, unknown>>; next_cursor: string | null }>(remote, "GET", `/admin/managed-db/instances${q.size ? `?${q}` : ""}`, undefined, { signal: ctx.signal });
    printList(ctx, opts.json, body, [["ID", "id"], ["PROVIDER", "provider"], ["REGION", "region"], ["VERSION", "engine_version"], ["HOST", "host"], ["PORT", "port"], ["TENANTS", "tenant_count"], ["MAX", "max_tenants"], ["STATUS", "status"]], "no instances registered");
  },
});

export const instancesShow = defineCommand<Flags>({
  path: ["admin", "instances", "show"],
  summary: "show one instance",
  args: [{ name: "<id>", description: "instance id (mdbi_…)" }],
  options: [{ flags: "--json", description: "JSON" }, ...remoteOptions],
  async run(ctx, opts, args) {
    const remote = await remoteOf(ctx, opts, false);
    printRecord(ctx, opts.json, await apiRequest(remote, "GET", `/admin/managed-db/instances/${enc(args[0]!)}`, undefined, { signal: ctx.signal }));
  },
});

export const instancesDrain = defineCommand<Flags>({
  path: ["admin", "instances", "drain"],
  summary: "stop placing new tenants on an instance (existing ones stay)",
  args: [{ name: "<id>", description: "instance id (mdbi_…)" }],
  options: [{ flags: "--json", description: "JSON" }, ...remoteOptions],
  async run(ctx, opts, args) {
    const remote = await remoteOf(ctx, opts, false);
    const inst = await apiRequest<Record<string, unknown>>(remote, "POST", `/admin/managed-db/instances/${enc(args[0]!)}/drain`, {}, { signal: ctx.signal });
    if (opts.json) return void ctx.out.printJson(inst);
    ctx.out.print(`${String(inst.id)} is draining: no new tenants (${String(inst.tenant_count)} stay)`);
  },
});
