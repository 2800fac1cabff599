import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openStore } from "../../../core/store/index.ts";
import type { Store } from "../../../core/store/types.ts";
import { randomBody } from "./bodies.ts";
import { storeContract } from "./contract.ts";

const root = mkdtempSync(join(tmpdir(), "eve-filestore-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `s${++n}`, "nested", "store");

/** Every file under dir, hidden ones included. */
function allFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

describe("file store", () => {
  storeContract({
    store: () => openStore(pathToFileURL(freshDir()).href, {}),
    bigSize: 12 * 1024 * 1024,
    download: async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer()),
  });

  test("a failed put leaves no temp file behind; a finished one leaves only the object (0600)", async () => {
    const dir = freshDir();
    const store = openStore(pathToFileURL(dir).href, {});
    await store.put("snapshots/ok.dump", randomBody(100_000).stream);
    await store.put("snapshots/bad.dump", randomBody(2_000_000).stream, { commit: () => Promise.reject(new Error("no")) }).catch(() => {});
    await store.put("snapshots/bad2.dump", randomBody(2_000_000, { failAt: 1_000_000 }).stream).catch(() => {});
    await store.putText("snapshots/ok.json", "{}");
    expect(allFiles(dir).sort()).toEqual([join(dir, "snapshots", "ok.dump"), join(dir, "snapshots", "ok.json")]);
    expect(statSync(join(dir, "snapshots", "ok.dump")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "snapshots")).mode & 0o777).toBe(0o700);
  });

  test("while a put is streaming, only a hidden temp file exists; list() does not show it", async () => {
    const dir = freshDir();
    const store = openStore(pathToFileURL(dir).href, {});
    let seen: string[] = [];
    let listed: string[] = [];
    await store.put("snapshots/p.dump", randomBody(1_000_000).stream, {
      commit: async () => {
        seen = readdirSync(join(dir, "snapshots"));
        listed = (await store.list("")).map((o) => o.key);
      },
    });
    expect(seen.length).toBe(1);
    expect(seen[0]).toMatch(/^\.p\.dump\.partial-[0-9a-f]+$/);
    expect(listed).toEqual([]);
    expect(readdirSync(join(dir, "snapshots"))).toEqual(["p.dump"]);
  });

  test("discardPartial removes what a killed writer left, and nothing else", async () => {
    const dir = freshDir();
    const store = openStore(pathToFileURL(dir).href, {});
    mkdirSync(join(dir, "snapshots"), { recursive: true });
    writeFileSync(join(dir, "snapshots", ".k.dump.partial-abc123"), "half a dump");
    writeFileSync(join(dir, "snapshots", ".k.dump.partial-def456"), "another half");
    writeFileSync(join(dir, "snapshots", ".other.dump.partial-abc123"), "someone else's");
    await store.putText("snapshots/k.json", "{}");
    expect(await store.discardPartial!("snapshots/k.dump")).toBe(2);
    expect(readdirSync(join(dir, "snapshots")).sort()).toEqual([".other.dump.partial-abc123", "k.json"]);
    expect(await store.discardPartial!("snapshots/none.dump")).toBe(0);
  });

  test("url, signedUrl as file://, and a write error is E_STORE naming the path", async () => {
    const dir = freshDir();
    const store: Store = openStore(pathToFileURL(dir).href + "/", {});
    expect(store.kind).toBe("file");
    expect(store.url).toBe(pathToFileURL(dir).href);
    await store.putText("a/b.txt", "hello");
    const url = await store.signedUrl("a/b.txt", 60);
    expect(readFileSync(fileURLToPath(url), "utf8")).toBe("hello");
    expect((await store.signedUrl("a/missing", 60).catch((e) => e)).code).toBe("E_NOT_FOUND");

    // A regular file where the store wants a directory.
    const blocked = join(root, `blocked${++n}`);
    writeFileSync(blocked, "not a directory");
    const bad = openStore(pathToFileURL(blocked).href, {});
    const err = await bad.put("snapshots/x.dump", randomBody(10).stream).catch((e) => e);
    expect(err.code).toBe("E_STORE");
    expect(err.message).toContain(blocked);
    expect(await bad.list("")).toEqual([]);
    expect(await bad.head("snapshots/x.dump")).toBeNull();
  });
});
