/** `eve db snapshots prune`: flags → db.snapshots.prune input (the source database from --url / DATABASE_URL, never connected to). */
import { givenDbUrl, resolveDbUrl } from "../../../core/config.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { pruneOp, type PruneInput } from "../ops/prune.ts";
import type { PruneEvent, PruneResult } from "../schema.ts";
import { sourceKeyOf } from "../snapshot.ts";
import { logStale, storeFor, storeOption } from "./common.ts";

type Opts = OpFlags<PruneInput, { store?: string }>;

export default defineOpCommand<PruneInput, PruneResult, PruneEvent, Opts>({
  op: pruneOp,
  path: ["db", "snapshots", "prune"],
  summary: pruneOp.summary,
  description:
    "Deletes every snapshot whose retention has expired, of the database given by --url / DATABASE_URL\n" +
    "or, without one, of the whole store. The newest completed snapshot of each database is kept even\n" +
    "when expired, unless --all. Stale in-progress records are marked failed first.",
  options: [
    storeOption,
    { flags: "--all", description: "also delete the newest completed snapshot when it expired" },
    { flags: "--dry-run", description: "print what would be deleted, delete nothing" },
  ],
  examples: ["eve db snapshots prune --dry-run", "eve db snapshots prune --url postgres://…/app --json"],
  input(ctx, opts) {
    // With --env the control plane prunes the environment's own snapshots.
    const given = opts.env === undefined ? givenDbUrl(opts.url, ctx.env) : undefined;
    return { database: given ? sourceKeyOf(resolveDbUrl(opts.url, ctx.env)) : null, all: !!opts.all, dryRun: !!opts.dryRun };
  },
  store: (ctx, opts) => storeFor(ctx, opts.store),
  event(ctx, e) {
    if (e.type === "unreadable") ctx.out.log(`warning: skipped ${e.key}: ${e.message}`);
  },
  result(ctx, result, opts) {
    if (opts.json) return void ctx.out.printJson(result);
    logStale(ctx.out, result.staleFixed);
    const verb = result.dryRun ? "would delete" : "deleted";
    for (const d of result.deleted) ctx.out.print(`${verb} ${d.id} (${d.database}, ${d.status}, expired ${d.expiresAt})`);
    for (const k of result.kept) ctx.out.print(`kept ${k.id}: ${k.reason}`);
    ctx.out.print(`${verb} ${result.deleted.length} expired snapshot${result.deleted.length === 1 ? "" : "s"} from ${result.store}`);
  },
});
