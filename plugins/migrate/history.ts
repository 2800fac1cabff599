/**
 * The history table (schema_migrations) and the server facts the runner needs:
 * creating or extending the table, reading it, and spotting pre-existing objects.
 */
import type { Db } from "../../core/db/index.ts";
import { quoteIdent } from "../../core/db/index.ts";
import { UsageError } from "../../core/errors.ts";
import type { HistoryRow } from "../../core/migrations/plan.ts";

export interface ServerFacts {
  versionNum: number;
  schema: string;
  tableExists: boolean;
  hasExtraColumns: boolean;
}

export async function serverFacts(db: Db, table: string): Promise<ServerFacts> {
  const [row] = await db`
    select current_setting('server_version_num')::int as version_num,
           current_schema() as schema,
           to_regclass(quote_ident(current_schema()) || '.' || quote_ident(${table})) is not null as table_exists,
           (select count(*) from pg_attribute
             where attrelid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident(${table}))
               and attname in ('kind', 'duration_ms', 'details', 'statements_done') and not attisdropped)::int as extra`;
  if (!row?.schema) {
    throw new UsageError("the connection has no current schema (empty search_path)", {
      hint: "set search_path for the role or add ?options=-csearch_path%3Dpublic to the URL",
    });
  }
  if (row.version_num >= 140000) {
    // Lets the server notice a killed client during long statements and roll back promptly.
    await db`select set_config('client_connection_check_interval', '1000', false)`.catch(() => {});
  }
  return { versionNum: row.version_num, schema: row.schema, tableExists: row.table_exists, hasExtraColumns: row.extra === 4 };
}

export async function ensureHistoryTable(db: Db, table: string, facts: ServerFacts): Promise<void> {
  if (!facts.tableExists) {
    await db.unsafe(
      `CREATE TABLE IF NOT EXISTS ${table} (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), kind text, duration_ms integer, details jsonb, statements_done integer)`,
    );
  } else if (!facts.hasExtraColumns) {
    // Tables made by the original runner (or an older eve) gain nullable columns; its inserts still work.
    await db.unsafe(
      `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS kind text, ADD COLUMN IF NOT EXISTS duration_ms integer, ADD COLUMN IF NOT EXISTS details jsonb, ADD COLUMN IF NOT EXISTS statements_done integer`,
    );
  }
}

export async function readHistory(db: Db, table: string): Promise<HistoryRow[]> {
  const rows = await db.unsafe(
    `select name, checksum, applied_at, to_jsonb(h)->>'kind' as kind, (to_jsonb(h)->>'duration_ms')::int as duration_ms, to_jsonb(h)->'details' as details, (to_jsonb(h)->>'statements_done')::int as statements_done from ${table} h order by name`,
  );
  return rows as unknown as HistoryRow[];
}

/** Does the database hold user objects (other than the history table and extension members)? */
export async function hasUserObjects(db: Db, schema: string, table: string): Promise<boolean> {
  const [row] = await db`
    select exists (
      select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and not (n.nspname = ${schema} and c.relname = ${table})
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
    ) or exists (
      select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and t.typtype in ('e', 'd') 
        and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
    ) or exists (
      select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
    ) as found`;
  return !!row?.found;
}

/** Read-only listing for `eve db migrations`. */
export async function history(db: Db, table = "schema_migrations"): Promise<{ schema: string; rows: HistoryRow[] }> {
  const facts = await serverFacts(db, table);
  const qualified = `${quoteIdent(facts.schema)}.${quoteIdent(table)}`;
  return { schema: facts.schema, rows: facts.tableExists ? await readHistory(db, qualified) : [] };
}
