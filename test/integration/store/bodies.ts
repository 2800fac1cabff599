/** Streamed test bodies: random bytes produced on demand, hashed as produced. */
import { createHash, randomFillSync } from "node:crypto";

export interface TestBody {
  stream: ReadableStream<Uint8Array>;
  /** Bytes handed out so far. */
  produced(): number;
  /** sha256 hex of what was handed out (call after the stream ended). */
  sha256(): string;
  /** True once the consumer cancelled the stream. */
  cancelled(): boolean;
}

/**
 * `size` random bytes in `chunk`-sized pieces. With `failAt`, the stream
 * errors with `error` once that many bytes were produced (a dying producer).
 */
export function randomBody(size: number, opts: { chunk?: number; failAt?: number; error?: Error } = {}): TestBody {
  const chunk = opts.chunk ?? 64 * 1024;
  const hash = createHash("sha256");
  let produced = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (opts.failAt !== undefined && produced >= opts.failAt) {
          c.error(opts.error ?? new Error("producer failed"));
          return;
        }
        if (produced >= size) {
          c.close();
          return;
        }
        const b = randomFillSync(new Uint8Array(Math.min(chunk, size - produced)));
        hash.update(b);
        produced += b.byteLength;
        c.enqueue(b);
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, produced: () => produced, sha256: () => hash.digest("hex"), cancelled: () => cancelled };
}

export async function sha256OfStream(s: ReadableStream<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const reader = s.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    hash.update(r.value);
    size += r.value.byteLength;
  }
  return { sha256: hash.digest("hex"), size };
}

export function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}
