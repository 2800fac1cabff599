/**
 * The authorization matrix: every endpoint × {no token, expired, revoked,
 * another project's owner, read, write, owner, admin}, each status asserted.
 * Requests are built so that an allowed caller gets a deterministic answer
 * without lasting side effects (a validation error, an unknown id, a no-op).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { opPath } from "../../../core/http/wire.ts";
import { accessOf, servedRemotely, type Operation } from "../../../core/operation.ts";
import { allPlugins } from "../../../cli/registry.ts";
import { createToken, revokeToken } from "../../../plugins/platform/tokens.ts";
import { startControlPlane, type ControlPlane } from "../../helpers/control-plane.ts";

const CALLERS = ["none", "expired", "revoked", "other", "read", "write", "owner", "admin"] as const;
type Caller = (typeof CALLERS)[number];
const RANK = { read: 1, write: 2, owner: 3 } as const;

const manifest = `services:
  db:
    x-eve:
      role: managed_db
      managed: {class: db.p1, engine: postgres, engine_version: "15"}
`;

/** Operations mounted by the server (snapshot ops come with the jobs issue). */
const operations: Operation[] = (await allPlugins()).flatMap((p) => p.operations ?? []).filter(servedRemotely);

let cp: ControlPlane;
const tokens = {} as Record<Caller, string | null>;

beforeAll(async () => {
  cp = await startControlPlane({ operations });
  await cp.addInstance();
  const shop = await cp.request("POST", "/projects", { body: { name: "shop" } });
  const other = await cp.request("POST", "/projects", { body: { name: "other" } });
  expect((await cp.request("POST", "/projects/shop/envs/staging/deploy", { body: { manifest } })).status).toBe(200);
  const mk = async (o: Parameters<typeof createToken>[1]) => (await createToken(cp.db, o)).token;
  tokens.none = null;
  const expired = await createToken(cp.db, { name: "expired", projectId: shop.body.id, role: "owner", expiresAt: new Date(Date.now() + 60_000) });
  await cp.db`update eve_platform.tokens set expires_at = now() - interval '1 minute' where id = ${expired.record.id}`;
  tokens.expired = expired.token;
  const revoked = await createToken(cp.db, { name: "revoked", projectId: shop.body.id, role: "owner" });
  await revokeToken(cp.db, revoked.record.id);
  tokens.revoked = revoked.token;
  tokens.other = await mk({ name: "other-owner", projectId: other.body.id, role: "owner" });
  tokens.read = await mk({ name: "read", projectId: shop.body.id, role: "read" });
  tokens.write = await mk({ name: "write", projectId: shop.body.id, role: "write" });
  tokens.owner = await mk({ name: "owner", projectId: shop.body.id, role: "owner" });
  tokens.admin = cp.adminToken;
}, 180_000);
afterAll(async () => {
  await cp?.stop();
});

/** Status for a caller: 401 for unusable tokens, 403 below the needed role or on another project, else `ok`. */
function expected(caller: Caller, need: "admin" | "read" | "write" | "owner", ok: number, otherSees = 403): number {
  if (caller === "none" || caller === "expired" || caller === "revoked") return 401;
  if (caller === "admin") return ok;
  if (need === "admin") return 403;
  if (caller === "other") return otherSees;
  return RANK[caller] >= RANK[need] ? ok : 403;
}

interface Case {
  name: string;
  method: string;
  path: string | (() => Promise<string>);
  body?: unknown;
  need: "admin" | "read" | "write" | "owner";
  ok: number;
  /** The status an allowed project caller gets when it differs from the admin's. */
  okFor?: Partial<Record<Caller, number>>;
}

