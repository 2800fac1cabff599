/**
 * What the snapshot commands share: the --store option, the run's progress
 * line, refusals as --json prints them, rendering.
 */
import type { z } from "zod";
import { errorJson, EveError } from "../../../core/errors.ts";
import { formatBytes, formatDuration, paint, type Output } from "../../../core/io.ts";
import type { Context, OptionSpec } from "../../../core/plugin.ts";
import { openStore, resolveStoreUrl, type Store } from "../../../core/store/index.ts";
import { dumpKey, recordKey } from "../catalog.ts";
import { createProgress, type Progress } from "../progress.ts";
import type { SnapshotRecord, StaleFix } from "../schema.ts";

export const storeOption: OptionSpec = {
  flags: "--store <url>",
  description: "snapshot store: file:///dir or s3://bucket/prefix (default: $EVE_SNAPSHOT_STORE, else $XDG_DATA_HOME/eve/snapshots)",
};

export function storeFor(ctx: Context, flag: string | undefined): Store {
  return openStore(resolveStoreUrl(flag, ctx.env), ctx.env);
}

const progressLines = new WeakMap<Context, Progress>();

/**
 * The progress line of this command run (one per run: events, the result and
 * a failure all reach it through the run's context), created on first use.
 */
export function progressOf(ctx: Context, json: boolean | undefined, label: string): Progress {
  let p = progressLines.get(ctx);
  if (!p) progressLines.set(ctx, (p = createProgress(ctx.out, json, label)));
  return p;
}

/** Erase this run's progress line, if it has one. */
export function progressDone(ctx: Context): void {
  progressLines.get(ctx)?.done();
}

/** A refusal as --json prints it beside its preview: the error without the preview it carries. */
export function refusalJson(e: EveError): Record<string, unknown> {
  return errorJson(new EveError(e.code, e.message, e.exitCode, { hint: e.hint }));
}

/** A refusal (E_REFUSED) and its preview, as thrown by an operation (locally, or replayed from the control plane); null for any other error. */
export function refusalPreview<T>(e: unknown, schema: z.ZodType<T>): { error: EveError; preview: T } | null {
  if (!(e instanceof EveError) || e.code !== "E_REFUSED") return null;
  const p = schema.safeParse(e.details?.preview);
  return p.success ? { error: e, preview: p.data } : null;
}

/**
 * `store`, with snapshot `id`'s record and the size of its dump already being
 * read (restore reads them while it connects). Each early read serves the
 * first request for its key; later requests go to the store.
 */
export function withSnapshotPrefetch(store: Store, id: string): Store {
  const key = id.trim();
  if (!/^snap_[0-9A-HJKMNP-TV-Z]{26}$/.test(key)) return store; // the operation reports the malformed id
  const texts = new Map([[recordKey(key), quiet(store.getText(recordKey(key)))]]);
  const heads = new Map([[dumpKey(key), quiet(store.head(dumpKey(key)))]]);
  const once = <T>(m: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> => {
    const p = m.get(key);
    m.delete(key);
    return p ?? read();
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "getText") return (key: string) => once(texts, key, () => target.getText(key));
      if (prop === "head") return (key: string) => once(heads, key, () => target.head(key));
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** `p`, with its rejection observed (it is awaited later, or never). */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
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
