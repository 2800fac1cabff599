/**
 * Verify a stored snapshot: read the object back, compare size and sha256
 * with its record, and feed it to `pg_restore -f /dev/null`, which reads and
 * decompresses every data block (`--list` would only read the TOC). The
 * pg_restore used is one that reads archives of the record's pg_dump version.
 */
import { parsePgVersion } from "../../core/pgtools/index.ts";
import type { Store } from "../../core/store/types.ts";
import type { SnapshotRecord, VerifyResult } from "./schema.ts";
import { closeSide, hashStream } from "./streams.ts";
import { cleanStderr, findPgTool, headline, spawnTool } from "./tools.ts";

export interface VerifyOptions {
  store: Store;
  record: SnapshotRecord;
  /** Environment for locating and running pg_restore (PATH, EVE_PG_BIN). */
  env: Record<string, string | undefined>;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** Verify `o.record`'s object; problems are reported in the result (ok: false), not thrown. */
export async function verifySnapshot(o: VerifyOptions): Promise<VerifyResult> {
  const rec = o.record;
  const pgRestore = await findPgTool("pg_restore", { env: o.env, minMajor: parsePgVersion(rec.pgDumpVersion)?.major });
  const t0 = Date.now();
  const problems: string[] = [];
  if (rec.status !== "completed") problems.push(`status is ${rec.status}, not completed`);
  const head = await o.store.head(rec.key);
  if (!head) {
    problems.push(`the dump object ${rec.key} is missing`);
    return result(rec, o.store, { size: 0, sha256: "" }, false, problems, t0);
  }
  const src = await o.store.get(rec.key, { signal: o.signal });
  const proc = spawnTool(pgRestore.path, ["--file=/dev/null"], { env: o.env, stdin: "pipe", stdout: "ignore", signal: o.signal });
  const writer = proc.stdin!.getWriter();
  let pipeBroken = false;
  const got = await hashStream(
    src,
    async (chunk) => {
      if (pipeBroken) return; // keep hashing after pg_restore gave up
      await writer.write(chunk).catch(() => {
        pipeBroken = true;
      });
    },
    o.onProgress,
  );
  await closeSide(writer, proc.exited);
  const exit = await proc.exited;
  const blocksOk = exit.code === 0;
  if (rec.size !== null && got.size !== rec.size) problems.push(`size is ${got.size} bytes, the record says ${rec.size}`);
  else if (rec.sha256 !== null && got.sha256 !== rec.sha256) problems.push(`sha256 is ${got.sha256}, the record says ${rec.sha256}`);
  if (!blocksOk) problems.push(`pg_restore could not read every block: ${headline(cleanStderr(exit.stderr, []))}`);
  return result(rec, o.store, got, blocksOk, problems, t0);
}

function result(rec: SnapshotRecord, store: Store, got: { size: number; sha256: string }, blocksOk: boolean, problems: string[], t0: number): VerifyResult {
  return {
    id: rec.id,
    store: store.url,
    ok: problems.length === 0,
    size: got.size,
    expectedSize: rec.size,
    sha256: got.sha256,
    expectedSha256: rec.sha256,
    blocksOk,
    problems,
    durationMs: Date.now() - t0,
  };
}
