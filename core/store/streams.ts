/**
 * Node stream ↔ web stream adapters with real backpressure (Readable.toWeb
 * queues by chunk count, so a slow consumer lets a fast source buffer
 * without bound). Shared by the S3 store and core/pgtools.
 */
import type { Readable, Writable } from "node:stream";

/** Bytes buffered ahead of the consumer before the source is paused. */
const DEFAULT_HIGH_WATER = 1024 * 1024;

/**
 * A web ReadableStream over a Node Readable. `mapError` turns source errors
 * into the error the consumer sees. Cancelling destroys the source.
 */
export function readableToWeb(
  src: Readable,
  opts: { highWaterMark?: number; mapError?: (e: unknown) => unknown } = {},
): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        src.on("data", (chunk: Buffer | string) => {
          if (finished) return;
          const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          c.enqueue(bytes);
          if ((c.desiredSize ?? 0) <= 0) src.pause();
        });
        src.once("end", () => {
          if (finished) return;
          finished = true;
          c.close();
        });
        src.once("error", (e) => {
          if (finished) return;
          finished = true;
          c.error(opts.mapError ? opts.mapError(e) : e);
        });
        // A destroyed source that never ended (killed process, reset socket).
        src.once("close", () => {
          if (finished) return;
          finished = true;
          c.error(opts.mapError ? opts.mapError(new Error("stream closed before its end")) : new Error("stream closed before its end"));
        });
        src.pause();
      },
      pull() {
        src.resume();
      },
      cancel() {
        finished = true;
        src.destroy();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: opts.highWaterMark ?? DEFAULT_HIGH_WATER }),
  );
}

/**
 * A web WritableStream over a Node Writable: each write resolves when the
 * sink accepted it (or drained), close() ends the sink, abort() destroys it.
 * Write errors (EPIPE when the reader exited) reject the pending write.
 */
export function writableToWeb(dst: Writable): WritableStream<Uint8Array> {
  let failed: unknown;
  dst.on("error", (e) => {
    failed ??= e;
  });
  const waitDrainOrError = () =>
    new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        dst.off("error", onError);
        dst.off("close", onClose);
        resolve();
      };
      const onError = (e: unknown) => {
        dst.off("drain", onDrain);
        dst.off("close", onClose);
        reject(e);
      };
      const onClose = () => {
        dst.off("drain", onDrain);
        dst.off("error", onError);
        reject(failed ?? new Error("stream closed"));
      };
      dst.once("drain", onDrain);
      dst.once("error", onError);
      dst.once("close", onClose);
    });
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      if (failed) throw failed;
      if (dst.destroyed) throw new Error("stream closed");
      if (!dst.write(chunk)) await waitDrainOrError();
      if (failed) throw failed;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        if (failed) return reject(failed);
        if (dst.writableFinished) return resolve();
        // end()'s callback never fires when the sink is destroyed first (a child
        // process that exited without reading to the end): settle on close too.
        const settle = () => {
          dst.off("close", settle);
          if (failed) reject(failed);
          else if (dst.writableFinished) resolve();
          else reject(new Error("stream closed before all data was written"));
        };
        if (dst.destroyed) return settle();
        dst.once("close", settle);
        dst.end(settle);
      });
    },
    abort() {
      dst.destroy();
    },
  });
}
