/**
 * Typed errors. Engines throw these; only cli/main.ts turns them into exit codes,
 * and the HTTP layer into statuses. Messages are one line and never contain secrets.
 */

/** The exit-code table, documented by `eve help exit-codes`. */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  connection: 3,
  failed: 4,
  check: 5,
  lockTimeout: 6,
  interrupted: 130,
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const exitCodeHelp: ReadonlyArray<readonly [number, string]> = [
  [ExitCode.ok, "success"],
  [ExitCode.error, "unexpected or uncategorised error (including refusing a destructive action without --force)"],
  [ExitCode.usage, "usage error: unknown command or flag, missing or invalid argument, bad migration file names"],
  [ExitCode.connection, "cannot connect to or authenticate with the database (or the control plane)"],
  [ExitCode.failed, "a migration, SQL statement, dump or restore failed, or the snapshot store failed or is unreachable (or `db sql` refused a statement without --write)"],
  [ExitCode.check, "a check failed: drift, pending migrations (--check), a partially applied migration (see migrate --resume), RLS findings (--check), verification"],
  [ExitCode.lockTimeout, "timed out waiting for a lock: the migration lock, or a lock held by another session during wipe/reset (--lock-timeout)"],
  [ExitCode.interrupted, "interrupted (Ctrl-C): work in progress was cancelled on the server and rolled back; a second Ctrl-C exits at once"],
  [ExitCode.terminated, "terminated (SIGTERM): work in progress was cancelled and rolled back as for Ctrl-C; if it has not ended 2.5 s after the signal, eve exits anyway (the server rolls back an open transaction when the connection drops)"],
];

export interface EveErrorOptions {
  /** What to do about it, printed on a second line. */
  hint?: string;
  /** Underlying error, shown only with --debug. */
  cause?: unknown;
  /** Structured details for --json and the HTTP body. */
  details?: Record<string, unknown>;
  /** Extra lines shown under the message in human output (a source excerpt, a detail). */
  context?: string[];
}

export class EveError extends Error {
  override readonly name: string = "EveError";
  readonly hint?: string;
  readonly details?: Record<string, unknown>;
  /** Extra lines shown under the message in human output. */
  context?: string[];
  constructor(
    /** Stable machine-readable code, E_UPPER_SNAKE. */
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode = ExitCode.error,
    opts: EveErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.hint = opts.hint;
    this.details = opts.details;
    this.context = opts.context;
  }

  /**
   * HTTP status used by the control plane for this error: codes with a fixed
   * meaning map to theirs; the rest follow the exit code (a Postgres error is
   * 422, an unreachable database 502), so a database failure is never a bare 500.
   */
  get httpStatus(): number {
    const fixed = httpStatusByCode[this.code];
    if (fixed) return fixed;
    switch (this.exitCode) {
      case ExitCode.usage:
        return 400;
      case ExitCode.connection:
        return 502;
      case ExitCode.failed:
        return 422;
      case ExitCode.check:
        return 409;
      case ExitCode.lockTimeout:
        return 423;
      case ExitCode.interrupted:
      case ExitCode.terminated:
        return 503;
      default:
        // A refusal (--force needed) and other deliberate errors are the client's to fix.
        return this.code === "E_INTERNAL" ? 500 : 409;
    }
  }
}

/** Error codes whose HTTP status does not follow from their exit code. */
const httpStatusByCode: Record<string, number> = {
  E_UNAUTHENTICATED: 401,
  E_TOKEN_EXPIRED: 401,
  E_FORBIDDEN: 403,
  E_READ_ONLY: 403,
  E_NOT_FOUND: 404,
  E_METHOD: 405,
  E_CONFLICT: 409,
  E_BUSY: 409,
  E_NOT_READY: 409,
  E_TOO_LARGE: 413,
  E_MANIFEST_TOO_LARGE: 413,
  E_IDEMPOTENCY: 422,
  E_SECRET_DECRYPT: 500,
  E_MASTER_KEY: 500,
  E_UNAVAILABLE: 503,
  E_PLATFORM_SCHEMA: 503,
};

export class UsageError extends EveError {
  override readonly name = "UsageError";
  constructor(message: string, opts: EveErrorOptions = {}) {
    super("E_USAGE", message, ExitCode.usage, opts);
  }
}

export class ConnectionError extends EveError {
  override readonly name = "ConnectionError";
  constructor(code: string, message: string, opts: EveErrorOptions = {}) {
    super(code, message, ExitCode.connection, opts);
  }
}

export class CheckError extends EveError {
  override readonly name = "CheckError";
  constructor(code: string, message: string, opts: EveErrorOptions = {}) {
    super(code, message, ExitCode.check, opts);
  }
}

/** Raised when the user asked to stop (Ctrl-C). */
export class InterruptedError extends EveError {
  override readonly name = "InterruptedError";
  constructor(message = "interrupted") {
    super("E_INTERRUPTED", message, ExitCode.interrupted);
  }
}

/**
 * The reader of stdout went away (EPIPE, e.g. `eve … | head`). Producers stop
 * and the command ends quietly with exit 0, like other Unix tools.
 */
export class OutputClosedError extends EveError {
  override readonly name = "OutputClosedError";
  constructor() {
    super("E_OUTPUT_CLOSED", "the output was closed by its reader", ExitCode.ok);
  }
}

export function isEveError(e: unknown): e is EveError {
  return e instanceof EveError;
}

/** The JSON shape of an error (stdout with --json, HTTP bodies). */
export function errorJson(e: EveError): Record<string, unknown> {
  return { code: e.code, message: e.message, exitCode: e.exitCode, ...(e.hint ? { hint: e.hint } : {}), ...(e.details ?? {}) };
}
