/**
 * Pure rules over the RLS catalog facts: each finding has a severity (see
 * SEVERITIES in schema.ts for the scale) and a one-line fix. No I/O.
 */
import type { Finding, PolicyCommand, Relation, Severity } from "./schema.ts";

export interface CatalogRelation extends Relation {
  oid: string;
  /** The connecting role owns it (directly or through an inherited membership). */
  ownedByMe: boolean;
  /** Its owner is a superuser or has BYPASSRLS. */
  ownerBypasses: boolean;
  /** Views: oids of the relations its rule reads directly. */
  refs: string[];
}

export interface RlsCatalog {
  versionNum: number;
  role: { name: string; superuser: boolean; bypassRls: boolean };
  relations: CatalogRelation[];
  /** SECURITY DEFINER functions with no search_path in proconfig. */
  functions: Array<{ signature: string; schema: string; owner: string }>;
}

const WRITE_COMMANDS: PolicyCommand[] = ["INSERT", "UPDATE", "DELETE", "ALL"];
const SINGLE_COMMANDS: PolicyCommand[] = ["SELECT", "INSERT", "UPDATE", "DELETE"];

const qualified = (r: { schema: string; name: string }) => `${ident(r.schema)}.${ident(r.name)}`;
/** Quote an identifier only when it needs it (for readable fixes). */
function ident(s: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(s) ? s : '"' + s.replace(/"/g, '""') + '"';
}
const isTrue = (expr: string | null) => !!expr && expr.replace(/[()\s]/g, "").toLowerCase() === "true";
const list = (names: string[]) => names.map((n) => `"${n}"`).join(", ");

/** Fill each view's readsRlsTables (following views transitively) and derive every finding. */
export function findingsFor(c: RlsCatalog): Finding[] {
  const byOid = new Map(c.relations.map((r) => [r.oid, r]));
  const out: Finding[] = [];
  const add = (f: Finding) => out.push(f);
  const roleBypasses = c.role.superuser || c.role.bypassRls;

  if (roleBypasses && c.relations.some((r) => r.rlsEnabled)) {
    add({
      rule: "role-bypasses-rls",
      severity: "info",
      object: c.role.name,
      message: `role ${c.role.name} is ${c.role.superuser ? "a superuser" : "BYPASSRLS"}: it sees every row whatever the policies say`,
      fix: "inspect with the application's own role (--url with its credentials); never give application roles SUPERUSER or BYPASSRLS",
    });
  }

  for (const t of c.relations) {
    if (t.kind === "view") continue;
    const name = qualified(t);
    if (t.rlsEnabled && t.policies.length === 0) {
      add({
        rule: "rls-without-policy",
        severity: "low",
        object: name,
        message: `RLS is enabled on ${name} but it has no policy: every query subject to RLS sees and changes no row (default deny)`,
        fix: `create policies (e.g. select app.enable_group_rls('${name}') after eve db rls init --with-groups) or ALTER TABLE ${name} DISABLE ROW LEVEL SECURITY`,
      });
    }
    if (!t.rlsEnabled && t.policies.length > 0) {
      add({
        rule: "policies-without-rls",
        severity: "high",
        object: name,
        policies: t.policies.map((p) => p.name),
        message: `${name} has ${t.policies.length} polic${t.policies.length === 1 ? "y" : "ies"} but RLS is disabled: they are ignored and every role with a grant sees every row`,
        fix: `ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY;`,
      });
    }
    if (!t.rlsEnabled) continue;
    if (t.ownedByMe && !t.rlsForced && !roleBypasses) {
      add({
        rule: "owner-without-force",
        severity: "medium",
        object: name,
        message: `${name} is owned by ${t.owner}, which ${c.role.name} is or inherits: as owner it bypasses the policies because FORCE is off`,
        fix: `ALTER TABLE ${name} FORCE ROW LEVEL SECURITY; or connect the application as a role that does not own the table`,
      });
    }
    for (const p of t.policies) {
      if (p.mode !== "PERMISSIVE" || !WRITE_COMMANDS.includes(p.command)) continue;
      const which = isTrue(p.using) ? "USING (true)" : isTrue(p.withCheck) ? "WITH CHECK (true)" : null;
      if (!which || (p.command === "INSERT" && !isTrue(p.withCheck))) continue;
      const everyone = p.roles.includes("public");
      add({
        rule: "permissive-true-write",
        severity: everyone ? "high" : "medium",
        object: name,
        policies: [p.name],
        message: `permissive ${p.command} policy "${p.name}" on ${name} is ${which} for ${everyone ? "every role" : p.roles.join(", ")}: it can ${p.command === "INSERT" ? "insert" : "change"} any row`,
        fix: `ALTER POLICY ${ident(p.name)} ON ${name} ${p.command === "INSERT" ? "WITH CHECK" : "USING"} (<row condition>), e.g. (owner_id = app.current_user_id())`,
      });
    }
    out.push(...multiplePermissive(t, name));
  }

  for (const v of c.relations) {
    if (v.kind !== "view") continue;
    const tables = rlsTablesRead(v, byOid);
    v.readsRlsTables = tables.map((t) => qualified(t));
    if (v.securityInvoker || tables.length === 0) continue;
    const name = qualified(v);
    const bypass = v.ownerBypasses || tables.some((t) => t.owner === v.owner && !t.rlsForced);
    add({
      rule: "view-without-security-invoker",
      severity: bypass ? "high" : "medium",
      object: name,
      message:
        `view ${name} reads RLS table${tables.length > 1 ? "s" : ""} ${v.readsRlsTables.join(", ")} with its owner's (${v.owner}) rights, not the caller's` +
        (bypass ? ": the owner bypasses RLS, so callers see every row" : ": callers see what the owner's policies allow"),
      fix:
        c.versionNum >= 150000
          ? `ALTER VIEW ${name} SET (security_invoker = true);`
          : `upgrade to PostgreSQL 15+ for security_invoker, or revoke SELECT on ${name} from roles that must not see every row`,
    });
  }

  for (const f of c.functions) {
    add({
      rule: "definer-without-search-path",
      severity: "medium",
      object: f.signature,
      message: `SECURITY DEFINER function ${f.signature} runs as ${f.owner} with the caller's search_path: a caller can shadow the objects it uses`,
      fix: `ALTER FUNCTION ${f.signature} SET search_path = pg_catalog, pg_temp; and schema-qualify what it uses`,
    });
  }
  return out;
}

/** Several permissive policies applying to the same command and role (one finding per policy set). */
function multiplePermissive(t: CatalogRelation, name: string): Finding[] {
  const permissive = t.policies.filter((p) => p.mode === "PERMISSIVE");
  if (permissive.length < 2) return [];
  const roles = [...new Set(permissive.flatMap((p) => p.roles))].sort();
  const groups = new Map<string, { policies: string[]; commands: Set<string>; roles: Set<string> }>();
  for (const cmd of SINGLE_COMMANDS) {
    for (const role of roles) {
      const applying = permissive
        .filter((p) => (p.command === cmd || p.command === "ALL") && (p.roles.includes(role) || p.roles.includes("public")))
        .map((p) => p.name)
        .sort();
      if (applying.length < 2) continue;
      const key = applying.join("\u0000");
      const g = groups.get(key) ?? { policies: applying, commands: new Set(), roles: new Set() };
      g.commands.add(cmd);
      g.roles.add(role);
      groups.set(key, g);
    }
  }
  return [...groups.values()].map((g) => {
    const cmds = SINGLE_COMMANDS.filter((c) => g.commands.has(c)).join("/");
    const rs = [...g.roles].join(", ");
    return {
      rule: "multiple-permissive" as const,
      severity: "low" as Severity,
      object: name,
      policies: g.policies,
      message: `${g.policies.length} permissive policies (${list(g.policies)}) apply to ${cmds} on ${name} for ${rs}: they are OR-ed (any one grants access) and each is evaluated`,
      fix: "merge them into one policy per command, or mark the narrowing ones AS RESTRICTIVE",
    };
  });
}

/** RLS-enabled tables a view reads, through other views too (cycle-safe). */
function rlsTablesRead(v: CatalogRelation, byOid: Map<string, CatalogRelation>): CatalogRelation[] {
  const seen = new Set<string>([v.oid]);
  const found = new Map<string, CatalogRelation>();
  const stack = [...v.refs];
  while (stack.length) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    seen.add(oid);
    const r = byOid.get(oid);
    if (!r) continue;
    if (r.kind === "view") stack.push(...r.refs);
    else if (r.rlsEnabled) found.set(oid, r);
  }
  return [...found.values()].sort((a, b) => qualified(a).localeCompare(qualified(b)));
}