const cases: Case[] = [
  { name: "GET /admin/managed-db/instances", method: "GET", path: "/admin/managed-db/instances", need: "admin", ok: 200 },
  { name: "POST /admin/managed-db/instances (invalid body)", method: "POST", path: "/admin/managed-db/instances", body: { provider: "local" }, need: "admin", ok: 400 },
  { name: "GET /admin/managed-db/instances/:id (unknown)", method: "GET", path: "/admin/managed-db/instances/mdbi_00000000000000000000000000", need: "admin", ok: 404 },
  { name: "POST /admin/managed-db/instances/:id/drain (unknown)", method: "POST", path: "/admin/managed-db/instances/mdbi_00000000000000000000000000/drain", body: {}, need: "admin", ok: 404 },
  { name: "POST /projects (invalid name)", method: "POST", path: "/projects", body: { name: "Bad Name" }, need: "admin", ok: 400 },
  { name: "GET /projects/:project", method: "GET", path: "/projects/shop", need: "read", ok: 200 },
  { name: "GET /projects/:project/envs", method: "GET", path: "/projects/shop/envs", need: "read", ok: 200 },
  { name: "POST …/deploy (same manifest: a no-op)", method: "POST", path: "/projects/shop/envs/staging/deploy", body: { manifest }, need: "write", ok: 200 },
  { name: "GET …/render", method: "GET", path: "/projects/shop/envs/staging/render", need: "read", ok: 200 },
  { name: "GET …/render?show_secrets=true", method: "GET", path: "/projects/shop/envs/staging/render?show_secrets=true", need: "write", ok: 200 },
  { name: "GET …/db/managed", method: "GET", path: "/projects/shop/envs/staging/db/managed", need: "read", ok: 200 },
  { name: "POST /tokens (a read token of the project)", method: "POST", path: "/tokens", body: { name: "matrix", project: "shop", role: "read" }, need: "owner", ok: 201 },
  {
    name: "DELETE /tokens/:id (a token of the project)",
    method: "DELETE",
    path: async () => `/tokens/${(await createToken(cp.db, { name: "victim", projectId: (await cp.request("GET", "/projects/shop")).body.id, role: "read" })).record.id}`,
    need: "owner",
    ok: 200,
  },
  { name: "GET /tokens?project=shop", method: "GET", path: "/tokens?project=shop", need: "owner", ok: 200 },
];

// Every operation route: allowed callers get the operation's own answer to an empty input (200, or 4xx
// for an input it refuses); the point here is 401/403 exactly where they belong.
for (const op of operations) {
  const access = accessOf(op, op.input.safeParse({}).success ? op.input.parse({}) : ({} as never));
  cases.push({ name: `POST …/${opPath(op.name)} (${access})`, method: "POST", path: `/projects/shop/envs/staging/${opPath(op.name)}`, body: {}, need: access, ok: -1 });
}

describe("authorization matrix", () => {
  test("the matrix covers every operation route and the platform endpoints", () => {
    expect(operations.map((o) => o.name)).toContain("db.migrations");
    expect(cases.length).toBeGreaterThanOrEqual(14 + operations.length);
  });
  test("GET /projects: admin sees all, a project token only its own, bad tokens 401", async () => {
    for (const caller of CALLERS) {
      const r = await cp.request("GET", "/projects", { token: tokens[caller] });
      if (["none", "expired", "revoked"].includes(caller)) expect([caller, r.status]).toEqual([caller, 401]);
      else if (caller === "admin") expect(r.body.items.map((p: { name: string }) => p.name).sort()).toEqual(["other", "shop"]);
      else expect([caller, r.body.items.map((p: { name: string }) => p.name)]).toEqual([caller, caller === "other" ? ["other"] : ["shop"]]);
    }
  });
  test("GET /whoami answers every valid token with itself and refuses the rest", async () => {
    for (const caller of CALLERS) {
      const r = await cp.request("GET", "/whoami", { token: tokens[caller] });
      expect([caller, r.status]).toEqual([caller, ["none", "expired", "revoked"].includes(caller) ? 401 : 200]);
    }
  });
  for (const c of cases) {
    test(c.name, async () => {
      for (const caller of CALLERS) {
        const path = typeof c.path === "string" ? c.path : await c.path();
        const r = await cp.request(c.method, path, { token: tokens[caller], ...(c.body !== undefined ? { body: c.body } : {}) });
        const want = expected(caller, c.need, c.ok);
        if (want === -1) {
          // Allowed: anything but an authentication or authorization failure, and never a 5xx.
          expect([caller, r.status === 401 || r.status === 403 || r.status >= 500 ? r.text : "allowed"]).toEqual([caller, "allowed"]);
        } else {
          expect([caller, r.status]).toEqual([caller, want]);
          if (want === 401) expect(r.body.error.code).toMatch(/^E_(UNAUTHENTICATED|TOKEN_EXPIRED)$/);
          if (want === 403) expect(r.body.error.code).toBe("E_FORBIDDEN");
          // Another project's token gets the same words whether or not the project exists: no id, no name.
          if (caller === "other" && want === 403 && c.need !== "admin") expect(r.body.error.message).toBe("this token has no access to that project");
        }
      }
    }, 60_000);
  }
});
