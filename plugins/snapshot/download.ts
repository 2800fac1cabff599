/**
 * Download a snapshot to a local file: written to a hidden temp file beside
 * the destination, hashed on the way, fsynced, and renamed into place only
 * when size and sha256 match the record (downloadVerified, which restore
 * --jobs also uses for its private copy). The result restores with plain
 * `pg_restore --clean --if-exists -d URL FILE` (owners and grants included;
 * add --no-owner --no-acl on a server whose roles differ).
 */
import { randomBytes } from "node:crypto";
import { open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { EveError, ExitCode } from "../../core/errors.ts";
import type { Store } from "../../core/store/types.ts";
import type { DownloadResult, SnapshotRecord } from "./schema.ts";
import { hashStream, mismatch } from "./streams.ts";

export interface DownloadOptions {
  store: Store;
  record: SnapshotRecord;
  /** Absolute destination path. */
  output: string;
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

export async function downloadSnapshot(o: DownloadOptions): Promise<DownloadResult> {
  const t0 = Date.now();
  const rec = o.record;
  if (rec.status !== "completed") {
    throw new EveError("E_NOT_COMPLETED", `snapshot ${rec.id} is ${rec.status}; only completed snapshots can be downloaded`, ExitCode.error, {
      hint: "pick a completed snapshot from eve db snapshots --status completed",
    });
  }
  const existing = await stat(o.output).catch(() => null);
  if (existing?.isDirectory()) {
    throw new EveError("E_OUTPUT", `${o.output} is a directory`, ExitCode.usage, { hint: "give a file name, e.g. --output ./backup.dump" });
  }
  if (existing && !o.overwrite) {
    throw new EveError("E_OUTPUT", `${o.output} already exists`, ExitCode.error, { hint: "pass --force to overwrite it, or choose another --output" });
  }
  const tmp = join(dirname(o.output), `.${basename(o.output)}.eve-${randomBytes(4).toString("hex")}`);
  const got = await downloadVerified(o.store, rec, tmp, { signal: o.signal, onProgress: o.onProgress, sync: true, what: o.output });
  try {
    await rename(tmp, o.output);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  return { id: rec.id, output: o.output, size: got.size, sha256: got.sha256, durationMs: Date.now() - t0 };
}

/**
 * Write a completed snapshot's object to a new private file (mode 0600, which
 * must not exist), hashing it on the way; the file is kept only when its size
 * and sha256 match the record (else removed, and an E_CHECKSUM CheckError
 * thrown). `sync` fsyncs it before returning (a file the user keeps); `what`
 * names the file in the error when it cannot be created.
 */
export async function downloadVerified(
  store: Store,
  rec: SnapshotRecord,
  path: string,
  o: { signal?: AbortSignal; onProgress?: (bytes: number) => void; sync?: boolean; what?: string } = {},
): Promise<{ size: number; sha256: string }> {
  const fh = await open(path, "wx", 0o600).catch((e: Error) => {
    throw new EveError("E_OUTPUT", `cannot write ${o.what ?? path}: ${e.message}`, ExitCode.error, { hint: "check the directory exists and is writable" });
  });
  let closed = false;
  try {
    const src = await store.get(rec.key, { signal: o.signal });
    const got = await hashStream(src, async (chunk) => {
      let off = 0;
      while (off < chunk.byteLength) off += (await fh.write(chunk, off)).bytesWritten;
    }, o.onProgress);
    if (got.size !== rec.size || got.sha256 !== rec.sha256) throw mismatch(`snapshot ${rec.id}`, got, { size: rec.size!, sha256: rec.sha256! });
    if (o.sync) await fh.sync();
    closed = true;
    await fh.close();
    return got;
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw e;
  }
}
