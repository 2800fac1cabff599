/** S3 client settings from the environment, and SDK errors turned into EveErrors. */
import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { EveError, ExitCode, UsageError } from "../errors.ts";

type Env = Record<string, string | undefined>;

export interface S3StoreOptions {
  /** Multipart part size in bytes (at least 5 MiB; default 8 MiB). */
  partSize?: number;
  /** Parts uploaded in parallel (default 4). Memory use is about (queueSize + 1) × partSize. */
  queueSize?: number;
  /** SDK attempts per request, including the first (default 3). */
  maxAttempts?: number;
  /** Give up connecting after this many ms (default 10 000). */
  connectionTimeoutMs?: number;
  /** Fail a request whose socket stays idle this long, in ms (default 60 000). */
  socketTimeoutMs?: number;
}

export function s3Region(env: Env): string {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
}

/** The endpoint named in messages. */
export function s3Endpoint(env: Env): string {
  return env.EVE_S3_ENDPOINT || `https://s3.${s3Region(env)}.amazonaws.com`;
}

/**
 * The S3Client configuration. Credentials from AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) in `env` when both are set,
 * otherwise the SDK's default chain (profiles, SSO, instance roles).
 * Flexible checksums are only sent when an operation requires them: with the
 * default, a streaming PutObject to s3rver and similar servers stores the
 * aws-chunked framing inside the object.
 */
export function s3Config(env: Env, opts: S3StoreOptions = {}): S3ClientConfig {
  const endpoint = env.EVE_S3_ENDPOINT || undefined;
  if (endpoint && !/^https?:\/\/[^/]/i.test(endpoint)) {
    throw new UsageError(`EVE_S3_ENDPOINT must be an http(s) URL (got "${endpoint}")`, {
      hint: "e.g. EVE_S3_ENDPOINT=http://127.0.0.1:9000",
    });
  }
  const key = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  return {
    region: s3Region(env),
    endpoint,
    forcePathStyle: /^(1|true|yes|on)$/i.test(env.EVE_S3_FORCE_PATH_STYLE ?? ""),
    ...(key && secret ? { credentials: { accessKeyId: key, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN || undefined } } : {}),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: opts.maxAttempts ?? 3,
    requestHandler: {
      connectionTimeout: opts.connectionTimeoutMs ?? 10_000,
      socketTimeout: opts.socketTimeoutMs ?? 60_000,
    },
  };
}

/** Replaces the secret key and session token wherever they might appear. */
export function scrubber(env: Env): (s: string) => string {
  const secrets = [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN].filter((s): s is string => !!s && s.length >= 4);
  return (s) => secrets.reduce((acc, secret) => acc.split(secret).join("***"), s);
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ConnectionRefused",
  "ConnectionClosed",
]);
const ACCESS_NAMES = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "CredentialsProviderError"]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  cause?: { code?: string };
  $metadata?: { httpStatusCode?: number };
}

/** An SDK failure as E_STORE: one line, what failed, why, what to check. Never a secret. */
export function s3Error(op: string, where: string, e: unknown, env: Env, scrub: (s: string) => string): EveError {
  if (e instanceof EveError) return e;
  const err = (e ?? {}) as SdkError;
  const code = err.code ?? err.cause?.code;
  const name = err.name ?? "Error";
  const status = err.$metadata?.httpStatusCode;
  let detail: string;
  let hint: string;
  if ((code && NETWORK_CODES.has(code)) || name === "TimeoutError" || name === "RequestTimeout") {
    detail = `cannot reach ${s3Endpoint(env)} (${code ?? name})`;
    hint = "check that the S3 server is up and reachable (EVE_S3_ENDPOINT, AWS_REGION)";
  } else if (ACCESS_NAMES.has(name) || status === 403) {
    detail = `access denied (${ACCESS_NAMES.has(name) ? name : `HTTP ${status ?? 403}`})`;
    hint = "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the AWS profile) and the bucket policy";
  } else if (name === "NoSuchBucket") {
    detail = "the bucket does not exist";
    hint = "create the bucket, or fix the bucket name in --store / EVE_SNAPSHOT_STORE";
  } else {
    const msg = err.message && err.message !== name && err.message !== "UnknownError" ? `: ${err.message}` : "";
    detail = `${name}${msg}${status ? ` (HTTP ${status})` : ""}`;
    hint = "check the store URL and the AWS_* / EVE_S3_* settings (eve help environment)";
  }
  return new EveError("E_STORE", scrub(`S3 ${op} ${where} failed: ${detail}`.replace(/\s*\n\s*/g, " ")), ExitCode.failed, {
    hint,
    cause: e,
  });
}
