/** `eve db snapshot delete ID [--force]`: flags → db.snapshot.delete input; without --force the refusal (and, with --json, its document). */
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { deleteOp, describeForDelete, type DeleteInput } from "../ops/delete.ts";
import { DeletePreview, type DeletedSnapshot } from "../schema.ts";
import { refusalJson, refusalPreview, storeFor, storeOption } from "./common.ts";

type Opts = OpFlags<DeleteInput, { store?: string }>;

export default defineOpCommand<DeleteInput, DeletedSnapshot, never, Opts>({
  op: deleteOp,
  path: ["db", "snapshot", "delete"],
  summary: deleteOp.summary,
  description: "Without --force nothing is deleted: it prints what would be and exits 1. A snapshot still being\nwritten by a live process cannot be deleted.",
  args: [{ name: "<id>", description: "snapshot id (snap_…)" }],
  options: [storeOption, { flags: "--force", description: "really delete it" }],
  examples: ["eve db snapshot delete snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC --force"],
  input: (_ctx, opts, [id]) => ({ id: id!, force: !!opts.force }),
  store: (ctx, opts) => storeFor(ctx, opts.store),
  result(ctx, r, opts) {
    if (opts.json) return void ctx.out.printJson({ id: r.id, store: r.store, deleted: r.deleted });
    ctx.out.print(`deleted ${describeForDelete(r.snapshot)}`);
  },
  failure(ctx, e, opts) {
    const refused = refusalPreview(e, DeletePreview);
    if (refused && opts.json) {
      const { id, store, deleted } = refused.preview;
      ctx.out.printJson({ id, store, deleted, error: refusalJson(refused.error) });
    }
  },
});
