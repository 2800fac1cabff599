/**
 * The only importer of `postgres` (porsager). Connections, error mapping and
 * waiting for a server. Errors leaving this module are EveErrors with secrets
 * redacted and the Postgres fields (SQLSTATE, detail, hint, position) kept.
 */
import postgres from "postgres";
import { ConnectionError, EveError, ExitCode, InterruptedError } from "../errors.ts";
import { earlyTlsCloseReason, guardedSocketFactory, NOT_POSTGRES, SSL_UNSUPPORTED, STARTUP_TIMEOUT, type GuardState } from "./socket.ts";
import { describeTarget, parseDbUrl, redactText, withoutQueryPassword, type DbTarget } from "./url.ts";

export type Db = postgres.Sql<Record<string, never>>;
export type ReservedDb = postgres.ReservedSql<Record<string, never>>;
export type Notice = postgres.Notice;
export type PostgresError = postgres.PostgresError;
export { parseDbUrl, redactUrl, redactText, describeTarget, withDatabase } from "./url.ts";
export type { DbTarget } from "./url.ts";

export interface ConnectOptions {
  /** Pool size; commands that need one session use 1. */
  max?: number;
  /** Server NOTICE/WARNING messages. Default: dropped. */
  onNotice?: (n: Notice) => void;
  applicationName?: string;
  /** Seconds to wait for the TCP connect + startup (default: the URL's connect_timeout, else 10). */
  connectTimeout?: number;
  /** Raw values: leave every column as the server's text (used by `sql`). */
  rawTypes?: boolean;
  /** Start the session with default_transaction_read_only on (a startup parameter). */
  readOnly?: boolean;
  /** More startup parameters (settings pinned for the session, e.g. by `sql`). */
  startupParameters?: Record<string, string>;
}

/**
 * postgres.js always merges its default parsers and serializers; overriding
 * their type OIDs with no parser leaves those columns as the server's text,
 * and with a plain String serializer sends parameters as the text given (its
 * defaults would turn "true" into 'f' for a bool, re-encode JSON text as a
 * JSON string, cut timestamps to milliseconds and hex-encode bytea text).
 */
const rawTextTypes = {
  serverText: { to: 25, from: [16, 17, 21, 23, 26, 114, 700, 701, 1082, 1114, 1184, 3802], parse: undefined, serialize: (x: unknown) => String(x) },
};

export const DEFAULT_CONNECT_TIMEOUT = 10;

/** Create a lazy pool. Nothing is sent until the first query. */
export function connect(url: string, opts: ConnectOptions = {}): Db {
  const target = parseDbUrl(url); // validate early with a message naming the flag
  const timeout = opts.connectTimeout ?? target.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  const guard: GuardState = { pending: null, opened: 0 };
  const db = postgres(withoutQueryPassword(url), {
    ...(target.password !== undefined ? { pass: target.password } : {}),
    max: opts.max ?? 1,
    onnotice: opts.onNotice ?? (() => {}),
    // The guarded socket ends every startup that is not Postgres with an error
    // (postgres.js would reconnect at once, forever) and times it out itself;
    // postgres.js's own timer is a backstop one second later.
    ...({ socket: guardedSocketFactory(timeout, guard) } as object),
    connect_timeout: timeout + 1,
    // Retries are ping()'s job (with its own backoff), never postgres.js's.
    backoff: () => 0,
    idle_timeout: 0,
    fetch_types: false,
    prepare: true,
    connection: {
      application_name: opts.applicationName ?? "eve",
      ...(opts.readOnly ? { default_transaction_read_only: true } : {}),
      ...opts.startupParameters,
    },
    ...(opts.rawTypes ? { types: rawTextTypes as unknown as Record<string, postgres.PostgresType> } : {}),
  }) as unknown as Db;
  guards.set(db, guard);
  return db;
}

/** Each pool's socket guard, for naming what its failed connections met. */
const guards = new WeakMap<Db, GuardState>();

