/**
 * Buffered output with backpressure for large results: text and bytes are
 * gathered into ~64 KiB writes, and when the destination says it is full
 * (write() returned false) the next flush waits for 'drain'. Memory stays
 * bounded whatever the number of rows.
 */
import { OutputClosedError } from "../errors.ts";
import type { Writer } from "../io.ts";

export { OutputClosedError };

const LIMIT = 1 << 16;

export interface StreamWriterOptions {
  /**
   * Called after every `volumeBytes` written. Long streams use it to ask for a
   * garbage collection: the runtime otherwise lets hundreds of MB of spent
   * buffers pile up between collections.
   */
  onVolume?: () => void;
  /** Default 8 MiB. */
  volumeBytes?: number;
}

export class StreamWriter {
  private parts: string[] = [];
  private size = 0;
  private bytes: Uint8Array | undefined;
  private used = 0;
  private drained: Promise<void> | undefined;

  private volume = 0;

  constructor(
    private readonly out: Writer,
    private readonly opts: StreamWriterOptions = {},
  ) {}

  /** Queue text; returns a promise only when the caller must wait. */
  text(s: string): Promise<void> | undefined {
    if (this.used) this.flushBytes();
    this.parts.push(s);
    this.size += s.length;
    return this.size >= LIMIT ? this.flush() : undefined;
  }

  /** Queue bytes (copied); returns a promise only when the caller must wait. */
  data(chunk: Uint8Array): Promise<void> | undefined {
    if (this.size) this.flushText();
    if (chunk.length >= LIMIT) {
      this.flushBytes();
      this.emit(chunk.slice());
      return this.wait();
    }
    if (this.used + chunk.length > LIMIT) this.flushBytes();
    this.bytes ??= new Uint8Array(LIMIT);
    this.bytes.set(chunk, this.used);
    this.used += chunk.length;
    return this.used >= LIMIT - 512 ? this.flush() : undefined;
  }

  /** Write everything queued, then wait for 'drain' if the destination is full. */
  flush(): Promise<void> | undefined {
    this.flushText();
    this.flushBytes();
    return this.wait();
  }

  private flushText(): void {
    if (!this.size) return;
    const s = this.parts.length === 1 ? this.parts[0]! : this.parts.join("");
    this.parts = [];
    this.size = 0;
    this.emit(s);
  }

  private flushBytes(): void {
    if (!this.used || !this.bytes) return;
    // The buffer goes to the destination as is; start a new one.
    const b = this.bytes.subarray(0, this.used);
    this.bytes = undefined;
    this.used = 0;
    this.emit(b);
  }

  private closed = false;

  private emit(chunk: string | Uint8Array): void {
    if (this.closed) throw new OutputClosedError();
    if (this.opts.onVolume) {
      this.volume += chunk.length;
      if (this.volume >= (this.opts.volumeBytes ?? 1 << 23)) {
        this.volume = 0;
        this.opts.onVolume();
      }
    }
    // Listen for 'drain' right away: it may fire before anyone waits.
    let ok: boolean;
    try {
      ok = this.out.write(chunk);
    } catch (e) {
      if ((e as { code?: string }).code !== "EPIPE") throw e;
      this.closed = true;
      throw new OutputClosedError();
    }
    if (!ok && !this.drained && this.out.once) {
      this.drained = new Promise<void>((resolve) => void this.out.once!("drain", () => resolve()));
    }
  }

  private wait(): Promise<void> | undefined {
    const p = this.drained;
    this.drained = undefined;
    return p;
  }
}
