/** What the snapshot commands share: the --store option, this process's identity, retention parsing, rendering. */
import { hostname } from "node:os";
import { parseDuration } from "../../../core/config.ts";
import { UsageError } from "../../../core/errors.ts";
import { formatBytes, formatDuration, paint, type Output } from "../../../core/io.ts";
import type { Context, OptionSpec } from "../../../core/plugin.ts";
import { pid, processAlive } from "../../../core/runtime/index.ts";
import { openStore, resolveStoreUrl, type Store } from "../../../core/store/index.ts";
import type { StaleOptions } from "../catalog.ts";
import type { SnapshotRecord, StaleFix } from "../schema.ts";

export const storeOption: OptionSpec = {
  flags: "--store <url>",
  description: "snapshot store: file:///dir or s3://bucket/prefix (default: $EVE_SNAPSHOT_STORE, else $XDG_DATA_HOME/eve/snapshots)",
};

export function storeFor(ctx: Context, flag: string | undefined): Store {
  return openStore(resolveStoreUrl(flag, ctx.env), ctx.env);
}

export function writer(): { host: string; pid: number } {
  return { host: hostname(), pid: pid() };
}

export function staleOptions(ctx: Context): StaleOptions {
  return { host: hostname(), isAlive: processAlive, now: ctx.now() };
}

/**
 * Retention: a number of days ("30d"), or hours/minutes/seconds ("12h").
 * @example parseRetention("30d") // { text: "30d", ms: 2592000000 }
 */
export function parseRetention(value: string): { text: string; ms: number } {
  const text = value.trim();
  if (!/^\d+\s*(d|h|m|s)$/i.test(text)) {
    throw new UsageError(`invalid retention "${value}"`, { hint: 'use a value like "30d" (days; h, m and s also work)' });
  }
  const ms = parseDuration(text.toLowerCase(), "--retention");
  if (ms <= 0) throw new UsageError(`retention must be positive (got "${value}")`, { hint: 'use a value like "30d"' });
  return { text: text.replace(/\s+/g, "").toLowerCase(), ms };
}

export function logStale(out: Output, fixed: StaleFix[]): void {
  for (const f of fixed) out.log(`${paint(out, "yellow", "marked failed:")} ${f.id} was left in progress (${f.reason})`);
}

const statusStyle = { completed: "green", failed: "red", in_progress: "yellow" } as const;

export function statusText(out: Output, s: SnapshotRecord["status"]): string {
  return paint(out, statusStyle[s], s);
}

/** created time without seconds fraction: 2025-01-31 14:05:09Z */
export function shortTime(iso: string | null): string {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-";
}

/** The human description of one record (show, and after a snapshot). */
export function describeRecord(out: Output, r: SnapshotRecord): string {
  const rows: Array<[string, string]> = [
    ["id", r.id],
    ["status", statusText(out, r.status)],
    ["database", `${r.database} (${r.source})`],
    ["trigger", r.trigger],
    ["label", r.label ?? "-"],
    ["size", r.size === null ? (r.status === "in_progress" ? `${formatBytes(r.bytes)} so far` : "-") : `${formatBytes(r.size)} (${r.size} bytes)`],
    ["sha256", r.sha256 ?? "-"],
    ["verified", r.status === "completed" ? (r.verified ? "yes, every block read back while uploading" : "no (--no-verify)") : "-"],
    ["db size", r.databaseSize === null ? "-" : formatBytes(r.databaseSize)],
    ["server", `PostgreSQL ${r.serverVersion}, pg_dump ${r.pgDumpVersion}`],
    ["created", shortTime(r.createdAt)],
    ["completed", shortTime(r.completedAt) + (r.durationMs !== null ? ` (${formatDuration(r.durationMs)})` : "")],
    ["retention", r.retention ? `${r.retention}, expires ${shortTime(r.expiresAt)}` : "kept until deleted"],
    ["object", r.key],
  ];
  if (r.status === "in_progress") rows.push(["writer", `${r.writer.host} pid ${r.writer.pid}, heartbeat ${shortTime(r.updatedAt)}`]);
  if (r.error) rows.push(["error", r.error.split("\n")[0]!]);
  return rows.map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join("\n");
}
