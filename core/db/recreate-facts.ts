/**
 * What defines a database and what a wipe would lose, read over a connection
 * to it (read-only). Used by the wipe engine (recreate.ts) and by the refusal
 * preview of `eve db wipe` / `eve db reset` without --force.
 */
import type { Db } from "./index.ts";

/** One ACL entry; grantee null = PUBLIC. */
export interface Grant {
  grantee: string | null;
  privilege: string;
  grantable: boolean;
}

export interface DatabaseFacts {
  name: string;
  owner: string;
  versionNum: number;
  encoding: string;
  collate: string;
  ctype: string;
  /** libc, icu or builtin (PG17+); libc before PG15. */
  localeProvider: "libc" | "icu" | "builtin";
  /** ICU or builtin locale, null for libc. */
  locale: string | null;
  icuRules: string | null;
  tablespace: string;
  connectionLimit: number;
  /** Explicit ACL, or null for the default one. */
  acl: Grant[] | null;
  /** ALTER DATABASE … SET and ALTER ROLE … IN DATABASE … SET entries ("name=value"). */
  settings: Array<{ role: string | null; config: string[] }>;
  comment: string | null;
  sizeBytes: number;
  /** Tables and partitioned tables in user schemas (partitions not counted twice). */
  tables: number;
  rowsEstimate: number;
  /** User schemas (not pg_catalog, information_schema, pg_toast*, pg_temp*). */
  schemas: string[];
  publicSchema: { owner: string; acl: Grant[] | null; comment: string | null } | null;
  largeObjects: number;
  /** Why the connecting role cannot drop and recreate this database (null = it can). */
  cannotRecreate: string | null;
  /** The backend pid of the session that read these facts. */
  backendPid: number;
}

const ACL = (col: string) => `(select jsonb_agg(jsonb_build_object(
    'grantee', case when a.grantee = 0 then null else pg_get_userbyid(a.grantee) end,
    'privilege', a.privilege_type, 'grantable', a.is_grantable))
  from aclexplode(${col}) a)`;
const USER_SCHEMA = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'`;

export async function facts(db: Db): Promise<DatabaseFacts> {
  const [d] = await db.unsafe(`
    select d.datname as name, pg_get_userbyid(d.datdba) as owner, to_jsonb(d) - 'datacl' as row,
           current_setting('server_version_num')::int as version_num,
           pg_encoding_to_char(d.encoding) as encoding,
           coalesce((select spcname from pg_tablespace t where t.oid = d.dattablespace), 'pg_default') as tablespace,
           case when d.datacl is null then null else ${ACL("d.datacl")} end as acl,
           (select jsonb_agg(jsonb_build_object('role', case when s.setrole = 0 then null else pg_get_userbyid(s.setrole) end, 'config', to_jsonb(s.setconfig)))
              from pg_db_role_setting s where s.setdatabase = d.oid) as settings,
           shobj_description(d.oid, 'pg_database') as comment,
           pg_database_size(d.oid)::float8 as size,
           r.rolname as me, r.rolsuper as superuser, r.rolcreatedb as createdb,
           pg_has_role(current_user, d.datdba, 'USAGE') as owner_privs,
           (select count(*) from pg_largeobject_metadata)::int as large_objects,
           pg_backend_pid() as pid
    from pg_database d join pg_roles r on r.rolname = current_user
    where d.datname = current_database()`);
  const [t] = await db.unsafe(`
    select count(*) filter (where c.relkind in ('r', 'p') and not c.relispartition)::int as tables,
           coalesce(sum(greatest(c.reltuples, coalesce(s.n_live_tup, 0), 0)) filter (where c.relkind = 'r'), 0)::float8 as rows
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    left join pg_stat_user_tables s on s.relid = c.oid
    where ${USER_SCHEMA} and c.relkind in ('r', 'p')`);
  const schemas = await db.unsafe(`
    select n.nspname as name, pg_get_userbyid(n.nspowner) as owner, obj_description(n.oid, 'pg_namespace') as comment,
           case when n.nspacl is null then null else ${ACL("n.nspacl")} end as acl
    from pg_namespace n where ${USER_SCHEMA} order by n.nspname`);
  const row = d!.row as Record<string, unknown>;
  const provider = ({ i: "icu", b: "builtin" } as Record<string, "icu" | "builtin">)[String(row.datlocprovider ?? "c")] ?? "libc";
  const locale = (row.datlocale ?? row.daticulocale ?? null) as string | null;
  const pub = schemas.find((s) => s.name === "public");
  const me = d!.me as string;
  const cannotRecreate = row.datistemplate
    ? `${d!.name} is a template database`
    : !d!.superuser && !d!.owner_privs
      ? `role ${me} is neither the owner (${d!.owner}) of database ${d!.name} nor a superuser`
      : !d!.superuser && !d!.createdb
        ? `role ${me} lacks CREATEDB, needed to recreate database ${d!.name}`
        : null;
  return {
    name: d!.name,
    owner: d!.owner,
    versionNum: d!.version_num,
    encoding: d!.encoding,
    collate: String(row.datcollate),
    ctype: String(row.datctype),
    localeProvider: provider,
    locale: provider === "libc" ? null : locale,
    icuRules: (row.daticurules as string | null | undefined) ?? null,
    tablespace: d!.tablespace,
    connectionLimit: Number(row.datconnlimit ?? -1),
    acl: d!.acl ?? null,
    settings: ((d!.settings ?? []) as Array<{ role: string | null; config: string[] | null }>).map((s) => ({ role: s.role, config: s.config ?? [] })),
    comment: d!.comment ?? null,
    sizeBytes: Number(d!.size),
    tables: t!.tables,
    rowsEstimate: Math.round(Number(t!.rows)),
    schemas: schemas.map((s) => s.name as string),
    publicSchema: pub ? { owner: pub.owner, acl: pub.acl ?? null, comment: pub.comment ?? null } : null,
    largeObjects: d!.large_objects,
    cannotRecreate,
    backendPid: d!.pid,
  };
}
