import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { close, connect } from "../../../core/db/index.ts";
import { EveError } from "../../../core/errors.ts";
import { createProject, type Project } from "../../../plugins/platform/projects.ts";
import { authenticate, authorize, bootstrapAdminToken, createToken, generateToken, listTokens, revokeToken, type TokenRecord } from "../../../plugins/platform/tokens.ts";
import { freePort } from "../../helpers/pg.ts";
import { platformDb, type PlatformDb } from "./fixture.ts";

let p: PlatformDb;
let alpha: Project;
let beta: Project;

beforeAll(async () => {
  p = await platformDb();
  alpha = await createProject(p.db, "alpha");
  beta = await createProject(p.db, "beta");
});
afterAll(() => p.done());

async function failure(f: Promise<unknown> | (() => unknown)): Promise<EveError> {
  const e = typeof f === "function" ? await Promise.resolve().then(f).then(() => undefined, (x) => x) : await f.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(EveError);
  return e as EveError;
}


describe("token shape", () => {
  test("eve_pat_ + 40 base62 characters, all different", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = generateToken();
      expect(t).toMatch(/^eve_pat_[0-9A-Za-z]{40}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(200);
  });
});

describe("create and authenticate", () => {
  test("only the sha256 is stored; authenticate returns the record and records last use", async () => {
    const { token, record } = await createToken(p.db, { name: "ci", projectId: alpha.id, role: "write" });
    expect(record).toMatchObject({ name: "ci", admin: false, projectId: alpha.id, role: "write", prefix: token.slice(0, 12), lastUsedAt: null, revokedAt: null });
    const [row] = await p.db`select encode(hash, 'hex') as hash, to_jsonb(t)::text as all from eve_platform.tokens t where id = ${record.id}`;
    expect(row!.hash).toBe(new Bun.CryptoHasher("sha256").update(token).digest("hex"));
    expect(row!.all).not.toContain(token);
    const got = await authenticate(p.db, token);
    expect(got.id).toBe(record.id);
    expect(got.lastUsedAt).toBeNull(); // the record as read; the update follows
    const [used] = await p.db`select last_used_at from eve_platform.tokens where id = ${record.id}`;
    expect(used!.last_used_at).toBeInstanceOf(Date);
    expect((await authenticate(p.db, `Bearer ${token}`)).id).toBe(record.id);
  });

  test("last_used_at is written at most once a minute", async () => {
    const { token, record } = await createToken(p.db, { name: "busy", admin: true });
    await authenticate(p.db, token);
    const [first] = await p.db`select last_used_at, xmin::text as x from eve_platform.tokens where id = ${record.id}`;
    for (let i = 0; i < 5; i++) await authenticate(p.db, token);
    const [again] = await p.db`select last_used_at, xmin::text as x from eve_platform.tokens where id = ${record.id}`;
    expect(again).toEqual(first!); // same row version: no further UPDATE
    await p.db`update eve_platform.tokens set last_used_at = now() - interval '2 minutes' where id = ${record.id}`;
    await authenticate(p.db, token);
    const [later] = await p.db`select last_used_at > now() - interval '5 seconds' as fresh from eve_platform.tokens where id = ${record.id}`;
    expect(later!.fresh).toBe(true);
  });

  test("malformed bearers are refused as unauthenticated before any query", async () => {
    const good = generateToken();
    const bad = [
      "",
      "eve_pat_",
      good.replace("eve_pat_", "eve_pak_"),
      good.slice(0, -1),
      good + "A",
      good.slice(0, -1) + "-",
      "eve_pat_' or 1=1 --aaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "eve_pat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'--;",
      "x".repeat(100_000),
      good + "\n",
      "Bearer",
    ];
    // A pool whose server does not exist: any query would fail with a connection error instead.
    const dead = connect(`postgres://u:p@127.0.0.1:${await freePort()}/x`, { connectTimeout: 2 });
    try {
      for (const b of bad) {
        const e = await failure(authenticate(dead, b));
        expect(e.code).toBe("E_UNAUTHENTICATED");
        expect(e.message).not.toContain(b.slice(8, 30) || "\u0000");
      }
      expect(await authenticate(dead, good).then(() => "ok", (e) => (e as { code?: string }).code)).not.toBe("E_UNAUTHENTICATED");
    } finally {
      await close(dead);
    }
  });

  test("unknown, revoked and expired tokens", async () => {
    expect((await failure(authenticate(p.db, generateToken()))).code).toBe("E_UNAUTHENTICATED");
    const { token, record } = await createToken(p.db, { name: "old", projectId: beta.id, role: "read" });
    const revoked = await revokeToken(p.db, record.id);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect((await revokeToken(p.db, record.id)).revokedAt).toEqual(revoked.revokedAt); // idempotent
    expect((await failure(authenticate(p.db, token))).code).toBe("E_UNAUTHENTICATED");

    const soon = await createToken(p.db, { name: "soon", admin: true, expiresAt: new Date(Date.now() + 60_000) });
    expect((await authenticate(p.db, soon.token)).id).toBe(soon.record.id);
    // Expiry is judged by the database clock.
    await p.db`update eve_platform.tokens set expires_at = now() - interval '1 second' where id = ${soon.record.id}`;
    const e = await failure(authenticate(p.db, soon.token));
    expect(e.code).toBe("E_TOKEN_EXPIRED");
    expect(e.message).not.toContain(soon.token);
  });

  test("bad create input", async () => {
    expect((await failure(createToken(p.db, { name: "x" }))).code).toBe("E_USAGE");
    expect((await failure(createToken(p.db, { name: "x", admin: true, projectId: alpha.id }))).code).toBe("E_USAGE");
    expect((await failure(createToken(p.db, { name: "", admin: true }))).code).toBe("E_USAGE");
    expect((await failure(createToken(p.db, { name: "x", admin: true, expiresAt: new Date(Date.now() - 1000) }))).message).toContain("in the past");
    expect((await failure(createToken(p.db, { name: "x", projectId: "proj_00000000000000000000000000" }))).code).toBe("E_NOT_FOUND");
    expect((await failure(createToken(p.db, { name: "x", projectId: "'; drop table eve_platform.tokens; --" }))).code).toBe("E_NOT_FOUND");
    expect((await failure(createToken(p.db, { name: "x", projectId: alpha.id, role: "admin" as never }))).code).toBe("E_USAGE");
    const dflt = await createToken(p.db, { name: "reader", projectId: alpha.id });
    expect(dflt.record.role).toBe("read");
  });
});

