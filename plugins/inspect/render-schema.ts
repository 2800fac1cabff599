/** Human rendering of a SchemaResult: one tree per schema. */
import { paint, type Output } from "../../core/io.ts";
import type { Column, ForeignKey, Index, MaterializedView, Routine, SchemaEntry, SchemaResult, Sequence, Table, Trigger, View } from "./schema.ts";
import { group, leaves, oneLine, renderTree, type TreeNode } from "./tree.ts";

type Color = Pick<Output, "color">;

export function renderSchema(r: SchemaResult, out: Color = { color: false }): string {
  const head = [
    `${paint(out, "bold", r.database)} · PostgreSQL ${r.serverVersion}`,
    `extensions: ${r.extensions.length ? r.extensions.map((e) => `${e.name} ${e.version} (${e.schema})`).join(", ") : "none"}`,
  ];
  if (!r.schemas.length) return [...head, "", "no user schemas"].join("\n");
  const blocks = r.schemas.map((s) => schemaBlock(s, out));
  return [...head, "", blocks.join("\n\n")].join("\n");
}

function schemaBlock(s: SchemaEntry, out: Color): string {
  const title = `${paint(out, "bold", "schema " + s.name)}  owner ${s.owner}${s.comment ? `  -- ${oneLine(s.comment, 80)}` : ""}`;
  // Partitions are listed under their parent when the parent is shown.
  const shown = new Set(s.tables.map((t) => `${t.schema}.${t.name}`));
  const nodes: TreeNode[] = [
    ...s.tables.filter((t) => !t.partitionOf || !shown.has(`${t.partitionOf.schema}.${t.partitionOf.name}`)).map((t) => tableNode(t, out)),
    ...s.views.map((v) => viewNode(v, out)),
    ...s.materializedViews.map((m) => matviewNode(m, out)),
    ...s.enums.map((e) => ({ text: `${paint(out, "bold", "enum " + e.name)}: ${e.values.join(", ")}${e.comment ? `  -- ${oneLine(e.comment, 60)}` : ""}` })),
    ...s.sequences.map((q) => ({ text: sequenceLine(q, out) })),
    ...s.functions.map((f) => ({ text: routineLine(f, out) })),
  ];
  if (!nodes.length) return `${title}\n└─ (empty)`;
  return [title, ...renderTree(nodes)].join("\n");
}

function rows(n: number | null): string {
  return n === null ? "rows unknown" : `~${n.toLocaleString("en-US")} row${n === 1 ? "" : "s"}`;
}

function tableNode(t: Table, out: Color): TreeNode {
  const kind = t.kind === "partitioned" ? "partitioned table" : t.kind === "foreign" ? "foreign table" : "table";
  const facts = [rows(t.rowEstimate)];
  if (t.partitionKey) facts.push(`partition by ${t.partitionKey}`);
  if (t.partitionOf) facts.push(`partition of ${t.partitionOf.schema}.${t.partitionOf.name} ${t.partitionOf.bound}`);
  if (t.rls.enabled) facts.push(t.rls.forced ? "RLS enabled, forced" : "RLS enabled");
  const text = `${paint(out, "bold", `${kind} ${t.name}`)}  ${facts.join(" · ")}${t.comment ? `  -- ${oneLine(t.comment, 80)}` : ""}`;
  return {
    text,
    children: [
      ...group("columns", columnLeaves(t.columns)),
      ...group("constraints", leaves(t.constraints.map((c) => [c.name, c.type, c.definition + deferral(c)]))),
      ...group("foreign keys", leaves(t.foreignKeys.map(fkCells))),
      ...group("indexes", leaves(t.indexes.map(indexCells))),
      ...group("partitions", leaves(t.partitions.map((p) => [p.schema === t.schema ? p.name : `${p.schema}.${p.name}`, p.bound]))),
      ...group("triggers", leaves(t.triggers.map(triggerCells))),
    ],
  };
}

function viewNode(v: View, out: Color): TreeNode {
  return {
    text: `${paint(out, "bold", "view " + v.name)}${v.options.length ? `  (${v.options.join(", ")})` : ""}${v.comment ? `  -- ${oneLine(v.comment, 80)}` : ""}`,
    children: [
      ...group("columns", columnLeaves(v.columns)),
      ...group("triggers", leaves(v.triggers.map(triggerCells))),
      { text: `definition: ${oneLine(v.definition, 120)}` },
    ],
  };
}

