import { CheckError } from "../../../core/errors.ts";
import { renderTable } from "../../../core/io.ts";
import { entryOf, readOptionalMigrationDir } from "../../../core/migrations/files.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { migrationsOp, type MigrationsInput } from "../ops/migrations.ts";
import type { MigrationStatus, MigrationsResult } from "../schema.ts";

type Opts = OpFlags<MigrationsInput, { path?: string; check?: boolean }>;

export default defineOpCommand<MigrationsInput, MigrationsResult, never, Opts>({
  op: migrationsOp,
  path: ["db", "migrations"],
  summary: migrationsOp.summary,
  description:
    "Compares schema_migrations with the migrations directory. With --check, exits 5 when anything is\n" +
    "pending, drifted or partially applied (for CI). A no-transaction file that stopped midway is\n" +
    "listed as `running (k/n)`: finish it with eve db migrate --resume. With --env, the local files\n" +
    "are sent to the control plane and compared with the environment's database there.",
  options: [
    { flags: "--path <dir>", description: "migrations directory (default: $MIGRATIONS_DIR or db/migrations)" },
    { flags: "--check", description: "exit 5 when a migration is pending, drifted or partially applied" },
  ],
  examples: ["eve db migrations --url postgres://…", "eve db migrations --check --json", "eve db migrations --env staging"],
  async input(ctx, opts) {
    // Without --path/MIGRATIONS_DIR and no db/migrations, list the history alone.
    const dir = await readOptionalMigrationDir(opts.path, ctx.env, ctx.cwd);
    return { migrations: dir ? dir.files.map(entryOf) : null, directory: dir?.directory ?? null };
  },
  result(ctx, result, opts) {
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
