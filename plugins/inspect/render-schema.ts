/** Human rendering of a SchemaResult: one tree per schema. */
import { paint, type Output } from "../../core/io.ts";
import type {
  Collation,
  Column,
  CompositeType,
  DefaultPrivilege,
  Domain,
  ForeignKey,
  Index,
  MaterializedView,
  Policy,
  Privilege,
  RangeType,
  Routine,
  SchemaEntry,
  SchemaResult,
  Sequence,
  Table,
  Trigger,
  View,
} from "./schema.ts";
import { group, leaves, oneLine, renderNode, renderTree, type TreeNode } from "./tree.ts";

type Color = Pick<Output, "color">;

/** The whole tree as one string (tests, small schemas). */
export function renderSchema(r: SchemaResult, out: Color = { color: false }): string {
  return [...renderSchemaChunks(r, out)].join("");
}

/**
 * The tree in pieces, one top-level object at a time, so that a catalog of
 * thousands of tables is never one string in memory. Joined, the pieces are the
 * text; the caller adds the final newline.
 */
export function* renderSchemaChunks(r: SchemaResult, out: Color = { color: false }): Generator<string> {
  const head = [
    `${paint(out, "bold", r.database)} · PostgreSQL ${r.serverVersion}`,
    `extensions: ${r.extensions.length ? r.extensions.map((e) => `${e.name} ${e.version} (${e.schema})`).join(", ") : "none"}`,
  ];
  // Database-wide defaults store the whole ACL new objects get (it replaces the built-in one).
  if (r.defaultPrivileges.length) {
    head.push("default privileges in all schemas (the full ACL of new objects):", ...renderTree(defaultPrivilegeLeaves(r.defaultPrivileges)));
  }
  if (!r.schemas.length) {
    yield [...head, "", "no user schemas"].join("\n");
    return;
  }
  yield [...head, ""].join("\n");
  let first = true;
  for (const s of r.schemas) {
    yield first ? "\n" : "\n\n";
    first = false;
    yield* schemaBlock(s, out);
  }
}

function* schemaBlock(s: SchemaEntry, out: Color): Generator<string> {
  const title = `${paint(out, "bold", "schema " + s.name)}  owner ${s.owner}${s.comment ? `  -- ${oneLine(s.comment, 80)}` : ""}`;
  // Partitions are listed under their parent when the parent is shown.
  const shown = new Set(s.tables.map((t) => `${t.schema}.${t.name}`));
  // Each top-level node is built only when drawn.
  const nodes: Array<() => TreeNode> = [
    ...group("grants", grantLeaves(s.privileges, s.owner)).map((n) => () => n),
    ...group("default privileges", defaultPrivilegeLeaves(s.defaultPrivileges)).map((n) => () => n),
    ...s.tables.filter((t) => !t.partitionOf || !shown.has(`${t.partitionOf.schema}.${t.partitionOf.name}`)).map((t) => () => tableNode(t, out)),
    ...s.views.map((v) => () => viewNode(v, out)),
    ...s.materializedViews.map((m) => () => matviewNode(m, out)),
    ...s.enums.map((e) => () => ({ text: `${paint(out, "bold", "enum " + e.name)}: ${e.values.join(", ")}${grantsFact(e.privileges, e.owner, "USAGE")}${comment(e.comment)}` })),
    ...s.domains.map((d) => () => ({ text: domainLine(d, out) })),
    ...s.compositeTypes.map((c) => () => ({ text: compositeLine(c, out) })),
    ...s.rangeTypes.map((r) => () => ({ text: rangeLine(r, out) })),
    ...s.collations.map((c) => () => ({ text: collationLine(c, out) })),
    ...s.sequences.map((q) => () => ({ text: sequenceLine(q, out) })),
    ...s.functions.map((f) => () => ({ text: routineLine(f, out) })),
  ];
  if (!nodes.length) {
    yield `${title}\n└─ (empty)`;
    return;
  }
  yield title;
  for (let i = 0; i < nodes.length; i++) yield "\n" + renderNode(nodes[i]!(), i === nodes.length - 1).join("\n");
}

function comment(c: string | null, max = 60): string {
  return c ? `  -- ${oneLine(c, max)}` : "";
}

/**
 * Grants worth reading: the owner's own privileges and the built-in PUBLIC
 * default (EXECUTE on functions, USAGE on types) are implied and left out; the
 * JSON output has every entry.
 */
function shownGrants(privs: Privilege[], owner: string, publicDefault?: string): Privilege[] {
  return privs.filter(
    (p) => p.grantee !== owner && !(publicDefault && p.grantee === "PUBLIC" && !p.grantable && p.privileges.length === 1 && p.privileges[0] === publicDefault),
  );
}

function grantText(p: Privilege): string {
  return `${p.privileges.join(", ")}${p.grantable ? " (with grant option)" : ""}`;
}

function grantLeaves(privs: Privilege[], owner: string, publicDefault?: string): TreeNode[] {
  return leaves(shownGrants(privs, owner, publicDefault).map((p) => [`to ${p.grantee}`, grantText(p)]));
}

/** Grants as a trailing fact of a one-line object: " · grants: reader SELECT; …". */
function grantsFact(privs: Privilege[], owner: string, publicDefault?: string): string {
  const shown = shownGrants(privs, owner, publicDefault);
  if (!shown.length) return "";
  return ` · grants: ${shown.map((p) => `${p.grantee} ${grantText(p)}`).join("; ")}`;
}

