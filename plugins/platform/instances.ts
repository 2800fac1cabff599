/**
 * Registered Postgres instances (admin): registration probes the instance with
 * its admin credentials and refuses a wrong major version, a standby, or a role
 * without CREATEDB and CREATEROLE (or superuser). The admin password is stored
 * encrypted under the master key, bound to the instance's id, and never leaves
 * this module except through instanceAdminUrl (for the provisioner).
 */
import { z } from "zod";
import type { Db } from "../../core/db/index.ts";
import { close, connect, describeTarget, mapDbError, parseDbUrl, redactText } from "../../core/db/index.ts";
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { decryptSecret, encryptSecret, type MasterKey } from "../../core/secrets.ts";
import { isId, newId } from "./ids.ts";
import { pageBounds, pageOf, type Page, type PageRequest } from "./pagination.ts";

const printable = (max: number) => z.string().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");

/** The registration body (snake_case, as the original API). */
export const InstanceInput = z.strictObject({
  provider: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "must be lowercase letters, digits, '_' or '-' (e.g. local, aws-rds)"),
  provider_instance_id: printable(255),
  region: printable(100),
  engine: z.literal("postgres").default("postgres"),
  engine_version: z.string().regex(/^[1-9][0-9]{0,2}$/, 'must be a major version such as "16"'),
  host: z.string().min(1).max(253).regex(/^[A-Za-z0-9._:-]+$/, "must be a host name or IP address"),
  port: z.int().min(1).max(65535).default(5432),
  admin_user: printable(63),
  admin_password: z.string().min(1).max(1024),
  admin_database: printable(63).default("postgres"),
  instance_class: printable(100),
  max_tenants: z.int().min(1).max(100_000).default(50),
});
export type InstanceInput = z.input<typeof InstanceInput>;

/** An instance row (camelCase), with its live tenant count. */
export interface Instance {
  id: string;
  provider: string;
  providerInstanceId: string;
  region: string;
  engine: "postgres";
  engineVersion: string;
  host: string;
  port: number;
  adminUser: string;
  adminPasswordEnc: string;
  adminDatabase: string;
  instanceClass: string;
  maxTenants: number;
  status: "active" | "draining";
  tenantCount: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Where and as whom the probe connects. */
export interface ProbeTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** What the probe learns about an instance. */
export interface ProbeFacts {
  versionNum: number;
  /** e.g. "16.4" */
  version: string;
  superuser: boolean;
  createdb: boolean;
  createrole: boolean;
  inRecovery: boolean;
}

export type Probe = (target: ProbeTarget) => Promise<ProbeFacts>;

/** A postgres:// URL for a target, every part percent-encoded. */
function urlOf(t: ProbeTarget): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `postgres://${encodeURIComponent(t.user)}:${encodeURIComponent(t.password)}@${host}:${t.port}/${encodeURIComponent(t.database)}`;
}

/** Connect with the admin credentials (5 s connect timeout) and read the version and the role's privileges. */
export async function probeInstance(t: ProbeTarget): Promise<ProbeFacts> {
  const url = urlOf(t);
  const db = connect(url, { connectTimeout: 5, applicationName: "eve-platform-probe" });
  try {
    const [r] = await db`
      select current_setting('server_version_num')::int as num, current_setting('server_version') as version,
             r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_is_in_recovery() as in_recovery
      from pg_roles r where r.rolname = current_user`;
    return {
      versionNum: r!.num as number,
      version: String(r!.version).split(" ")[0]!,
      superuser: r!.rolsuper as boolean,
      createdb: r!.rolcreatedb as boolean,
      createrole: r!.rolcreaterole as boolean,
      inRecovery: r!.in_recovery as boolean,
    };
  } catch (e) {
    const mapped = mapDbError(e, url);
    if (mapped.exitCode !== ExitCode.connection) throw mapped;
    const where = `${t.host}:${t.port}`;
    const prefix = describeTarget(parseDbUrl(url)) + ": ";
    const at = mapped.message.indexOf(prefix);
    const reason = redactText(at === -1 ? mapped.message : mapped.message.slice(at + prefix.length), [t.password]);
    const login = mapped.code === "E_AUTH" || mapped.code === "E_NO_DATABASE";
    throw new EveError(
      login ? "E_INSTANCE_LOGIN" : "E_INSTANCE_UNREACHABLE",
      login ? `cannot log in to instance ${where} as ${JSON.stringify(t.user)} (database ${JSON.stringify(t.database)}): ${reason}` : `cannot reach instance ${where}: ${reason}`,
      ExitCode.connection,
      { hint: login ? "check admin_user, admin_password and admin_database" : "check host and port, and that this server can reach the instance" },
    );
  } finally {
    await close(db);
  }
}

