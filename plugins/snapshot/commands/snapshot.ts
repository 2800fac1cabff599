/** `eve db snapshot`: flags → db.snapshot input; the id on stdout, progress and the summary on stderr. */
import { formatBytes, formatDuration, paint } from "../../../core/io.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { snapshotOp, type SnapshotInput } from "../ops/snapshot.ts";
import type { SnapshotEvent, SnapshotRecord } from "../schema.ts";
import { DEFAULT_RETENTION, parseRetention } from "../snapshot.ts";
import { warmTools } from "../tools.ts";
import { startTrace, trace } from "../trace.ts";
import { logStale, progressDone, progressOf, storeFor, storeOption } from "./common.ts";

type Opts = OpFlags<SnapshotInput, { store?: string }>;

export default defineOpCommand<SnapshotInput, SnapshotRecord, SnapshotEvent, Opts>({
  op: snapshotOp,
  path: ["db", "snapshot"],
  summary: snapshotOp.summary,
  description:
    "Streams `pg_dump --format=custom` into the store while computing its sha256 and size, and (unless\n" +
    "--no-verify) feeds the same stream to `pg_restore -f /dev/null`, which reads every data block. The\n" +
    "object is committed only after pg_dump and the verifier exited 0; then its stored size is checked.\n" +
    "A metadata record (snapshots/<id>.json) is written in_progress first, then completed or failed.\n" +
    "The password goes to pg_dump through PGPASSWORD, never on its command line. Prints the id.\n" +
    "Subcommands: show, delete, verify, download (eve db snapshot show --help).",
  options: [
    storeOption,
    { flags: "--retention <age>", description: "delete after this long when pruning (e.g. 7d, 90d)", default: DEFAULT_RETENTION },
    { flags: "--label <text>", description: "a note kept with the snapshot" },
    { flags: "--no-verify", description: "skip reading every block back while uploading" },
  ],
  examples: [
    "eve db snapshot --url postgres://app:…@localhost:5432/app --retention 90d --label before-launch",
    "EVE_SNAPSHOT_STORE=s3://backups/eve eve db snapshot --json",
  ],
  input(_ctx, opts) {
    const retention = opts.retention ?? DEFAULT_RETENTION;
    parseRetention(retention); // a usage error before connecting
    return { retention, label: opts.label ?? null, verify: opts.verify !== false };
  },
  store: (ctx, opts) => storeFor(ctx, opts.store),
  before(ctx, _input, opts) {
    if (ctx.debug) startTrace((l) => ctx.out.log(l));
    trace("command started (process start to here: runtime and CLI loading)");
    // Locate pg_dump/pg_restore while connecting.
    if (opts.env === undefined) warmTools(ctx.env);
  },
  event(ctx, e, opts) {
    if (e.type === "stale") logStale(ctx.out, e.fixed);
    if (e.type === "started" && !opts.json) ctx.out.log(`snapshot ${e.record.id} of ${e.record.source} → ${e.store}`);
    if (e.type === "progress") progressOf(ctx, opts.json, "dumping").update(e.bytes);
  },
  result(ctx, rec, opts) {
    progressDone(ctx);
    const out = ctx.out;
    if (opts.json) return void out.printJson(rec);
    const rate = rec.durationMs ? formatBytes(Math.round((rec.size! / rec.durationMs) * 1000)) + "/s" : "";
    out.log(
      `${paint(out, "green", "completed")} ${formatBytes(rec.size!)} in ${formatDuration(rec.durationMs ?? 0)} (${rate})` +
        `${rec.verified ? ", verified" : ", not verified (--no-verify)"}, sha256 ${rec.sha256!.slice(0, 16)}…, expires ${rec.expiresAt?.slice(0, 10) ?? "never"}`,
    );
    out.print(rec.id);
  },
  failure: (ctx) => progressDone(ctx),
});
