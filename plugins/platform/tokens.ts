/**
 * API tokens: `eve_pat_` + 40 base62 characters from crypto.getRandomValues
 * (≈238 bits), stored only as their SHA-256. A token is either admin or scoped
 * to one project with a role (read < write < owner). Authentication looks the
 * hash up; authorization is a pure function of the token record.
 */
import type { Db } from "../../core/db/index.ts";
import { isPostgresError } from "../../core/db/index.ts";
import { advisoryKey } from "../../core/db/lock.ts";
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { isId, newId } from "./ids.ts";
import { pageBounds, pageOf, type Page, type PageRequest } from "./pagination.ts";

/** A project token's role. */
export type Role = "read" | "write" | "owner";

/** A token as stored, without its hash. */
export interface TokenRecord {
  id: string;
  name: string;
  /** The token's first 12 characters, for display. */
  prefix: string;
  admin: boolean;
  projectId: string | null;
  role: Role | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What createToken needs: admin, or a project (role defaults to read). */
export interface CreateTokenInput {
  name: string;
  admin?: boolean;
  projectId?: string;
  role?: Role;
  expiresAt?: Date | null;
}

const TOKEN_PREFIX = "eve_pat_";
const TOKEN_SHAPE = /^eve_pat_[0-9A-Za-z]{40}$/;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANK: Record<Role, number> = { read: 1, write: 2, owner: 3 };
const COLUMNS = "id, name, prefix, admin, project_id, role, created_at, expires_at, last_used_at, revoked_at";

/** A fresh random token (unbiased base62 by rejection sampling). */
export function generateToken(): string {
  let out = TOKEN_PREFIX;
  while (out.length < TOKEN_PREFIX.length + 40) {
    for (const b of crypto.getRandomValues(new Uint8Array(48))) {
      if (b < 248 && out.length < TOKEN_PREFIX.length + 40) out += BASE62[b % 62];
    }
  }
  return out;
}

async function hashToken(token: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
}

function tokenFromRow(r: Record<string, unknown>): TokenRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    prefix: r.prefix as string,
    admin: r.admin as boolean,
    projectId: (r.project_id as string | null) ?? null,
    role: (r.role as Role | null) ?? null,
    createdAt: r.created_at as Date,
    expiresAt: (r.expires_at as Date | null) ?? null,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
    revokedAt: (r.revoked_at as Date | null) ?? null,
  };
}

/** The public JSON shape of a token record (snake_case, never the hash). */
export function tokenJson(t: TokenRecord): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    admin: t.admin,
    project_id: t.projectId,
    role: t.role,
    created_at: t.createdAt.toISOString(),
    expires_at: t.expiresAt?.toISOString() ?? null,
    last_used_at: t.lastUsedAt?.toISOString() ?? null,
    revoked_at: t.revokedAt?.toISOString() ?? null,
  };
}

function checkInput(input: CreateTokenInput): void {
  if (!input.name.trim() || input.name.length > 100 || /[\u0000-\u001f\u007f]/.test(input.name)) {
    throw new UsageError("token name must be 1 to 100 printable characters");
  }
  if (!!input.admin === (input.projectId !== undefined)) {
    throw new UsageError("a token is either admin or scoped to one project", { hint: "pass admin, or a project and a role (read, write, owner)" });
  }
  if (input.projectId !== undefined && !isId("proj", input.projectId)) throw notFound("project", input.projectId);
  if (input.admin && input.role) throw new UsageError("an admin token has no role", { hint: "roles apply to project tokens" });
  if (input.role !== undefined && !(input.role in RANK)) throw new UsageError("role must be read, write or owner");
  if (input.expiresAt && Number.isNaN(input.expiresAt.getTime())) throw new UsageError("the token's expiry is not a valid date");
}

function notFound(what: string, id: string): EveError {
  return new EveError("E_NOT_FOUND", `${what} ${JSON.stringify(id.slice(0, 80))} not found`, ExitCode.error);
}

