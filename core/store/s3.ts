/**
 * The S3 store (s3://bucket/prefix). Region, credentials and endpoint come
 * from the standard AWS_* variables plus EVE_S3_ENDPOINT and
 * EVE_S3_FORCE_PATH_STYLE. The SDK is imported on first use only, so
 * commands that never touch S3 do not pay for loading it.
 *
 * put() streams through a multipart upload (s3-upload.ts: a few reused part
 * buffers, never the whole body), completed only after the body ended and
 * commit() resolved, then checks the stored size with a HEAD.
 */
import { Readable } from "node:stream";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { abortReason, assertKey, assertPrefix, notFound, verifyError } from "./shared.ts";
import { s3Config, s3Error, scrubber, type S3StoreOptions } from "./s3-config.ts";
import { streamUpload, type UploadOptions } from "./s3-upload.ts";
import { readableToWeb } from "./streams.ts";
import type { ObjectInfo, PutResult, Store } from "./types.ts";

export type { S3StoreOptions } from "./s3-config.ts";

type Env = Record<string, string | undefined>;
type Sdk = typeof import("@aws-sdk/client-s3");
type PutOpts = UploadOptions;

const noop = () => {};
const MiB = 1024 * 1024;

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}
/** The key is missing (a missing bucket is an error, except on HEAD, which has no body to tell). */
function isMissing(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  if (name === "NoSuchBucket" || name === "NoSuchUpload") return false;
  return name === "NoSuchKey" || name === "NotFound" || httpStatus(e) === 404;
}

