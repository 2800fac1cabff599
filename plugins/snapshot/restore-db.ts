/**
 * The SQL side of a restore: what the target looks like (owner, encoding,
 * locale, privileges of the restoring role), creating the scratch database
 * with the same properties, handing restored objects to the target's owner,
 * and the rename swap.
 */
import { mapDbError, quoteIdent, quoteLiteral, type Db } from "../../core/db/index.ts";
import { aclStatements, alterSet, describeDatabase, type DatabaseFacts } from "../../core/db/recreate.ts";

export interface TargetInfo extends DatabaseFacts {
  /**
   * Statements re-creating database-level grants, comment and settings on
   * another database (`%DB%` placeholder). Grants must not fail (access would
   * change); a setting that cannot be copied is a warning.
   */
  extras: Array<{ sql: string; fatal: boolean }>;
}

/** What defines the target database (core/db facts) plus the statements that copy its grants and settings. */
export async function inspectTarget(db: Db): Promise<TargetInfo> {
  const f = await describeDatabase(db);
  const extras = aclStatements("DATABASE", "%DB%", f.owner, f.acl).map((sql) => ({ sql, fatal: true }));
  if (f.comment !== null) extras.push({ sql: `COMMENT ON DATABASE %DB% IS ${quoteLiteral(f.comment)}`, fatal: true });
  for (const s of f.settings) {
    const target = s.role ? `ROLE ${quoteIdent(s.role)} IN DATABASE %DB%` : "DATABASE %DB%";
    for (const c of s.config) extras.push({ sql: alterSet(target, c), fatal: false });
  }
  return { ...f, extras };
}

/**
 * Whether the connected database holds nothing a restore could lose: no user
 * schema but public, nothing in public (every object depends on its schema),
 * no large object, extension (but plpgsql), event trigger or publication.
 */
export async function isEmptyDatabase(db: Db): Promise<boolean> {
  const [r] = await db`
    select not exists (select 1 from pg_namespace n where n.nspname not in ('public', 'pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)')
       and not exists (select 1 from pg_depend d join pg_namespace n on d.refclassid = 'pg_namespace'::regclass and d.refobjid = n.oid where n.nspname = 'public')
       and not exists (select 1 from pg_largeobject_metadata)
       and not exists (select 1 from pg_extension where extname <> 'plpgsql')
       and not exists (select 1 from pg_event_trigger)
       and not exists (select 1 from pg_publication) as empty`;
  return r!.empty === true;
}