function matviewNode(m: MaterializedView, out: Color): TreeNode {
  const facts = [m.populated ? rows(m.rowEstimate) : "not populated"];
  return {
    text: `${paint(out, "bold", "materialized view " + m.name)}  ${facts.join(" · ")}${m.comment ? `  -- ${oneLine(m.comment, 80)}` : ""}`,
    children: [
      ...group("columns", columnLeaves(m.columns)),
      ...group("indexes", leaves(m.indexes.map(indexCells))),
      { text: `definition: ${oneLine(m.definition, 120)}` },
    ],
  };
}

function columnLeaves(cols: Column[]): TreeNode[] {
  return leaves(
    cols.map((c) => {
      const extra: string[] = [];
      if (c.identity) extra.push(`identity ${c.identity}`);
      if (c.generated) extra.push(`generated as ${oneLine(c.generated, 60)}`);
      if (c.default !== null) extra.push(`default ${oneLine(c.default, 60)}`);
      if (c.comment) extra.push(`-- ${oneLine(c.comment, 60)}`);
      return [c.name, c.type, c.nullable ? "null" : "not null", extra.join("  ")];
    }),
  );
}

function deferral(c: { deferrable: boolean; initiallyDeferred: boolean; validated: boolean }): string {
  const parts: string[] = [];
  if (c.deferrable) parts.push(c.initiallyDeferred ? "deferrable initially deferred" : "deferrable");
  if (!c.validated) parts.push("not valid");
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function fkCells(f: ForeignKey): string[] {
  const actions: string[] = [];
  if (f.onDelete !== "no action") actions.push(`on delete ${f.onDelete}`);
  if (f.onUpdate !== "no action") actions.push(`on update ${f.onUpdate}`);
  if (f.match !== "simple") actions.push(`match ${f.match}`);
  if (f.deferrable) actions.push(f.initiallyDeferred ? "deferrable initially deferred" : "deferrable");
  if (!f.validated) actions.push("not valid");
  const ref = `${f.references.schema}.${f.references.table} (${f.references.columns.join(", ")})`;
  return [f.name, `(${f.columns.join(", ")}) → ${ref}`, actions.join(", ")];
}

function indexCells(i: Index): string[] {
  let text = `${i.method} (${i.columns.join(", ")})`;
  if (i.include.length) text += ` include (${i.include.join(", ")})`;
  if (i.predicate) text += ` where ${i.predicate}`;
  const kind = i.primary ? "primary key" : i.unique ? "unique" : i.constraint ? "exclusion" : "";
  const tags = [kind, i.valid ? "" : "INVALID"].filter(Boolean);
  return [i.name, tags.join(", "), text];
}

function triggerCells(t: Trigger): string[] {
  const when = `${t.timing} ${t.events.join(" or ")}, for each ${t.level}`;
  return [t.name, when, `→ ${t.function}()${t.enabled === "enabled" ? "" : ` (${t.enabled})`}`];
}

function sequenceLine(q: Sequence, out: Color): string {
  const parts = [`${q.type} ${q.min}..${q.max}`];
  if (q.increment !== "1") parts.push(`step ${q.increment}`);
  if (q.start !== q.min) parts.push(`start ${q.start}`);
  if (q.cycle) parts.push("cycle");
  if (q.ownedBy) parts.push(`owned by ${q.ownedBy.table}.${q.ownedBy.column}${q.identity ? " (identity)" : ""}`);
  if (q.lastValue !== null) parts.push(`last ${q.lastValue}`);
  return `${paint(out, "bold", "sequence " + q.name)}  ${parts.join(" · ")}`;
}

function routineLine(f: Routine, out: Color): string {
  const facts = [f.language, f.volatility];
  if (f.strict) facts.push("strict");
  if (f.securityDefiner) facts.push("security definer");
  for (const c of f.config) facts.push(`set ${c}`);
  const ret = f.returns === null ? "" : ` → ${f.returns}`;
  return `${paint(out, "bold", `${f.kind} ${f.name}`)}(${f.arguments})${ret}  ${facts.join(" · ")}${f.comment ? `  -- ${oneLine(f.comment, 60)}` : ""}`;
}
