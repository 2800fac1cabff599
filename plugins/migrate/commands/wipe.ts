/** `eve db wipe`: flags → db.wipe (local or --env); the preview without --force, the wipe's events and result. */
import { parseDuration } from "../../../core/config.ts";
import { describeHolder } from "../../../core/db/recreate.ts";
import { paint, type Output } from "../../../core/io.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import type { OptionSpec } from "../../../core/plugin.ts";
import { wipeOp, type WipeInput } from "../ops/wipe.ts";
import type { WipeEvent, WipeResult } from "../schema.ts";
import { describeWipe, printRefusal } from "../wipe-preview.ts";

type Opts = OpFlags<WipeInput, { lockTimeout?: number }>;

/** --lock-timeout for wipe and reset: the longest wait for any one lock in schema mode. */
export const wipeLockTimeoutOption: OptionSpec = {
  flags: "--lock-timeout <duration>",
  description: "schema mode: how long to wait for a lock held by another session before exit 6 (nothing changed)",
  default: "60s",
  parse: (v: string) => parseDuration(v, "--lock-timeout"),
};

export const wipeDescription =
  "Drops and recreates the database with the same owner, encoding, collation/ctype, locale provider,\n" +
  "tablespace, connection limit, settings, grants and comment (from template0), connecting to the\n" +
  "maintenance database (postgres, else template1). The new database is created first under a temporary\n" +
  "name; other sessions are then terminated and the old one dropped (WITH (FORCE) on PG13+), so a\n" +
  "failure before the drop loses nothing. When the role may not drop or recreate the database (not owner\n" +
  "or superuser, no CREATEDB, maintenance database unreachable), every user schema is dropped instead and\n" +
  "`public` recreated with its owner and grants, in one transaction; eve says so. A lock held by another\n" +
  "session is reported on stderr (pid, application) and waited for up to --lock-timeout (exit 6); Ctrl-C\n" +
  "cancels the statement on the server and rolls the transaction back (exit 130, nothing changed).\n" +
  "Without --force nothing happens: it prints what would be lost and exits 1.";

/** --danger-reset-production: the second confirmation for production environments (--env). */
export const dangerOption = {
  flags: "--danger-reset-production",
  description: "with --env on an environment named production or prod: confirm, besides --force",
};

export default defineOpCommand<WipeInput, WipeResult, WipeEvent, Opts>({
  op: wipeOp,
  path: ["db", "wipe"],
  summary: wipeOp.summary,
  description: wipeDescription,
  options: [
    { flags: "--force", description: "really do it (without it: print what would be lost and exit 1)" },
    { flags: "--schemas-only", description: "drop and recreate the schemas instead of the database" },
    dangerOption,
    wipeLockTimeoutOption,
  ],
  examples: ["eve db wipe --url postgres://app:…@localhost:5432/app_dev", "eve db wipe --url postgres://… --force --json", "eve db wipe --env dev --force"],
  input: (_ctx, opts) => ({ force: !!opts.force, schemasOnly: !!opts.schemasOnly, lockTimeoutMs: opts.lockTimeout ?? 60_000, dangerResetProduction: !!opts.dangerResetProduction }),
  event: (ctx, e) => renderWipeEvent(ctx.out, e),
  result(ctx, result, opts) {
    if (opts.json) ctx.out.printJson(result);
    else ctx.out.print(describeWipe(result));
  },
  failure: (ctx, e) => printRefusal(ctx.out, "wipe", e),
});

/** A wipe event as wipe and reset print it (stderr). */
export function renderWipeEvent(out: Output, e: WipeEvent): void {
  if (e.type === "fallback") out.log(`${paint(out, "yellow", "warning:")} cannot drop the database (${e.reason}); dropping and recreating every schema instead`);
  if (e.type === "warning") out.log(`${paint(out, "yellow", "warning:")} ${e.message}`);
  if (e.type === "lock-wait") {
    out.log(`waiting for a lock held by ${describeHolder(e.holder)}: up to --lock-timeout ${Math.round(e.timeoutMs / 1000)}s per lock; Ctrl-C cancels and changes nothing`);
  }
}
