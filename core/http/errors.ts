/**
 * EveError → HTTP status and the JSON error body
 * `{error: {code, message, exitCode, hint?, details?, request_id}}`.
 * Codes with a fixed meaning map to their status; the rest follow the exit
 * code (a Postgres error is 422, an unreachable database 502), so a database
 * failure is never a bare 500.
 */
import { EveError, ExitCode } from "../errors.ts";
import { errorToJson } from "../operation.ts";
import type { ErrorBody } from "./wire.ts";

const byCode: Record<string, number> = {
  E_USAGE: 400,
  E_BAD_JSON: 400,
  E_VALIDATION: 400,
  E_MANIFEST: 422,
  E_UNAUTHENTICATED: 401,
  E_TOKEN_EXPIRED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_METHOD: 405,
  E_CONFLICT: 409,
  E_BUSY: 409,
  E_IDEMPOTENCY: 422,
  E_TOO_LARGE: 413,
  E_MANIFEST_TOO_LARGE: 413,
  E_UNAVAILABLE: 503,
  E_NOT_READY: 409,
  E_READ_ONLY: 403,
  E_SECRET_DECRYPT: 500,
  E_MASTER_KEY: 500,
  E_PLATFORM_SCHEMA: 503,
};

export function httpStatusOf(e: unknown): number {
  if (!(e instanceof EveError)) return 500;
  const s = byCode[e.code];
  if (s) return s;
  switch (e.exitCode) {
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
      // A refusal (e.g. --force needed) and other deliberate errors are the client's to fix.
      return e.code === "E_INTERNAL" ? 500 : 409;
  }
}

/** The JSON body for an error; unknown errors say only that they happened (the log has the rest). */
export function errorBody(e: unknown, requestId: string): ErrorBody {
  const j = e instanceof EveError ? errorToJson(e) : { code: "E_INTERNAL", message: "internal error (see the server log for this request id)", exitCode: ExitCode.error };
  return { error: { ...j, request_id: requestId } };
}