/** Error thrown when the server rejected a statement. Exit code 4. */
export class SqlError extends EveError {
  override readonly name = "SqlError";
  constructor(
    message: string,
    readonly sqlstate: string,
    readonly pg: { detail?: string; hint?: string; position?: number; where?: string; severity?: string },
    opts: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super("E_SQL", message, ExitCode.failed, {
      hint: opts.hint ?? pg.hint,
      cause: opts.cause,
      details: { sqlstate, ...pg, ...opts.details },
    });
  }
}

export function isPostgresError(e: unknown): e is PostgresError {
  // instanceof, not the class name: minified builds rename classes.
  return e instanceof postgres.PostgresError;
}

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "SASL_SIGNATURE_MISMATCH",
  "AUTH_TYPE_NOT_IMPLEMENTED",
  NOT_POSTGRES,
  SSL_UNSUPPORTED,
  STARTUP_TIMEOUT,
]);

/** TLS failures: the certificate was not accepted, or the handshake failed. Not worth retrying. */
function isTlsFailure(code: string | undefined): boolean {
  return typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|^ERR_TLS|^ERR_SSL|ALTNAME|HOSTNAME_MISMATCH/.test(code);
}

/** True for errors that mean "could not reach or log in to the server". */
export function isConnectionFailure(e: unknown): boolean {
  if (isPostgresError(e)) return /^(28|3D|57P0[123]|53300)/.test(e.code);
  const code = (e as { code?: string } | null)?.code;
  return typeof code === "string" && (connectionCodes.has(code) || isTlsFailure(code));
}

/**
 * Turn any error from postgres.js into an EveError. Connection and
 * authentication failures become exit 3; statement errors exit 4.
 */
export function mapDbError(e: unknown, url?: string, db?: Db): EveError {
  if (e instanceof EveError) return e;
  const target: DbTarget | undefined = url ? safeTarget(url) : undefined;
  const where = target ? describeTarget(target) : "the database";
  const secrets = [target?.password, url];
  const clean = (s: string | undefined) => (s === undefined ? undefined : redactText(s, secrets));
  if (isPostgresError(e)) {
    const code = e.code;
    if (code === "28P01" || code === "28000") {
      return new ConnectionError("E_AUTH", `authentication failed for ${where}: ${clean(e.message)}`, {
        hint: "check the user and password in --url or DATABASE_URL",
        cause: e,
      });
    }
    if (code === "3D000") {
      return new ConnectionError("E_NO_DATABASE", `database "${target?.database ?? "?"}" does not exist on ${target ? `${target.host}:${target.port}` : "the server"}`, {
        hint: "create it first, or fix the database name in --url",
        cause: e,
      });
    }
    if (/^(57P0[123]|53300)/.test(code)) {
      return new ConnectionError("E_CONNECT", `cannot use ${where}: ${clean(e.message)}`, {
        hint: "the server is starting, shutting down or out of connections; retry, or use --wait",
        cause: e,
      });
    }
    return new SqlError(clean(e.message) ?? "statement failed", code, {
      detail: clean(e.detail),
      hint: clean(e.hint),
      position: e.position ? Number(e.position) : undefined,
      where: clean(e.where),
      severity: e.severity,
    }, { cause: e });
  }
  const err = e as { code?: string; message?: string } | null;
  const code = err?.code;
  if (code === NOT_POSTGRES || code === SSL_UNSUPPORTED || code === STARTUP_TIMEOUT) {
    return new ConnectionError("E_CONNECT", `cannot connect to ${where}: ${clean(err?.message)}`, {
      hint: code === SSL_UNSUPPORTED
        ? "use sslmode=prefer or disable in the URL, or enable SSL on the server"
        : "check the host and port in --url: they must point at Postgres (or a pooler such as PgBouncer)",
      cause: e,
    });
  }
  if (isTlsFailure(code)) {
    return new ConnectionError("E_CONNECT", `cannot connect to ${where}: the server's certificate was not accepted: ${clean(err?.message)} (${code})`, {
      hint: "sslmode=verify-ca/verify-full need a certificate trusted by this system; sslmode=require encrypts without verifying it",
      cause: e,
    });
  }
  if (code && connectionCodes.has(code)) {
    const reason =
      code === "ECONNREFUSED" ? "connection refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN" ? "host not found"
      : code === "CONNECT_TIMEOUT" || code === "ETIMEDOUT" ? "timed out"
      : code === "SASL_SIGNATURE_MISMATCH" ? "server signature mismatch during authentication"
      : earlyTlsCloseReason(db && guards.get(db)) ?? "connection closed";
    return new ConnectionError("E_CONNECT", `cannot connect to ${where}: ${reason}`, {
      hint: "is Postgres running and reachable? check host and port in --url, or use --wait",
      cause: e,
    });
  }
  return new EveError("E_INTERNAL", clean(err?.message) ?? String(e), ExitCode.error, { cause: e });
}

