/**
 * Provisioning one hardened tenant on a registered instance, given an admin
 * URL (superuser, or CREATEDB + CREATEROLE). Every step reads the current
 * state first and changes only what differs, so a run killed at any point and
 * run again converges, and a second run changes nothing.
 *
 * Shape: a NOLOGIN owner role owning schema `public`; LOGIN roles _a and _b
 * that are INHERIT members of the owner and whose sessions act as the owner
 * (`ALTER ROLE … SET role`); a LOGIN read-only role (SELECT now and by default
 * privileges); the database owned by the platform admin, CONNECT revoked from
 * PUBLIC and granted to the owner and read-only roles only, no CREATE or
 * TEMPORARY for the tenant; extensions installed by the admin; tier limits on
 * the database and every tenant role.
 *
 * Passwords: role _a gets `loginPassword`, _b a random password nobody keeps
 * (it is the idle slot that rotation sets later), _ro `readonlyPassword`. They
 * are sent as SCRAM verifiers computed here. A password is set when its role
 * is created; on a re-run with a superuser admin an existing role whose
 * verifier no longer accepts the given password gets it again (a
 * non-superuser cannot read verifiers, so it leaves existing roles' passwords
 * to rotation).
 */
import { close, quoteIdent, quoteLiteral, type Db } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { adminFacts, checkNames, openAdmin, stepError, tenantNames, textArray, type AdminFacts, type TenantNames, type TierLimits } from "./provision-common.ts";
import { applyFixes, planTenant, type Fix } from "./provision-drift.ts";
import { randomPassword, scramMatches, scramVerifier } from "./scram.ts";
import { EXTENSION_ALLOWLIST } from "./tiers.ts";

export { tenantNames, type TenantNames, type TierLimits } from "./provision-common.ts";
export type { Drift } from "./provision-drift.ts";
export { reconcileLimits, inspectTenant, type TenantInspection } from "./provision-limits.ts";
export { dropTenant, hardenInstance } from "./provision-admin.ts";

/** The provisioning steps, in order (onStep receives each name before it runs). */
export const PROVISION_STEPS = ["roles", "database", "schema", "extensions", "limits"] as const;
export type ProvisionStep = (typeof PROVISION_STEPS)[number];

export interface ProvisionSpec {
  tenantId: string;
  /** The tier's limits (a row of TIERS). */
  class: TierLimits;
  /** Extension names; each must be in EXTENSION_ALLOWLIST. */
  extensions: string[];
  loginPassword: string;
  readonlyPassword: string;
}

export interface ProvisionResult {
  database: string;
  ownerRole: string;
  loginRoles: [string, string];
  readonlyRole: string;
}

interface StepContext {
  adminUrl: string;
  spec: ProvisionSpec;
  names: TenantNames;
  admin: AdminFacts;
}

const ATTRS = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";

/** Create missing roles (with their passwords), then fix attributes, memberships and role-level settings. */
async function rolesStep(db: Db, c: StepContext): Promise<void> {
  const { names: n, spec } = c;
  const passwords = new Map<string, string | null>([
    [n.ownerRole, null],
    [n.loginRoles[0], spec.loginPassword],
    [n.loginRoles[1], randomPassword()],
    [n.readonlyRole, spec.readonlyPassword],
  ]);
  const existing = new Set((await db`select rolname from pg_roles where rolname = any(${textArray([...passwords.keys()])}::text[])`).map((r) => r.rolname as string));
  for (const [role, password] of passwords) {
    if (existing.has(role)) continue;
    const login = password === null ? "NOLOGIN" : `LOGIN PASSWORD ${quoteLiteral(await scramVerifier(password))}`;
    await db.unsafe(`CREATE ROLE ${quoteIdent(role)} ${login} ${ATTRS} CONNECTION LIMIT ${spec.class.connectionLimit}`).catch((e) => {
      if (!createdMeanwhile(e)) throw e;
    });
  }
  if (c.admin.superuser) await resetChangedPasswords(db, [[n.loginRoles[0], spec.loginPassword], [n.readonlyRole, spec.readonlyPassword]]);
  await applyPlan(db, c, "roles");
}