/** Create a token; the plaintext is returned once and never stored. */
export async function createToken(db: Db, input: CreateTokenInput): Promise<{ token: string; record: TokenRecord }> {
  checkInput(input);
  const token = generateToken();
  const projectId = input.projectId ?? null;
  const role = projectId ? (input.role ?? "read") : null;
  const expiresAt = input.expiresAt ?? null;
  try {
    const [row] = await db`
      insert into eve_platform.tokens (id, name, hash, prefix, admin, project_id, role, expires_at)
      select ${newId("tok")}, ${input.name}, ${await hashToken(token)}, ${token.slice(0, 12)}, ${!!input.admin}, ${projectId}, ${role}, ${expiresAt}::timestamptz
      where ${expiresAt}::timestamptz is null or ${expiresAt}::timestamptz > now()
      returning ${db.unsafe(COLUMNS)}`;
    if (!row) throw new UsageError("the token's expiry is in the past", { hint: "give a future date, or none for a token that does not expire" });
    return { token, record: tokenFromRow(row) };
  } catch (e) {
    if (isPostgresError(e) && e.code === "23503") throw notFound("project", projectId ?? "");
    throw e;
  }
}

function unauthenticated(): EveError {
  return new EveError("E_UNAUTHENTICATED", "invalid or revoked API token", ExitCode.connection, {
    hint: "send Authorization: Bearer eve_pat_… with a token from `eve token create` (or `eve login`)",
  });
}

/**
 * The token record for a bearer token (the token, or "Bearer <token>").
 * Malformed → E_UNAUTHENTICATED without a query; unknown or revoked →
 * E_UNAUTHENTICATED; expired (by the database clock) → E_TOKEN_EXPIRED.
 * Records last_used_at at most once a minute per token.
 */
export async function authenticate(db: Db, bearer: string): Promise<TokenRecord> {
  const token = /^bearer /i.test(bearer) ? bearer.slice(7).trim() : bearer;
  if (!TOKEN_SHAPE.test(token)) throw unauthenticated();
  const [row] = await db`
    select ${db.unsafe(COLUMNS)},
           expires_at is not null and expires_at <= now() as expired,
           last_used_at is null or last_used_at < now() - interval '1 minute' as stale_use
    from eve_platform.tokens where hash = ${await hashToken(token)}`;
  if (!row || row.revoked_at) throw unauthenticated();
  if (row.expired) {
    throw new EveError("E_TOKEN_EXPIRED", `API token ${row.prefix}… expired at ${(row.expires_at as Date).toISOString()}`, ExitCode.connection, {
      hint: "create a new token with `eve token create`",
    });
  }
  if (row.stale_use) {
    // Bookkeeping only: a failure here never fails the request.
    await db`
      update eve_platform.tokens set last_used_at = now()
      where id = ${row.id as string} and (last_used_at is null or last_used_at < now() - interval '1 minute')`.catch(() => {});
  }
  return tokenFromRow(row);
}

/** What a request needs: admin, or a role on a project. */
export type Need = { admin: true } | { projectId: string; role: Role };

/** Allow or refuse (E_FORBIDDEN): admin passes everything; a project token needs the project and a role ≥ the one needed. */
export function authorize(token: TokenRecord, need: Need): void {
  if (token.admin) return;
  if ("admin" in need) {
    throw new EveError("E_FORBIDDEN", "this needs an admin token", ExitCode.error, { hint: "use a token created with --admin" });
  }
  if (token.projectId !== need.projectId) {
    // The same words whether or not the project exists: a token learns nothing of other projects.
    throw new EveError("E_FORBIDDEN", "this token has no access to that project", ExitCode.error, {
      hint: "use a token of that project (eve token create --project …)",
    });
  }
  if (!token.role || RANK[token.role] < RANK[need.role]) {
    throw new EveError("E_FORBIDDEN", `this needs role ${need.role} on the project; the token has ${token.role ?? "none"}`, ExitCode.error, {
      hint: `use a token with role ${need.role}${need.role === "owner" ? "" : " or higher"}`,
    });
  }
}