describe("authorize", () => {
  const rec = (over: Partial<TokenRecord>): TokenRecord => ({
    id: "tok_x", name: "t", prefix: "eve_pat_abcd", admin: false, projectId: null, role: null,
    createdAt: new Date(), expiresAt: null, lastUsedAt: null, revokedAt: null, ...over,
  });
  const project = (role: "read" | "write" | "owner", projectId = "proj_a") => rec({ projectId, role });

  test("admin passes everything", () => {
    const admin = rec({ admin: true });
    authorize(admin, { admin: true });
    for (const role of ["read", "write", "owner"] as const) authorize(admin, { projectId: "proj_any", role });
  });

  test("roles rank read < write < owner on their own project", async () => {
    const table: Array<["read" | "write" | "owner", "read" | "write" | "owner", boolean]> = [
      ["read", "read", true], ["read", "write", false], ["read", "owner", false],
      ["write", "read", true], ["write", "write", true], ["write", "owner", false],
      ["owner", "read", true], ["owner", "write", true], ["owner", "owner", true],
    ];
    for (const [has, need, ok] of table) {
      const f = () => authorize(project(has), { projectId: "proj_a", role: need });
      if (ok) f();
      else expect((await failure(f)).code).toBe("E_FORBIDDEN");
    }
  });

  test("a project token on another project, or asking for admin, is forbidden", async () => {
    expect((await failure(() => authorize(project("owner"), { projectId: "proj_b", role: "read" }))).code).toBe("E_FORBIDDEN");
    expect((await failure(() => authorize(project("owner"), { admin: true }))).code).toBe("E_FORBIDDEN");
    expect((await failure(() => authorize(rec({}), { projectId: "proj_a", role: "read" }))).code).toBe("E_FORBIDDEN");
  });
});