function refuse(code: string, message: string, hint: string): EveError {
  return new EveError(code, message, ExitCode.failed, { hint });
}

/** The facts that make an instance unusable, as one refusal (or none). */
function checkFacts(where: string, input: { engine_version: string; admin_user: string }, f: ProbeFacts): EveError | undefined {
  const major = f.versionNum >= 100000 ? Math.floor(f.versionNum / 10000) : Math.floor(f.versionNum / 100) / 10;
  if (String(major) !== input.engine_version) {
    return refuse("E_ENGINE_VERSION", `instance ${where} runs PostgreSQL ${f.version} but engine_version is ${input.engine_version}`, `register it with engine_version "${major}"`);
  }
  if (f.inRecovery) return refuse("E_INSTANCE_READ_ONLY", `instance ${where} is a read-only standby`, "register the primary");
  const missing = f.superuser ? [] : [...(f.createdb ? [] : ["CREATEDB"]), ...(f.createrole ? [] : ["CREATEROLE"])];
  if (missing.length) {
    return refuse(
      "E_INSTANCE_PRIVILEGES",
      `admin role ${JSON.stringify(input.admin_user)} on ${where} needs ${missing.join(" and ")} (or superuser)`,
      `ALTER ROLE ${JSON.stringify(input.admin_user)} ${missing.join(" ")}, or register a role that has them`,
    );
  }
  return undefined;
}

const SELECT = `select i.*, (select count(*)::int from eve_platform.tenants t where t.instance_id = i.id and t.deleted_at is null) as tenant_count`;

