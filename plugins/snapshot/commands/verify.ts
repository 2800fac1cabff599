/** `eve db snapshot verify ID`: flags → db.snapshot.verify input; ok or the problems, exit 5 when anything does not match. */
import { CheckError } from "../../../core/errors.ts";
import { formatBytes, formatDuration, paint } from "../../../core/io.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import type { SnapshotIdInput } from "../ops/show.ts";
import { verifyOp } from "../ops/verify.ts";
import type { ReadEvent, VerifyResult } from "../schema.ts";
import { progressDone, progressOf, storeFor, storeOption } from "./common.ts";

type Opts = OpFlags<SnapshotIdInput, { store?: string }>;

export default defineOpCommand<SnapshotIdInput, VerifyResult, ReadEvent, Opts>({
  op: verifyOp,
  path: ["db", "snapshot", "verify"],
  summary: verifyOp.summary,
  description:
    "Downloads the object (nothing is written to disk), compares its size and sha256 with the record,\n" +
    "and feeds it to `pg_restore -f /dev/null`, which decompresses every data block. Exit 5 when\n" +
    "anything does not match.",
  args: [{ name: "<id>", description: "snapshot id (snap_…)" }],
  options: [storeOption],
  examples: ["eve db snapshot verify snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC"],
  input: (_ctx, _opts, [id]) => ({ id: id! }),
  store: (ctx, opts) => storeFor(ctx, opts.store),
  event(ctx, e, opts) {
    if (e.type === "started") progressOf(ctx, opts.json, "verifying").phase("verifying", e.record.size ?? undefined);
    else progressOf(ctx, opts.json, "verifying").update(e.bytes);
  },
  result(ctx, result, opts) {
    progressDone(ctx);
    if (opts.json) ctx.out.printJson(result);
    else if (result.ok) {
      ctx.out.print(`${paint(ctx.out, "green", "ok")} ${result.id}: ${formatBytes(result.size)}, sha256 matches, every block readable (${formatDuration(result.durationMs)})`);
    } else {
      ctx.out.print(`${paint(ctx.out, "red", "FAILED")} ${result.id}:`);
      for (const p of result.problems) ctx.out.print(`  - ${p}`);
    }
    if (!result.ok) {
      throw new CheckError("E_VERIFY", `snapshot ${result.id} failed verification: ${result.problems[0]}`, {
        hint: "do not restore from it; take a new snapshot, or restore from an older one",
      });
    }
  },
  failure: (ctx) => progressDone(ctx),
});
