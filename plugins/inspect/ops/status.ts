/**
 * db.status: reachability, latency, server and database facts, connections,
 * extensions, the migration summary (compared with files when some are sent)
 * and the oldest activity of the target, as a StatusResult.
 */
import { z } from "zod";
import { ComparedFiles, filesFromEntries } from "../../../core/migrations/files.ts";
import { defineOperation } from "../../../core/operation.ts";
import { StatusResult } from "../schema.ts";
import { inspectStatus } from "../status-query.ts";

/** The files to compare the history with (null: the history alone) and where they came from. */
export const StatusInput = ComparedFiles;
export type StatusInput = z.infer<typeof StatusInput>;

export const statusOp = defineOperation({
  name: "db.status",
  summary: "check a database: reachability, latency, size, connections, migrations, long queries",
  access: "read",
  input: StatusInput,
  result: StatusResult,
  event: z.never(),
  connection: () => ({ applicationName: "eve status" }),
  async run(deps, input) {
    const directory = input.directory ?? "the request";
    const migrations = input.migrations ? { directory, files: filesFromEntries(input.migrations, directory) } : undefined;
    return inspectStatus(deps.db, { target: deps.label, migrations });
  },
});