export class S3Store implements Store {
  readonly kind = "s3" as const;
  readonly url: string;
  private sdk?: Promise<{ mod: Sdk; client: S3Client }>;
  private readonly scrub: (s: string) => string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly config: S3ClientConfig;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    private readonly env: Env,
    opts: S3StoreOptions = {},
  ) {
    this.url = `s3://${bucket}${prefix ? "/" + prefix : ""}`;
    this.scrub = scrubber(env);
    this.config = s3Config(env, opts); // validates EVE_S3_ENDPOINT up front
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 8 * MiB);
    this.queueSize = Math.max(1, opts.queueSize ?? 4);
  }

  private api(): Promise<{ mod: Sdk; client: S3Client }> {
    this.sdk ??= import("@aws-sdk/client-s3").then((mod) => ({ mod, client: new mod.S3Client(this.config) }));
    return this.sdk;
  }

  private fullKey(key: string): string {
    assertKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private fail(op: string, key: string, e: unknown) {
    return s3Error(op, `s3://${this.bucket}/${key}`, e, this.env, this.scrub);
  }

  async put(key: string, body: ReadableStream<Uint8Array>, opts: PutOpts = {}): Promise<PutResult> {
    let Key: string;
    let api: { mod: Sdk; client: S3Client };
    try {
      Key = this.fullKey(key);
      api = await this.api();
    } catch (e) {
      await body.cancel(e).catch(noop);
      throw e;
    }
    const { size, sha256 } = await streamUpload(
      {
        ...api,
        bucket: this.bucket,
        key: Key,
        partSize: this.partSize,
        queueSize: this.queueSize,
        fail: (op, e) => this.fail(op, Key, e),
      },
      body,
      opts,
    );
    // What the store kept must be what was sent (S3-compatible servers have
    // been seen to store transfer framing inside the object).
    const stored = await this.head(key).catch((e) => {
      throw this.fail("upload (HEAD after upload)", Key, e);
    });
    if (!stored || stored.size !== size) {
      await this.delete(key).catch(noop);
      throw verifyError(
        `S3 upload s3://${this.bucket}/${Key} stored ${stored ? stored.size : "no"} bytes but ${size} were sent; the object was removed`,
        { sent: size, stored: stored?.size ?? null },
      );
    }
    return { key, size, sha256 };
  }

  async putText(key: string, text: string): Promise<void> {
    const Key = this.fullKey(key);
    const { mod, client } = await this.api();
    try {
      await client.send(
        new mod.PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: text,
          ContentType: key.endsWith(".json") ? "application/json" : "text/plain; charset=utf-8",
        }),
      );
    } catch (e) {
      throw this.fail("put", Key, e);
    }
  }

  async getText(key: string): Promise<string | null> {
    const Key = this.fullKey(key);
    const { mod, client } = await this.api();
    try {
      const res = await client.send(new mod.GetObjectCommand({ Bucket: this.bucket, Key }));
      return (await res.Body?.transformToString("utf8")) ?? "";
    } catch (e) {
      if (isMissing(e)) return null;
      throw this.fail("get", Key, e);
    }
  }

  async get(key: string, opts: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    const Key = this.fullKey(key);
    const { signal } = opts;
    if (signal?.aborted) throw abortReason(signal);
    const { mod, client } = await this.api();
    let res;
    try {
      res = await client.send(new mod.GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: signal });
    } catch (e) {
      if (signal?.aborted) throw abortReason(signal);
      if (isMissing(e)) throw notFound(`object ${key} in ${this.url}`);
      throw this.fail("get", Key, e);
    }
    const b = res.Body as unknown;
    const mapError = (e: unknown) => (signal?.aborted ? abortReason(signal) : this.fail("download", Key, e));
    if (b instanceof Readable) {
      const web = readableToWeb(b, { mapError });
      const onAbort = () => b.destroy();
      signal?.addEventListener("abort", onAbort, { once: true });
      b.once("close", () => signal?.removeEventListener("abort", onAbort));
      return web;
    }
    if (res.Body) return res.Body.transformToWebStream() as ReadableStream<Uint8Array>;
    return new ReadableStream({ start: (c) => c.close() });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const Key = this.fullKey(key);
    const { mod, client } = await this.api();
    try {
      const res = await client.send(new mod.HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: res.ContentLength ?? 0, lastModified: res.LastModified };
    } catch (e) {
      if (isMissing(e)) return null;
      throw this.fail("head", Key, e);
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    const { mod, client } = await this.api();
    try {
      await client.send(new mod.DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (e) {
      if (isMissing(e)) return;
      throw this.fail("delete", Key, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    const base = this.prefix ? this.prefix + "/" : "";
    const { mod, client } = await this.api();
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      let res;
      try {
        res = await client.send(
          new mod.ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }),
        );
      } catch (e) {
        throw this.fail("list", base + prefix, e);
      }
      for (const o of res.Contents ?? []) {
        if (!o.Key?.startsWith(base)) continue;
        out.push({ key: o.Key.slice(base.length), size: o.Size ?? 0, lastModified: o.LastModified });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async signedUrl(key: string, expiresInSec: number): Promise<string> {
    const Key = this.fullKey(key);
    const [{ mod, client }, { getSignedUrl }] = await Promise.all([this.api(), import("@aws-sdk/s3-request-presigner")]);
    try {
      return await getSignedUrl(client, new mod.GetObjectCommand({ Bucket: this.bucket, Key }), {
        expiresIn: Math.max(1, Math.min(Math.floor(expiresInSec), 7 * 24 * 3600)),
      });
    } catch (e) {
      throw this.fail("presign", Key, e);
    }
  }

  /** Abort incomplete multipart uploads of `key`; 0 where the server cannot list them. */
  async discardPartial(key: string): Promise<number> {
    const Key = this.fullKey(key);
    const { mod, client } = await this.api();
    let n = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let res;
      try {
        res = await client.send(
          new mod.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: Key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (e) {
        const name = (e as { name?: string } | null)?.name;
        if (name === "NotImplemented" || httpStatus(e) === 501) return n; // e.g. s3rver
        throw this.fail("list multipart uploads", Key, e);
      }
      for (const u of res.Uploads ?? []) {
        if (u.Key !== Key || !u.UploadId) continue;
        try {
          await client.send(new mod.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: u.UploadId }));
          n++;
        } catch (e) {
          const gone = isMissing(e) || (e as { name?: string } | null)?.name === "NoSuchUpload";
          if (!gone) throw this.fail("abort multipart upload", Key, e);
        }
      }
      keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
      uploadIdMarker = res.IsTruncated ? res.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return n;
  }

  close(): void {
    void this.sdk?.then(({ client }) => client.destroy()).catch(noop);
    this.sdk = undefined;
  }
}
