/**
 * db.migrations: the migration history compared with a set of files (or the
 * history alone when no files are given): applied, pending, missing, drifted,
 * partially applied.
 */
import { z } from "zod";
import { ComparedFiles, filesFromEntries, type MigrationFile } from "../../../core/migrations/files.ts";
import { plan } from "../../../core/migrations/plan.ts";
import { defineOperation } from "../../../core/operation.ts";
import { history } from "../history.ts";
import { MigrationsResult, type MigrationStatus } from "../schema.ts";

/** The files to compare the history with (null: the history alone) and where they came from. */
export const MigrationsInput = ComparedFiles;
export type MigrationsInput = z.infer<typeof MigrationsInput>;

export const migrationsOp = defineOperation({
  name: "db.migrations",
  summary: "list applied, pending, missing and drifted migrations",
  access: "read",
  input: MigrationsInput,
  result: MigrationsResult,
  event: z.never(),
  connection: () => ({ applicationName: "eve migrations" }),
  async run(deps, input) {
    const files = input.migrations ? filesFromEntries(input.migrations, input.directory ?? "the request") : null;
    const h = await history(deps.db);
    return build(deps.label, input.directory, `${h.schema}.schema_migrations`, files ?? [], h.rows, !!files);
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
