import { resolve } from "node:path";
import { UsageError } from "../../../core/errors.ts";
import { formatBytes, formatDuration } from "../../../core/io.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { readRecord } from "../catalog.ts";
import { downloadSnapshot } from "../download.ts";
import { createProgress } from "../progress.ts";
import { storeFor, storeOption } from "./common.ts";

interface Opts {
  store?: string;
  output: string;
  force?: boolean;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "snapshot", "download"],
  summary: "download a snapshot to a local file (sha256-checked)",
  description:
    "Writes the dump to a temp file beside --output and renames it into place only when its size and\n" +
    "sha256 match the record. The file restores with plain pg_restore, owners and grants included\n" +
    "(the roles must exist on that server):\n" +
    "  pg_restore --clean --if-exists -d postgres://… ./backup.dump\n" +
    "Where the roles differ, say so explicitly: add --no-owner (objects belong to the connecting role)\n" +
    "and/or --no-acl (no grants).",
  args: [{ name: "<id>", description: "snapshot id (snap_…)" }],
  options: [
    storeOption,
    { flags: "-o, --output <file>", description: "destination file (required)" },
    { flags: "--force", description: "overwrite an existing file" },
  ],
  examples: ["eve db snapshot download snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC --output ./backup.dump"],
  async run(ctx, opts, [id]) {
    if (!opts.output) {
      throw new UsageError("--output is required", { hint: "e.g. --output ./backup.dump" });
    }
    const store = storeFor(ctx, opts.store);
    const rec = await readRecord(store, id!);
    const output = resolve(ctx.cwd, opts.output);
    const progress = createProgress(ctx.out, opts.json, "downloading", rec.size ?? undefined);
    let result;
    try {
      result = await downloadSnapshot({ store, record: rec, output, overwrite: opts.force, signal: ctx.signal, onProgress: (b) => progress.update(b) });
    } finally {
      progress.done();
    }
    if (opts.json) return void ctx.out.printJson(result);
    ctx.out.print(`downloaded ${rec.id} to ${result.output} (${formatBytes(result.size)}, sha256 ${result.sha256.slice(0, 16)}… verified, ${formatDuration(result.durationMs)})`);
    ctx.out.log(`restore it with: pg_restore --clean --if-exists -d postgres://… ${opts.output} (add --no-owner --no-acl where the roles differ)`);
  },
});