function defaultPrivilegeLeaves(list: DefaultPrivilege[]): TreeNode[] {
  return leaves(list.map((d) => [`for ${d.role}`, `on ${d.objectType}`, `to ${d.grantee}`, `${d.privileges.join(", ")}${d.grantable ? " (with grant option)" : ""}`]));
}

function rows(n: number | null): string {
  return n === null ? "rows unknown" : `~${n.toLocaleString("en-US")} row${n === 1 ? "" : "s"}`;
}

function tableNode(t: Table, out: Color): TreeNode {
  const kind = t.kind === "partitioned" ? "partitioned table" : t.kind === "foreign" ? "foreign table" : "table";
  const facts = [rows(t.rowEstimate)];
  if (t.unlogged) facts.push("UNLOGGED");
  if (t.options.length) facts.push(`with (${t.options.join(", ")})`);
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
      ...group("policies", leaves(t.policies.map(policyCells))),
      ...group("grants", grantLeaves(t.privileges, t.owner)),
    ],
  };
}

function policyCells(p: Policy): string[] {
  const parts = [`for ${p.command} to ${p.roles.join(", ")}`];
  if (p.using !== null) parts.push(`using (${oneLine(p.using, 80)})`);
  if (p.withCheck !== null) parts.push(`with check (${oneLine(p.withCheck, 80)})`);
  return [p.name, p.permissive ? "permissive" : "restrictive", parts.join(" ")];
}

function viewNode(v: View, out: Color): TreeNode {
  return {
    text: `${paint(out, "bold", "view " + v.name)}${v.options.length ? `  (${v.options.join(", ")})` : ""}${v.comment ? `  -- ${oneLine(v.comment, 80)}` : ""}`,
    children: [
      ...group("columns", columnLeaves(v.columns)),
      ...group("triggers", leaves(v.triggers.map(triggerCells))),
      ...group("grants", grantLeaves(v.privileges, v.owner)),
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
      ...group("grants", grantLeaves(m.privileges, m.owner)),
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
      if (c.collation) extra.push(`collate ${c.collation}`);
      for (const p of c.privileges) extra.push(`grant ${grantText(p)} to ${p.grantee}`);
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
  return `${paint(out, "bold", "sequence " + q.name)}  ${parts.join(" · ")}${grantsFact(q.privileges, q.owner)}${comment(q.comment)}`;
}

function routineLine(f: Routine, out: Color): string {
  const facts = [f.language, f.volatility];
  if (f.strict) facts.push("strict");
  if (f.securityDefiner) facts.push("security definer");
  // EXECUTE for PUBLIC is the built-in default; its absence is worth saying.
  if (!f.privileges.some((p) => p.grantee === "PUBLIC")) facts.push("no PUBLIC execute");
  for (const c of f.config) facts.push(`set ${c}`);
  const ret = f.returns === null ? "" : ` → ${f.returns}`;
  return `${paint(out, "bold", `${f.kind} ${f.name}`)}(${f.arguments})${ret}  ${facts.join(" · ")}${grantsFact(f.privileges, f.owner, "EXECUTE")}${comment(f.comment)}`;
}

function domainLine(d: Domain, out: Color): string {
  const parts = [d.type];
  if (d.collation) parts.push(`collate ${d.collation}`);
  if (d.notNull) parts.push("not null");
  if (d.default !== null) parts.push(`default ${oneLine(d.default, 60)}`);
  // pg_get_constraintdef() already ends a NOT VALID check with "NOT VALID".
  for (const c of d.constraints) parts.push(`${c.name} ${oneLine(c.definition, 80)}`);
  return `${paint(out, "bold", "domain " + d.name)}: ${parts.join(" · ")}${grantsFact(d.privileges, d.owner, "USAGE")}${comment(d.comment)}`;
}

function compositeLine(c: CompositeType, out: Color): string {
  const attrs = c.attributes.map((a) => `${a.name} ${a.type}${a.collation ? ` collate ${a.collation}` : ""}`).join(", ");
  return `${paint(out, "bold", "type " + c.name)} (${attrs})${grantsFact(c.privileges, c.owner, "USAGE")}${comment(c.comment)}`;
}

function rangeLine(r: RangeType, out: Color): string {
  const parts = [`subtype ${r.subtype}`];
  if (r.collation) parts.push(`collate ${r.collation}`);
  if (r.multirange) parts.push(`multirange ${r.multirange}`);
  return `${paint(out, "bold", "range type " + r.name)}: ${parts.join(" · ")}${grantsFact(r.privileges, r.owner, "USAGE")}${comment(r.comment)}`;
}

function collationLine(c: Collation, out: Color): string {
  const parts: string[] = [c.provider];
  if (c.locale !== null) parts.push(`locale ${c.locale}`);
  if (c.lcCollate !== null && c.lcCollate === c.lcCtype) parts.push(`locale ${c.lcCollate}`);
  else {
    if (c.lcCollate !== null) parts.push(`lc_collate ${c.lcCollate}`);
    if (c.lcCtype !== null) parts.push(`lc_ctype ${c.lcCtype}`);
  }
  if (c.rules) parts.push(`rules ${oneLine(c.rules, 40)}`);
  if (!c.deterministic) parts.push("nondeterministic");
  return `${paint(out, "bold", "collation " + c.name)}: ${parts.join(" · ")}${comment(c.comment)}`;
}
