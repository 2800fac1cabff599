/**
 * The catalog queries behind `eve db schema`: one set-based query per object
 * kind, each a plain join over the catalogs (hash joins, no correlated lookups
 * into CTEs), returning flat rows that schema-query.ts assembles with Maps. They
 * run pipelined in one REPEATABLE READ transaction, so they see one snapshot and
 * cost one round trip. Time grows linearly with the number of objects.
 *
 * The queries take up to four parameters (a query that names $N names all before it):
 * $1: JSON array of schema names, or null (all user schemas).
 * $2: JSON array of relation names ("name" or "schema.name"), or null (all).
 * $3, $4: the per-relation queries read the relations whose oid % $3 = $4.
 *
 * System schemas (pg_*, information_schema) and objects that belong to an
 * extension (pg_depend deptype 'e') are left out. Needs PostgreSQL 12+.
 * Raw catalog codes (relkind, contype, tgtype …) are decoded in schema-query.ts.
 */

/** The filter lists as arrays (null when not filtering), evaluated once per query. */
const schemaList = `array(select jsonb_array_elements_text($1::text::jsonb))`;
const tableList = `array(select jsonb_array_elements_text($2::text::jsonb))`;

/** `not exists` clause: the object is not a member of an extension. */
const notExtension = (catalog: string, oid: string) =>
  `not exists (select from pg_depend e where e.classid = '${catalog}'::regclass and e.objid = ${oid} and e.deptype = 'e')`;

/** A user schema (alias `n`) inside the --schema filter. */
const userSchema = (n = "n") =>
  `${n}.nspname !~ '^pg_' and ${n}.nspname <> 'information_schema'
   and ($1::text is null or ${n}.nspname::text = any(${schemaList}))
   and ${notExtension("pg_namespace", `${n}.oid`)}`;

/** A relation (alias `c`, its schema `n`) inside both filters. */
const relInScope = (c = "c", n = "n") =>
  `${c}.relkind in ('r', 'p', 'v', 'm', 'f')
   and ${userSchema(n)}
   and ($2::text is null or ${c}.relname::text = any(${tableList}) or ${n}.nspname || '.' || ${c}.relname = any(${tableList}))
   and ${notExtension("pg_class", `${c}.oid`)}`;

/**
 * An ACL as a JSON array of aclitem texts ("reader=r/owner"), decoded in acl.ts.
 * `expr` should apply acldefault() where a null ACL means the built-in defaults.
 */
const acl = (expr: string) => `to_json((${expr})::text[])`;

/** A collation's name as SQL would spell it: quoted as needed, qualified unless in pg_catalog. */
const collationName = (oid: string) => `(
  select case when cn.nspname = 'pg_catalog' then quote_ident(co.collname) else quote_ident(cn.nspname) || '.' || quote_ident(co.collname) end
  from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace where co.oid = ${oid})`;

/**
 * The per-relation queries can be split over two sessions sharing one snapshot:
 * $3 parts, this is part $4 (by oid). Each table is then read by one session
 * only, so the relcache entries that deparsing builds are not built twice.
 */
const inPart = (c: string) => `${c}.oid::int8 % $3::int8 = $4::int8`;

/** FROM clause of every per-relation query: the relations in scope as `c`, schema `n`. */
const scopedRelations = `pg_class c join pg_namespace n on n.oid = c.relnamespace`;

export const META_SQL = `
select current_database() as database,
       current_setting('server_version') as server_version,
       current_setting('server_version_num')::int as version_num`;

export const SCHEMAS_SQL = `
select n.oid, n.nspname as name, pg_get_userbyid(n.nspowner) as owner, d.description as comment,
       ${acl("coalesce(n.nspacl, acldefault('n', n.nspowner))")} as privileges
from pg_namespace n
left join pg_description d on d.classoid = 'pg_namespace'::regclass and d.objoid = n.oid and d.objsubid = 0
where ${userSchema()}
order by n.nspname`;

export const RELATIONS_SQL = `
select c.oid, n.nspname as schema, c.relname as name, c.relkind as kind,
       pg_get_userbyid(c.relowner) as owner, d.description as comment,
       c.reltuples, c.relpages, c.relrowsecurity as "rlsEnabled", c.relforcerowsecurity as "rlsForced",
       to_json(c.reloptions) as options, c.relispopulated as populated, c.relpersistence = 'u' as unlogged,
       case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as "partitionKey",
       pn.nspname as "parentSchema", pc.relname as "parentName",
       case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end as "partitionBound",
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid, true) end as definition,
       ${acl("coalesce(c.relacl, acldefault('r', c.relowner))")} as privileges
from ${scopedRelations}
left join pg_description d on d.classoid = 'pg_class'::regclass and d.objoid = c.oid and d.objsubid = 0
left join pg_inherits inh on c.relispartition and inh.inhrelid = c.oid
left join pg_class pc on pc.oid = inh.inhparent
left join pg_namespace pn on pn.oid = pc.relnamespace
where ${relInScope()} and ${inPart("c")}
order by n.nspname, c.relname`;