/** Tokens, newest first, optionally of one project (never their hashes). */
export async function listTokens(db: Db, req: PageRequest & { projectId?: string } = {}): Promise<Page<TokenRecord>> {
  const { limit, before } = pageBounds(req, "tok");
  const project = req.projectId ?? null;
  const rows = await db`
    select ${db.unsafe(COLUMNS)} from eve_platform.tokens
    where (${before}::text is null or id < ${before}::text) and (${project}::text is null or project_id = ${project}::text)
    order by id desc limit ${limit + 1}`;
  return pageOf(rows.map(tokenFromRow), limit);
}

/** Revoke a token (idempotent); E_NOT_FOUND when there is no such token. */
export async function revokeToken(db: Db, id: string): Promise<TokenRecord> {
  if (!isId("tok", id)) throw notFound("token", id);
  const [row] = await db`
    update eve_platform.tokens set revoked_at = coalesce(revoked_at, now()) where id = ${id}
    returning ${db.unsafe(COLUMNS)}`;
  if (!row) throw notFound("token", id);
  return tokenFromRow(row);
}

/** What bootstrapAdminToken did; `token` is set only when it generated one (print it once). */
export interface BootstrapResult {
  created: boolean;
  token?: string;
  record?: TokenRecord;
}

/**
 * The first admin token. With EVE_ADMIN_TOKEN (`envToken`): store its hash as
 * admin token "bootstrap" unless present, revoking an earlier "bootstrap"
 * (the variable was changed). Without: when no usable admin token exists,
 * generate one and return its plaintext. Serialised across replicas.
 */
export async function bootstrapAdminToken(db: Db, envToken?: string): Promise<BootstrapResult> {
  if (envToken !== undefined && !TOKEN_SHAPE.test(envToken)) {
    throw new UsageError(`EVE_ADMIN_TOKEN must be "eve_pat_" followed by 40 letters and digits (${envToken.length} characters given)`, {
      hint: "leave it unset and run `eve server init` to have one generated",
    });
  }
  return (await db.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${advisoryKey("eve:platform:bootstrap-admin-token")}::bigint)`;
    if (envToken !== undefined) {
      const hash = await hashToken(envToken);
      const [have] = await tx`select ${tx.unsafe(COLUMNS)} from eve_platform.tokens where hash = ${hash}`;
      if (have) {
        if (have.revoked_at || !have.admin) {
          throw new UsageError(`EVE_ADMIN_TOKEN is ${have.revoked_at ? "a revoked" : "a project"} token`, { hint: "set it to a new admin token" });
        }
        return { created: false, record: tokenFromRow(have) };
      }
      await tx`update eve_platform.tokens set revoked_at = now() where name = 'bootstrap' and admin and revoked_at is null`;
      const [row] = await tx`
        insert into eve_platform.tokens (id, name, hash, prefix, admin)
        values (${newId("tok")}, 'bootstrap', ${hash}, ${envToken.slice(0, 12)}, true)
        returning ${tx.unsafe(COLUMNS)}`;
      return { created: true, record: tokenFromRow(row!) };
    }
    const [live] = await tx`
      select 1 from eve_platform.tokens where admin and revoked_at is null and (expires_at is null or expires_at > now()) limit 1`;
    if (live) return { created: false };
    const token = generateToken();
    const [row] = await tx`
      insert into eve_platform.tokens (id, name, hash, prefix, admin)
      values (${newId("tok")}, 'bootstrap', ${await hashToken(token)}, ${token.slice(0, 12)}, true)
      returning ${tx.unsafe(COLUMNS)}`;
    return { created: true, token, record: tokenFromRow(row!) };
  })) as BootstrapResult;
}
