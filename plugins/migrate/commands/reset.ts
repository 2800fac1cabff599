/** `eve db reset`: the directory's files → db.reset (local or --env); the wipe's lines, then each file as it applies. */
import { resolve } from "node:path";
import { resolveMigrationsDir } from "../../../core/config.ts";
import { EveError } from "../../../core/errors.ts";
import { formatDuration, paint } from "../../../core/io.ts";
import { entryOf, readMigrationDir } from "../../../core/migrations/files.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { resetOp, type ResetEvent, type ResetInput } from "../ops/reset.ts";
import { MigrateResult, WipeResult, type ResetResult } from "../schema.ts";
import { describeWipe, errorJsonWithout, printRefusal } from "../wipe-preview.ts";
import { dangerOption, renderWipeEvent, wipeDescription, wipeLockTimeoutOption } from "./wipe.ts";

/** commander turns --no-migrate into `migrate: false`. */
type Opts = OpFlags<ResetInput, { path?: string; lockTimeout?: number; migrate?: boolean }>;

export default defineOpCommand<ResetInput, ResetResult, ResetEvent, Opts>({
  op: resetOp,
  path: ["db", "reset"],
  summary: resetOp.summary,
  description:
    "Validates the migrations directory first (file names, duplicate versions, SQL syntax): a problem\n" +
    "stops it before anything is dropped. Then wipes the database exactly like `eve db wipe` and runs\n" +
    "`eve db migrate` on the empty database (not with --no-migrate). With --env, the local files are sent\n" +
    "to the control plane, which validates them the same way before anything is dropped.\n\n" +
    wipeDescription,
  options: [
    { flags: "--path <dir>", description: "migrations directory (default: $MIGRATIONS_DIR or db/migrations)" },
    { flags: "--force", description: "really do it (without it: print what would be lost and exit 1)" },
    { flags: "--schemas-only", description: "drop and recreate the schemas instead of the database" },
    { flags: "--no-migrate", description: "wipe only: apply no migrations afterwards (the directory is not read)" },
    dangerOption,
    { ...wipeLockTimeoutOption, description: wipeLockTimeoutOption.description + "; also the migration lock" },
  ],
  examples: ["eve db reset --url postgres://app:…@localhost:5432/app_dev --path db/migrations --force", "eve db reset --env dev --force"],
  async input(ctx, opts) {
    const noMigrate = opts.migrate === false;
    const directory = resolveMigrationsDir(opts.path, ctx.env);
    const files = noMigrate ? [] : await readMigrationDir(resolve(ctx.cwd, directory));
    return {
      force: !!opts.force,
      schemasOnly: !!opts.schemasOnly,
      lockTimeoutMs: opts.lockTimeout ?? 60_000,
      migrations: files.map(entryOf),
      directory,
      noMigrate,
      dangerResetProduction: !!opts.dangerResetProduction,
    };
  },
  event(ctx, e, opts) {
    const out = ctx.out;
    if (e.type === "wipe") renderWipeEvent(out, e.event);
    if (e.type === "wiped" && !opts.json) out.print(describeWipe(e.result));
    if (e.type !== "migrate") return;
    const m = e.event;
    if (m.type === "server-notice") out.log(`${m.severity}: ${m.message}`);
    if (m.type === "extension") out.log(`created extension ${m.name} (needed by ${m.neededBy.join(", ")})`);
    if (m.type === "applied" && !opts.json) out.print(`  ${paint(out, "green", "✓")} ${m.item.name}  ${formatDuration(m.item.durationMs)}`);
  },
  result(ctx, r, opts, input) {
    if (opts.json) return void ctx.out.printJson(r);
    const m = r.migrate;
    ctx.out.print(
      !m
        ? "skipped the migrations (--no-migrate): the database is empty"
        : m.applied.length
          ? `applied ${m.applied.length} migration${m.applied.length === 1 ? "" : "s"} in ${formatDuration(m.durationMs)}`
          : `no migration files in ${input.directory}: the database is empty`,
    );
  },
  failure(ctx, e, opts) {
    printRefusal(ctx.out, "reset", e);
    const wiped = e instanceof EveError ? WipeResult.safeParse(e.details?.wiped) : undefined;
    if (!wiped?.success) return;
    // The wipe already happened: say so next to the migration error.
    if (!opts.json) return void ctx.out.log("the database was wiped; the migrations stopped at the error below");
    const partial = MigrateResult.safeParse((e as EveError).details?.partial);
    ctx.out.printJson({
      database: wiped.data.database,
      wipe: wiped.data,
      migrate: partial.success ? partial.data : null,
      error: errorJsonWithout(e as EveError, "wiped", "partial"),
    });
  },
});
