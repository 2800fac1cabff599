import { CheckError } from "../../../core/errors.ts";
import { formatBytes, formatDuration, paint } from "../../../core/io.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { findPgTool, parsePgVersion } from "../../../core/pgtools/index.ts";
import { readRecord } from "../catalog.ts";
import { createProgress } from "../progress.ts";
import { verifySnapshot } from "../verify.ts";
import { storeFor, storeOption } from "./common.ts";

interface Opts {
  store?: string;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "snapshot", "verify"],
  summary: "re-read a snapshot: size, sha256 and every data block (exit 5 on mismatch)",
  description:
    "Downloads the object (nothing is written to disk), compares its size and sha256 with the record,\n" +
    "and feeds it to `pg_restore -f /dev/null`, which decompresses every data block. Exit 5 when\n" +
    "anything does not match.",
  args: [{ name: "<id>", description: "snapshot id (snap_…)" }],
  options: [storeOption],
  examples: ["eve db snapshot verify snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC"],
  async run(ctx, opts, [id]) {
    const store = storeFor(ctx, opts.store);
    const rec = await readRecord(store, id!);
    const pgRestore = await findPgTool("pg_restore", { env: ctx.env, minMajor: parsePgVersion(rec.pgDumpVersion)?.major });
    const progress = createProgress(ctx.out, opts.json, "verifying", rec.size ?? undefined);
    let result;
    try {
      result = await verifySnapshot({ store, record: rec, pgRestore, env: ctx.env, signal: ctx.signal, onProgress: (b) => progress.update(b) });
    } finally {
      progress.done();
    }
    if (opts.json) ctx.out.printJson(result);
    else if (result.ok) {
      ctx.out.print(`${paint(ctx.out, "green", "ok")} ${rec.id}: ${formatBytes(result.size)}, sha256 matches, every block readable (${formatDuration(result.durationMs)})`);
    } else {
      ctx.out.print(`${paint(ctx.out, "red", "FAILED")} ${rec.id}:`);
      for (const p of result.problems) ctx.out.print(`  - ${p}`);
    }
    if (!result.ok) {
      throw new CheckError("E_VERIFY", `snapshot ${rec.id} failed verification: ${result.problems[0]}`, {
        hint: "do not restore from it; take a new snapshot, or restore from an older one",
      });
    }
  },
});