describe("list and revoke", () => {
  test("pages newest first with an opaque cursor; never the hash", async () => {
    const q = await platformDb(2);
    try {
      const proj = await createProject(q.db, "pager");
      const made: string[] = [];
      for (let i = 0; i < 7; i++) made.push((await createToken(q.db, { name: `t${i}`, projectId: proj.id, role: "read" })).record.id);
      await createToken(q.db, { name: "admin", admin: true });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof listTokens>> = await listTokens(q.db, { limit: 3, cursor, projectId: proj.id });
        expect(page.items.length).toBeLessThanOrEqual(3);
        for (const t of page.items) expect(Object.keys(t)).not.toContain("hash");
        seen.push(...page.items.map((t) => t.id));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen).toEqual([...made].reverse());
      expect((await listTokens(q.db, { limit: "200" })).items.length).toBe(8);
      expect((await listTokens(q.db)).next_cursor).toBeNull();
    } finally {
      await q.done();
    }
  });

  test("bad limit or cursor → E_USAGE; revoking an unknown id → E_NOT_FOUND", async () => {
    for (const limit of [0, 201, -1, 1.5, "ten", "1e2", "50; drop"]) expect((await failure(listTokens(p.db, { limit }))).code).toBe("E_USAGE");
    for (const cursor of ["abc", "!!!", btoa("proj_00000000000000000000000000"), btoa("tok_' or 1=1")]) {
      expect((await failure(listTokens(p.db, { cursor }))).code).toBe("E_USAGE");
    }
    expect((await failure(revokeToken(p.db, "tok_00000000000000000000000000"))).code).toBe("E_NOT_FOUND");
    expect((await failure(revokeToken(p.db, "../etc/passwd"))).code).toBe("E_NOT_FOUND");
  });
});

describe("bootstrap admin token", () => {
  test("none given: generates one once (plaintext returned once), then leaves it", async () => {
    const q = await platformDb();
    try {
      const [a, b] = await Promise.all([bootstrapAdminToken(q.db), bootstrapAdminToken(q.db)]);
      const made = [a, b].filter((r) => r.created);
      expect(made.length).toBe(1);
      expect(made[0]!.token).toMatch(/^eve_pat_[0-9A-Za-z]{40}$/);
      expect((await authenticate(q.db, made[0]!.token!)).admin).toBe(true);
      const again = await bootstrapAdminToken(q.db);
      expect(again).toEqual({ created: false });
      // Once every admin token is revoked, a new one is generated.
      await q.db`update eve_platform.tokens set revoked_at = now()`;
      expect((await bootstrapAdminToken(q.db)).created).toBe(true);
    } finally {
      await q.done();
    }
  });

  test("EVE_ADMIN_TOKEN: stored once by hash, usable, rotated when changed; a malformed or revoked one is refused", async () => {
    const q = await platformDb();
    try {
      const env = generateToken();
      const first = await bootstrapAdminToken(q.db, env);
      expect(first.created).toBe(true);
      expect(first.token).toBeUndefined();
      expect(first.record!.name).toBe("bootstrap");
      expect((await bootstrapAdminToken(q.db, env)).created).toBe(false);
      expect((await authenticate(q.db, env)).id).toBe(first.record!.id);

      const next = generateToken();
      expect((await bootstrapAdminToken(q.db, next)).created).toBe(true);
      expect((await authenticate(q.db, next)).admin).toBe(true);
      expect((await failure(authenticate(q.db, env))).code).toBe("E_UNAUTHENTICATED");
      const e = await failure(bootstrapAdminToken(q.db, env));
      expect(e.code).toBe("E_USAGE");
      expect(e.message).toContain("revoked");

      for (const bad of ["secret-admin-token", next + "x", "eve_pat_short"]) {
        const m = await failure(bootstrapAdminToken(q.db, bad));
        expect(m.code).toBe("E_USAGE");
        expect(m.message).not.toContain(bad);
      }
      expect((await q.db`select count(*)::int as n from eve_platform.tokens`)[0]!.n).toBe(2);
    } finally {
      await q.done();
    }
  });
});
