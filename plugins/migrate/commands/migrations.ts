import { urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { CheckError } from "../../../core/errors.ts";
import { renderTable } from "../../../core/io.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { readOptionalMigrationDir, type MigrationFile } from "../../../core/migrations/files.ts";
import { plan } from "../../../core/migrations/plan.ts";
import { history } from "../history.ts";
import type { MigrationStatus, MigrationsResult } from "../schema.ts";

interface Opts {
  url?: string;
  path?: string;
  check?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "migrations"],
  summary: "list applied, pending, missing and drifted migrations",
  description:
    "Compares schema_migrations with the migrations directory. With --check, exits 5 when anything is\n" +
    "pending, drifted or partially applied (for CI). A no-transaction file that stopped midway is\n" +
    "listed as `running (k/n)`: finish it with eve db migrate --resume.",
  options: [
    urlOption,
    { flags: "--path <dir>", description: "migrations directory (default: $MIGRATIONS_DIR or db/migrations)" },
    { flags: "--check", description: "exit 5 when a migration is pending, drifted or partially applied" },
    ...waitOptions,
  ],
  examples: ["eve db migrations --url postgres://…", "eve db migrations --check --json"],
  async run(ctx, opts) {
    // Without --path/MIGRATIONS_DIR and no db/migrations, list the history alone.
    const dir = await readOptionalMigrationDir(opts.path, ctx.env, ctx.cwd);
    const files = dir?.files ?? null;
    const directory = dir?.directory ?? null;
    const conn = await openDirect(ctx, opts, { applicationName: "eve migrations" });
    let result: MigrationsResult;
    try {
      const h = await history(conn.db);
      result = build(conn.label, directory, `${h.schema}.schema_migrations`, files ?? [], h.rows, !!files);
    } finally {
      await conn.close();
    }
    if (opts.json) ctx.out.printJson(result);
    else ctx.out.print(render(result));
    const s = result.summary;
    if (opts.check && (s.pending || s.drifted || s.running)) {
      throw new CheckError("E_CHECK", `${s.pending} pending, ${s.drifted} drifted and ${s.running} partially applied migration(s)`, {
        hint: s.running ? "finish the partially applied file with eve db migrate --resume" : "run eve db migrate, or restore drifted files",
      });
    }
  },
});

function build(
  database: string,
  directory: string | null,
  table: string,
  files: MigrationFile[],
  rows: Awaited<ReturnType<typeof history>>["rows"],
  haveFiles: boolean,
): MigrationsResult {
  const p = plan(files, rows);
  const drifted = new Map(p.drifted.map((d) => [d.name, d]));
  const eol = new Set(p.lineEndingOnly.map((d) => d.name));
  const list: MigrationStatus[] = [];
  for (const { file, row } of p.applied) {
    const kind = (row.kind ?? "applied") as "applied" | "baselined" | "adopted" | "marked" | "empty";
    list.push({
      name: file.name,
      version: file.version,
      status: drifted.has(file.name) ? "drifted" : eol.has(file.name) ? "line-endings" : kind,
      appliedAt: row.applied_at.toISOString(),
      checksum: row.checksum,
      fileChecksum: file.checksum,
      durationMs: row.duration_ms,
    });
  }
  for (const { file, row, drift } of p.running) {
    const total = (row.details as { statements?: number } | null)?.statements;
    list.push({
      name: file?.name ?? row.name,
      version: file?.version ?? /^(\d{14})/.exec(row.name)?.[1] ?? row.name,
      status: drift ? "drifted" : "running",
      appliedAt: row.applied_at.toISOString(),
      checksum: row.checksum,
      fileChecksum: file?.checksum ?? null,
      durationMs: null,
      statementsDone: row.statements_done ?? 0,
      ...(total ? { statements: total } : {}),
    });
  }
  for (const f of p.pending) {
    list.push({ name: f.name, version: f.version, status: "pending", appliedAt: null, checksum: null, fileChecksum: f.checksum, durationMs: null });
  }
  for (const r of p.missing) {
    list.push({
      name: r.name,
      version: /^(\d{14})/.exec(r.name)?.[1] ?? r.name,
      status: haveFiles ? "missing" : ((r.kind ?? "applied") as "applied"),
      appliedAt: r.applied_at.toISOString(),
      checksum: r.checksum,
      fileChecksum: null,
      durationMs: r.duration_ms,
    });
  }
  list.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  const count = (...s: string[]) => list.filter((m) => s.includes(m.status)).length;
  return {
    database,
    directory,
    table,
    migrations: list,
    summary: {
      applied: count("applied", "baselined", "adopted", "marked", "empty", "drifted", "line-endings") - p.running.filter((r) => r.drift).length,
      pending: count("pending"),
      missing: haveFiles ? count("missing") : 0,
      drifted: count("drifted"),
      running: p.running.length,
    },
  };
}

function render(r: MigrationsResult): string {
  if (!r.migrations.length) return `no migrations applied on ${r.database}${r.directory ? ` and none in ${r.directory}` : ""}`;
  const status = (m: MigrationStatus) =>
    m.statementsDone !== undefined ? `${m.status} (${m.statementsDone}${m.statements ? `/${m.statements}` : ""} statements done)` : m.status;
  const rows = r.migrations.map((m) => [m.name, status(m), m.appliedAt ? m.appliedAt.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-"]);
  const s = r.summary;
  return (
    renderTable(["MIGRATION", "STATUS", "APPLIED AT (UTC)"], rows) +
    `\n\n${s.applied} applied, ${s.pending} pending, ${s.missing} missing, ${s.drifted} drifted${s.running ? `, ${s.running} partially applied (finish with eve db migrate --resume)` : ""} on ${r.database}`
  );
}
