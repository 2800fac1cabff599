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
}

/** A logger writing JSON lines through `write` (stderr in the server, a buffer in tests). */
export function jsonLogger(write: (line: string) => void, now: () => Date = () => new Date()): Logger {
  const log = (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    const line = JSON.stringify({ time: now().toISOString(), level, msg, ...fields }, (_k, v) => (typeof v === "string" ? redactSecrets(v) : v));
    write(line + "\n");
  };
  return {
    log,
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
  };
}

/** Passwords in URLs/conninfo and control-plane tokens, starred. */
export function redactSecrets(text: string): string {
  return redactText(text, []).replace(/eve_pat_[A-Za-z0-9]+/g, "eve_pat_***");
}
