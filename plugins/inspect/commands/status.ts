import { urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { readOptionalMigrationDir } from "../../../core/migrations/files.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { renderStatus } from "../render-status.ts";
import { inspectStatus } from "../status-query.ts";

interface Opts {
  url?: string;
  path?: string;
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "status"],
  summary: "check a database: reachability, latency, size, connections, migrations, long queries",
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
    urlOption,
    { flags: "--path <dir>", description: "migrations directory to compare with (default: $MIGRATIONS_DIR, or db/migrations if present)" },
    ...waitOptions,
  ],
  examples: ["eve db status --url postgres://…", "eve db status --path db/migrations --json"],
  async run(ctx, opts) {
    // Read (and validate) the files before connecting: a bad name is a usage error.
    const dir = await readOptionalMigrationDir(opts.path, ctx.env, ctx.cwd);
    const conn = await openDirect(ctx, opts, { applicationName: "eve status" });
    try {
      const result = await inspectStatus(conn.db, {
        target: conn.label,
        migrations: dir ?? undefined,
      });
      if (opts.json) ctx.out.printJson(result);
      else ctx.out.print(renderStatus(result, ctx.out));
    } finally {
      await conn.close();
    }
  },
});
