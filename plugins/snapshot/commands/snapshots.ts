import { parsePositiveInt, resolveDbUrl, urlOption } from "../../../core/config.ts";
import { formatBytes, renderTable } from "../../../core/io.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { fixStale, listRecords } from "../catalog.ts";
import type { SnapshotListResult } from "../schema.ts";
import { sourceKeyOf } from "../snapshot.ts";
import { logStale, shortTime, staleOptions, storeFor, storeOption } from "./common.ts";

interface Opts {
  url?: string;
  store?: string;
  status?: "in_progress" | "completed" | "failed";
  limit: number;
  all?: boolean;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "snapshots"],
  summary: "list snapshots in the store, newest first",
  description:
    "Lists the snapshots of the database given by --url / DATABASE_URL (matched by host:port/db; no\n" +
    "connection is made), or every snapshot in the store with --all or when no database is given.\n" +
    "In-progress snapshots whose writer is gone are marked failed and their partial objects removed.\n" +
    "Subcommand: prune (eve db snapshots prune --help).",
  options: [
    urlOption,
    storeOption,
    { flags: "--status <status>", description: "only this status", choices: ["in_progress", "completed", "failed"] },
    { flags: "--limit <n>", description: "at most this many", default: 50, parse: (v) => parsePositiveInt(v, "--limit") },
    { flags: "--all", description: "every database's snapshots, even when --url / DATABASE_URL is set" },
  ],
  examples: ["eve db snapshots --url postgres://…/app --status completed --limit 10", "eve db snapshots --all --json"],
  async run(ctx, opts) {
    const store = storeFor(ctx, opts.store);
    const given = opts.url ?? ctx.env.DATABASE_URL;
    const sourceKey = !opts.all && given ? sourceKeyOf(resolveDbUrl(opts.url, ctx.env)) : null;
    const all = await listRecords(store, (key, err) => ctx.out.log(`warning: skipped ${key}: ${err.message}`));
    const staleFixed = await fixStale(store, all, staleOptions(ctx));
    logStale(ctx.out, staleFixed);
    const limit = typeof opts.limit === "number" ? opts.limit : parsePositiveInt(String(opts.limit), "--limit");
    const snapshots = all
      .filter((r) => (!sourceKey || r.sourceKey === sourceKey) && (!opts.status || r.status === opts.status))
      .slice(0, limit);
    const result: SnapshotListResult = { store: store.url, database: sourceKey, snapshots, staleFixed };
    if (opts.json) return void ctx.out.printJson(result);
    if (!snapshots.length) {
      ctx.out.log(`no snapshots${sourceKey ? ` of ${sourceKey}` : ""}${opts.status ? ` with status ${opts.status}` : ""} in ${store.url}`);
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
