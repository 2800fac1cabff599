import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EveError } from "../../../core/errors.ts";
import { decryptSecret, encryptSecret, keyCheck, loadMasterKey, verifyKeyCheck, type MasterKey } from "../../../core/secrets.ts";
import { verifyMasterKey } from "../../../plugins/platform/settings.ts";
import { platformDb, type PlatformDb } from "./fixture.ts";

const bytes = (n: number, fill?: number) => (fill === undefined ? crypto.getRandomValues(new Uint8Array(n)) : new Uint8Array(n).fill(fill));
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const keyOf = (b: Uint8Array) => loadMasterKey({ EVE_MASTER_KEY: b64(b) });

async function failure(p: Promise<unknown>): Promise<EveError> {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(EveError);
  return e as EveError;
}

/** Flip one bit of the decoded payload at `index` and re-encode. */
function flip(blob: string, index: number): string {
  const raw = Buffer.from(blob.slice(3), "base64url");
  raw[index] = raw[index]! ^ 1;
  return "v1:" + raw.toString("base64url");
}

describe("master key", () => {
  test("accepts 32 bytes as standard base64, URL-safe base64 (with or without padding) and hex", async () => {
    const raw = bytes(32);
    const blob = await encryptSecret(await keyOf(raw), "s3cret", "a");
    for (const form of [b64(raw), Buffer.from(raw).toString("base64url"), b64(raw).replace(/=+$/, ""), hex(raw), hex(raw).toUpperCase(), ` ${b64(raw)}\n`]) {
      expect(await decryptSecret(await loadMasterKey({ EVE_MASTER_KEY: form }), blob, "a")).toBe("s3cret");
    }
  });

  test("missing or empty → E_MASTER_KEY exit 2 with a hint to generate one", async () => {
    for (const env of [{}, { EVE_MASTER_KEY: "" }, { EVE_MASTER_KEY: "   " }]) {
      const e = await failure(loadMasterKey(env));
      expect(e.code).toBe("E_MASTER_KEY");
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain("EVE_MASTER_KEY is not set");
      expect(e.hint).toContain("openssl rand -base64 32");
    }
  });

  test("wrong length or format names the problem and never echoes the value", async () => {
    const cases: Array<[string, RegExp]> = [
      [b64(bytes(16)), /decodes to 16 bytes; it must be exactly 32/],
      [b64(bytes(33)), /decodes to 33 bytes/],
      [hex(bytes(31)), /decodes to \d+ bytes/],
      ["not*base64!secretvalue", /neither base64 nor 64 hex/],
      ["abc+def_ghi", /neither base64 nor 64 hex/],
    ];
    for (const [value, re] of cases) {
      const e = await failure(loadMasterKey({ EVE_MASTER_KEY: value }));
      expect(e.code).toBe("E_MASTER_KEY");
      expect(e.message).toMatch(re);
      expect(`${e.message} ${e.hint}`).not.toContain(value);
    }
  });
});

describe("encryptSecret / decryptSecret", () => {
  let key: MasterKey;
  beforeAll(async () => {
    key = await keyOf(bytes(32));
  });

  test("round-trips text (unicode, empty) with a fresh IV each time", async () => {
    for (const text of ["", "pässwörd ✓ 🔑", "x".repeat(10_000)]) {
      const a = await encryptSecret(key, text, "instance:mdbi_1:admin_password");
      const b = await encryptSecret(key, text, "instance:mdbi_1:admin_password");
      expect(a).toMatch(/^v1:[A-Za-z0-9_-]+$/);
      expect(a).not.toBe(b);
      expect(await decryptSecret(key, a, "instance:mdbi_1:admin_password")).toBe(text);
    }
  });

  test("a tampered byte anywhere (iv, body, tag) → E_SECRET_DECRYPT", async () => {
    const blob = await encryptSecret(key, "hunter2-password", "row:1");
    const len = Buffer.from(blob.slice(3), "base64url").length;
    for (const i of [0, 11, 12, 20, len - 1]) {
      const e = await failure(decryptSecret(key, flip(blob, i), "row:1"));
      expect(e.code).toBe("E_SECRET_DECRYPT");
      expect(e.message).not.toContain("hunter2");
    }
    for (const broken of [blob.slice(0, 20), "v2:" + blob.slice(3), blob.slice(3), "v1:!!!!", "v1:" + blob.slice(3) + "A"]) {
      expect((await failure(decryptSecret(key, broken, "row:1"))).code).toBe("E_SECRET_DECRYPT");
    }
  });

  test("a ciphertext moved to another row (other aad) does not decrypt", async () => {
    const blob = await encryptSecret(key, "tenant-a-password", "tenant:mdbt_a:login");
    const e = await failure(decryptSecret(key, blob, "tenant:mdbt_b:login"));
    expect(e.code).toBe("E_SECRET_DECRYPT");
    expect(e.message).toContain("tenant:mdbt_b:login");
    expect(e.message).not.toContain("tenant-a-password");
  });

  test("another key cannot decrypt", async () => {
    const blob = await encryptSecret(key, "p", "r");
    expect((await failure(decryptSecret(await keyOf(bytes(32)), blob, "r"))).code).toBe("E_SECRET_DECRYPT");
  });

  test("keyCheck verifies under the same key only", async () => {
    const check = await keyCheck(key);
    expect(await verifyKeyCheck(key, check)).toBe(true);
    expect(await verifyKeyCheck(await keyOf(bytes(32)), check)).toBe(false);
    expect(await verifyKeyCheck(key, flip(check, 14))).toBe(false);
    expect(await verifyKeyCheck(key, await encryptSecret(key, "something else", "settings:master_key_check"))).toBe(false);
  });
});

describe("master key check in the platform database", () => {
  let p: PlatformDb;
  beforeAll(async () => {
    p = await platformDb();
  });
  afterAll(() => p.done());

  test("the first start stores the check; the same key passes again; another key fails at start-up", async () => {
    const raw = bytes(32, 7);
    await verifyMasterKey(p.db, await keyOf(raw));
    const [row] = await p.db`select value from eve_platform.settings where key = 'master_key_check'`;
    expect(row!.value).toMatch(/^v1:/);
    await verifyMasterKey(p.db, await loadMasterKey({ EVE_MASTER_KEY: hex(raw) }));
    const e = await failure(verifyMasterKey(p.db, await keyOf(bytes(32, 8))));
    expect(e.code).toBe("E_MASTER_KEY");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe("EVE_MASTER_KEY does not match the key this platform database was initialised with");
    expect((await p.db`select count(*)::int as n from eve_platform.settings`)[0]!.n).toBe(1);
  });

  test("replicas starting together with the same key agree on one check", async () => {
    const q = await platformDb();
    try {
      const key = await keyOf(bytes(32, 9));
      await Promise.all([verifyMasterKey(q.db, key), verifyMasterKey(q.db, key), verifyMasterKey(q.db, key)]);
      expect((await q.db`select count(*)::int as n from eve_platform.settings`)[0]!.n).toBe(1);
    } finally {
      await q.done();
    }
  });
});