export const COLUMNS_SQL = `
select a.attrelid as rel, a.attnum as num, a.attname as name,
       format_type(a.atttypid, a.atttypmod) as type,
       not a.attnotnull as nullable,
       case when a.attgenerated = '' then pg_get_expr(ad.adbin, ad.adrelid) end as "default",
       a.attidentity as identity,
       case when a.attgenerated <> '' then pg_get_expr(ad.adbin, ad.adrelid) end as generated,
       d.description as comment,
       case when a.attcollation <> ty.typcollation then ${collationName("a.attcollation")} end as collation,
       ${acl("a.attacl")} as privileges
from ${scopedRelations}
join pg_attribute a on a.attrelid = c.oid
join pg_type ty on ty.oid = a.atttypid
left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
left join pg_description d on d.classoid = 'pg_class'::regclass and d.objoid = a.attrelid and d.objsubid = a.attnum
where a.attnum > 0 and not a.attisdropped and ${relInScope()} and ${inPart("c")}
order by a.attrelid, a.attnum`;

export const CONSTRAINTS_SQL = `
select con.conrelid as rel, con.conname as name, con.contype as type, to_json(con.conkey) as keys,
       pg_get_constraintdef(con.oid, true) as definition,
       con.condeferrable as deferrable, con.condeferred as "initiallyDeferred", con.convalidated as validated,
       fn.nspname as "refSchema", fc.relname as "refTable",
       case when con.contype = 'f' then
         (select json_agg(fa.attname order by k.ord)
          from unnest(con.confkey) with ordinality k(num, ord)
          join pg_attribute fa on fa.attrelid = con.confrelid and fa.attnum = k.num) end as "refColumns",
       con.confupdtype as "onUpdate", con.confdeltype as "onDelete", con.confmatchtype as match
from ${scopedRelations}
join pg_constraint con on con.conrelid = c.oid
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
-- A foreign key to a partitioned table gets one hidden copy per partition.
left join pg_constraint pcon on pcon.oid = con.conparentid and pcon.conrelid = con.conrelid
where con.contype in ('p', 'u', 'c', 'x', 'f') and pcon.oid is null and ${relInScope()} and ${inPart("c")}
order by con.conrelid, con.conname`;

export const INDEXES_SQL = `
select i.indrelid as rel, ic.relname as name, pg_get_indexdef(i.indexrelid) as definition, am.amname as method,
       i.indisunique as "unique", i.indisprimary as "primary",
       to_json(array(select pg_get_indexdef(i.indexrelid, k, true) from generate_series(1, i.indnkeyatts) k order by k)) as columns,
       to_json(array(select pg_get_indexdef(i.indexrelid, k, true) from generate_series(i.indnkeyatts + 1, i.indnatts) k order by k)) as include,
       pg_get_expr(i.indpred, i.indrelid, true) as predicate, i.indisvalid as valid,
       con.conname as "constraint"
from ${scopedRelations}
join pg_index i on i.indrelid = c.oid
join pg_class ic on ic.oid = i.indexrelid
join pg_am am on am.oid = ic.relam
left join pg_constraint con on con.conindid = i.indexrelid and con.conrelid = i.indrelid and con.contype in ('p', 'u', 'x')
where ${relInScope()} and ${inPart("c")}
order by i.indrelid, ic.relname`;

export const TRIGGERS_SQL = `
select t.tgrelid as rel, t.tgname as name, t.tgtype as type, t.tgenabled as enabled,
       quote_ident(pn.nspname) || '.' || quote_ident(p.proname) as function,
       pg_get_triggerdef(t.oid, true) as definition
from ${scopedRelations}
join pg_trigger t on t.tgrelid = c.oid
join pg_proc p on p.oid = t.tgfoid
join pg_namespace pn on pn.oid = p.pronamespace
where not t.tgisinternal and ${relInScope()} and ${inPart("c")}
order by t.tgrelid, t.tgname`;

