import { parseDuration, urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { CheckError } from "../../../core/errors.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { inspectRls } from "../inspect.ts";
import { renderReport } from "../render.ts";
import { SEVERITIES, severityRank, type Severity } from "../schema.ts";

interface Opts {
  url?: string;
  check?: boolean;
  failOn?: Severity;
  wait?: boolean;
  waitTimeout?: number | string;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "rls"],
  summary: "list tables, views and RLS policies, with findings and fixes",
  description:
    "Every table and view in user schemas: RLS enabled/forced, owner, and each policy (command,\n" +
    "PERMISSIVE/RESTRICTIVE, roles, USING, WITH CHECK). Then findings, each with a severity and a fix:\n" +
    "  high    policies present while RLS is disabled; a permissive write policy USING/WITH CHECK (true)\n" +
    "          for PUBLIC; a view reading RLS tables with the rights of an owner that bypasses RLS\n" +
    "  medium  a table owned by the connecting role without FORCE; SECURITY DEFINER functions without a\n" +
    "          fixed search_path; a (true) write policy for named roles; other definer-rights views\n" +
    "  low     RLS enabled with no policy (denies everything); several permissive policies on one command\n" +
    "  info    the connecting role is a superuser or BYPASSRLS (it sees every row)\n" +
    "Findings about ownership depend on the role you connect as: inspect with the application's role.\n" +
    "--check exits 5 when a finding at or above --fail-on (default high) exists; --fail-on implies --check.",
  options: [
    urlOption,
    { flags: "--check", description: "exit 5 when a finding at or above --fail-on exists (for CI)" },
    { flags: "--fail-on <severity>", description: "lowest severity that fails --check (default: high)", choices: [...SEVERITIES] },
    ...waitOptions,
  ],
  examples: [
    "eve db rls --url postgres://app_user:…@localhost:5432/myapp",
    "eve db rls --check --fail-on medium --json",
  ],
  async run(ctx, opts) {
    const conn = await openDirect(ctx, { url: opts.url, wait: opts.wait, waitTimeout: waitMs(opts.waitTimeout) }, { applicationName: "eve rls" });
    let report;
    try {
      report = await inspectRls(conn.db, conn.label);
    } finally {
      await conn.close();
    }
    if (opts.json) ctx.out.printJson(report);
    else ctx.out.print(renderReport(ctx.out, report));
    if (opts.check || opts.failOn) {
      const failOn = opts.failOn ?? "high";
      const failing = report.findings.filter((f) => severityRank(f.severity) >= severityRank(failOn));
      if (failing.length) {
        throw new CheckError("E_RLS_FINDINGS", `${failing.length} RLS finding${failing.length > 1 ? "s" : ""} at or above ${failOn}`, {
          hint: `fix them (see each finding's fix), or raise --fail-on (${SEVERITIES.join(" < ")})`,
        });
      }
    }
  },
});

/** --wait-timeout: commander leaves the default ("60s") unparsed. */
function waitMs(v: unknown): number {
  return typeof v === "number" ? v : parseDuration(String(v ?? "60s"), "--wait-timeout");
}
