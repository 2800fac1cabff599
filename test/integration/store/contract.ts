/**
 * The behaviour every Store must have, run against the file store and the S3
 * store (s3rver) by file.test.ts and s3.test.ts.
 */
import { expect, test } from "bun:test";
import type { Store } from "../../../core/store/types.ts";
import { randomBody, sha256Hex, sha256OfStream } from "./bodies.ts";

const MiB = 1024 * 1024;

export interface ContractOptions {
  /** A fresh store (own prefix or directory) per call. */
  store(): Store;
  /** Size of the round-trip body; for S3 more than one part. */
  bigSize: number;
  /** Download what signedUrl() returned, without credentials. */
  download(url: string): Promise<Uint8Array>;
}

async function expectGone(store: Store, key: string): Promise<void> {
  expect(await store.head(key)).toBeNull();
  expect((await store.list("")).map((o) => o.key)).not.toContain(key);
}

export function storeContract(o: ContractOptions): void {
  test("round trip of a streamed multi-MB body: size and sha256 match, commit runs after the body ended", async () => {
    const store = o.store();
    const body = randomBody(o.bigSize + 12345);
    const progress: number[] = [];
    let producedAtCommit = -1;
    let visibleDuringCommit: unknown = "unset";
    const r = await store.put("snapshots/big.dump", body.stream, {
      onProgress: (n) => progress.push(n),
      commit: async () => {
        producedAtCommit = body.produced();
        visibleDuringCommit = await store.head("snapshots/big.dump");
      },
    });
    const sha = body.sha256();
    expect(r).toEqual({ key: "snapshots/big.dump", size: o.bigSize + 12345, sha256: sha });
    expect(producedAtCommit).toBe(o.bigSize + 12345);
    expect(visibleDuringCommit).toBeNull(); // nothing visible before commit() resolved
    expect(progress.at(-1)).toBe(r.size);
    expect((await store.head("snapshots/big.dump"))?.size).toBe(r.size);
    expect(await sha256OfStream(await store.get("snapshots/big.dump"))).toEqual({ sha256: sha, size: r.size });
  });

  test("commit() rejecting: put rejects with that error and no object remains", async () => {
    const store = o.store();
    const body = randomBody(o.bigSize);
    const boom = new Error("pg_dump exited with status 1");
    const err = await store.put("snapshots/c.dump", body.stream, { commit: () => Promise.reject(boom) }).catch((e) => e);
    expect(err).toBe(boom);
    await expectGone(store, "snapshots/c.dump");
    expect(await store.list("")).toEqual([]);
  });

  test("a body that errors midway: put rejects with the body's error, commit never runs, no object", async () => {
    const store = o.store();
    const boom = new Error("connection to server lost");
    const body = randomBody(o.bigSize, { failAt: 3 * MiB, error: boom });
    let committed = false;
    const err = await store
      .put("snapshots/e.dump", body.stream, {
        commit: async () => {
          committed = true;
        },
      })
      .catch((e) => e);
    expect(err).toBe(boom);
    expect(committed).toBe(false);
    await expectGone(store, "snapshots/e.dump");
    expect(await store.list("")).toEqual([]);
  });

  test("aborting through the signal: put rejects, the producer is cancelled, no object", async () => {
    const store = o.store();
    const body = randomBody(o.bigSize * 4);
    const ac = new AbortController();
    const err = await store
      .put("snapshots/a.dump", body.stream, {
        signal: ac.signal,
        onProgress: (n) => {
          if (n >= 3 * MiB && !ac.signal.aborted) ac.abort();
        },
      })
      .catch((e) => e);
    expect(err.code).toBe("E_INTERRUPTED");
    expect(body.cancelled()).toBe(true);
    expect(body.produced()).toBeLessThan(o.bigSize * 4);
    await expectGone(store, "snapshots/a.dump");

    const pre = new AbortController();
    pre.abort();
    const err2 = await store.put("snapshots/a.dump", randomBody(1000).stream, { signal: pre.signal }).catch((e) => e);
    expect(err2.code).toBe("E_INTERRUPTED");
    expect(await store.list("")).toEqual([]);
  });

  test("aborting while commit() is pending: put rejects without waiting for commit, no object", async () => {
    const store = o.store();
    for (const size of [o.bigSize, 1000]) {
      const ac = new AbortController();
      let commitStarted = false;
      const err = await store
        .put("snapshots/w.dump", randomBody(size).stream, {
          signal: ac.signal,
          commit: () => {
            commitStarted = true;
            setTimeout(() => ac.abort(), 10);
            return new Promise<void>(() => {}); // a producer that never reports back
          },
        })
        .catch((e) => e);
      expect(commitStarted).toBe(true);
      expect(err.code).toBe("E_INTERRUPTED");
      await expectGone(store, "snapshots/w.dump");
    }
  });

  test("put replaces an existing object; small and empty bodies work", async () => {
    const store = o.store();
    await store.put("x/obj", randomBody(5000).stream);
    const b = randomBody(777);
    const r = await store.put("x/obj", b.stream);
    expect(r.size).toBe(777);
    expect((await sha256OfStream(await store.get("x/obj"))).sha256).toBe(b.sha256());
    const empty = await store.put("x/empty", randomBody(0).stream);
    expect(empty).toEqual({ key: "x/empty", size: 0, sha256: sha256Hex(new Uint8Array()) });
    expect((await store.head("x/empty"))?.size).toBe(0);
  });

  test("list, head and delete", async () => {
    const store = o.store();
    for (const k of ["snapshots/b.json", "snapshots/a.dump", "snapshots/a.json", "other/z.dump", "snapshotsX"]) {
      await store.putText(k, `content of ${k}`);
    }
    const listed = await store.list("snapshots/");
    expect(listed.map((x) => x.key)).toEqual(["snapshots/a.dump", "snapshots/a.json", "snapshots/b.json"]);
    expect(listed[0]!.size).toBe("content of snapshots/a.dump".length);
    expect(listed[0]!.lastModified).toBeInstanceOf(Date);
    expect((await store.list("snap")).map((x) => x.key)).toEqual(["snapshots/a.dump", "snapshots/a.json", "snapshots/b.json", "snapshotsX"]);
    expect((await store.list("")).length).toBe(5);
    expect(await store.list("nothing/")).toEqual([]);

    const h = await store.head("snapshots/a.dump");
    expect(h?.key).toBe("snapshots/a.dump");
    expect(h?.size).toBe("content of snapshots/a.dump".length);
    expect(await store.head("snapshots/missing.dump")).toBeNull();

    await store.delete("snapshots/a.dump");
    await store.delete("snapshots/a.dump"); // missing is fine
    expect(await store.head("snapshots/a.dump")).toBeNull();
    expect((await store.list("snapshots/")).map((x) => x.key)).toEqual(["snapshots/a.json", "snapshots/b.json"]);
  });

  test("putText / getText", async () => {
    const store = o.store();
    expect(await store.getText("meta/s.json")).toBeNull();
    await store.putText("meta/s.json", JSON.stringify({ status: "in_progress", label: "ünïcode ✓" }));
    expect(JSON.parse((await store.getText("meta/s.json"))!)).toEqual({ status: "in_progress", label: "ünïcode ✓" });
    await store.putText("meta/s.json", JSON.stringify({ status: "completed" }));
    expect(JSON.parse((await store.getText("meta/s.json"))!)).toEqual({ status: "completed" });
    expect((await store.list("meta/")).map((x) => x.key)).toEqual(["meta/s.json"]);
  });

  test("get of a missing object is E_NOT_FOUND; invalid keys are refused", async () => {
    const store = o.store();
    const err = await store.get("snapshots/nope.dump").catch((e) => e);
    expect(err.code).toBe("E_NOT_FOUND");
    for (const bad of ["../escape", "/abs", "a//b", ".hidden", "a/./b", "a/../b", ""]) {
      expect((await store.head(bad).catch((e) => e)).code).toBe("E_USAGE");
    }
  });

  test("signed URL downloads the object without credentials", async () => {
    const store = o.store();
    const b = randomBody(300_000);
    await store.put("snapshots/s.dump", b.stream);
    const url = await store.signedUrl("snapshots/s.dump", 60);
    const bytes = await o.download(url);
    expect(bytes.byteLength).toBe(300_000);
    expect(sha256Hex(bytes)).toBe(b.sha256());
  });

  test("get honours its abort signal", async () => {
    const store = o.store();
    await store.put("snapshots/g.dump", randomBody(4 * MiB).stream);
    const ac = new AbortController();
    const s = await store.get("snapshots/g.dump", { signal: ac.signal });
    const reader = s.getReader();
    await reader.read();
    ac.abort();
    const err = await (async () => {
      for (;;) {
        const r = await reader.read();
        if (r.done) return null;
      }
    })().catch((e) => e);
    expect(err?.code).toBe("E_INTERRUPTED");
  });
}
