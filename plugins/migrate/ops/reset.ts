/**
 * db.reset: wipe the database, then apply every migration, as one operation.
 * Everything is validated before anything is dropped: the files' names,
 * versions, text and SQL syntax, then the preview (refused without `force`).
 * A migration failure after the wipe carries the wipe's result in
 * `details.wiped` (and what was applied in `details.partial`).
 */
import { z } from "zod";
import { mapDbError, ping } from "../../../core/db/index.ts";
import { facts } from "../../../core/db/recreate-facts.ts";
import { EveError, ExitCode, UsageError } from "../../../core/errors.ts";
import { filesFromEntries, type MigrationFile } from "../../../core/migrations/files.ts";
import { defineOperation } from "../../../core/operation.ts";
import { ensureParser, lineAt, ParseError, splitStatements } from "../../../core/sql/index.ts";
import { migrate } from "../runner.ts";
import { MigrateEvent, ResetResult, WipeEvent, WipeResult } from "../schema.ts";
import { preview, refusal } from "../wipe-preview.ts";
import { MigrateInput, sourceOf } from "./migrate.ts";
import { wipe, WipeInput } from "./wipe.ts";

/** The wipe's input, the files to apply (none: an empty database) and where they came from. */
export const ResetInput = WipeInput.extend({
  migrations: MigrateInput.shape.migrations.default([]),
  directory: MigrateInput.shape.directory,
  /** Wipe only: apply no migrations (then `migrations` must be empty). */
  noMigrate: z.boolean().default(false),
});
export type ResetInput = z.infer<typeof ResetInput>;

/** Events of the two phases, tagged by phase; `wiped` comes between them. */
export const ResetEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("wipe"), event: WipeEvent }),
  z.object({ type: z.literal("wiped"), result: WipeResult }),
  z.object({ type: z.literal("migrate"), event: MigrateEvent }),
]);
export type ResetEvent = z.infer<typeof ResetEvent>;

/** How long to wait for the recreated database to accept connections. */
const RECONNECT_MS = 10_000;

export const resetOp = defineOperation({
  name: "db.reset",
  summary: "wipe the database, then apply every migration",
  access: "owner",
  input: ResetInput,
  result: ResetResult,
  event: ResetEvent,
  connection: () => ({ applicationName: "eve reset" }),
  async run(deps, input, emit) {
    if (input.noMigrate && input.migrations.length) {
      throw new UsageError("no migrations may be given with --no-migrate", { hint: "drop --no-migrate to apply them after the wipe; nothing was dropped" });
    }
    const source = sourceOf(input.directory);
    const files = filesFromEntries(input.migrations, source);
    await validateSql(files);
    const f = await facts(deps.db);
    if (!input.force) throw refusal("reset", preview(deps.label, f, input.schemasOnly, input.noMigrate ? undefined : files.length));

    deps.onNotice((n) => emit({ type: "migrate", event: { type: "server-notice", severity: n.severity ?? "NOTICE", message: n.message ?? "" } }));
    const wiped = await wipe(deps, input, f, (event) => emit({ type: "wipe", event }));
    emit({ type: "wiped", result: wiped });
    if (input.noMigrate) return { database: deps.label, wipe: wiped, migrate: null };
    try {
      // A database-mode wipe ended this session with the old database: reconnect to the new one.
      await ping(deps.db, deps.url, { waitMs: RECONNECT_MS, signal: deps.signal });
      const migrated = await migrate(
        deps.db,
        files,
        {
          database: deps.label,
          directory: source,
          lockTimeoutMs: input.lockTimeoutMs,
          url: deps.url,
          shadowUrl: deps.mode === "managed" ? deps.shadowUrl : undefined,
          signal: deps.signal,
        },
        (event) => emit({ type: "migrate", event }),
      );
      return { database: deps.label, wipe: wiped, migrate: migrated };
    } catch (e) {
      // The wipe happened: the error says so, with its result as data.
      const err = mapDbError(e, deps.url);
      (err as { details?: Record<string, unknown> }).details = { ...err.details, wiped };
      throw err;
    }
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
