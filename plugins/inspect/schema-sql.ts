/**
 * The catalog query behind `eve db schema`: one statement, one round trip,
 * returning one row whose columns are JSON arrays (schemas, relations,
 * enums, sequences, functions, extensions). Raw catalog codes (relkind,
 * contype, tgtype …) are decoded in schema-query.ts.
 *
 * $1: JSON array of schema names or null (all user schemas).
 * $2: JSON array of table names ("name" or "schema.name") or null (all).
 *
 * System schemas (pg_*, information_schema) and objects that belong to an
 * extension (pg_depend deptype 'e') are left out. Needs PostgreSQL 12+.
 */

/** `not exists` clause: the object is not a member of an extension. */
const notExtension = (classid: string, oid: string) =>
  `not exists (select 1 from pg_depend d where d.classid = '${classid}'::regclass and d.objid = ${oid} and d.deptype = 'e')`;

export const SCHEMA_SQL = `
with
filt as (select $1::text::jsonb as schemas, $2::text::jsonb as tables),
nsp as (
  select n.oid, n.nspname, pg_get_userbyid(n.nspowner) as owner, obj_description(n.oid, 'pg_namespace') as comment
  from pg_namespace n, filt
  where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
    and ${notExtension("pg_namespace", "n.oid")}
    and (filt.schemas is null or n.nspname in (select jsonb_array_elements_text(filt.schemas)))
),
rel as (
  select c.oid, c.relname, c.relkind, n.nspname
  from pg_class c join nsp n on n.oid = c.relnamespace, filt
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and ${notExtension("pg_class", "c.oid")}
    and (filt.tables is null
         or c.relname in (select jsonb_array_elements_text(filt.tables))
         or n.nspname || '.' || c.relname in (select jsonb_array_elements_text(filt.tables)))
),
cols as (
  select a.attrelid, json_agg(json_build_object(
      'name', a.attname,
      'type', format_type(a.atttypid, a.atttypmod),
      'nullable', not a.attnotnull,
      'default', case when a.attgenerated = '' then pg_get_expr(ad.adbin, ad.adrelid) end,
      'identity', a.attidentity,
      'generated', case when a.attgenerated <> '' then pg_get_expr(ad.adbin, ad.adrelid) end,
      'comment', col_description(a.attrelid, a.attnum)
    ) order by a.attnum) as list
  from pg_attribute a
  join rel r on r.oid = a.attrelid
  left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
  where a.attnum > 0 and not a.attisdropped
  group by a.attrelid
),
cons as (
  select con.conrelid, json_agg(json_build_object(
      'name', con.conname,
      'type', con.contype,
      'columns', (select coalesce(json_agg(a.attname order by k.ord), '[]')
                  from unnest(con.conkey) with ordinality k(num, ord)
                  join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num),
      'definition', pg_get_constraintdef(con.oid, true),
      'deferrable', con.condeferrable,
      'initiallyDeferred', con.condeferred,
      'validated', con.convalidated,
      'refSchema', fn.nspname,
      'refTable', fc.relname,
      'refColumns', (select json_agg(a.attname order by k.ord)
                     from unnest(con.confkey) with ordinality k(num, ord)
                     join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num),
      'onUpdate', con.confupdtype,
      'onDelete', con.confdeltype,
      'match', con.confmatchtype
    ) order by con.conname) as list
  from pg_constraint con
  join rel r on r.oid = con.conrelid
  left join pg_class fc on fc.oid = con.confrelid
  left join pg_namespace fn on fn.oid = fc.relnamespace
  where con.contype in ('p', 'u', 'c', 'x', 'f')
    -- A foreign key to a partitioned table gets one hidden copy per partition.
    and not exists (select 1 from pg_constraint pc where pc.oid = con.conparentid and pc.conrelid = con.conrelid)
  group by con.conrelid
),
idx as (
  select i.indrelid, json_agg(json_build_object(
      'name', ic.relname,
      'definition', pg_get_indexdef(i.indexrelid),
      'method', am.amname,
      'unique', i.indisunique,
      'primary', i.indisprimary,
      'valid', i.indisvalid,
      'predicate', pg_get_expr(i.indpred, i.indrelid, true),
      'columns', (select json_agg(pg_get_indexdef(i.indexrelid, k, true) order by k) from generate_series(1, i.indnkeyatts) k),
      'include', (select coalesce(json_agg(pg_get_indexdef(i.indexrelid, k, true) order by k), '[]')
                  from generate_series(i.indnkeyatts + 1, i.indnatts) k),
      'constraint', (select con.conname from pg_constraint con
                     where con.conindid = i.indexrelid and con.conrelid = i.indrelid and con.contype in ('p', 'u', 'x') limit 1)
    ) order by ic.relname) as list
  from pg_index i
  join rel r on r.oid = i.indrelid
  join pg_class ic on ic.oid = i.indexrelid
  join pg_am am on am.oid = ic.relam
  group by i.indrelid
),
trg as (
  select t.tgrelid, json_agg(json_build_object(
      'name', t.tgname,
      'type', t.tgtype,
      'enabled', t.tgenabled,
      'function', quote_ident(pn.nspname) || '.' || quote_ident(p.proname),
      'definition', pg_get_triggerdef(t.oid, true)
    ) order by t.tgname) as list
  from pg_trigger t
  join rel r on r.oid = t.tgrelid
  join pg_proc p on p.oid = t.tgfoid
  join pg_namespace pn on pn.oid = p.pronamespace
  where not t.tgisinternal
  group by t.tgrelid
),
parts as (
  select inh.inhparent, json_agg(json_build_object(
      'schema', pn.nspname, 'name', pc.relname, 'bound', pg_get_expr(pc.relpartbound, pc.oid)
    ) order by pn.nspname, pc.relname) as list
  from pg_inherits inh
  join rel r on r.oid = inh.inhparent and r.relkind = 'p'
  join pg_class pc on pc.oid = inh.inhrelid
  join pg_namespace pn on pn.oid = pc.relnamespace
  group by inh.inhparent
),
seqs as (
  select c.oid, n.nspname, c.relname, s.*, d.deptype as dep, oc.relname as owner_table, on2.nspname as owner_schema, oa.attname as owner_column
  from pg_sequence s
  join pg_class c on c.oid = s.seqrelid
  join nsp n on n.oid = c.relnamespace
  left join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = c.oid
    and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
  left join pg_class oc on oc.oid = d.refobjid
  left join pg_namespace on2 on on2.oid = oc.relnamespace
  left join pg_attribute oa on oa.attrelid = d.refobjid and oa.attnum = d.refobjsubid,
  filt
  where ${notExtension("pg_class", "c.oid")}
    and (filt.tables is null
         or c.relname in (select jsonb_array_elements_text(filt.tables))
         or n.nspname || '.' || c.relname in (select jsonb_array_elements_text(filt.tables))
         or d.refobjid in (select oid from rel))
)
select
  current_database() as database,
  current_setting('server_version') as server_version,
  current_setting('server_version_num')::int as version_num,
  (select coalesce(json_agg(json_build_object('name', nspname, 'owner', owner, 'comment', comment) order by nspname), '[]') from nsp) as schemas,
  (select coalesce(json_agg(json_build_object(
      'schema', r.nspname,
      'name', r.relname,
      'kind', r.relkind,
      'owner', pg_get_userbyid(c.relowner),
      'comment', obj_description(c.oid, 'pg_class'),
      'reltuples', c.reltuples,
      'relpages', c.relpages,
      'rlsEnabled', c.relrowsecurity,
      'rlsForced', c.relforcerowsecurity,
      'options', c.reloptions,
      'populated', c.relispopulated,
      'partitionKey', case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end,
      'parentSchema', pn.nspname,
      'parentName', pc.relname,
      'partitionBound', case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end,
      'definition', case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid, true) end,
      'columns', coalesce(cols.list, '[]'),
      'constraints', coalesce(cons.list, '[]'),
      'indexes', coalesce(idx.list, '[]'),
      'triggers', coalesce(trg.list, '[]'),
      'partitions', coalesce(parts.list, '[]')
    ) order by r.nspname, r.relname), '[]')
   from rel r
   join pg_class c on c.oid = r.oid
   left join pg_inherits inh on c.relispartition and inh.inhrelid = c.oid
   left join pg_class pc on pc.oid = inh.inhparent
   left join pg_namespace pn on pn.oid = pc.relnamespace
   left join cols on cols.attrelid = r.oid
   left join cons on cons.conrelid = r.oid
   left join idx on idx.indrelid = r.oid
   left join trg on trg.tgrelid = r.oid
   left join parts on parts.inhparent = r.oid) as relations,
  (select coalesce(json_agg(json_build_object(
      'schema', n.nspname,
      'name', t.typname,
      'owner', pg_get_userbyid(t.typowner),
      'comment', obj_description(t.oid, 'pg_type'),
      'values', (select coalesce(json_agg(e.enumlabel order by e.enumsortorder), '[]') from pg_enum e where e.enumtypid = t.oid)
    ) order by n.nspname, t.typname), '[]')
   from pg_type t join nsp n on n.oid = t.typnamespace, filt
   where t.typtype = 'e' and ${notExtension("pg_type", "t.oid")}
     and (filt.tables is null or exists (
       select 1 from pg_attribute a join rel r on r.oid = a.attrelid
       where a.attnum > 0 and not a.attisdropped and a.atttypid in (t.oid, t.typarray)))) as enums,
  (select coalesce(json_agg(json_build_object(
      'schema', s.nspname,
      'name', s.relname,
      'type', format_type(s.seqtypid, null),
      'start', s.seqstart::text,
      'increment', s.seqincrement::text,
      'min', s.seqmin::text,
      'max', s.seqmax::text,
      'cache', s.seqcache::text,
      'cycle', s.seqcycle,
      'lastValue', case when has_sequence_privilege(s.oid, 'SELECT,USAGE') then pg_sequence_last_value(s.oid)::text end,
      'ownerSchema', s.owner_schema,
      'ownerTable', s.owner_table,
      'ownerColumn', s.owner_column,
      'identity', s.dep = 'i',
      'comment', obj_description(s.oid, 'pg_class')
    ) order by s.nspname, s.relname), '[]') from seqs s) as sequences,
  (select coalesce(json_agg(json_build_object(
      'schema', n.nspname,
      'name', p.proname,
      'kind', p.prokind,
      'identityArguments', pg_get_function_identity_arguments(p.oid),
      'arguments', pg_get_function_arguments(p.oid),
      'returns', case when p.prokind <> 'p' then pg_get_function_result(p.oid) end,
      'language', l.lanname,
      'volatility', p.provolatile,
      'strict', p.proisstrict,
      'securityDefiner', p.prosecdef,
      'config', p.proconfig,
      'owner', pg_get_userbyid(p.proowner),
      'comment', obj_description(p.oid, 'pg_proc')
    ) order by n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), '[]')
   from pg_proc p join nsp n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang, filt
   where filt.tables is null and ${notExtension("pg_proc", "p.oid")}) as functions,
  (select coalesce(json_agg(json_build_object('name', e.extname, 'version', e.extversion, 'schema', n.nspname) order by e.extname), '[]')
   from pg_extension e join pg_namespace n on n.oid = e.extnamespace) as extensions
`;
