import { parseDuration, urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { facts } from "../../../core/db/recreate-facts.ts";
import { describeHolder, wipeDatabase, type WipeEvent } from "../../../core/db/recreate.ts";
import { paint, type Output } from "../../../core/io.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { describeWipe, preview, refuse } from "../wipe-preview.ts";

interface Opts {
  url?: string;
  force?: boolean;
  schemasOnly?: boolean;
  wait?: boolean;
  waitTimeout?: number | string;
  lockTimeout?: number | string;
  json?: boolean;
}

/** --lock-timeout for wipe and reset: the longest wait for any one lock in schema mode. */
export const wipeLockTimeoutOption = {
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

export default defineCommand<Opts>({
  path: ["db", "wipe"],
  summary: "drop and recreate the database (everything in it is lost)",
  description: wipeDescription,
  options: [
    urlOption,
    { flags: "--force", description: "really do it (without it: print what would be lost and exit 1)" },
    { flags: "--schemas-only", description: "drop and recreate the schemas instead of the database" },
    wipeLockTimeoutOption,
    ...waitOptions,
  ],
  examples: ["eve db wipe --url postgres://app:…@localhost:5432/app_dev", "eve db wipe --url postgres://… --force --json"],
  async run(ctx, opts) {
    const conn = await openDirect(ctx, { url: opts.url, wait: opts.wait, waitTimeout: waitMs(opts.waitTimeout) }, { applicationName: "eve wipe" });
    let p;
    try {
      p = preview(conn.label, await facts(conn.db), !!opts.schemasOnly);
    } finally {
      await conn.close();
    }
    if (!opts.force) refuse(ctx.out, "wipe", p);
    const result = await wipeDatabase(conn.url, {
      label: conn.label,
      schemasOnly: opts.schemasOnly,
      report: wipeReporter(ctx.out),
      signal: ctx.signal,
      lockTimeoutMs: durationMs(opts.lockTimeout, "60s", "--lock-timeout"),
    });
    if (opts.json) ctx.out.printJson(result);
    else ctx.out.print(describeWipe(result));
  },
});

export function wipeReporter(out: Output): (e: WipeEvent) => void {
  return (e) => {
    if (e.type === "fallback") out.log(`${paint(out, "yellow", "warning:")} cannot drop the database (${e.reason}); dropping and recreating every schema instead`);
    if (e.type === "warning") out.log(`${paint(out, "yellow", "warning:")} ${e.message}`);
    if (e.type === "lock-wait") {
      out.log(`waiting for a lock held by ${describeHolder(e.holder)}: up to --lock-timeout ${Math.round(e.timeoutMs / 1000)}s per lock; Ctrl-C cancels and changes nothing`);
    }
  };
}

/** --wait-timeout: commander leaves the default ("60s") unparsed. */
function waitMs(v: unknown): number {
  return durationMs(v, "60s", "--wait-timeout");
}

/** A duration option's value in ms, whether commander parsed it or left the default text. */
export function durationMs(v: unknown, fallback: string, flag: string): number {
  return typeof v === "number" ? v : parseDuration(String(v ?? fallback), flag);
}
