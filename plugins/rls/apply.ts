/**
 * The `eve db rls init` database engine: apply the scaffolding in one
 * transaction (serialised by an advisory lock) and report which objects of
 * schema `app` were created or changed, from a catalog fingerprint taken
 * before and after inside that transaction.
 */
import type { Db } from "../../core/db/index.ts";
import { mapDbError } from "../../core/db/index.ts";
import { UsageError } from "../../core/errors.ts";
import { renderScaffold, type ScaffoldOptions } from "./scaffold.ts";
import type { RlsInitApplied } from "./schema.ts";

/**
 * Every object of schema `app` with a definition string: the schema (ACL),
 * functions (pg_get_functiondef + comment), tables (columns + constraints),
 * indexes (pg_get_indexdef) and policies on its tables.
 */
const FINGERPRINT = `
  select 'schema app' as object, coalesce(n.nspacl::text, '') || '|' || pg_get_userbyid(n.nspowner) as def
  from pg_namespace n where n.nspname = 'app'
  union all
  select 'function app.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
         pg_get_functiondef(p.oid) || coalesce(obj_description(p.oid, 'pg_proc'), '') || coalesce(p.proacl::text, '')
  from pg_proc p where p.pronamespace = to_regnamespace('app')
  union all
  select 'table app.' || c.relname,
         (select string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || case when a.attnotnull then ' not null' else '' end
                            || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' order by a.attnum)
          from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
          where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)
         || ' | ' || coalesce((select string_agg(pg_get_constraintdef(k.oid), ', ' order by k.conname) from pg_constraint k where k.conrelid = c.oid), '')
         || ' | rls=' || c.relrowsecurity || ',' || c.relforcerowsecurity
  from pg_class c where c.relnamespace = to_regnamespace('app') and c.relkind in ('r', 'p')
  union all
  select 'index app.' || c.relname, pg_get_indexdef(c.oid)
  from pg_class c where c.relnamespace = to_regnamespace('app') and c.relkind in ('i', 'I')
  union all
  select 'policy ' || p.polname || ' on app.' || c.relname, coalesce(pg_get_expr(p.polqual, p.polrelid), '') || '|' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
  from pg_policy p join pg_class c on c.oid = p.polrelid where c.relnamespace = to_regnamespace('app')`;

export async function fingerprint(db: Pick<Db, "unsafe">): Promise<Map<string, string>> {
  const rows = await db.unsafe(FINGERPRINT);
  return new Map(rows.map((r) => [r.object as string, (r.def as string | null) ?? ""]));
}

/** Apply the scaffolding to the database in one transaction. */
export async function applyScaffold(
  db: Db,
  opts: ScaffoldOptions & { database: string },
): Promise<RlsInitApplied> {
  const started = performance.now();
  const sql = renderScaffold(opts);
  try {
    return await db.begin(async (tx) => {
      // Two inits at once would race on CREATE OR REPLACE ("tuple concurrently updated").
      await tx`select pg_advisory_xact_lock(hashtext('eve:rls:init'))`;
      const before = await fingerprint(tx);
      if (!opts.withGroups && before.has("table app.group_members")) {
        throw new UsageError("this database already has the group scaffolding (app.group_members): pass --with-groups", {
          hint: "without --with-groups, app.has_group() would be refreshed to ignore memberships; nothing was changed",
        });
      }
      await tx.unsafe(sql);
      const after = await fingerprint(tx);
      const created = [...after.keys()].filter((k) => !before.has(k));
      const updated = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k));
      return {
        mode: "database" as const,
        database: opts.database,
        withGroups: opts.withGroups,
        changed: created.length + updated.length > 0,
        created,
        updated,
        durationMs: Math.round(performance.now() - started),
      };
    });
  } catch (e) {
    throw mapDbError(e);
  }
}
