/**
 * The snapshot store interface: one small surface for a local directory
 * (file://) and S3 (s3://). Objects are addressed by keys relative to the
 * store's root ("snapshots/snap_01H….dump", "snapshots/snap_01H….json").
 */

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified?: Date;
}

export interface PutResult {
  key: string;
  /** Bytes written, as counted while streaming. */
  size: number;
  /** sha256 hex of the bytes written, computed while streaming. */
  sha256: string;
}

export interface Store {
  /** The store URL, safe to print (no credentials). */
  readonly url: string;
  readonly kind: "file" | "s3";
  /**
   * Stream `body` into `key`. The object becomes visible only after the body
   * ended successfully AND `commit()` (when given) resolved; if the body
   * errors, `commit` rejects or `signal` aborts, the upload is aborted and no
   * object (or partial object) remains.
   */
  put(
    key: string,
    body: ReadableStream<Uint8Array>,
    opts?: { signal?: AbortSignal; commit?: () => Promise<void>; onProgress?: (bytes: number) => void },
  ): Promise<PutResult>;
  /** Small objects (metadata JSON). Atomic replace. */
  putText(key: string, text: string): Promise<void>;
  getText(key: string): Promise<string | null>;
  /** Stream an object; rejects with E_NOT_FOUND when missing. */
  get(key: string, opts?: { signal?: AbortSignal }): Promise<ReadableStream<Uint8Array>>;
  /** Size and time, or null when missing. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Delete; missing objects are not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** A URL from which the object can be downloaded without credentials for `expiresInSec` (S3: presigned GET; file: file:// URL). */
  signedUrl(key: string, expiresInSec: number): Promise<string>;
  /**
   * Remove what an unfinished put() of `key` left behind (a process killed
   * mid-upload): file: its hidden temp files; S3: its incomplete multipart
   * uploads. Returns how many were removed. Only call it for a key whose
   * writer is known to be dead: it also discards a put() still in flight.
   */
  discardPartial?(key: string): Promise<number>;
  /** Release connections (S3 keep-alive sockets). The store is unusable afterwards. */
  close?(): void;
}