/** Partitions of the partitioned tables in scope (whether or not the partitions are). */
export const PARTITIONS_SQL = `
select inh.inhparent as rel, pn.nspname as schema, pc.relname as name, pg_get_expr(pc.relpartbound, pc.oid) as bound
from ${scopedRelations}
join pg_inherits inh on inh.inhparent = c.oid
join pg_class pc on pc.oid = inh.inhrelid
join pg_namespace pn on pn.oid = pc.relnamespace
where c.relkind = 'p' and ${relInScope()} and ${inPart("c")}
order by inh.inhparent, pn.nspname, pc.relname`;

/**
 * A user-defined type of kind `typtype` (alias `t`, schema `n`): the columns every
 * type query returns first. `oid` and `array_oid` let the --table filter keep the
 * types that the shown columns use.
 */
const typeQuery = (typtype: string, columns: string, joins = "") => `
select t.oid, t.typarray as array_oid, n.nspname as schema, t.typname as name, pg_get_userbyid(t.typowner) as owner,
       d.description as comment, ${columns},
       ${acl("coalesce(t.typacl, acldefault('T', t.typowner))")} as privileges
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
${joins}
left join pg_description d on d.classoid = 'pg_type'::regclass and d.objoid = t.oid and d.objsubid = 0
where t.typtype = '${typtype}' and ${userSchema()} and ${notExtension("pg_type", "t.oid")}
order by n.nspname, t.typname`;

export const ENUMS_SQL = typeQuery(
  "e",
  `coalesce((select json_agg(e.enumlabel order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid), '[]') as "values"`,
);

export const DOMAINS_SQL = typeQuery(
  "d",
  `format_type(t.typbasetype, t.typtypmod) as type, t.typnotnull as "notNull", t.typdefault as "default",
   case when t.typcollation <> bt.typcollation then ${collationName("t.typcollation")} end as collation,
   coalesce((select json_agg(json_build_object('name', con.conname, 'definition', pg_get_constraintdef(con.oid, true),
                                               'validated', con.convalidated) order by con.conname)
             from pg_constraint con where con.contypid = t.oid and con.contype = 'c'), '[]') as constraints`,
  "join pg_type bt on bt.oid = t.typbasetype",
);

/** Standalone composite types (CREATE TYPE … AS (…)), not the row types of tables. */
export const COMPOSITES_SQL = typeQuery(
  "c",
  `coalesce((select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                               'collation', case when a.attcollation <> at.typcollation then ${collationName("a.attcollation")} end)
                             order by a.attnum)
             from pg_attribute a join pg_type at on at.oid = a.atttypid
             where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped), '[]') as attributes`,
  "join pg_class tc on tc.oid = t.typrelid and tc.relkind = 'c'",
);

/** Range types; the multirange (PostgreSQL 14+) read through to_jsonb so that 12 and 13 work too. */
export const RANGES_SQL = typeQuery(
  "r",
  `format_type(rg.rngsubtype, null) as subtype,
   case when rg.rngcollation <> 0 and rg.rngcollation <> st.typcollation then ${collationName("rg.rngcollation")} end as collation,
   format_type(nullif(to_jsonb(rg) ->> 'rngmultitypid', '0')::oid, null) as multirange`,
  "join pg_range rg on rg.rngtypid = t.oid join pg_type st on st.oid = rg.rngsubtype",
);

/**
 * User-defined collations. Version-dependent columns (colliculocale 15–16,
 * colllocale 17+, collicurules 16+) are read through to_jsonb.
 */
export const COLLATIONS_SQL = `
select co.oid, n.nspname as schema, co.collname as name, pg_get_userbyid(co.collowner) as owner, d.description as comment,
       co.collprovider as provider,
       coalesce(j ->> 'colllocale', j ->> 'colliculocale') as locale,
       j ->> 'collcollate' as "lcCollate", j ->> 'collctype' as "lcCtype", j ->> 'collicurules' as rules,
       co.collisdeterministic as deterministic
from pg_collation co
cross join lateral to_jsonb(co) j
join pg_namespace n on n.oid = co.collnamespace
left join pg_description d on d.classoid = 'pg_collation'::regclass and d.objoid = co.oid and d.objsubid = 0
where ${userSchema()} and ${notExtension("pg_collation", "co.oid")}
order by n.nspname, co.collname`;

/** Type and collation oids used by the columns in scope (only needed with --table). */
export const USED_TYPES_SQL = `
select distinct a.atttypid as type, a.attcollation as collation
from ${scopedRelations}
join pg_attribute a on a.attrelid = c.oid
where a.attnum > 0 and not a.attisdropped and ${relInScope()}`;

