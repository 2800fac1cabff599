/** `eve db snapshots`: flags → db.snapshots input (the source database from --url / DATABASE_URL, never connected to); a table or the list document. */
import { givenDbUrl, parsePositiveInt, resolveDbUrl } from "../../../core/config.ts";
import { formatBytes, renderTable } from "../../../core/io.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { snapshotsOp, type SnapshotsInput } from "../ops/snapshots.ts";
import type { SnapshotListResult, UnreadableEvent } from "../schema.ts";
import { sourceKeyOf } from "../snapshot.ts";
import { logStale, shortTime, storeFor, storeOption } from "./common.ts";

type Opts = OpFlags<SnapshotsInput, { store?: string; all?: boolean }>;

export default defineOpCommand<SnapshotsInput, SnapshotListResult, UnreadableEvent, Opts>({
  op: snapshotsOp,
  path: ["db", "snapshots"],
  summary: snapshotsOp.summary,
  description:
    "Lists the snapshots of the database given by --url / DATABASE_URL (matched by host:port/db; no\n" +
    "connection is made), or every snapshot in the store with --all or when no database is given.\n" +
    "In-progress snapshots whose writer is gone are marked failed and their partial objects removed.\n" +
    "Subcommand: prune (eve db snapshots prune --help).",
  options: [
    storeOption,
    { flags: "--status <status>", description: "only this status", choices: ["in_progress", "completed", "failed"] },
    { flags: "--limit <n>", description: "at most this many", default: 50, parse: (v) => parsePositiveInt(v, "--limit") },
    { flags: "--all", description: "every database's snapshots, even when --url / DATABASE_URL is set" },
  ],
  examples: ["eve db snapshots --url postgres://…/app --status completed --limit 10", "eve db snapshots --all --json"],
  input(ctx, opts) {
    // With --env the control plane lists the environment's own snapshots.
    const given = opts.env === undefined ? givenDbUrl(opts.url, ctx.env) : undefined;
    return { database: !opts.all && given ? sourceKeyOf(resolveDbUrl(opts.url, ctx.env)) : null, status: opts.status ?? null, limit: opts.limit ?? 50 };
  },
  store: (ctx, opts) => storeFor(ctx, opts.store),
  event(ctx, e) {
    ctx.out.log(`warning: skipped ${e.key}: ${e.message}`);
  },
  result(ctx, result, opts, input) {
    logStale(ctx.out, result.staleFixed);
    if (opts.json) return void ctx.out.printJson(result);
    const { snapshots } = result;
    if (!snapshots.length) {
      ctx.out.log(`no snapshots${result.database ? ` of ${result.database}` : ""}${input.status ? ` with status ${input.status}` : ""} in ${result.store}`);
      return;
    }
    const rows = snapshots.map((r) => [
      r.id,
      r.status,
      r.trigger,
      r.sourceKey,
      r.size === null ? "-" : formatBytes(r.size),
      shortTime(r.createdAt),
      r.expiresAt ? r.expiresAt.slice(0, 10) : "never",
      r.label ?? "",
    ]);
    ctx.out.print(renderTable(["ID", "STATUS", "TRIGGER", "DATABASE", "SIZE", "CREATED", "EXPIRES", "LABEL"], rows, { align: ["left", "left", "left", "left", "right"] }));
  },
});
