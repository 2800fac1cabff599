/** `eve db snapshot show ID`: flags → db.snapshot.show input; key/value lines, or the record with --json. */
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { showOp, type SnapshotIdInput } from "../ops/show.ts";
import type { ShowResult } from "../schema.ts";
import { describeRecord, storeFor, storeOption } from "./common.ts";

type Opts = OpFlags<SnapshotIdInput, { store?: string }>;

export default defineOpCommand<SnapshotIdInput, ShowResult, never, Opts>({
  op: showOp,
  path: ["db", "snapshot", "show"],
  summary: showOp.summary,
  args: [{ name: "<id>", description: "snapshot id (snap_…)" }],
  options: [storeOption],
  examples: ["eve db snapshot show snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC --json"],
  input: (_ctx, _opts, [id]) => ({ id: id! }),
  store: (ctx, opts) => storeFor(ctx, opts.store),
  result(ctx, { store, snapshot }, opts) {
    if (opts.json) return void ctx.out.printJson(snapshot);
    ctx.out.print(`snapshot ${snapshot.id} in ${store}`);
    ctx.out.print(describeRecord(ctx.out, snapshot));
  },
});
