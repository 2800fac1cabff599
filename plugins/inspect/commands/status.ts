/**
 * `eve db status`: runs db.status (plugins/inspect/ops/status.ts), sending the
 * local migration files when there are some, and prints the report.
 */
import { entryOf, readOptionalMigrationDir } from "../../../core/migrations/files.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { statusOp, type StatusInput } from "../ops/status.ts";
import { renderStatus } from "../render-status.ts";
import type { StatusResult } from "../schema.ts";

type Opts = OpFlags<StatusInput, { path?: string }>;

export default defineOpCommand<StatusInput, StatusResult, never, Opts>({
  op: statusOp,
  path: ["db", "status"],
  summary: statusOp.summary,
  description:
    "Connects (exit 3 with a one-line reason when the server is unreachable or rejects the\n" +
    "login), then reports the server version, database size, connections in use against\n" +
    "max_connections, installed extensions, the schema_migrations summary of the current schema,\n" +
    "the longest-running query and the oldest open transaction on this database. With --path\n" +
    "(or $MIGRATIONS_DIR, or ./db/migrations when it exists) it also lists pending, drifted and\n" +
    "missing migrations. Other roles' queries are only visible with pg_read_all_stats.\n\n" +
    "--json prints one document (zod: StatusResult in plugins/inspect/schema.ts):\n" +
    "{ target, reachable, latencyMs,\n" +
    "  server: {version, versionNum, inRecovery, startedAt},\n" +
    "  database: {name, owner, encoding, sizeBytes},\n" +
    "  connections: {used, max, reservedForSuperuser, thisDatabase},\n" +
    "  extensions: [{name, version, schema}],\n" +
    "  migrations: {table, exists, applied, latest: {name, appliedAt},\n" +
    "               directory, pending, drifted, missing (names; null without a directory)},\n" +
    "  longestQuery: {pid, user, application, state, durationMs, query (80 chars)},\n" +
    "  oldestTransaction: {pid, user, application, state, ageMs} }\n" +
    "latest, longestQuery and oldestTransaction are null when there is none.",
  options: [
    { flags: "--path <dir>", description: "migrations directory to compare with (default: $MIGRATIONS_DIR, or db/migrations if present)" },
  ],
  examples: ["eve db status --url postgres://…", "eve db status --path db/migrations --json"],
  async input(ctx, opts) {
    // Read (and validate) the files before connecting: a bad name is a usage error.
    const dir = await readOptionalMigrationDir(opts.path, ctx.env, ctx.cwd);
    return { migrations: dir ? dir.files.map(entryOf) : null, directory: dir?.directory ?? null };
  },
  result(ctx, result, opts) {
    if (opts.json) ctx.out.printJson(result);
    else ctx.out.print(renderStatus(result, ctx.out));
  },
});
