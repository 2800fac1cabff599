/**
 * `eve db restore`: flags → db.restore input; without --force the preview of
 * what would be replaced (stderr, or with --json the preview document), else
 * the progress, the safety snapshot's id and the outcome.
 */
import { parsePositiveInt } from "../../../core/config.ts";
import { UsageError } from "../../../core/errors.ts";
import { formatBytes, formatDuration, paint } from "../../../core/io.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { restoreOp, type RestoreInput } from "../ops/restore.ts";
import { RestorePreview, type RestoreEvent, type RestoreResult } from "../schema.ts";
import { DEFAULT_RETENTION, parseRetention, sourceKeyOf } from "../snapshot.ts";
import { warmTools } from "../tools.ts";
import { startTrace, trace } from "../trace.ts";
import { logStale, progressDone, progressOf, refusalJson, refusalPreview, storeFor, storeOption, withSnapshotPrefetch } from "./common.ts";

type Opts = OpFlags<RestoreInput, { store?: string; sourceUrl?: string }>;

export default defineOpCommand<RestoreInput, RestoreResult, RestoreEvent, Opts>({
  op: restoreOp,
  path: ["db", "restore"],
  summary: restoreOp.summary,
  description:
    "Refuses anything but a completed snapshot whose size and sha256 still match (checked while\n" +
    "streaming). Takes a safety snapshot of the target first (trigger pre_restore) and prints its id\n" +
    "(none when the target is empty: it holds nothing to keep; an empty target is restored into\n" +
    "directly, in one transaction, without a scratch database unless --jobs is given).\n" +
    "Then restores into a new database on the same server (same owner, encoding, locale, database\n" +
    "grants and settings) and swaps it in by renaming, ending the target's sessions; the old database\n" +
    "is dropped. A role that cannot create databases restores in place in one transaction (the target\n" +
    "is emptied and the dump replayed through psql --single-transaction). Any failure leaves the target\n" +
    "as it was. A snapshot of another database needs --source-url naming that database (only host,\n" +
    "port and name are compared).\n" +
    "Owners and privileges: objects come back with their owners, grants (schema, table, column,\n" +
    "sequence, function, large object) and default privileges, as pg_dump recorded them. Before\n" +
    "anything changes, eve reads the snapshot's table of contents: if a role it names does not exist on\n" +
    "the target server, or the connecting role (not a superuser) may not act as an owner (membership,\n" +
    "with SET on PostgreSQL 16+), it refuses (exit 1) naming the roles. The ways out: create the\n" +
    "roles, or choose explicitly --no-owner (every object belongs to the target database's owner)\n" +
    "and/or --no-acl (no GRANT/REVOKE or default privileges restored); the output lists what was not\n" +
    "restored and why. RLS policies are always restored (the roles they name must exist).\n" +
    "Without --force nothing happens: it prints what would be replaced and exits 1.",
  options: [
    storeOption,
    { flags: "--snapshot <id>", description: "the snapshot to restore (required)" },
    { flags: "--force", description: "really replace the database's contents" },
    { flags: "--skip-safety-snapshot", description: "do not snapshot the target first" },
    { flags: "--jobs <n>", description: "parallel pg_restore from a downloaded temp file (swap only)", parse: (v) => parsePositiveInt(v, "--jobs") },
    { flags: "--source-url <url>", description: "the database the snapshot was taken from (for restoring across databases)" },
    { flags: "--retention <age>", description: "retention of the safety snapshot", default: DEFAULT_RETENTION },
    { flags: "--no-owner", description: "do not restore owners: every object belongs to the target database's owner" },
    { flags: "--no-acl", description: "do not restore grants and default privileges" },
  ],
  examples: [
    "eve db restore --url postgres://…/app --snapshot snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC --force",
    "eve db restore --url postgres://…/staging --snapshot snap_… --source-url postgres://db.internal:5432/prod --force --jobs 4",
    "eve db restore --url postgres://…/other --snapshot snap_… --source-url postgres://…/app --force --no-owner --no-acl",
  ],
  input(_ctx, opts) {
    if (!opts.snapshot) throw new UsageError("--snapshot is required", { hint: "list snapshots with eve db snapshots" });
    const retention = opts.retention ?? DEFAULT_RETENTION;
    parseRetention(retention); // a usage error before connecting
    return {
      snapshot: opts.snapshot,
      force: !!opts.force,
      skipSafetySnapshot: !!opts.skipSafetySnapshot,
      jobs: opts.jobs ?? 1,
      // Only host, port and name travel (never the password).
      sourceKey: opts.sourceUrl ? sourceKeyOf(opts.sourceUrl, "--source-url") : null,
      retention,
      owner: opts.owner !== false,
      acl: opts.acl !== false,
    };
  },
  // The snapshot's record is read while connecting (its errors are reported after the connection's).
  store: (ctx, opts) => withSnapshotPrefetch(storeFor(ctx, opts.store), opts.snapshot!),
  before(ctx, _input, opts) {
    if (ctx.debug) startTrace((l) => ctx.out.log(l));
    trace("command started (process start to here: runtime and CLI loading)");
    // Locate pg_dump/pg_restore while connecting.
    if (opts.env === undefined) warmTools(ctx.env);
  },
  event(ctx, e, opts) {
    const out = ctx.out;
    const human = !opts.json;
    const progress = progressOf(ctx, opts.json, "restoring");
    if (e.type === "strategy" && e.strategy === "in_place") out.log(`${paint(out, "yellow", "note:")} restoring in place in one transaction: ${e.reason}`);
    if (e.type === "safety" && e.event.type === "started" && human) out.log(`taking safety snapshot ${e.event.record.id} of ${e.event.record.source}…`);
    if (e.type === "safety" && e.event.type === "stale") logStale(out, e.event.fixed);
    if (e.type === "safety-done") {
      progress.done();
      out.log(`safety snapshot: ${e.record.id} (${formatBytes(e.record.size ?? 0)}) — restore it with --snapshot ${e.record.id} to undo`);
    }
    if (e.type === "phase") {
      progress.done();
      if (e.phase === "download" || e.phase === "restore") progress.phase(e.phase === "download" ? "downloading" : "restoring", e.total);
      else if (human) out.log(e.phase === "owner" ? "handing objects to the owner…" : e.phase === "swap" ? "swapping databases…" : "dropping the replaced database…");
    }
    if (e.type === "progress") progress.update(e.bytes);
    if (e.type === "warning") out.log(`${paint(out, "yellow", "warning:")} ${e.message}`);
  },
  result(ctx, result, opts) {
    progressDone(ctx);
    const out = ctx.out;
    if (opts.json) return void out.printJson(result);
    const how = result.strategy === "swap" ? `swapped in a fresh copy${result.terminated ? `, ended ${result.terminated} session${result.terminated === 1 ? "" : "s"}` : ""}` : "in place, one transaction";
    out.print(`${paint(out, "green", "restored")} ${result.snapshot} into ${result.target} (${how}${result.jobs > 1 ? `, ${result.jobs} jobs` : ""}) in ${formatDuration(result.durationMs)}`);
    for (const n of result.notRestored) out.print(`${paint(out, "yellow", "note:")} ${n.message}`);
    if (result.safetySnapshot) out.print(`safety snapshot: ${result.safetySnapshot}`);
  },
  failure(ctx, e, opts, input) {
    progressDone(ctx);
    const refused = refusalPreview(e, RestorePreview);
    if (!refused) return;
    const { preview: p, error } = refused;
    const out = ctx.out;
    if (opts.json) return void out.printJson({ ...p, error: refusalJson(error) });
    const f = p.current;
    const rec = p.snapshot;
    out.log(`restore would replace everything in database ${String(error.details?.name)} (${p.database}):`);
    out.log(`  now      ${formatBytes(f.sizeBytes)}, ${f.tables} tables (~${f.rowsEstimate.toLocaleString("en-US")} rows), schemas ${f.schemas.join(", ") || "(none)"}`);
    out.log(`  with     ${rec.id} of ${rec.sourceKey}, taken ${rec.createdAt} (${formatBytes(rec.size ?? 0)}${rec.label ? `, "${rec.label}"` : ""})`);
    out.log(`  safety   ${input.skipSafetySnapshot ? "none (--skip-safety-snapshot)" : "a snapshot of the current contents is taken first"}`);
  },
});