async function resetChangedPasswords(db: Db, pairs: Array<[string, string]>): Promise<void> {
  const rows = await db`select rolname, rolpassword from pg_authid where rolname = any(${textArray(pairs.map((p) => p[0]))}::text[])`;
  for (const [role, password] of pairs) {
    const stored = rows.find((r) => r.rolname === role)?.rolpassword as string | null | undefined;
    if (stored && (await scramMatches(stored, password))) continue;
    await db.unsafe(`ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(await scramVerifier(password))}`);
  }
}

async function applyPlan(db: Db, c: StepContext, category: Fix["category"]): Promise<void> {
  const plan = await planTenant(db, c.names, c.spec.class, c.admin);
  await applyFixes(db, plan.fixes.filter((f) => f.category === category));
}

/** CREATE DATABASE owned by the admin (outside a transaction), then its ACL. */
/**
 * The object was created by another run meanwhile: "already exists" (42710
 * role, 42P04 database), or the catalog's unique index (23505) when a killed
 * run's CREATE was still finishing on the server while this one started its own.
 */
function createdMeanwhile(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "42710" || code === "42P04" || code === "23505";
}

async function databaseStep(db: Db, c: StepContext): Promise<void> {
  const [exists] = await db`select 1 from pg_database where datname = ${c.names.database}`;
  if (!exists) {
    // FILE_COPY (PG15+): copying the small template file by file took ~50 ms here against ~1 s
    // for the default WAL_LOG, at the price of a checkpoint on the instance.
    const strategy = c.admin.versionNum >= 150000 ? " STRATEGY FILE_COPY" : "";
    await db.unsafe(`CREATE DATABASE ${quoteIdent(c.names.database)} CONNECTION LIMIT ${c.spec.class.connectionLimit}${strategy}`).catch((e) => {
      if (!createdMeanwhile(e)) throw e;
    });
  }
  await applyPlan(db, c, "database");
}

