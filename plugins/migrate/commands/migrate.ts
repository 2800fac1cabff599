/** `eve db migrate`: the directory's files → db.migrate (local or --env); files printed as they apply. */
import { resolve } from "node:path";
import { parseDuration, resolveMigrationsDir } from "../../../core/config.ts";
import { parseDbUrl } from "../../../core/db/url.ts";
import { EveError } from "../../../core/errors.ts";
import { formatDuration, paint, type Output } from "../../../core/io.ts";
import { entryOf, readMigrationDir } from "../../../core/migrations/files.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { migrateOp, type MigrateInput } from "../ops/migrate.ts";
import { MigrateResult, type MigrateEvent } from "../schema.ts";
import { errorJsonWithout } from "../wipe-preview.ts";

type Opts = OpFlags<MigrateInput, { path?: string; lockTimeout?: number }>;

export default defineOpCommand<MigrateInput, MigrateResult, MigrateEvent, Opts>({
  op: migrateOp,
  path: ["db", "migrate"],
  summary: migrateOp.summary,
  description:
    "Applies every pending *.sql file of the migrations directory in version order. Each file runs in\n" +
    "one transaction together with its schema_migrations row; files that cannot (CREATE INDEX\n" +
    "CONCURRENTLY, VACUUM, their own BEGIN/COMMIT, or a first line `-- eve:no-transaction`) run\n" +
    "statement by statement, recording each completed statement: if such a file stops midway (a kill, a\n" +
    "failure), the next run refuses (exit 5) and lists what completed; --resume continues after the last\n" +
    "completed statement. Applied files are checked by sha256: a changed file stops the run (exit 5)\n" +
    "before anything is applied. One runner at a time per history table (advisory lock).\n" +
    "On a database that holds objects but no history (migrated by another tool), the files are replayed\n" +
    "one by one on a scratch shadow database (CREATE DATABASE on the same server, or on --shadow-url's)\n" +
    "and its catalog compared with the database's after each file: the longest matching prefix is recorded\n" +
    "as adopted (not run) and the rest applied. No match stops before anything is written (exit 5) and\n" +
    "shows the closest prefix and the differing objects; --baseline VERSION records files by hand.\n" +
    "Also the eve-migrate container entrypoint: DATABASE_URL and MIGRATIONS_DIR are read when the flags\n" +
    "are absent. With --env, the local files are sent to the control plane and applied to the\n" +
    "environment's database there; only the files applied by this run are reported as applied.",
  options: [
    { flags: "--path <dir>", description: "migrations directory (default: $MIGRATIONS_DIR or db/migrations)" },
    { flags: "--dry-run", description: "print the plan and write nothing (not even the history table)" },
    {
      flags: "--lock-timeout <duration>",
      description: "how long to wait for another runner's lock before exit 6",
      default: "60s",
      parse: (v) => parseDuration(v, "--lock-timeout"),
    },
    { flags: "--allow-out-of-order", description: "apply pending files older than the newest applied one" },
    { flags: "--baseline <version>", description: "record every file up to VERSION as applied without running it" },
    {
      flags: "--shadow-url <url>",
      description: "adoption: create the scratch shadow database on this server instead of the target's (needs CREATEDB there)",
    },
    { flags: "--resume", description: "continue a partially applied no-transaction file after its last completed statement" },
  ],
  examples: [
    'eve db migrate --url "postgres://app:app@localhost:5432/myapp" --path db/migrations',
    "DATABASE_URL=postgres://… MIGRATIONS_DIR=/migrations eve db migrate --wait",
    "eve db migrate --dry-run --json",
    "eve db migrate --env staging",
  ],
  async input(ctx, opts) {
    const directory = resolveMigrationsDir(opts.path, ctx.env);
    if (opts.shadowUrl !== undefined) parseDbUrl(opts.shadowUrl, "--shadow-url");
    const files = await readMigrationDir(resolve(ctx.cwd, directory));
    return {
      migrations: files.map(entryOf),
      directory,
      dryRun: !!opts.dryRun,
      lockTimeoutMs: opts.lockTimeout ?? 60_000,
      allowOutOfOrder: !!opts.allowOutOfOrder,
      baseline: opts.baseline,
      shadowUrl: opts.shadowUrl,
      resume: !!opts.resume,
    };
  },
  before(ctx, input, opts) {
    if (!opts.json && input.migrations.length === 0) ctx.out.log(`no migration files in ${input.directory}`);
  },
  event(ctx, e, opts) {
    renderEvent(ctx.out, e, !opts.json);
  },
  result(ctx, result, opts) {
    if (opts.json) return void ctx.out.printJson(result);
    if (result.dryRun) return void ctx.out.print(renderPlan(result));
    ctx.out.print(summary(result));
  },
  failure(ctx, e, opts) {
    // The partial result (what was applied before the failure) joins the error document.
    const partial = e instanceof EveError ? MigrateResult.safeParse(e.details?.partial) : undefined;
    if (opts.json && partial?.success) ctx.out.printJson({ ...partial.data, error: errorJsonWithout(e as EveError, "partial") });
  },
});

