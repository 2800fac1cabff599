import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, request, type Server } from "node:http";
import { openStore } from "../../../core/store/index.ts";
import type { Store } from "../../../core/store/types.ts";
import { startS3, type S3Server } from "../../helpers/s3.ts";
import { randomBody, sha256OfStream } from "./bodies.ts";
import { storeContract } from "./contract.ts";

const MiB = 1024 * 1024;
const PART = 5 * MiB;
let s3: S3Server;
let n = 0;

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
});

const fresh = (opts = {}): Store => openStore(s3.storeUrl(`t${++n}/prefix`), s3.env, { partSize: PART, ...opts });

/**
 * An HTTP proxy in front of s3rver that records "METHOD path?query" of every
 * request and lets a test rewrite response headers (fault injection at the
 * HTTP boundary).
 */
async function startProxy(rewrite?: (method: string, headers: Record<string, string | string[] | undefined>) => void) {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = request({ host: "127.0.0.1", port: s3.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      const headers = { ...r.headers };
      rewrite?.(req.method ?? "", headers);
      res.writeHead(r.statusCode ?? 502, headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    requests,
    env: { ...s3.env, EVE_S3_ENDPOINT: `http://127.0.0.1:${port}` },
    close() {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe("s3 store (s3rver)", () => {
  storeContract({
    store: () => fresh(),
    bigSize: 12 * MiB, // three 5 MiB parts
    download: async (url) => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      return new Uint8Array(await res.arrayBuffer());
    },
  });

  test("a body larger than a part goes up as a multipart upload, intact", async () => {
    const proxy = await startProxy();
    try {
      const store = openStore(s3.storeUrl(`t${++n}/mp`), proxy.env, { partSize: PART });
      const body = randomBody(3 * PART + 1000, { chunk: 100_003 });
      const r = await store.put("snapshots/m.dump", body.stream);
      expect(r.size).toBe(3 * PART + 1000);
      expect(r.sha256).toBe(body.sha256());
      const parts = proxy.requests.filter((q) => q.startsWith("PUT ") && /[?&]partNumber=/.test(q));
      expect(parts.length).toBe(4);
      expect(proxy.requests.filter((q) => q.startsWith("POST ") && /[?&]uploadId=/.test(q)).length).toBe(1); // one Complete
      expect(await sha256OfStream(await store.get("snapshots/m.dump"))).toEqual({ sha256: r.sha256, size: r.size });
    } finally {
      proxy.close();
    }
  });

  test("commit() rejecting after several parts were uploaded leaves no object; so does a one-part body", async () => {
    const store = fresh();
    const boom = new Error("pg_dump: error: query failed");
    const err = await store.put("snapshots/x.dump", randomBody(3 * PART).stream, { commit: () => Promise.reject(boom) }).catch((e) => e);
    expect(err).toBe(boom);
    expect(await store.head("snapshots/x.dump")).toBeNull();
    const err2 = await store.put("snapshots/y.dump", randomBody(1000).stream, { commit: () => Promise.reject(boom) }).catch((e) => e);
    expect(err2).toBe(boom);
    expect(await store.head("snapshots/y.dump")).toBeNull();
    expect(await store.list("")).toEqual([]);
    // s3rver cannot list multipart uploads: discardPartial says it found none rather than failing.
    expect(await store.discardPartial!("snapshots/x.dump")).toBe(0);
  });

  test("url is printable; keys live under the prefix", async () => {
    const store = fresh();
    expect(store.kind).toBe("s3");
    expect(store.url).toBe(`s3://${s3.bucket}/t${n}/prefix`);
    await store.putText("k.json", "{}");
    const direct = openStore(s3.storeUrl(`t${n}`), s3.env);
    expect((await direct.list("")).map((o) => o.key)).toEqual(["prefix/k.json"]);
    const signed = await store.signedUrl("k.json", 60);
    expect(signed).toContain(`/${s3.bucket}/t${n}/prefix/k.json?`);
  });

  test("wrong credentials: E_STORE 'access denied', and the secret never appears", async () => {
    // s3rver checks the access key id (not SigV4 signatures), so use an unknown key id.
    const secret = "wJalrXUtnFEMI-very-secret-K7MDENG";
    const store = openStore(s3.storeUrl("denied"), { ...s3.env, AWS_ACCESS_KEY_ID: "AKIAUNKNOWN", AWS_SECRET_ACCESS_KEY: secret });
    const err = await store.putText("a.json", "{}").catch((e) => e);
    expect(err.code).toBe("E_STORE");
    expect(err.message).toContain("access denied");
    expect(err.hint).toContain("AWS_SECRET_ACCESS_KEY");
    const err2 = await store.put("b.dump", randomBody(1000).stream).catch((e) => e);
    expect(err2.code).toBe("E_STORE");
    for (const e of [err, err2]) expect(JSON.stringify({ m: e.message, h: e.hint, d: e.details })).not.toContain(secret);
  });

  test("a missing bucket is E_STORE naming it", async () => {
    const store = openStore("s3://no-such-bucket/p", s3.env);
    const err = await store.list("").catch((e) => e);
    expect(err.code).toBe("E_STORE");
    expect(err.message).toContain("no-such-bucket");
    expect(err.message).toContain("bucket does not exist");
    for (const e of [await store.getText("a.json").catch((x) => x), await store.get("a.dump").catch((x) => x)]) {
      expect(e.code).toBe("E_STORE");
      expect(e.hint).toContain("create the bucket");
    }
  });

  test("the size is checked after upload: a store reporting another size is E_STORE_VERIFY, object removed", async () => {
    // A store that under-reports what it kept (as one that silently stored something else would).
    const proxy = await startProxy((method, headers) => {
      if (method === "HEAD" && headers["content-length"]) headers["content-length"] = String(Number(headers["content-length"]) - 1);
    });
    try {
      const prefix = `t${++n}/lying`;
      const lying = openStore(s3.storeUrl(prefix), proxy.env, { partSize: PART });
      const err = await lying.put("snapshots/v.dump", randomBody(2 * PART).stream).catch((e) => e);
      expect(err.code).toBe("E_STORE_VERIFY");
      expect(err.message).toContain(`${2 * PART} were sent`);
      const direct = openStore(s3.storeUrl(prefix), s3.env);
      expect(await direct.head("snapshots/v.dump")).toBeNull();
    } finally {
      proxy.close();
    }
  });

  // Must settle within the test timeout: few SDK attempts, no endless retry.
  test("the S3 server dying mid-upload: put rejects with a clear E_STORE, no object after restart", async () => {
    const store = fresh({ queueSize: 2 });
    const body = randomBody(400 * MiB);
    let killing: Promise<void> | undefined;
    const err = await store
      .put("snapshots/dead.dump", body.stream, {
        onProgress: (bytes) => {
          if (bytes >= 2 * PART && !killing) killing = s3.kill();
        },
      })
      .catch((e) => e);
    await killing;
    expect(err.code).toBe("E_STORE");
    expect(err.message).toContain(`cannot reach ${s3.endpoint}`);
    expect(err.hint).toContain("EVE_S3_ENDPOINT");
    expect(body.cancelled()).toBe(true);
    expect(body.produced()).toBeLessThan(400 * MiB);
    await s3.restart();
    expect(await store.head("snapshots/dead.dump")).toBeNull();
  });
});
