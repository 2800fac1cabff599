/**
 * Structured logs of `eve server`: one JSON object per line on stderr with
 * time, level, message and fields (request id, method, path, status, ms).
 * String values are redacted (URL and conninfo passwords, eve_pat_ tokens), so
 * an error echoing a URL or a header cannot leak a secret.
 */
import { redactText } from "../../../core/db/index.ts";

export type Level = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Write out what is buffered (called at shutdown). */
  flush(): void;
}

/**
 * A logger writing JSON lines through `write` (stderr in the server, a buffer
 * in tests). With `batchMs`, lines are gathered and written together at most
 * that often (or at 64 KiB): one write per batch instead of per request.
 * Errors are written at once.
 */
export function jsonLogger(write: (text: string) => void, o: { now?: () => Date; batchMs?: number } = {}): Logger {
  const now = o.now ?? (() => new Date());
  let buf = "";
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!buf) return;
    const text = buf;
    buf = "";
    write(text);
  };
  const log = (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    buf += JSON.stringify({ time: now().toISOString(), level, msg, ...fields }, (_k, v) => (typeof v === "string" && mayHoldSecret(v) ? redactSecrets(v) : v)) + "\n";
    if (!o.batchMs || level === "error" || buf.length > 65_536) return flush();
    timer ??= setTimeout(flush, o.batchMs);
  };
  return {
    log,
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    flush,
  };
}

/** Cheap test before the redaction regexes: only text with a URL scheme, a password key or a token can hold one. */
function mayHoldSecret(v: string): boolean {
  return v.includes("://") || v.includes("eve_pat_") || /pass/i.test(v);
}

/** Passwords in URLs/conninfo and control-plane tokens, starred. */
export function redactSecrets(text: string): string {
  return redactText(text, []).replace(/eve_pat_[A-Za-z0-9]+/g, "eve_pat_***");
}
