/**
 * Stream plumbing with backpressure: a tee that feeds a side sink (the
 * verifying pg_restore) at the pace of the slower reader, and a pump that
 * hashes an object while feeding it to a tool, holding back the last chunk
 * until the size and sha256 matched.
 */
import { createHash } from "node:crypto";
import { CheckError } from "../../core/errors.ts";

/**
 * Close a child process's stdin writer. A tool may exit without reading to
 * EOF (pg_restore stops after the last block it needs), and then the close
 * of the pipe may never be acknowledged: the process exit ends the wait.
 */
export async function closeSide(writer: WritableStreamDefaultWriter<Uint8Array>, exited?: Promise<unknown>): Promise<void> {
  const closing = writer.close().catch(() => {});
  await (exited ? Promise.race([closing, exited.catch(() => {})]) : closing);
}

/** Coalesce small reads (pg_dump writes 4 KiB at a time into its pipe) into blocks of about this size. */
const BATCH = 256 * 1024;

/**
 * A stream of `src`'s bytes, in blocks of about BATCH bytes, that also writes
 * each block to `side` (when given). The next block is read only when both
 * the consumer and the side accepted the previous one, so memory stays
 * bounded. A side failure errors the stream. The side is closed when `src`
 * ends (or its process exited).
 */
export function teeStream(
  src: ReadableStream<Uint8Array>,
  side: WritableStream<Uint8Array> | null,
  sideExited?: Promise<unknown>,
): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  const writer = side?.getWriter() ?? null;
  let pending: Promise<void> = Promise.resolve();
  let ended = false;
  const nextBlock = async (): Promise<Uint8Array | null> => {
    const parts: Uint8Array[] = [];
    let size = 0;
    while (size < BATCH) {
      const r = await reader.read();
      if (r.done) {
        ended = true;
        break;
      }
      parts.push(r.value);
      size += r.value.byteLength;
    }
    if (parts.length <= 1) return parts[0] ?? null;
    const block = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      block.set(p, at);
      at += p.byteLength;
    }
    return block;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        await pending; // the side took the previous block
        const block = ended ? null : await nextBlock();
        if (block) {
          c.enqueue(block);
          if (writer) {
            pending = writer.write(block);
            pending.catch(() => {}); // observed by the next pull
          }
          if (!ended) return;
          await pending;
        }
        if (writer) await closeSide(writer, sideExited);
        c.close();
      },
      async cancel(reason) {
        await reader.cancel(reason).catch(() => {});
        await writer?.abort(reason).catch(() => {});
      },
    },
    { highWaterMark: 2 },
  );
}

export interface Expected {
  size: number;
  sha256: string;
  /** For messages. */
  what: string;
}

export function mismatch(what: string, got: { size: number; sha256: string }, want: { size: number; sha256: string }): CheckError {
  const why =
    got.size !== want.size ? `size ${got.size} bytes, expected ${want.size}` : `sha256 ${got.sha256.slice(0, 16)}…, expected ${want.sha256.slice(0, 16)}…`;
  return new CheckError("E_CHECKSUM", `${what} does not match its record: ${why}`, {
    hint: "the stored object is damaged or truncated; restore from another snapshot",
    details: { size: got.size, expectedSize: want.size, sha256: got.sha256, expectedSha256: want.sha256 },
  });
}

/**
 * Copy `src` into `dst`, hashing and counting. The final chunk is written only
 * after the whole object matched `expected`, so a consumer that commits when
 * its input ends (pg_restore --single-transaction, psql) can never commit a
 * damaged object. On mismatch `dst` is aborted and a CheckError thrown. When
 * `dst` fails first (the tool stopped on an error), the rest of the object is
 * still read and hashed when `expected` is given: a damaged object is then
 * reported as such rather than as the tool's error.
 */
export async function pumpVerified(
  src: ReadableStream<Uint8Array>,
  dst: WritableStream<Uint8Array>,
  expected: Expected | null,
  onProgress?: (bytes: number) => void,
  dstExited?: Promise<unknown>,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  const reader = src.getReader();
  const writer = dst.getWriter();
  let size = 0;
  let held: Uint8Array | null = null;
  let writeError: { e: unknown } | null = null;
  const write = async (chunk: Uint8Array) => {
    if (writeError) return;
    try {
      await writer.write(chunk);
    } catch (e) {
      writeError = { e };
      if (!expected) throw e;
    }
  };
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      hash.update(r.value);
      size += r.value.byteLength;
      if (held) await write(held);
      held = r.value;
      onProgress?.(size);
    }
    const got = { size, sha256: hash.digest("hex") };
    if (expected && (got.size !== expected.size || got.sha256 !== expected.sha256)) throw mismatch(expected.what, got, expected);
    if (writeError) throw (writeError as { e: unknown }).e;
    if (held) await write(held);
    if (writeError) throw (writeError as { e: unknown }).e;
    await closeSide(writer, dstExited);
    return got;
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    await writer.abort(e).catch(() => {});
    throw e;
  }
}

/** sha256 and size of a stream, passing every chunk to `onChunk` (awaited). */
export async function hashStream(
  src: ReadableStream<Uint8Array>,
  onChunk?: (chunk: Uint8Array) => Promise<void> | void,
  onProgress?: (bytes: number) => void,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  const reader = src.getReader();
  let size = 0;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      hash.update(r.value);
      size += r.value.byteLength;
      if (onChunk) await onChunk(r.value);
      onProgress?.(size);
    }
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  }
  return { size, sha256: hash.digest("hex") };
}
