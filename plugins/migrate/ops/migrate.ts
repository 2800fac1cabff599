/**
 * db.migrate: apply the pending files of a set of migrations (sent as
 * `{name, sql}`; names, checksums and directives computed here), reporting
 * each file as it applies. A failure carries what was applied before it in
 * the error's `details.partial`.
 */
import { z } from "zod";
import { parseDbUrl } from "../../../core/db/url.ts";
import { UsageError } from "../../../core/errors.ts";
import { filesFromEntries, MigrationEntry } from "../../../core/migrations/files.ts";
import { defineOperation, type OpDeps } from "../../../core/operation.ts";
import { migrate } from "../runner.ts";
import { MigrateEvent, MigrateResult } from "../schema.ts";

/** How long to wait for a lock held by another session (the migration lock, a wipe's locks) before exit 6; at most Postgres' lock_timeout limit. */
export const LockTimeoutMs = z.number().int().min(1).max(2_147_483_647).default(60_000);

export const MigrateInput = z.object({
  /** The migration files: name and whole text. */
  migrations: z.array(MigrationEntry).max(100_000),
  /** Where the files came from, for messages (a directory, or null). */
  directory: z.string().max(4096).nullable().default(null),
  /** Print the plan and write nothing. */
  dryRun: z.boolean().default(false),
  lockTimeoutMs: LockTimeoutMs,
  allowOutOfOrder: z.boolean().default(false),
  /** Record every file up to this version as applied without running it. */
  baseline: z.string().max(64).optional(),
  /** Direct mode only: the server for adoption's shadow database (managed mode uses the platform's). */
  shadowUrl: z.string().max(4096).optional(),
  /** Continue a partially applied no-transaction file after its last completed statement. */
  resume: z.boolean().default(false),
});
export type MigrateInput = z.infer<typeof MigrateInput>;

/** Where the files came from, as messages and results name it. */
export function sourceOf(directory: string | null): string {
  return directory ?? "the request";
}

export const migrateOp = defineOperation({
  name: "db.migrate",
  summary: "apply pending migrations (one transaction per file)",
  access: "write",
  input: MigrateInput,
  result: MigrateResult,
  event: MigrateEvent,
  connection: () => ({ applicationName: "eve migrate" }),
  async run(deps, input, emit) {
    const source = sourceOf(input.directory);
    const files = filesFromEntries(input.migrations, source);
    const shadowUrl = shadowServer(deps, input.shadowUrl);
    deps.onNotice((n) => emit({ type: "server-notice", severity: n.severity ?? "NOTICE", message: n.message ?? "" }));
    return migrate(
      deps.db,
      files,
      {
        database: deps.label,
        directory: source,
        dryRun: input.dryRun,
        lockTimeoutMs: input.lockTimeoutMs,
        allowOutOfOrder: input.allowOutOfOrder,
        baseline: input.baseline,
        url: deps.url,
        shadowUrl,
        resume: input.resume,
        signal: deps.signal,
        ...(deps.installExtension ? { createExtension: deps.installExtension } : {}),
      },
      emit,
    );
  },
});

/** The shadow database's server: --shadow-url in direct mode; the platform's in managed mode, where a given one is refused. */
function shadowServer(deps: OpDeps, given: string | undefined): string | undefined {
  if (deps.mode === "managed") {
    if (given !== undefined) {
      throw new UsageError("--shadow-url is for direct mode only", { hint: "drop --shadow-url: the control plane creates adoption's shadow database itself" });
    }
    return deps.shadowUrl;
  }
  if (given !== undefined) parseDbUrl(given, "--shadow-url");
  return given;
}
