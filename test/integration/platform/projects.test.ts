import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EveError } from "../../../core/errors.ts";
import {
  createProject,
  environmentJson,
  getEnvironment,
  getProject,
  listEnvironments,
  listProjects,
  projectJson,
  upsertEnvironment,
} from "../../../plugins/platform/projects.ts";
import { platformDb, type PlatformDb } from "./fixture.ts";

let p: PlatformDb;
beforeAll(async () => {
  p = await platformDb();
});
afterAll(() => p.done());

async function failure(f: Promise<unknown>): Promise<EveError> {
  const e = await f.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(EveError);
  return e as EveError;
}

const count = async (table: "projects" | "environments") => (await p.db.unsafe(`select count(*)::int as n from eve_platform.${table}`))[0]!.n as number;

describe("projects", () => {
  test("create, then get by id or name; the JSON is snake_case", async () => {
    const proj = await createProject(p.db, "shop-api");
    expect(proj.id).toMatch(/^proj_[0-9a-z]{26}$/);
    expect(await getProject(p.db, proj.id)).toEqual(proj);
    expect(await getProject(p.db, "shop-api")).toEqual(proj);
    expect(projectJson(proj)).toEqual({ id: proj.id, name: "shop-api", created_at: proj.createdAt.toISOString() });
  });

  test("a duplicate name is E_CONFLICT; concurrent creates make exactly one", async () => {
    await createProject(p.db, "dup");
    expect((await failure(createProject(p.db, "dup"))).code).toBe("E_CONFLICT");
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => createProject(p.db, "race")));
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason.code).toBe("E_CONFLICT");
  });

  test("bad names are E_USAGE naming the rule; nothing is written", async () => {
    const before = await count("projects");
    for (const name of ["", "Shop", "1shop", "-x", "a_b", "a".repeat(64), "../etc", "x'; drop table eve_platform.projects; --", "é", "a b", "a\u0000"]) {
      const e = await failure(createProject(p.db, name));
      expect(e.code).toBe("E_USAGE");
      expect(e.hint).toContain("lowercase letter");
    }
    expect(await count("projects")).toBe(before);
    await createProject(p.db, "a".repeat(63));
  });

  test("unknown or malformed references are E_NOT_FOUND", async () => {
    for (const ref of ["nope", "proj_00000000000000000000000000", "proj_' or ''='", "../../admin", "%00"]) {
      expect((await failure(getProject(p.db, ref))).code).toBe("E_NOT_FOUND");
    }
  });

  test("list pages newest first", async () => {
    const q = await platformDb(2);
    try {
      const made: string[] = [];
      for (const n of ["p1", "p2", "p3", "p4", "p5"]) made.push((await createProject(q.db, n)).id);
      const first = await listProjects(q.db, { limit: 2 });
      expect(first.items.map((x) => x.id)).toEqual(made.slice(3).reverse());
      const second = await listProjects(q.db, { limit: 2, cursor: first.next_cursor });
      expect(second.items.map((x) => x.id)).toEqual(made.slice(1, 3).reverse());
      const third = await listProjects(q.db, { limit: 2, cursor: second.next_cursor });
      expect(third).toEqual({ items: [expect.objectContaining({ id: made[0] })], next_cursor: null });
      expect((await failure(listProjects(q.db, { cursor: first.next_cursor + "x" }))).code).toBe("E_USAGE");
    } finally {
      await q.done();
    }
  });
});

describe("environments", () => {
  test("upsert creates once and returns the same row after; concurrent upserts agree", async () => {
    const proj = await createProject(p.db, "envs");
    const a = await upsertEnvironment(p.db, proj.id, "staging");
    expect(a).toMatchObject({ projectId: proj.id, name: "staging", manifest: null, deployedAt: null });
    expect(await upsertEnvironment(p.db, proj.id, "staging")).toEqual(a);
    const many = await Promise.all([1, 2, 3, 4].map(() => upsertEnvironment(p.db, proj.id, "prod")));
    expect(new Set(many.map((e) => e.id)).size).toBe(1);
    expect(await getEnvironment(p.db, proj.id, "prod")).toEqual(many[0]!);
    expect((await listEnvironments(p.db, proj.id)).map((e) => e.name)).toEqual(["prod", "staging"]);
    expect(environmentJson(a)).toEqual({ id: a.id, project_id: proj.id, name: "staging", deployed_at: null, created_at: a.createdAt.toISOString() });
  });

  test("the same environment name in two projects is two environments", async () => {
    const x = await createProject(p.db, "x-proj");
    const y = await createProject(p.db, "y-proj");
    const ex = await upsertEnvironment(p.db, x.id, "dev");
    const ey = await upsertEnvironment(p.db, y.id, "dev");
    expect(ex.id).not.toBe(ey.id);
    expect((await getEnvironment(p.db, y.id, "dev")).id).toBe(ey.id);
  });

  test("bad names, unknown projects and unknown environments", async () => {
    const proj = await createProject(p.db, "strict");
    const before = await count("environments");
    for (const name of ["Prod", "prod/../x", "prod'--", ""]) expect((await failure(upsertEnvironment(p.db, proj.id, name))).code).toBe("E_USAGE");
    expect((await failure(upsertEnvironment(p.db, "proj_00000000000000000000000000", "dev"))).code).toBe("E_NOT_FOUND");
    expect((await failure(upsertEnvironment(p.db, "strict", "dev"))).code).toBe("E_NOT_FOUND");
    expect(await count("environments")).toBe(before);
    expect((await failure(getEnvironment(p.db, proj.id, "missing"))).code).toBe("E_NOT_FOUND");
    expect((await failure(getEnvironment(p.db, proj.id, "../x"))).code).toBe("E_NOT_FOUND");
    expect(await listEnvironments(p.db, proj.id)).toEqual([]);
  });
});
