/**
 * Snapshot stores: a URL picks one (file:///dir or s3://bucket/prefix).
 * Resolution and parsing are pure; openStore() builds the store without any
 * I/O, and the AWS SDK is only loaded the first time an S3 store talks to S3.
 */
import { homedir } from "node:os";
import { isAbsolute, join, normalize } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError } from "../errors.ts";
import { FileStore } from "./file.ts";
import { S3Store, type S3StoreOptions } from "./s3.ts";
import type { Store } from "./types.ts";

export type { ObjectInfo, PutResult, Store } from "./types.ts";
export type { S3StoreOptions } from "./s3.ts";

type Env = Record<string, string | undefined>;

export type StoreLocation =
  | { kind: "file"; dir: string; url: string }
  | { kind: "s3"; bucket: string; prefix: string; url: string };

/**
 * The default store: file://$XDG_DATA_HOME/eve/snapshots, else
 * file://~/.local/share/eve/snapshots.
 * @example defaultStoreUrl({ XDG_DATA_HOME: "/data" }) // "file:///data/eve/snapshots"
 */
export function defaultStoreUrl(env: Env): string {
  const xdg = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : undefined;
  const base = xdg ?? join(env.HOME || homedir(), ".local", "share");
  return pathToFileURL(join(base, "eve", "snapshots")).href;
}

/**
 * The store URL to use: `--store`, then EVE_SNAPSHOT_STORE, then the default.
 * @example resolveStoreUrl(undefined, { EVE_SNAPSHOT_STORE: "s3://b/p" }) // "s3://b/p"
 */
export function resolveStoreUrl(flag: string | undefined, env: Env): string {
  return flag || env.EVE_SNAPSHOT_STORE || defaultStoreUrl(env);
}

const badStore = (url: string, why: string) =>
  new UsageError(`invalid snapshot store "${url}": ${why}`, {
    hint: "use --store file:///absolute/dir or --store s3://bucket/prefix (or set EVE_SNAPSHOT_STORE)",
  });

/**
 * Parse a store URL. An absolute path is accepted as a file store.
 * @example parseStoreUrl("s3://backups/eve/prod") // { kind: "s3", bucket: "backups", prefix: "eve/prod", … }
 */
export function parseStoreUrl(raw: string): StoreLocation {
  const url = raw.trim();
  if (url.startsWith("/")) {
    const dir = normalize(url).replace(/(.)\/+$/, "$1");
    return { kind: "file", dir, url: pathToFileURL(dir).href };
  }
  const m = /^([a-z0-9+.-]+):\/\/(.*)$/i.exec(url);
  if (!m) throw badStore(url, "not a URL");
  const scheme = m[1]!.toLowerCase();
  if (scheme === "file") {
    let dir: string;
    try {
      dir = fileURLToPath(url);
    } catch (e) {
      throw badStore(url, e instanceof Error ? e.message : "not an absolute file URL");
    }
    if (!isAbsolute(dir)) throw badStore(url, "the path must be absolute (file:///dir)");
    dir = normalize(dir).replace(/(.)\/+$/, "$1");
    return { kind: "file", dir, url: pathToFileURL(dir).href };
  }
  if (scheme === "s3") {
    const rest = m[2]!;
    if (/[?#]/.test(rest)) throw badStore(url, "query strings and fragments are not supported");
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = (slash < 0 ? "" : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, "").replace(/\/{2,}/g, "/");
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw badStore(url, `"${bucket}" is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)`);
    }
    return { kind: "s3", bucket, prefix, url: `s3://${bucket}${prefix ? "/" + prefix : ""}` };
  }
  throw badStore(url, `unsupported scheme "${scheme}:"`);
}

/**
 * Open the store at `url`. No I/O happens here: a missing directory is
 * created on first write, and S3 is contacted on first use.
 * `env` supplies AWS_* / EVE_S3_* settings for S3 stores.
 * @example const store = openStore(resolveStoreUrl(opts.store, ctx.env), ctx.env);
 */
export function openStore(url: string, env: Env, opts: S3StoreOptions = {}): Store {
  const loc = parseStoreUrl(url);
  if (loc.kind === "file") return new FileStore(loc.dir);
  return new S3Store(loc.bucket, loc.prefix, env, opts);
}

/** Store keys are relative "a/b/c" paths; dot-segments and dot-files are reserved. */
export { assertKey } from "./shared.ts";
