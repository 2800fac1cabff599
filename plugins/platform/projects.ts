/**
 * Projects and their environments. Names follow one rule (lowercase letter,
 * then lowercase letters, digits and '-', at most 63 characters), checked
 * before any query, so path traversal or SQL metacharacters never reach SQL.
 */
import type { Db } from "../../core/db/index.ts";
import { isPostgresError } from "../../core/db/index.ts";
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { isId, newId } from "./ids.ts";
import { pageBounds, pageOf, type Page, type PageRequest } from "./pagination.ts";

/** A project. */
export interface Project {
  id: string;
  name: string;
  createdAt: Date;
}

/** An environment of a project; `manifest` is the last deployed manifest. */
export interface Environment {
  id: string;
  projectId: string;
  name: string;
  manifest: unknown;
  deployedAt: Date | null;
  createdAt: Date;
}

/** The rule for project and environment names. */
export const NAME_RULE = /^[a-z][a-z0-9-]{0,62}$/;

/** Refuse a bad project or environment name (E_USAGE naming the rule). */
export function checkName(what: "project" | "environment", name: string): void {
  if (!NAME_RULE.test(name)) {
    throw new UsageError(`invalid ${what} name ${JSON.stringify(name.slice(0, 80))}`, {
      hint: "use a lowercase letter, then lowercase letters, digits or '-' (at most 63 characters), e.g. my-app",
    });
  }
}

function notFound(what: string, ref: string): EveError {
  return new EveError("E_NOT_FOUND", `${what} ${JSON.stringify(ref.slice(0, 80))} not found`, ExitCode.error, {
    hint: what === "project" ? "list projects with `eve project list`" : "deploy it with `eve env deploy --env NAME`",
  });
}

const projectOf = (r: Record<string, unknown>): Project => ({ id: r.id as string, name: r.name as string, createdAt: r.created_at as Date });

const environmentOf = (r: Record<string, unknown>): Environment => ({
  id: r.id as string,
  projectId: r.project_id as string,
  name: r.name as string,
  manifest: r.manifest ?? null,
  deployedAt: (r.deployed_at as Date | null) ?? null,
  createdAt: r.created_at as Date,
});

/** Public JSON of a project. */
export function projectJson(p: Project): Record<string, unknown> {
  return { id: p.id, name: p.name, created_at: p.createdAt.toISOString() };
}

/** Public JSON of an environment (without its manifest). */
export function environmentJson(e: Environment): Record<string, unknown> {
  return { id: e.id, project_id: e.projectId, name: e.name, deployed_at: e.deployedAt?.toISOString() ?? null, created_at: e.createdAt.toISOString() };
}

/** Create a project; E_CONFLICT when the name is taken. */
export async function createProject(db: Db, name: string): Promise<Project> {
  checkName("project", name);
  const [row] = await db`
    insert into eve_platform.projects (id, name) values (${newId("proj")}, ${name})
    on conflict (name) do nothing returning id, name, created_at`;
  if (!row) {
    throw new EveError("E_CONFLICT", `project ${name} already exists`, ExitCode.error, { hint: "choose another name, or use the existing project" });
  }
  return projectOf(row);
}

/** A project by id (`proj_…`) or name; E_NOT_FOUND otherwise. */
export async function getProject(db: Db, idOrName: string): Promise<Project> {
  const byId = isId("proj", idOrName);
  if (!byId && !NAME_RULE.test(idOrName)) throw notFound("project", idOrName);
  const [row] = byId
    ? await db`select id, name, created_at from eve_platform.projects where id = ${idOrName}`
    : await db`select id, name, created_at from eve_platform.projects where name = ${idOrName}`;
  if (!row) throw notFound("project", idOrName);
  return projectOf(row);
}

/** Projects, newest first. */
export async function listProjects(db: Db, req: PageRequest = {}): Promise<Page<Project>> {
  const { limit, before } = pageBounds(req, "proj");
  const rows = await db`
    select id, name, created_at from eve_platform.projects
    where ${before}::text is null or id < ${before}::text
    order by id desc limit ${limit + 1}`;
  return pageOf(rows.map(projectOf), limit);
}

/** The environment `name` of a project, created when missing (concurrent callers get the same row). */
export async function upsertEnvironment(db: Db, projectId: string, name: string): Promise<Environment> {
  checkName("environment", name);
  if (!isId("proj", projectId)) throw notFound("project", projectId);
  try {
    const [row] = await db`
      insert into eve_platform.environments (id, project_id, name) values (${newId("env")}, ${projectId}, ${name})
      on conflict (project_id, name) do update set name = excluded.name
      returning id, project_id, name, manifest, deployed_at, created_at`;
    return environmentOf(row!);
  } catch (e) {
    if (isPostgresError(e) && e.code === "23503") throw notFound("project", projectId);
    throw e;
  }
}

/** One environment of a project; E_NOT_FOUND when it does not exist. */
export async function getEnvironment(db: Db, projectId: string, name: string): Promise<Environment> {
  if (!isId("proj", projectId) || !NAME_RULE.test(name)) throw notFound("environment", name);
  const [row] = await db`
    select id, project_id, name, manifest, deployed_at, created_at from eve_platform.environments
    where project_id = ${projectId} and name = ${name}`;
  if (!row) throw notFound("environment", name);
  return environmentOf(row);
}

/** Every environment of a project, by name. */
export async function listEnvironments(db: Db, projectId: string): Promise<Environment[]> {
  if (!isId("proj", projectId)) throw notFound("project", projectId);
  const rows = await db`
    select id, project_id, name, manifest, deployed_at, created_at from eve_platform.environments
    where project_id = ${projectId} order by name`;
  return rows.map(environmentOf);
}
