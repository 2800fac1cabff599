/** Shared helpers of the store implementations: key validation, errors, abort. */
import { EveError, ExitCode, InterruptedError, UsageError } from "../errors.ts";

/**
 * Keys are relative paths of non-empty segments. Segments may not be "." or
 * "..", may not start with "." (reserved for in-flight temp files) and may not
 * contain backslashes or control characters, so a key can never escape the
 * store root.
 * @example assertKey("snapshots/snap_01J.dump")
 */
export function assertKey(key: string): void {
  const ok =
    key.length > 0 &&
    key.length <= 1024 &&
    !/[\\\u0000-\u001f\u007f]/.test(key) &&
    key.split("/").every((seg) => seg.length > 0 && !seg.startsWith("."));
  if (!ok) throw new UsageError(`invalid store key "${key.replace(/[\u0000-\u001f\u007f]/g, "?")}"`);
}

/** A prefix for list(): like a key, but may be empty or end with "/". */
export function assertPrefix(prefix: string): void {
  if (prefix === "") return;
  assertKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

export function storeError(message: string, opts: { hint?: string; cause?: unknown } = {}): EveError {
  return new EveError("E_STORE", message, ExitCode.failed, opts);
}

export function notFound(what: string): EveError {
  return new EveError("E_NOT_FOUND", `${what} not found`, ExitCode.error, {
    hint: "check the id with `eve db snapshots`, and that --store / EVE_SNAPSHOT_STORE points at the right store",
  });
}

export function verifyError(message: string, details?: Record<string, unknown>): EveError {
  return new EveError("E_STORE_VERIFY", message, ExitCode.failed, {
    hint: "the store did not keep what was sent; retry, and check the store's health or the S3-compatible server",
    details,
  });
}

/** The error to surface when put() was aborted through its signal. */
export function abortReason(signal: AbortSignal): unknown {
  const r: unknown = signal.reason;
  return r instanceof EveError ? r : new InterruptedError("upload aborted");
}

/** `p`, unless `signal` aborts first (then its abortReason). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