function instanceOf(r: Record<string, unknown>): Instance {
  return {
    id: r.id as string,
    provider: r.provider as string,
    providerInstanceId: r.provider_instance_id as string,
    region: r.region as string,
    engine: "postgres",
    engineVersion: r.engine_version as string,
    host: r.host as string,
    port: r.port as number,
    adminUser: r.admin_user as string,
    adminPasswordEnc: r.admin_password_enc as string,
    adminDatabase: r.admin_database as string,
    instanceClass: r.instance_class as string,
    maxTenants: r.max_tenants as number,
    status: r.status as Instance["status"],
    tenantCount: (r.tenant_count as number | undefined) ?? 0,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

/** Public JSON of an instance: never the password, with the tenant count. */
export function instanceJson(i: Instance): Record<string, unknown> {
  return {
    id: i.id,
    provider: i.provider,
    provider_instance_id: i.providerInstanceId,
    region: i.region,
    engine: i.engine,
    engine_version: i.engineVersion,
    host: i.host,
    port: i.port,
    admin_user: i.adminUser,
    admin_database: i.adminDatabase,
    instance_class: i.instanceClass,
    max_tenants: i.maxTenants,
    status: i.status,
    tenant_count: i.tenantCount,
    created_at: i.createdAt.toISOString(),
    updated_at: i.updatedAt.toISOString(),
  };
}

/** The additional data binding an instance's admin password to its row. */
export const instancePasswordAad = (id: string) => `instance:${id}:admin_password`;

function conflict(provider: string, providerId: string, id?: string): EveError {
  return new EveError("E_CONFLICT", `instance ${provider}/${providerId} is already registered${id ? ` as ${id}` : ""}`, ExitCode.error, {
    hint: "each (provider, provider_instance_id) is registered once",
  });
}

function parseInput(input: unknown) {
  const r = InstanceInput.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
  throw new UsageError(`invalid instance: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ""}`, {
    context: lines.map((l) => `  ${l}`),
    details: { issues: lines },
  });
}

/**
 * Validate, refuse a duplicate, probe the instance, then store it with the
 * admin password encrypted. Refusals name what to fix; nothing is stored.
 */
export async function registerInstance(db: Db, key: MasterKey, input: unknown, probe: Probe = probeInstance): Promise<Instance> {
  const v = parseInput(input);
  const [dup] = await db`
    select id from eve_platform.instances where provider = ${v.provider} and provider_instance_id = ${v.provider_instance_id}`;
  if (dup) throw conflict(v.provider, v.provider_instance_id, dup.id as string);
  const facts = await probe({ host: v.host, port: v.port, user: v.admin_user, password: v.admin_password, database: v.admin_database });
  const refusal = checkFacts(`${v.host}:${v.port}`, v, facts);
  if (refusal) throw refusal;
  const id = newId("mdbi");
  const enc = await encryptSecret(key, v.admin_password, instancePasswordAad(id));
  const [row] = await db`
    insert into eve_platform.instances (id, provider, provider_instance_id, region, engine, engine_version, host, port,
      admin_user, admin_password_enc, admin_database, instance_class, max_tenants)
    values (${id}, ${v.provider}, ${v.provider_instance_id}, ${v.region}, ${v.engine}, ${v.engine_version}, ${v.host}, ${v.port},
      ${v.admin_user}, ${enc}, ${v.admin_database}, ${v.instance_class}, ${v.max_tenants})
    on conflict (provider, provider_instance_id) do nothing
    returning *`;
  if (!row) throw conflict(v.provider, v.provider_instance_id);
  return instanceOf(row);
}

/** Instances, newest first. */
export async function listInstances(db: Db, req: PageRequest = {}): Promise<Page<Instance>> {
  const { limit, before } = pageBounds(req, "mdbi");
  const rows = await db`
    ${db.unsafe(SELECT)} from eve_platform.instances i
    where ${before}::text is null or i.id < ${before}::text
    order by i.id desc limit ${limit + 1}`;
  return pageOf(rows.map(instanceOf), limit);
}

function notFound(id: string): EveError {
  return new EveError("E_NOT_FOUND", `instance ${JSON.stringify(id.slice(0, 80))} not found`, ExitCode.error, {
    hint: "list instances with `eve admin instances list`",
  });
}

/** One instance; E_NOT_FOUND when unknown. */
export async function getInstance(db: Db, id: string): Promise<Instance> {
  if (!isId("mdbi", id)) throw notFound(id);
  const [row] = await db`${db.unsafe(SELECT)} from eve_platform.instances i where i.id = ${id}`;
  if (!row) throw notFound(id);
  return instanceOf(row);
}

/** Stop placing new tenants on an instance (idempotent); existing tenants stay. */
export async function drainInstance(db: Db, id: string): Promise<Instance> {
  if (!isId("mdbi", id)) throw notFound(id);
  const [row] = await db`
    with i as (
      update eve_platform.instances set status = 'draining', updated_at = case when status = 'draining' then updated_at else now() end
      where id = ${id} returning *)
    ${db.unsafe(SELECT)} from i`;
  if (!row) throw notFound(id);
  return instanceOf(row);
}

/** The admin connection URL of an instance (decrypts the password; for the provisioner, never for output). */
export async function instanceAdminUrl(key: MasterKey, inst: Instance): Promise<string> {
  const password = await decryptSecret(key, inst.adminPasswordEnc, instancePasswordAad(inst.id));
  return urlOf({ host: inst.host, port: inst.port, user: inst.adminUser, password, database: inst.adminDatabase });
}
