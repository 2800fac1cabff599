/**
 * Thrown value → HTTP status (EveError.httpStatus) and the JSON error body
 * `{error: {code, message, exitCode, hint?, details?, request_id}}`.
 */
import { EveError, ExitCode } from "../errors.ts";
import { errorToJson } from "../operation.ts";
import type { ErrorBody } from "./wire.ts";

/** The status of any thrown value: an EveError's own (EveError.httpStatus), 500 for anything else. */
export function httpStatusOf(e: unknown): number {
  return e instanceof EveError ? e.httpStatus : 500;
}

/** The JSON body for an error; unknown errors say only that they happened (the log has the rest). */
export function errorBody(e: unknown, requestId: string): ErrorBody {
  const j = e instanceof EveError ? errorToJson(e) : { code: "E_INTERNAL", message: "internal error (see the server log for this request id)", exitCode: ExitCode.error };
  return { error: { ...j, request_id: requestId } };
}
