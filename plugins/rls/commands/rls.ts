/**
 * `eve db rls`: runs db.rls (plugins/rls/ops/rls.ts), prints the report and,
 * with --check or --fail-on, exits 5 when a finding is at or above the bar.
 */
import { CheckError } from "../../../core/errors.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { rlsOp, type RlsInput } from "../ops/rls.ts";
import { renderReport } from "../render.ts";
import { SEVERITIES, severityRank, type RlsReport, type Severity } from "../schema.ts";

type Opts = OpFlags<RlsInput, { check?: boolean; failOn?: Severity }>;

export default defineOpCommand<RlsInput, RlsReport, never, Opts>({
  op: rlsOp,
  path: ["db", "rls"],
  summary: rlsOp.summary,
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
    { flags: "--check", description: "exit 5 when a finding at or above --fail-on exists (for CI)" },
    { flags: "--fail-on <severity>", description: "lowest severity that fails --check (default: high)", choices: [...SEVERITIES] },
  ],
  examples: [
    "eve db rls --url postgres://app_user:…@localhost:5432/myapp",
    "eve db rls --check --fail-on medium --json",
    "eve db rls --env staging",
  ],
  input: () => ({}),
  result(ctx, report, opts) {
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
