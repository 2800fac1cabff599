import { resolveDbUrl, urlOption } from "../../../core/config.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { prune } from "../prune.ts";
import { sourceKeyOf } from "../snapshot.ts";
import { logStale, staleOptions, storeFor, storeOption } from "./common.ts";

interface Opts {
  url?: string;
  store?: string;
  all?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "snapshots", "prune"],
  summary: "delete expired snapshots (never the newest completed one of a database)",
  description:
    "Deletes every snapshot whose retention has expired, of the database given by --url / DATABASE_URL\n" +
    "or, without one, of the whole store. The newest completed snapshot of each database is kept even\n" +
    "when expired, unless --all. Stale in-progress records are marked failed first.",
  options: [
    urlOption,
    storeOption,
    { flags: "--all", description: "also delete the newest completed snapshot when it expired" },
    { flags: "--dry-run", description: "print what would be deleted, delete nothing" },
  ],
  examples: ["eve db snapshots prune --dry-run", "eve db snapshots prune --url postgres://…/app --json"],
  async run(ctx, opts) {
    const store = storeFor(ctx, opts.store);
    const given = opts.url ?? ctx.env.DATABASE_URL;
    const sourceKey = given ? sourceKeyOf(resolveDbUrl(opts.url, ctx.env)) : undefined;
    const now = ctx.now();
    const result = await prune(
      { store, now, sourceKey, all: opts.all, dryRun: opts.dryRun, stale: { ...staleOptions(ctx), now } },
      (e) => {
        if (e.type === "unreadable") ctx.out.log(`warning: skipped ${e.key}: ${e.message}`);
      },
    );
    if (opts.json) return void ctx.out.printJson(result);
    logStale(ctx.out, result.staleFixed);
    const verb = result.dryRun ? "would delete" : "deleted";
    for (const d of result.deleted) ctx.out.print(`${verb} ${d.id} (${d.database}, ${d.status}, expired ${d.expiresAt})`);
    for (const k of result.kept) ctx.out.print(`kept ${k.id}: ${k.reason}`);
    ctx.out.print(`${verb} ${result.deleted.length} expired snapshot${result.deleted.length === 1 ? "" : "s"} from ${result.store}`);
  },
});
