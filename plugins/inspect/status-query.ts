/**
 * The `eve db status` engine: latency, server and database facts, connection
 * use, extensions, the migration summary and the oldest activity. Takes an
 * open Db (and optionally the migration files read by the caller), returns a
 * StatusResult; never prints.
 */
import { mapDbError, quoteIdent, type Db } from "../../core/db/index.ts";
import type { MigrationFile } from "../../core/migrations/files.ts";
import { plan, type HistoryRow } from "../../core/migrations/plan.ts";
import type { StatusResult } from "./schema.ts";

export interface StatusOptions {
  /** user@host:port/db of the connection, safe to print. */
  target: string;
  /** Compare the history with these files (from `--path`). */
  migrations?: { directory: string; files: MigrationFile[] };
  /** Name of the history table in the current schema. */
  table?: string;
}

const FACTS_SQL = `
select
  current_database() as database,
  pg_get_userbyid(d.datdba) as owner,
  pg_encoding_to_char(d.encoding) as encoding,
  pg_database_size(d.oid)::float8 as size_bytes,
  current_setting('server_version') as server_version,
  current_setting('server_version_num')::int as version_num,
  pg_is_in_recovery() as in_recovery,
  pg_postmaster_start_time() as started_at,
  current_setting('max_connections')::int as max_connections,
  current_setting('superuser_reserved_connections')::int as reserved,
  (select count(*)::int from pg_stat_activity where backend_type = 'client backend') as used,
  (select count(*)::int from pg_stat_activity where backend_type = 'client backend' and datid = d.oid) as this_database,
  current_schema() as schema,
  to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1)) is not null as table_exists,
  (select coalesce(json_agg(json_build_object('name', e.extname, 'version', e.extversion, 'schema', n.nspname) order by e.extname), '[]')
     from pg_extension e join pg_namespace n on n.oid = e.extnamespace) as extensions,
  (select json_build_object('pid', a.pid, 'user', a.usename, 'application', nullif(a.application_name, ''), 'state', a.state,
            'durationMs', round(extract(epoch from clock_timestamp() - a.query_start) * 1000)::float8,
            'query', left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80))
     from pg_stat_activity a
     where a.datid = d.oid and a.pid <> pg_backend_pid() and a.backend_type = 'client backend'
       and a.state in ('active', 'fastpath function call') and a.query_start is not null
     order by a.query_start limit 1) as longest_query,
  (select json_build_object('pid', a.pid, 'user', a.usename, 'application', nullif(a.application_name, ''), 'state', a.state,
            'ageMs', round(extract(epoch from clock_timestamp() - a.xact_start) * 1000)::float8)
     from pg_stat_activity a
     where a.datid = d.oid and a.pid <> pg_backend_pid() and a.backend_type = 'client backend' and a.xact_start is not null
     order by a.xact_start limit 1) as oldest_transaction
from pg_database d
where d.datname = current_database()`;

interface Facts {
  database: string;
  owner: string;
  encoding: string;
  size_bytes: number;
  server_version: string;
  version_num: number;
  in_recovery: boolean;
  started_at: Date;
  max_connections: number;
  reserved: number;
  used: number;
  this_database: number;
  schema: string | null;
  table_exists: boolean;
  extensions: StatusResult["extensions"];
  longest_query: StatusResult["longestQuery"];
  oldest_transaction: StatusResult["oldestTransaction"];
}

/**
 * Collect the status of the connected database.
 * @example const status = await inspectStatus(db, { target: conn.label });
 */
export async function inspectStatus(db: Db, opts: StatusOptions): Promise<StatusResult> {
  const table = opts.table ?? "schema_migrations";
  try {
    const latencyMs = await measureLatency(db);
    const [facts] = (await db.unsafe(FACTS_SQL, [table])) as unknown as Facts[];
    const f = facts!;
    return {
      target: opts.target,
      reachable: true,
      latencyMs,
      server: {
        version: f.server_version.split(" ")[0]!,
        versionNum: f.version_num,
        inRecovery: f.in_recovery,
        startedAt: new Date(f.started_at).toISOString(),
      },
      database: { name: f.database, owner: f.owner, encoding: f.encoding, sizeBytes: f.size_bytes },
      connections: { used: f.used, max: f.max_connections, reservedForSuperuser: f.reserved, thisDatabase: f.this_database },
      extensions: f.extensions,
      migrations: await migrationSummary(db, f, table, opts.migrations),
      longestQuery: f.longest_query,
      oldestTransaction: f.oldest_transaction,
    };
  } catch (e) {
    throw mapDbError(e);
  }
}

/** Median of three round trips of a trivial statement, in ms with 0.01 precision. */
async function measureLatency(db: Db): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await db`select 1`;
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return Math.round(samples[1]! * 100) / 100;
}

async function migrationSummary(
  db: Db,
  f: Facts,
  table: string,
  dir: StatusOptions["migrations"],
): Promise<StatusResult["migrations"]> {
  const qualified = f.schema ? `${quoteIdent(f.schema)}.${quoteIdent(table)}` : null;
  let rows: HistoryRow[] = [];
  if (qualified && f.table_exists) {
    // to_jsonb(h) tolerates history tables made by the original runner (no kind/duration_ms/details).
    rows = (await db.unsafe(
      `select name, checksum, applied_at, to_jsonb(h)->>'kind' as kind, (to_jsonb(h)->>'duration_ms')::int as duration_ms, null as details from ${qualified} h order by name`,
    )) as unknown as HistoryRow[];
  }
  // A `running` row is a no-transaction file that stopped midway: not applied (eve db migrations shows its progress).
  const done = rows.filter((r) => r.kind !== "running");
  const latest = done.reduce<HistoryRow | undefined>((m, r) => (!m || versionKey(r.name) > versionKey(m.name) ? r : m), undefined);
  const summary: StatusResult["migrations"] = {
    table: f.schema ? `${f.schema}.${table}` : null,
    exists: f.table_exists,
    applied: done.length,
    latest: latest ? { name: latest.name, appliedAt: new Date(latest.applied_at).toISOString() } : null,
    directory: null,
    pending: null,
    drifted: null,
    missing: null,
  };
  if (dir) {
    const p = plan(dir.files, rows);
    summary.directory = dir.directory;
    summary.pending = [...p.running.map((r) => r.row.name), ...p.pending.map((m) => m.name)];
    summary.drifted = p.drifted.map((d) => d.name);
    summary.missing = p.missing.map((r) => r.name);
  }
  return summary;
}

/** Sort key: the 14-digit version when the name starts with one, else the name. */
function versionKey(name: string): string {
  return /^(\d{14})_/.exec(name)?.[1] ?? name;
}
