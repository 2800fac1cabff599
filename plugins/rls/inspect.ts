/**
 * The `eve db rls` engine: read tables, views, policies and SECURITY DEFINER
 * functions from the catalog (read-only), then derive findings (findings.ts).
 * Data in (a Db), data out (an RlsReport); it never prints.
 */
import type { Db } from "../../core/db/index.ts";
import { mapDbError } from "../../core/db/index.ts";
import { findingsFor, type RlsCatalog } from "./findings.ts";
import type { Policy, PolicyCommand, Relation, RlsReport } from "./schema.ts";

/** Schemas never inspected (plus pg_toast*, pg_temp*). */
const USER_SCHEMA = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'`;
/** Excludes objects that belong to an extension. */
const NOT_EXTENSION = (classid: string, alias: string) =>
  `not exists (select 1 from pg_depend e where e.classid = '${classid}'::regclass and e.objid = ${alias}.oid and e.deptype = 'e')`;

const COMMANDS: Record<string, PolicyCommand> = { r: "SELECT", a: "INSERT", w: "UPDATE", d: "DELETE", "*": "ALL" };
const TRUE_VALUES = new Set(["true", "on", "yes", "1", "t", "y"]);

export async function inspectRls(db: Db, database: string): Promise<RlsReport> {
  try {
    const catalog = await readCatalog(db);
    const findings = findingsFor(catalog);
    const relations: Relation[] = catalog.relations.map(({ oid: _o, ownedByMe: _m, ownerBypasses: _b, refs: _r, ...rel }) => rel);
    const count = (s: string) => findings.filter((f) => f.severity === s).length;
    return {
      database,
      serverVersion: catalog.versionNum,
      role: catalog.role,
      relations,
      findings,
      summary: {
        tables: relations.filter((r) => r.kind !== "view").length,
        views: relations.filter((r) => r.kind === "view").length,
        rlsEnabled: relations.filter((r) => r.rlsEnabled).length,
        policies: relations.reduce((n, r) => n + r.policies.length, 0),
        findings: { high: count("high"), medium: count("medium"), low: count("low"), info: count("info") },
      },
    };
  } catch (e) {
    throw mapDbError(e);
  }
}

export async function readCatalog(db: Db): Promise<RlsCatalog> {
  const [role] = await db`
    select current_user as name, r.rolsuper as superuser, r.rolbypassrls as bypass,
           current_setting('server_version_num')::int as version_num
    from pg_roles r where r.rolname = current_user`;
  const versionNum = Number(role!.version_num);

  const rels = await db.unsafe(`
    select c.oid::int8::text as oid, n.nspname as schema, c.relname as name, c.relkind as relkind,
           pg_get_userbyid(c.relowner) as owner, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
           to_jsonb(coalesce(c.reloptions, '{}')) as options,
           pg_has_role(current_user, c.relowner, 'USAGE') as owned_by_me,
           coalesce(o.rolsuper or o.rolbypassrls, false) as owner_bypasses
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_roles o on o.oid = c.relowner
    where c.relkind in ('r', 'p', 'v') and ${USER_SCHEMA} and ${NOT_EXTENSION("pg_class", "c")}
    order by n.nspname, c.relname`);

  const pols = await db.unsafe(`
    select p.polrelid::int8::text as oid, p.polname as name, p.polcmd::text as cmd, p.polpermissive as permissive,
           to_jsonb(array(select case when r = 0 then 'public' else pg_get_userbyid(r) end
                 from unnest(p.polroles) r order by 1)) as roles,
           pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as with_check
    from pg_policy p
    join pg_class c on c.oid = p.polrelid
    join pg_namespace n on n.oid = c.relnamespace
    where ${USER_SCHEMA}
    order by p.polrelid, p.polname`);

  // Relations each view's rewrite rule reads (one level; findings.ts follows views transitively).
  const deps = await db.unsafe(`
    select distinct r.ev_class::int8::text as view, d.refobjid::int8::text as ref
    from pg_rewrite r
    join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
    join pg_class v on v.oid = r.ev_class
    join pg_namespace n on n.oid = v.relnamespace
    where d.refclassid = 'pg_class'::regclass and d.refobjid <> r.ev_class and v.relkind = 'v' and ${USER_SCHEMA}`);

  const fns = await db.unsafe(`
    select quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' as signature, n.nspname as schema, pg_get_userbyid(p.proowner) as owner
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where p.prosecdef and ${USER_SCHEMA} and ${NOT_EXTENSION("pg_proc", "p")}
      and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search_path=%')
    order by 1`);

  const policiesByRel = new Map<string, Policy[]>();
  for (const p of pols) {
    const list = policiesByRel.get(p.oid) ?? [];
    list.push({
      name: p.name,
      command: COMMANDS[p.cmd as string] ?? "ALL",
      mode: p.permissive ? "PERMISSIVE" : "RESTRICTIVE",
      roles: p.roles as string[],
      using: p.using ?? null,
      withCheck: p.with_check ?? null,
    });
    policiesByRel.set(p.oid, list);
  }
  const refs = new Map<string, string[]>();
  for (const d of deps) refs.set(d.view, [...(refs.get(d.view) ?? []), d.ref]);

  return {
    versionNum,
    role: { name: role!.name, superuser: !!role!.superuser, bypassRls: !!role!.bypass },
    relations: rels.map((r) => {
      const isView = r.relkind === "v";
      const options = (r.options as string[]).map((o) => o.toLowerCase());
      const invoker = options.find((o) => o.startsWith("security_invoker="));
      return {
        oid: r.oid as string,
        schema: r.schema as string,
        name: r.name as string,
        kind: isView ? "view" : r.relkind === "p" ? "partitioned table" : "table",
        owner: r.owner as string,
        rlsEnabled: !!r.rls,
        rlsForced: !!r.forced,
        securityInvoker: isView ? !!invoker && TRUE_VALUES.has(invoker.slice("security_invoker=".length)) : null,
        readsRlsTables: [],
        policies: policiesByRel.get(r.oid) ?? [],
        ownedByMe: !!r.owned_by_me,
        ownerBypasses: !!r.owner_bypasses,
        refs: refs.get(r.oid) ?? [],
      } satisfies RlsCatalog["relations"][number];
    }),
    functions: fns.map((f) => ({ signature: f.signature as string, schema: f.schema as string, owner: f.owner as string })),
  };
}
