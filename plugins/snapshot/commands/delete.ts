import { errorJson, EveError, ExitCode } from "../../../core/errors.ts";
import { formatBytes } from "../../../core/io.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { deleteSnapshot, readRecord, staleReason } from "../catalog.ts";
import type { DeleteResult } from "../schema.ts";
import { staleOptions, storeFor, storeOption } from "./common.ts";

interface Opts {
  store?: string;
  force?: boolean;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "snapshot", "delete"],
  summary: "delete a snapshot (its dump and its record)",
  description: "Without --force nothing is deleted: it prints what would be and exits 1. A snapshot still being\nwritten by a live process cannot be deleted.",
  args: [{ name: "<id>", description: "snapshot id (snap_…)" }],
  options: [storeOption, { flags: "--force", description: "really delete it" }],
  examples: ["eve db snapshot delete snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC --force"],
  async run(ctx, opts, [id]) {
    const store = storeFor(ctx, opts.store);
    const rec = await readRecord(store, id!);
    if (rec.status === "in_progress" && !staleReason(rec, staleOptions(ctx))) {
      throw new EveError("E_IN_PROGRESS", `snapshot ${rec.id} is still being written by ${rec.writer.host} pid ${rec.writer.pid}`, ExitCode.error, {
        hint: "wait for it to finish (or stop that process), then delete it",
      });
    }
    const what = `snapshot ${rec.id} of ${rec.sourceKey} (${rec.status}${rec.size !== null ? `, ${formatBytes(rec.size)}` : ""}, created ${rec.createdAt})`;
    if (!opts.force) {
      const err = new EveError("E_REFUSED", `refusing to delete ${what} without --force`, ExitCode.error, { hint: "pass --force to delete it" });
      if (opts.json) ctx.out.printJson({ id: rec.id, store: store.url, deleted: false, error: errorJson(err) });
      throw err;
    }
    await deleteSnapshot(store, rec);
    const result: DeleteResult = { id: rec.id, store: store.url, deleted: true };
    if (opts.json) return void ctx.out.printJson(result);
    ctx.out.print(`deleted ${what}`);
  },
});
