import { resolve } from "node:path";
import { parseDuration, resolveMigrationsDir, urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { facts } from "../../../core/db/recreate-facts.ts";
import { wipeDatabase } from "../../../core/db/recreate.ts";
import { errorJson, EveError, ExitCode } from "../../../core/errors.ts";
import { formatDuration, paint } from "../../../core/io.ts";
import { readMigrationDir, type MigrationFile } from "../../../core/migrations/files.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { ensureParser, lineAt, ParseError, splitStatements } from "../../../core/sql/index.ts";
import { migrate } from "../runner.ts";
import type { MigrateResult, ResetResult, WipeResult } from "../schema.ts";
import { describeWipe, preview, refuse } from "../wipe-preview.ts";
import { durationMs, wipeDescription, wipeLockTimeoutOption, wipeReporter } from "./wipe.ts";

interface Opts {
  url?: string;
  path?: string;
  force?: boolean;
  schemasOnly?: boolean;
  wait?: boolean;
  waitTimeout?: number | string;
  lockTimeout?: number | string;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "reset"],
  summary: "wipe the database, then apply every migration",
  description:
    "Validates the migrations directory first (file names, duplicate versions, SQL syntax): a problem\n" +
    "stops it before anything is dropped. Then wipes the database exactly like `eve db wipe` and runs\n" +
    "`eve db migrate` on the empty database.\n\n" +
    wipeDescription,
  options: [
    urlOption,
    { flags: "--path <dir>", description: "migrations directory (default: $MIGRATIONS_DIR or db/migrations)" },
    { flags: "--force", description: "really do it (without it: print what would be lost and exit 1)" },
    { flags: "--schemas-only", description: "drop and recreate the schemas instead of the database" },
    { ...wipeLockTimeoutOption, description: wipeLockTimeoutOption.description + "; also the migration lock" },
    ...waitOptions,
  ],
  examples: ["eve db reset --url postgres://app:…@localhost:5432/app_dev --path db/migrations --force"],
  async run(ctx, opts) {
    const directory = resolveMigrationsDir(opts.path, ctx.env);
    const files = await readMigrationDir(resolve(ctx.cwd, directory));
    await validateSql(files);
    const out = ctx.out;
    const conn = await openDirect(ctx, { url: opts.url, wait: opts.wait, waitTimeout: waitMs(opts.waitTimeout) }, { applicationName: "eve reset" });
    let p;
    try {
      p = preview(conn.label, await facts(conn.db), !!opts.schemasOnly, files.length);
    } finally {
      await conn.close();
    }
    if (!opts.force) refuse(out, "reset", p);

    const lockTimeoutMs = durationMs(opts.lockTimeout, "60s", "--lock-timeout");
    const wipe: WipeResult = await wipeDatabase(conn.url, { label: conn.label, schemasOnly: opts.schemasOnly, report: wipeReporter(out), signal: ctx.signal, lockTimeoutMs });
    if (!opts.json) out.print(describeWipe(wipe));
    const fresh = await openDirect(ctx, { url: conn.url, wait: true, waitTimeout: 10_000 }, {
      applicationName: "eve reset",
      onNotice: (n) => out.log(`${n.severity ?? "NOTICE"}: ${n.message}`),
    });
    let migrated: MigrateResult;
    try {
      migrated = await migrate(fresh.db, files, { database: conn.label, directory, signal: ctx.signal, lockTimeoutMs }, (e) => {
        if (e.type === "extension") out.log(`created extension ${e.name} (needed by ${e.neededBy.join(", ")})`);
        if (e.type === "applied" && !opts.json) out.print(`  ${paint(out, "green", "✓")} ${e.item.name}  ${formatDuration(e.item.durationMs)}`);
      });
    } catch (e) {
      const partial = (e as { partial?: MigrateResult }).partial;
      // The wipe already happened: say so next to the migration error.
      if (opts.json && e instanceof EveError) out.printJson({ database: conn.label, wipe, migrate: partial ?? null, error: errorJson(e) });
      else if (!opts.json) out.log("the database was wiped; the migrations stopped at the error below");
      throw e;
    } finally {
      await fresh.close();
    }
    const result: ResetResult = { database: conn.label, wipe, migrate: migrated };
    if (opts.json) return void out.printJson(result);
    out.print(
      migrated.applied.length
        ? `applied ${migrated.applied.length} migration${migrated.applied.length === 1 ? "" : "s"} in ${formatDuration(migrated.durationMs)}`
        : `no migration files in ${directory}: the database is empty`,
    );
  },
});

/** Parse every file before anything is dropped (the runner would only find errors after the wipe). */
async function validateSql(files: MigrationFile[]): Promise<void> {
  if (!files.length) return;
  await ensureParser();
  for (const f of files) {
    try {
      splitStatements(f.text);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      throw new EveError("E_SQL_SYNTAX", `${f.name}:${e.line}:${e.column}: ${e.message}`, ExitCode.failed, {
        hint: `line ${e.line}: ${lineAt(f.text, e.position).trim()}; nothing was dropped`,
      });
    }
  }
}

/** --wait-timeout: commander leaves the default ("60s") unparsed. */
function waitMs(v: unknown): number {
  return durationMs(v, "60s", "--wait-timeout");
}
