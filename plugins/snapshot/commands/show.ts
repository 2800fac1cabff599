import { defineCommand } from "../../../core/plugin.ts";
import { readRecord } from "../catalog.ts";
import { describeRecord, storeFor, storeOption } from "./common.ts";

interface Opts {
  store?: string;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "snapshot", "show"],
  summary: "show one snapshot's record",
  args: [{ name: "<id>", description: "snapshot id (snap_…)" }],
  options: [storeOption],
  examples: ["eve db snapshot show snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC --json"],
  async run(ctx, opts, [id]) {
    const store = storeFor(ctx, opts.store);
    const rec = await readRecord(store, id!);
    if (opts.json) return void ctx.out.printJson(rec);
    ctx.out.print(`snapshot ${rec.id} in ${store.url}`);
    ctx.out.print(describeRecord(ctx.out, rec));
  },
});