/** Statements that hand every object owned by the restoring role (outside system schemas and extensions) to `owner`. */
function reassignQuery(owner: string): string {
  const o = quoteLiteral(owner);
  return `
with me as (select oid from pg_roles where rolname = current_user),
sys as (select oid from pg_namespace where nspname like 'pg\\_%' or nspname = 'information_schema'),
ext as (select classid, objid from pg_depend where deptype = 'e')
select format('ALTER SCHEMA %I OWNER TO %I', n.nspname, ${o}) from pg_namespace n
 where n.nspowner = (select oid from me) and n.oid not in (select oid from sys)
   and not exists (select 1 from ext where classid = 'pg_namespace'::regclass and objid = n.oid)
union all
select format('ALTER %s %s OWNER TO %I', case c.relkind when 'S' then 'SEQUENCE' when 'v' then 'VIEW'
         when 'm' then 'MATERIALIZED VIEW' when 'f' then 'FOREIGN TABLE' else 'TABLE' end, c.oid::regclass, ${o})
  from pg_class c
 where c.relowner = (select oid from me) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
   and c.relnamespace not in (select oid from sys)
   and not exists (select 1 from ext where classid = 'pg_class'::regclass and objid = c.oid)
   and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
            and d.objid = c.oid and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')))
union all
select format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, ${o}) from pg_proc p
 where p.proowner = (select oid from me) and p.pronamespace not in (select oid from sys)
   and not exists (select 1 from ext where classid = 'pg_proc'::regclass and objid = p.oid)
union all
select format('ALTER %s %s OWNER TO %I', case t.typtype when 'd' then 'DOMAIN' else 'TYPE' end, t.oid::regtype, ${o})
  from pg_type t
 where t.typowner = (select oid from me) and t.typtype in ('b', 'c', 'd', 'e', 'r')
   and t.typnamespace not in (select oid from sys)
   and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
   and not exists (select 1 from pg_type e where e.typarray = t.oid)
   and not exists (select 1 from ext where classid = 'pg_type'::regclass and objid = t.oid)
union all
select format('ALTER COLLATION %s OWNER TO %I', quote_ident(n.nspname) || '.' || quote_ident(c.collname), ${o})
  from pg_collation c join pg_namespace n on n.oid = c.collnamespace
 where c.collowner = (select oid from me) and n.oid not in (select oid from sys)
   and not exists (select 1 from ext where classid = 'pg_collation'::regclass and objid = c.oid)
union all
select format('ALTER TEXT SEARCH CONFIGURATION %s OWNER TO %I', c.oid::regconfig, ${o}) from pg_ts_config c
 where c.cfgowner = (select oid from me) and c.cfgnamespace not in (select oid from sys)
   and not exists (select 1 from ext where classid = 'pg_ts_config'::regclass and objid = c.oid)
union all
select format('ALTER TEXT SEARCH DICTIONARY %s OWNER TO %I', d.oid::regdictionary, ${o}) from pg_ts_dict d
 where d.dictowner = (select oid from me) and d.dictnamespace not in (select oid from sys)
   and not exists (select 1 from ext where classid = 'pg_ts_dict'::regclass and objid = d.oid)
union all
select format('ALTER OPERATOR %s OWNER TO %I', op.oid::regoperator, ${o}) from pg_operator op
 where op.oprowner = (select oid from me) and op.oprnamespace not in (select oid from sys)
   and not exists (select 1 from ext where classid = 'pg_operator'::regclass and objid = op.oid)
union all
select format('ALTER STATISTICS %I.%I OWNER TO %I', n.nspname, s.stxname, ${o})
  from pg_statistic_ext s join pg_namespace n on n.oid = s.stxnamespace
 where s.stxowner = (select oid from me) and n.oid not in (select oid from sys)
union all
select format('ALTER SERVER %I OWNER TO %I', s.srvname, ${o}) from pg_foreign_server s
 where s.srvowner = (select oid from me)
   and not exists (select 1 from ext where classid = 'pg_foreign_server'::regclass and objid = s.oid)
union all
select format('ALTER LARGE OBJECT %s OWNER TO %I', l.oid, ${o}) from pg_largeobject_metadata l
 where l.lomowner = (select oid from me)`;
}

/** A DO block handing every object owned by current_user to `owner`; leaves the count in the eve.reassigned setting. */
export function reassignBlock(owner: string): string {
  return `do $eve$
declare s text; n bigint := 0;
begin
  if current_user <> ${quoteLiteral(owner)} then
    for s in ${reassignQuery(owner)} loop
      execute s;
      n := n + 1;
    end loop;
  end if;
  perform set_config('eve.reassigned', n::text, true);
end $eve$`;
}

/**
 * Give `owner` every object the restoring role created (pg_restore ran with
 * --no-owner), in one transaction on `db`. Returns how many objects changed
 * owner. Runs server-side, so large-object counts do not matter.
 */
export async function reassignToOwner(db: Db, owner: string): Promise<number> {
  return db.begin(async (tx) => {
    await tx.unsafe(reassignBlock(owner));
    const [r] = await tx<{ n: string }[]>`select current_setting('eve.reassigned') as n`;
    return Number(r!.n);
  }) as Promise<number>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The swap: in one transaction, end the target's sessions, rename it to
 * `old` and `tmp` to its name. Retries while new sessions race in.
 * Returns the number of sessions terminated.
 */
export async function swapDatabases(m: Db, target: string, tmp: string, old: string, versionNum: number): Promise<number> {
  const wait = versionNum >= 140000 ? ", 5000" : "";
  let terminated = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await m.begin(async (tx) => {
        const [r] = await tx.unsafe<{ n: string }[]>(
          `select count(*) filter (where pg_terminate_backend(pid${wait})) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
          [target],
        );
        terminated += Number(r!.n);
        await tx.unsafe(`ALTER DATABASE ${quoteIdent(target)} RENAME TO ${quoteIdent(old)}`);
        await tx.unsafe(`ALTER DATABASE ${quoteIdent(tmp)} RENAME TO ${quoteIdent(target)}`);
      });
      return terminated;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "55006" && attempt < 8) {
        await sleep(100 * attempt);
        continue;
      }
      throw mapDbError(e);
    }
  }
}