function safeTarget(url: string): DbTarget | undefined {
  try {
    return parseDbUrl(url);
  } catch {
    return undefined;
  }
}

export interface PingOptions {
  /** Keep retrying connection failures for this long (--wait). 0: one attempt. */
  waitMs?: number;
  /** Ctrl-C / SIGTERM: stop waiting at once (InterruptedError). */
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called before each retry with the mapped failure and the delay. */
  onRetry?: (failure: EveError, attempt: number, delayMs: number) => void;
}

/** First delay between --wait attempts, doubled after each failure up to the cap, with jitter. */
export const WAIT_BACKOFF = { firstMs: 250, capMs: 5000 } as const;

/**
 * Run `select 1`, mapping failures. With `waitMs`, retries connection failures
 * (not authentication or a missing database) with exponential backoff until
 * the deadline; each attempt is one connection at most.
 */
export async function ping(db: Db, url: string, waitOrOpts: number | PingOptions = 0): Promise<void> {
  const o: PingOptions = typeof waitOrOpts === "number" ? { waitMs: waitOrOpts } : waitOrOpts;
  const waitMs = o.waitMs ?? 0;
  const sleep = o.sleep ?? defaultSleep;
  const deadline = Date.now() + waitMs;
  let delay: number = WAIT_BACKOFF.firstMs;
  for (let attempt = 1; ; attempt++) {
    if (o.signal?.aborted) throw new InterruptedError("interrupted while connecting");
    try {
      await abortable(db`select 1`, o.signal);
      return;
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      const retryable = isConnectionFailure(e) && !(isPostgresError(e) && /^(28|3D)/.test(e.code)) && (e as { code?: string }).code !== SSL_UNSUPPORTED && !isTlsFailure((e as { code?: string }).code);
      if (!retryable || Date.now() >= deadline) {
        const mapped = mapDbError(e, url, db);
        if (waitMs > 0 && retryable) {
          throw new ConnectionError(mapped.code, `${mapped.message} (waited ${Math.round(waitMs / 1000)}s, ${attempt} attempt${attempt === 1 ? "" : "s"})`, {
            hint: mapped.hint,
            cause: e,
          });
        }
        throw mapped;
      }
      const pause = Math.min(delay / 2 + Math.random() * (delay / 2), Math.max(0, deadline - Date.now()));
      o.onRetry?.(mapDbError(e, url, db), attempt, pause);
      await sleep(pause, o.signal);
      delay = Math.min(delay * 2, WAIT_BACKOFF.capMs);
    }
  }
}

/** Settle with the query, or reject with InterruptedError as soon as `signal` aborts. */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new InterruptedError("interrupted while connecting"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      r();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Quote an identifier for SQL text. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Quote a string literal for SQL text. */
export function quoteLiteral(value: string): string {
  return "'" + value.replace(/'/g, "''") + "'";
}

/** Close a pool without waiting for in-flight queries longer than `timeoutSec`. */
export async function close(db: Db, timeoutSec = 5): Promise<void> {
  await db.end({ timeout: timeoutSec }).catch(() => {});
}
