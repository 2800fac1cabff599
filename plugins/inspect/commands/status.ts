/**
 * `eve db status`: runs db.status (plugins/inspect/ops/status.ts), sending the
 * local migration files when there are some, and prints the report.
 */
import { apiRequest } from "../../../core/http/client.ts";
import { formatBytes, paint } from "../../../core/io.ts";
import { entryOf, readOptionalMigrationDir } from "../../../core/migrations/files.ts";
import type { Context } from "../../../core/plugin.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { statusOp, type StatusInput } from "../ops/status.ts";
import { renderStatus } from "../render-status.ts";
import type { StatusResult } from "../schema.ts";

type Opts = OpFlags<StatusInput, { path?: string }>;

/** The tenant record of GET …/db/managed (--env), kept for the result renderer. */
type Managed = Record<string, unknown> & { status: string };
const managedOf = new WeakMap<object, Managed>();

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
    "latest, longestQuery and oldestTransaction are null when there is none.\n\n" +
    "With --env, the managed database's record comes first: state, class and its limits, instance,\n" +
    "engine version, size, connections, limits as applied and drift, extensions, timestamps (--json:\n" +
    "under \"managed\"); the report above follows when the database is ready.",
  options: [
    { flags: "--path <dir>", description: "migrations directory to compare with (default: $MIGRATIONS_DIR, or db/migrations if present)" },
  ],
  examples: ["eve db status --url postgres://…", "eve db status --path db/migrations --json", "eve db status --env staging --project shop"],
  async remotePrelude(ctx, remote, opts) {
    const m = await apiRequest<Managed>(remote, "GET", `/projects/${encodeURIComponent(remote.project!)}/envs/${encodeURIComponent(remote.env)}/db/managed`, undefined, { signal: ctx.signal });
    managedOf.set(opts, m);
    if (m.status === "ready" || m.status === "modifying") return;
    if (opts.json) ctx.out.printJson({ managed: m });
    else ctx.out.print(renderManaged(ctx, m));
    return m.status === "failed" ? 5 : 0;
  },
  async input(ctx, opts) {
    // Read (and validate) the files before connecting: a bad name is a usage error.
    const dir = await readOptionalMigrationDir(opts.path, ctx.env, ctx.cwd);
    return { migrations: dir ? dir.files.map(entryOf) : null, directory: dir?.directory ?? null };
  },
  result(ctx, result, opts) {
    const managed = managedOf.get(opts);
    if (opts.json) return void ctx.out.printJson(managed ? { managed, ...result } : result);
    if (managed) ctx.out.print(renderManaged(ctx, managed) + "\n");
    ctx.out.print(renderStatus(result, ctx.out));
  },
});

/** The managed database's record as aligned lines. */
function renderManaged(ctx: Context, m: Managed): string {
  const tier = m.tier as { label: string; connection_limit: number; statement_timeout_ms: number; idle_in_transaction_timeout_ms: number } | undefined;
  const limits = m.limits as { connectionLimit: number; statementTimeoutMs: number; idleInTransactionTimeoutMs: number } | undefined;
  const drift = (m.drift as Array<{ object: string; setting: string; expected: string | null; found: string | null }> | undefined) ?? [];
  const state = m.status === "ready" ? paint(ctx.out, "green", m.status) : m.status === "failed" ? paint(ctx.out, "red", m.status) : paint(ctx.out, "yellow", m.status);
  const rows: Array<[string, string]> = [
    ["managed database", `${String(m.service)} of ${String(m.project)}/${String(m.environment)} (${String(m.id)})`],
    ["state", state + (m.last_error_code ? ` (last error ${String(m.last_error_code)}: ${String(m.last_error_message)})` : "")],
    ["class", `${String(m.class)}${tier ? ` ${tier.label}: ${tier.connection_limit} connections, statement_timeout ${tier.statement_timeout_ms / 1000}s, idle in transaction ${tier.idle_in_transaction_timeout_ms / 1000}s` : ""}`],
    ["instance", `${String(m.instance_id)}, PostgreSQL ${String(m.engine_version)}`],
    ...(m.size_bytes !== undefined ? ([["size", formatBytes(m.size_bytes as number)]] as Array<[string, string]>) : []),
    ...(m.connections !== undefined ? ([["connections", `${String(m.connections)}${limits ? ` of ${limits.connectionLimit}` : ""}`]] as Array<[string, string]>) : []),
    ["limits", drift.length ? paint(ctx.out, "yellow", `${drift.length} drifted: `) + drift.map((d) => `${d.object} ${d.setting} is ${d.found ?? "unset"} (expected ${d.expected ?? "unset"})`).join("; ") : "as the class sets them"],
    ["extensions", ((m.extensions as string[]) ?? []).join(", ") || "none"],
    ["ready since", String(m.ready_at ?? "-")],
    ...(m.live_error ? ([["live data", paint(ctx.out, "yellow", String(m.live_error))]] as Array<[string, string]>) : []),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}
