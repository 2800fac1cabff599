import { urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { formatBytes, formatDuration, paint } from "../../../core/io.ts";
import { startTrace, trace } from "../trace.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { createProgress } from "../progress.ts";
import { createSnapshot, DEFAULT_RETENTION } from "../snapshot.ts";
import { warmTools } from "../tools.ts";
import { logStale, parseRetention, staleOptions, storeFor, storeOption, writer } from "./common.ts";

interface Opts {
  url?: string;
  store?: string;
  retention: string;
  label?: string;
  verify: boolean;
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "snapshot"],
  summary: "take a snapshot (pg_dump custom format streamed to the snapshot store)",
  description:
    "Streams `pg_dump --format=custom` into the store while computing its sha256 and size, and (unless\n" +
    "--no-verify) feeds the same stream to `pg_restore -f /dev/null`, which reads every data block. The\n" +
    "object is committed only after pg_dump and the verifier exited 0; then its stored size is checked.\n" +
    "A metadata record (snapshots/<id>.json) is written in_progress first, then completed or failed.\n" +
    "The password goes to pg_dump through PGPASSWORD, never on its command line. Prints the id.\n" +
    "Subcommands: show, delete, verify, download (eve db snapshot show --help).",
  options: [
    urlOption,
    storeOption,
    { flags: "--retention <age>", description: "delete after this long when pruning (e.g. 7d, 90d)", default: DEFAULT_RETENTION },
    { flags: "--label <text>", description: "a note kept with the snapshot" },
    { flags: "--no-verify", description: "skip reading every block back while uploading" },
    ...waitOptions,
  ],
  examples: [
    "eve db snapshot --url postgres://app:…@localhost:5432/app --retention 90d --label before-launch",
    "EVE_SNAPSHOT_STORE=s3://backups/eve eve db snapshot --json",
  ],
  async run(ctx, opts) {
    if (ctx.debug) startTrace((l) => ctx.out.log(l));
    trace("command started (process start to here: runtime and CLI loading)");
    const retention = parseRetention(opts.retention ?? DEFAULT_RETENTION);
    const store = storeFor(ctx, opts.store);
    warmTools(ctx.env);
    const conn = await openDirect(ctx, opts, { applicationName: "eve snapshot" });
    trace("connected");
    const out = ctx.out;
    const progress = createProgress(out, opts.json, "dumping");
    try {
      const rec = await createSnapshot(conn.db, {
        url: conn.url,
        store,
        trigger: "manual",
        label: opts.label ?? null,
        retention,
        verify: opts.verify !== false,
        env: ctx.env,
        now: () => ctx.now(),
        writer: writer(),
        stale: staleOptions(ctx),
        signal: ctx.signal,
      }, (e) => {
        if (e.type === "stale") logStale(out, e.fixed);
        if (e.type === "started" && !opts.json) out.log(`snapshot ${e.record.id} of ${conn.label} → ${store.url}`);
        if (e.type === "progress") progress.update(e.bytes);
      });
      progress.done();
      if (opts.json) return void out.printJson(rec);
      const rate = rec.durationMs ? formatBytes(Math.round((rec.size! / rec.durationMs) * 1000)) + "/s" : "";
      out.log(
        `${paint(out, "green", "completed")} ${formatBytes(rec.size!)} in ${formatDuration(rec.durationMs ?? 0)} (${rate})` +
          `${rec.verified ? ", verified" : ", not verified (--no-verify)"}, sha256 ${rec.sha256!.slice(0, 16)}…, expires ${rec.expiresAt?.slice(0, 10) ?? "never"}`,
      );
      out.print(rec.id);
    } finally {
      progress.done();
      await conn.close();
    }
  },
});