/** Inside the tenant database: `public` owned by the owner role, PUBLIC revoked, read-only grants and default privileges. */
async function schemaStep(db: Db, c: StepContext): Promise<void> {
  const { ownerRole: owner, readonlyRole: ro } = c.names;
  await reclaimLoginObjects(db, c);
  const [s] = await db`
    select n.nspowner::regrole::text as owner,
           exists (select 1 from aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a where a.grantee = 0) as public_has,
           exists (select 1 from aclexplode(n.nspacl) a join pg_roles g on g.oid = a.grantee
                   where g.rolname = ${ro} and a.privilege_type = 'USAGE') as ro_usage
    from pg_namespace n where n.nspname = 'public'`;
  if (!s) {
    await db.unsafe(`CREATE SCHEMA public AUTHORIZATION ${quoteIdent(owner)}`);
  } else if (s.owner !== owner && s.owner !== quoteIdent(owner)) {
    await db.unsafe(`ALTER SCHEMA public OWNER TO ${quoteIdent(owner)}`);
  }
  if (!s || s.public_has) await db.unsafe(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
  if (!s || !s.ro_usage) await db.unsafe(`GRANT USAGE ON SCHEMA public TO ${quoteIdent(ro)}`);
  const [missing] = await db`
    select bool_or(c.relkind <> 'S') as tables, bool_or(c.relkind = 'S') as sequences
    from pg_class c join pg_roles r on r.oid = c.relowner
    where c.relnamespace = 'public'::regnamespace and r.rolname = ${owner}
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and not has_table_privilege(${ro}, c.oid, 'SELECT')`;
  if (missing?.tables) await db.unsafe(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${quoteIdent(ro)}`);
  if (missing?.sequences) await db.unsafe(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${quoteIdent(ro)}`);
  const defaults = await db`
    select d.defaclobjtype as kind
    from pg_default_acl d join pg_roles r on r.oid = d.defaclrole
    cross join lateral aclexplode(d.defaclacl) a
    join pg_roles g on g.oid = a.grantee
    where r.rolname = ${owner} and d.defaclnamespace = 'public'::regnamespace and g.rolname = ${ro} and a.privilege_type = 'SELECT'`;
  for (const [kind, word] of [["r", "TABLES"], ["S", "SEQUENCES"]] as const) {
    if (!defaults.some((d) => d.kind === kind)) {
      await db.unsafe(`ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(owner)} IN SCHEMA public GRANT SELECT ON ${word} TO ${quoteIdent(ro)}`);
    }
  }
}

/**
 * Objects a login role owns: a tenant that ran `SET ROLE NONE` creates them as
 * itself, and the read-only role cannot read them. Every run gives them back
 * to the owner role (REASSIGN OWNED, in the tenant database), so grants and
 * default privileges apply to them as to the rest.
 */
async function reclaimLoginObjects(db: Db, c: StepContext): Promise<void> {
  const logins = c.names.loginRoles;
  const [o] = await db`
    select exists (select 1 from pg_shdepend d join pg_roles r on r.oid = d.refobjid
                    where d.deptype = 'o' and d.dbid = (select oid from pg_database where datname = current_database())
                      and r.rolname = any(${textArray(logins)}::text[])) as owned`;
  if (!o?.owned) return;
  // A non-superuser admin acts on roles it is a member of (PG15: CREATEROLE may grant that membership).
  if (!c.admin.superuser) for (const r of logins) await db.unsafe(`GRANT ${quoteIdent(r)} TO CURRENT_USER`);
  await db.unsafe(`REASSIGN OWNED BY ${logins.map(quoteIdent).join(", ")} TO ${quoteIdent(c.names.ownerRole)}`);
}

/** Install the requested extensions into `public`, as the admin. */
async function extensionsStep(db: Db, c: StepContext): Promise<void> {
  const wanted = [...new Set(c.spec.extensions)];
  if (!wanted.length) return;
  const rows = await db`
    select a.name, e.extname is not null as installed
    from pg_available_extensions a left join pg_extension e on e.extname = a.name
    where a.name = any(${textArray(wanted)}::text[])`;
  for (const name of wanted) {
    const row = rows.find((r) => r.name === name);
    if (!row) {
      throw new EveError("E_EXTENSION_UNAVAILABLE", `extension "${name}" is not available on this instance`, ExitCode.failed, {
        hint: "remove it from the manifest's extensions, or install it on the instance (its package) and deploy again",
        details: { extension: name },
      });
    }
    if (!row.installed) await db.unsafe(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} SCHEMA public`);
  }
}

async function limitsStep(db: Db, c: StepContext): Promise<void> {
  await applyPlan(db, c, "limits");
}

function checkSpec(spec: ProvisionSpec): void {
  for (const e of spec.extensions) {
    if (!EXTENSION_ALLOWLIST.includes(e)) {
      throw new EveError("E_EXTENSION_NOT_ALLOWED", `extension "${e.slice(0, 80)}" is not allowed on managed databases`, ExitCode.usage, {
        hint: `allowed: ${EXTENSION_ALLOWLIST.join(", ")}`,
        details: { extension: e.slice(0, 80) },
      });
    }
  }
  const t = spec.class;
  for (const [k, v] of Object.entries({ connectionLimit: t.connectionLimit, statementTimeoutMs: t.statementTimeoutMs, idleInTransactionTimeoutMs: t.idleInTransactionTimeoutMs })) {
    if (!Number.isInteger(v) || v < (k === "connectionLimit" ? -1 : 0)) {
      throw new EveError("E_TIER", `tier limit ${k} must be a whole number (got ${String(v)})`, ExitCode.usage);
    }
  }
}

/**
 * Make the tenant exist exactly as specified. `onStep` is called with each
 * step's name before it runs; `opts.through` stops after that step (a partial
 * run, as a kill would leave).
 */
export async function provisionTenant(
  adminUrl: string,
  spec: ProvisionSpec,
  onStep?: (step: ProvisionStep) => void,
  opts: { through?: ProvisionStep } = {},
): Promise<ProvisionResult> {
  const names = tenantNames(spec.tenantId);
  checkNames(names);
  checkSpec(spec);
  // One session to the admin database and one to the tenant's, reused by every step.
  const sessions = new Map<string | undefined, Db>();
  const session = (database: string | undefined, step: string): Db => {
    const have = sessions.get(database);
    if (have) return have;
    const db = openAdmin(adminUrl, database, step);
    sessions.set(database, db);
    return db;
  };
  try {
    return await provisionSteps(adminUrl, spec, names, session, onStep, opts);
  } finally {
    await Promise.all([...sessions.values()].map((db) => close(db)));
  }
}

async function provisionSteps(
  adminUrl: string,
  spec: ProvisionSpec,
  names: TenantNames,
  session: (database: string | undefined, step: string) => Db,
  onStep: ((step: ProvisionStep) => void) | undefined,
  opts: { through?: ProvisionStep },
): Promise<ProvisionResult> {
  const inStep = async <T>(database: string | undefined, step: string, fn: (db: Db) => Promise<T>): Promise<T> => {
    try {
      return await fn(session(database, step));
    } catch (e) {
      throw stepError(step, e, adminUrl);
    }
  };
  const admin = await inStep(undefined, "connect", adminFacts);
  const c: StepContext = { adminUrl, spec, names, admin };
  const run: Record<ProvisionStep, [string | undefined, (db: Db, c: StepContext) => Promise<void>]> = {
    roles: [undefined, rolesStep],
    database: [undefined, databaseStep],
    schema: [names.database, schemaStep],
    extensions: [names.database, extensionsStep],
    limits: [undefined, limitsStep],
  };
  for (const step of PROVISION_STEPS) {
    onStep?.(step);
    const [database, fn] = run[step];
    await inStep(database, step, (db) => fn(db, c));
    if (step === opts.through) break;
  }
  return { database: names.database, ownerRole: names.ownerRole, loginRoles: names.loginRoles, readonlyRole: names.readonlyRole };
}

/**
 * The URL a client uses: the first login role (or the read-only role) on the
 * tenant database, with the password percent-encoded.
 */
export function tenantUrl(instance: { host: string; port: number }, names: TenantNames, role: "login" | "readonly", password: string): string {
  const user = role === "login" ? names.loginRoles[0] : names.readonlyRole;
  const host = instance.host.includes(":") && !instance.host.startsWith("[") ? `[${instance.host}]` : instance.host;
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${instance.port}/${encodeURIComponent(names.database)}`;
}

/**
 * Install one allowlisted extension in a tenant database as the platform
 * (migrate --env: the files need pgcrypto, or create an extension themselves).
 * `tenantAdminUrl` is the admin's URL on the tenant database.
 */
export async function installExtension(tenantAdminUrl: string, name: string): Promise<void> {
  if (!EXTENSION_ALLOWLIST.includes(name)) {
    throw new EveError("E_EXTENSION_NOT_ALLOWED", `extension "${name.slice(0, 80)}" is not allowed on managed databases`, ExitCode.failed, {
      hint: `allowed: ${EXTENSION_ALLOWLIST.join(", ")}`,
      details: { extension: name.slice(0, 80) },
    });
  }
  const db = openAdmin(tenantAdminUrl, undefined, "extension");
  try {
    const [have] = await db`select 1 from pg_extension where extname = ${name}`;
    if (!have) await db.unsafe(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} SCHEMA public`);
  } catch (e) {
    throw stepError("extension", e, tenantAdminUrl);
  } finally {
    await close(db);
  }
}
