/** Human rendering of an RlsReport (pure: returns text). */
import { paint, type Output, type Style } from "../../core/io.ts";
import { severityRank, type Finding, type Relation, type RlsReport, type Severity } from "./schema.ts";

const SEVERITY_STYLE: Record<Severity, Style> = { high: "red", medium: "yellow", low: "cyan", info: "dim" };

export function renderReport(out: Pick<Output, "color">, r: RlsReport): string {
  const lines: string[] = [];
  const bypass = r.role.superuser ? ", superuser: bypasses RLS" : r.role.bypassRls ? ", BYPASSRLS: bypasses RLS" : "";
  lines.push(`RLS on ${r.database} as ${r.role.name}${bypass}`);
  if (!r.relations.length) lines.push("", "no user tables or views");
  for (const rel of r.relations) lines.push("", ...renderRelation(out, rel));
  const s = r.summary;
  lines.push(
    "",
    `${s.tables} table${s.tables === 1 ? "" : "s"} (${s.rlsEnabled} with RLS), ${s.views} view${s.views === 1 ? "" : "s"}, ${s.policies} polic${s.policies === 1 ? "y" : "ies"}`,
  );
  lines.push(...renderFindings(out, r.findings));
  return lines.join("\n");
}

function renderRelation(out: Pick<Output, "color">, rel: Relation): string[] {
  const name = paint(out, "bold", `${rel.schema}.${rel.name}`);
  if (rel.kind === "view") {
    const reads = rel.readsRlsTables.length ? `, reads RLS table${rel.readsRlsTables.length > 1 ? "s" : ""} ${rel.readsRlsTables.join(", ")}` : "";
    return [`${name}  view  owner ${rel.owner}  security_invoker ${rel.securityInvoker ? "on" : "off"}${reads}`];
  }
  const rls = rel.rlsEnabled ? paint(out, "green", rel.rlsForced ? "RLS enabled, forced" : "RLS enabled") : paint(out, "dim", "RLS disabled");
  const head = `${name}  ${rel.kind}  owner ${rel.owner}  ${rls}`;
  if (!rel.policies.length) return [head, "  no policies"];
  const lines = [head];
  for (const p of rel.policies) {
    lines.push(`  ${p.name}  ${p.command}  ${p.mode}  to ${p.roles.join(", ")}`);
    if (p.using !== null) lines.push(`      USING ${p.using}`);
    if (p.withCheck !== null) lines.push(`      WITH CHECK ${p.withCheck}`);
  }
  return lines;
}

export function renderFindings(out: Pick<Output, "color">, findings: Finding[]): string[] {
  if (!findings.length) return ["", "no findings"];
  const sorted = [...findings].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  const counts = (["high", "medium", "low", "info"] as const)
    .map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const lines = ["", `findings: ${counts.join(", ")}`];
  for (const f of sorted) {
    const tag = paint(out, SEVERITY_STYLE[f.severity], f.severity.toUpperCase().padEnd(6));
    lines.push(`  ${tag}  ${f.message} [${f.rule}]`);
    lines.push(`          fix: ${f.fix}`);
  }
  return lines;
}