/** One event as `eve db migrate` prints it: progress on stderr, applied files on stdout (human mode). */
function renderEvent(out: Output, e: MigrateEvent, human: boolean): void {
  if (e.type === "server-notice") out.log(`${e.severity}: ${e.message}`);
  if (e.type === "lock-wait") out.log(`waiting for the migration lock${e.holderPid ? ` (held by server process ${e.holderPid})` : ""}…`);
  if (e.type === "notice") out.log(`${paint(out, "yellow", "notice:")} ${e.message}`);
  if (e.type === "extension") out.log(`created extension ${e.name} (needed by ${e.neededBy.join(", ")})`);
  if (e.type === "applied" && human) out.print(renderItem(out, e.item));
  if (e.type === "shadow" && e.phase === "create" && e.purpose === "closest") out.log("no prefix of the files matches the database: replaying them once more to find the closest one…");
  if (e.type === "shadow" && e.phase === "create" && e.purpose === "compare") out.log(`no migration history but objects: replaying the ${e.files} files on a shadow database (${e.name}) to find which ones the database already has…`);
  if (e.type === "shadow" && e.phase === "swept") out.log(`dropped ${e.name}, a shadow database left by an interrupted run`);
  if (e.type === "shadow" && e.phase === "leftover") out.log(`${paint(out, "yellow", "warning:")} could not drop the shadow database ${e.name}: ${e.error}; drop it by hand`);
}

/** Files run and files only recorded are counted apart. */
function summary(r: MigrateResult): string {
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  const ran = r.applied.filter((a) => a.kind !== "adopted" && a.kind !== "marked").length;
  const adopted = r.applied.filter((a) => a.kind === "adopted").length;
  const marked = r.applied.filter((a) => a.kind === "marked").length;
  if (!r.applied.length) return `no pending migrations (${r.alreadyApplied} applied) on ${r.database}`;
  const parts = [
    ...(adopted ? [`adopted ${plural(adopted, "file")} (recorded, not run: the schema already matched)`] : []),
    ...(marked ? [`marked ${plural(marked, "file")} (recorded, not run: --baseline)`] : []),
    `applied ${plural(ran, "migration")}`,
  ];
  return `${parts.join(", ")} on ${r.database} in ${formatDuration(r.durationMs)}`;
}

function renderItem(out: Output, item: MigrateResult["applied"][number]): string {
  if (item.kind === "adopted") return `  ${paint(out, "cyan", "≈")} ${item.name}  (adopted: recorded, not run)`;
  const mark = item.kind === "applied" || item.kind === "empty" ? paint(out, "green", "✓") : paint(out, "dim", "○");
  const extra =
    item.kind === "marked"
      ? " (marked applied, not run)"
      : item.kind === "empty"
        ? " (no statements: recorded as empty)"
        : item.resumedAt
          ? ` (resumed at statement ${item.resumedAt}, outside a transaction)`
          : item.transaction
            ? ""
            : " (outside a transaction)";
  return `  ${mark} ${item.name}  ${formatDuration(item.durationMs)}${extra}`;
}

function renderPlan(r: MigrateResult): string {
  const lines = [`dry run on ${r.database} (${r.directory}): ${r.planned.length} pending, ${r.alreadyApplied} applied; nothing written`];
  for (const p of r.planned) {
    const what = p.action === "resume" ? `finish the partially applied file (${p.reason})` : p.action === "mark" ? "mark applied (not run)" : p.action === "adopt" ? "adopt: the database's schema already matches; record, do not run" : "apply";
    lines.push(`  ${p.name}  ${what}${p.transaction || p.action === "resume" ? "" : `, outside a transaction: ${p.reason}`}`);
  }
  for (const e of r.extensions) lines.push(`  would create extension ${e.name} (needed by ${e.neededBy.join(", ")})`);
  if (r.adoption) lines.push(`  adoption: ${r.adoption.matched} of ${r.adoption.files} files match the database (compared on shadow database ${r.adoption.shadow}, dropped)`);
  return lines.join("\n");
}
