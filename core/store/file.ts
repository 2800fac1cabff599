/**
 * The local directory store (file:///dir). put() streams into a hidden temp
 * file beside the target, hashing as it goes, fsyncs it and renames it into
 * place only after the body ended and commit() resolved, so a reader (or a
 * crash) never sees a partial object under the final key. Files are created
 * 0600 and directories 0700: dumps hold the whole database.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { abortReason, assertKey, assertPrefix, notFound, raceAbort, storeError } from "./shared.ts";
import type { ObjectInfo, PutResult, Store } from "./types.ts";

const READ_CHUNK = 256 * 1024;
const noop = () => {};

function errno(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/** Run a filesystem step; failures become E_STORE naming the path. */
async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw storeError(`file store: cannot ${what}: ${msg}`, {
      hint: errno(e) === "EACCES" ? "check the permissions of the store directory" : "check the store directory (--store / EVE_SNAPSHOT_STORE) and free disk space",
      cause: e,
    });
  }
}

/** fsync a directory so a rename survives a crash; not possible everywhere, so best effort. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // Some platforms and filesystems refuse fsync on directories.
  } finally {
    await fh?.close().catch(noop);
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    off += bytesWritten;
  }
}

const partialPrefix = (name: string) => `.${name}.partial-`;

export class FileStore implements Store {
  readonly kind = "file" as const;
  readonly url: string;

  constructor(readonly dir: string) {
    this.url = pathToFileURL(dir).href;
  }

  private path(key: string): string {
    assertKey(key);
    return join(this.dir, ...key.split("/"));
  }

  async put(
    key: string,
    body: ReadableStream<Uint8Array>,
    opts: { signal?: AbortSignal; commit?: () => Promise<void>; onProgress?: (bytes: number) => void } = {},
  ): Promise<PutResult> {
    const { signal, commit, onProgress } = opts;
    let final: string;
    try {
      final = this.path(key);
    } catch (e) {
      await body.cancel(e).catch(noop);
      throw e;
    }
    const dir = dirname(final);
    const tmp = join(dir, partialPrefix(basename(final)) + randomBytes(6).toString("hex"));
    const reader = body.getReader();
    const onAbort = () => void reader.cancel(signal?.reason).catch(noop);
    let fh: FileHandle | undefined;
    let created = false;
    try {
      if (signal?.aborted) throw abortReason(signal);
      signal?.addEventListener("abort", onAbort, { once: true });
      await io(`create ${dir}`, () => mkdir(dir, { recursive: true, mode: 0o700 }));
      fh = await io(`create ${tmp}`, () => open(tmp, "wx", 0o600));
      created = true;
      const hash = createHash("sha256");
      let size = 0;
      for (;;) {
        // Errors of the body (the producer) pass through unchanged.
        const r = await reader.read();
        if (signal?.aborted) throw abortReason(signal);
        if (r.done) break;
        hash.update(r.value);
        size += r.value.byteLength;
        const f = fh;
        await io(`write ${tmp}`, () => writeAll(f, r.value));
        onProgress?.(size);
      }
      const f = fh;
      await io(`write ${tmp}`, async () => {
        await f.sync();
        await f.close();
      });
      fh = undefined;
      // So do errors of commit(): the caller knows best what failed.
      if (commit) await raceAbort(commit(), signal);
      if (signal?.aborted) throw abortReason(signal);
      await io(`rename ${tmp} to ${final}`, () => rename(tmp, final));
      created = false;
      await syncDir(dir);
      return { key, size, sha256: hash.digest("hex") };
    } catch (e) {
      // Tell the producer nobody is listening any more, then clean up.
      await reader.cancel(e).catch(noop);
      await fh?.close().catch(noop);
      if (created) await unlink(tmp).catch(noop);
      throw e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
  }

  async putText(key: string, text: string): Promise<void> {
    const final = this.path(key);
    const dir = dirname(final);
    const tmp = join(dir, partialPrefix(basename(final)) + randomBytes(6).toString("hex"));
    await io(`create ${dir}`, () => mkdir(dir, { recursive: true, mode: 0o700 }));
    try {
      await io(`write ${final}`, async () => {
        const fh = await open(tmp, "wx", 0o600);
        try {
          await fh.writeFile(text, "utf8");
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, final);
      });
    } catch (e) {
      await unlink(tmp).catch(noop);
      throw e;
    }
    await syncDir(dir);
  }

  async getText(key: string): Promise<string | null> {
    const path = this.path(key);
    try {
      return await readFile(path, "utf8");
    } catch (e) {
      if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR" || errno(e) === "EISDIR") return null;
      return io(`read ${path}`, () => Promise.reject(e));
    }
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    const path = this.path(key);
    const { signal } = opts;
    if (signal?.aborted) throw abortReason(signal);
    let fh: FileHandle;
    try {
      fh = await open(path, "r");
    } catch (e) {
      if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") throw notFound(`object ${key} in ${this.url}`);
      return io(`open ${path}`, () => Promise.reject(e));
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw notFound(`object ${key} in ${this.url}`);
    }
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      signal?.removeEventListener("abort", onAbort);
      void fh.close().catch(noop);
    };
    let ctl: ReadableStreamDefaultController<Uint8Array> | undefined;
    const onAbort = () => {
      if (done) return;
      ctl?.error(abortReason(signal!));
      finish();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    return new ReadableStream<Uint8Array>({
      start(c) {
        ctl = c;
      },
      async pull(c) {
        if (done) return;
        try {
          const buf = new Uint8Array(READ_CHUNK);
          const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, null);
          if (done) return;
          if (bytesRead === 0) {
            finish();
            c.close();
          } else {
            c.enqueue(bytesRead === READ_CHUNK ? buf : buf.subarray(0, bytesRead));
          }
        } catch (e) {
          if (done) return;
          finish();
          c.error(storeError(`file store: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        }
      },
      cancel() {
        finish();
      },
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const path = this.path(key);
    try {
      const st = await stat(path);
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : null;
    } catch (e) {
      if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return null;
      return io(`stat ${path}`, () => Promise.reject(e));
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    try {
      await unlink(path);
    } catch (e) {
      if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return;
      await io(`delete ${path}`, () => Promise.reject(e));
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const start = slash < 0 ? "" : prefix.slice(0, slash + 1);
    const out: ObjectInfo[] = [];
    const walk = async (rel: string): Promise<void> => {
      const abs = join(this.dir, ...rel.split("/").filter(Boolean));
      let entries;
      try {
        entries = await readdir(abs, { withFileTypes: true });
      } catch (e) {
        if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return;
        return io(`list ${abs}`, () => Promise.reject(e));
      }
      for (const ent of entries) {
        if (ent.name.startsWith(".")) continue; // temp files of in-flight writes
        const key = rel + ent.name;
        if (ent.isDirectory()) {
          const sub = key + "/";
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) await walk(sub);
        } else if (ent.isFile() && key.startsWith(prefix)) {
          const st = await stat(join(abs, ent.name)).catch(() => null);
          if (st) out.push({ key, size: st.size, lastModified: st.mtime });
        }
      }
    };
    await walk(start);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async signedUrl(key: string, _expiresInSec: number): Promise<string> {
    const path = this.path(key);
    if (!(await this.head(key))) throw notFound(`object ${key} in ${this.url}`);
    return pathToFileURL(path).href;
  }

  /** Remove temp files left by a put() of `key` that never finished (a killed process). */
  async discardPartial(key: string): Promise<number> {
    const final = this.path(key);
    const dir = dirname(final);
    const lead = partialPrefix(basename(final));
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return 0;
    }
    let n = 0;
    for (const name of names) {
      if (!name.startsWith(lead)) continue;
      await unlink(join(dir, name)).then(() => n++, noop);
    }
    return n;
  }
}