export const POLICIES_SQL = `
select pol.polrelid as rel, pol.polname as name, pol.polcmd as command, pol.polpermissive as permissive,
       coalesce((select json_agg(r.name order by r.name)
                 from (select case when x = 0 then 'PUBLIC' else pg_get_userbyid(x) end as name from unnest(pol.polroles) x) r), '[]') as roles,
       pg_get_expr(pol.polqual, pol.polrelid, true) as "using",
       pg_get_expr(pol.polwithcheck, pol.polrelid, true) as "withCheck"
from ${scopedRelations}
join pg_policy pol on pol.polrelid = c.oid
where ${relInScope()} and ${inPart("c")}
order by pol.polrelid, pol.polname`;

/** ALTER DEFAULT PRIVILEGES: per schema, and database-wide (schema null). */
export const DEFAULT_ACL_SQL = `
select n.nspname as schema, pg_get_userbyid(da.defaclrole) as role, da.defaclobjtype as objtype,
       ${acl("da.defaclacl")} as privileges
from pg_default_acl da
left join pg_namespace n on n.oid = da.defaclnamespace
where da.defaclnamespace = 0 or (${userSchema()})
order by n.nspname nulls first, 2, 3`;

export const SEQUENCES_SQL = `
select c.oid, n.nspname as schema, c.relname as name, format_type(s.seqtypid, null) as type,
       s.seqstart::text as start, s.seqincrement::text as increment, s.seqmin::text as min, s.seqmax::text as max,
       s.seqcache::text as cache, s.seqcycle as cycle,
       case when has_sequence_privilege(c.oid, 'SELECT,USAGE') then pg_sequence_last_value(c.oid)::text end as "lastValue",
       on2.nspname as "ownerSchema", oc.relname as "ownerTable", oa.attname as "ownerColumn",
       dep.deptype = 'i' as identity, d.description as comment, pg_get_userbyid(c.relowner) as owner,
       ${acl("coalesce(c.relacl, acldefault('s', c.relowner))")} as privileges
from pg_sequence s
join pg_class c on c.oid = s.seqrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_depend dep on dep.classid = 'pg_class'::regclass and dep.objid = c.oid
  and dep.refclassid = 'pg_class'::regclass and dep.deptype in ('a', 'i')
left join pg_class oc on oc.oid = dep.refobjid
left join pg_namespace on2 on on2.oid = oc.relnamespace
left join pg_attribute oa on oa.attrelid = dep.refobjid and oa.attnum = dep.refobjsubid
left join pg_description d on d.classoid = 'pg_class'::regclass and d.objoid = c.oid and d.objsubid = 0
where ${userSchema()} and ${notExtension("pg_class", "c.oid")} and ${inPart("c")}
  and ($2::text is null
       or c.relname::text = any(${tableList})
       or n.nspname || '.' || c.relname = any(${tableList})
       or exists (select from pg_class oc2 join pg_namespace on3 on on3.oid = oc2.relnamespace
                  where oc2.oid = dep.refobjid and ${relInScope("oc2", "on3")}))
order by n.nspname, c.relname`;

/** Functions, procedures and aggregates; none with --table. */
export const FUNCTIONS_SQL = `
select n.nspname as schema, p.proname as name, p.prokind as kind,
       pg_get_function_identity_arguments(p.oid) as "identityArguments",
       pg_get_function_arguments(p.oid) as arguments,
       case when p.prokind <> 'p' then pg_get_function_result(p.oid) end as returns,
       l.lanname as language, p.provolatile as volatility, p.proisstrict as strict, p.prosecdef as "securityDefiner",
       to_json(p.proconfig) as config, pg_get_userbyid(p.proowner) as owner, d.description as comment,
       ${acl("coalesce(p.proacl, acldefault('f', p.proowner))")} as privileges
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
left join pg_description d on d.classoid = 'pg_proc'::regclass and d.objoid = p.oid and d.objsubid = 0
where $2::text is null and ${userSchema()} and ${notExtension("pg_proc", "p.oid")}
  -- Functions a type made for itself (range and multirange constructors) are part of the type.
  and not exists (select from pg_depend i where i.classid = 'pg_proc'::regclass and i.objid = p.oid and i.deptype = 'i')
order by n.nspname, p.proname, 4`;

export const EXTENSIONS_SQL = `
select e.extname as name, e.extversion as version, n.nspname as schema
from pg_extension e join pg_namespace n on n.oid = e.extnamespace
order by e.extname`;
