/**
 * In-place restore, for roles that cannot create databases: one transaction
 * that first empties the target (every user schema dropped, large objects
 * unlinked; schemas holding extensions are emptied object by object so the
 * extensions, often owned by a superuser, stay) and then runs the restore
 * script with the objects' owners and grants (with --no-owner, the restored
 * objects are then handed to the database owner). The
 * archive goes through `pg_restore -f -` (once per pass: schemas and their
 * grants first for a non-superuser, see restore-roles.ts) and the SQL into
 * `psql --single-transaction -v ON_ERROR_STOP=1`; psql only gets its end of
 * input (and commits) after the object's size and sha256 matched and
 * pg_restore exited 0. Any failure kills psql first: the server rolls back.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { quoteIdent, quoteLiteral } from "../../core/db/index.ts";
import { aclStatements } from "../../core/db/recreate.ts";
import type { Store } from "../../core/store/types.ts";
import { reassignBlock, type TargetInfo } from "./restore-db.ts";
import { listFile, preserveFlags, type Preserve } from "./restore-roles.ts";
import type { SnapshotRecord } from "./schema.ts";
import { pumpVerified } from "./streams.ts";
import { cleanStderr, connArgs, secretsOf, spawnTool, toolFailed, type PgTool } from "./tools.ts";

const USER_SCHEMA = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'`;

/** SQL that empties the current database (run inside the restore's transaction). */
export function emptyDatabaseSql(t: TargetInfo): string {
  const pub = t.publicSchema;
  const pubOwner = pub?.owner ?? (t.versionNum >= 150000 ? "pg_database_owner" : t.owner);
  const recreatePublic = [
    `create schema if not exists public authorization ${quoteIdent(pubOwner)};`,
    ...(pub
      ? aclStatements("SCHEMA", "public", pubOwner, pub.acl).map((s) => s + ";")
      : [`grant usage on schema public to public;`, ...(t.versionNum < 150000 ? [`grant create on schema public to public;`] : [])]),
    ...(pub?.comment ? [`comment on schema public is ${quoteLiteral(pub.comment)};`] : []),
  ];
  return `
set client_min_messages = warning;
do $eve$
declare r record;
begin
  for r in select evtname from pg_event_trigger loop execute format('drop event trigger %I', r.evtname); end loop;
  for r in select pubname from pg_publication loop execute format('drop publication %I', r.pubname); end loop;
  perform lo_unlink(oid) from pg_largeobject_metadata;
  -- Schemas without extensions go whole.
  for r in select n.nspname from pg_namespace n where ${USER_SCHEMA}
             and not exists (select 1 from pg_extension e where e.extnamespace = n.oid) loop
    execute format('drop schema %I cascade', r.nspname);
  end loop;
  -- In schemas holding an extension, drop everything that is not part of one.
  for r in select format('drop %s if exists %s cascade', case c.relkind when 'S' then 'sequence' when 'v' then 'view'
             when 'm' then 'materialized view' when 'f' then 'foreign table' else 'table' end, c.oid::regclass) as s
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where ${USER_SCHEMA} and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') and not c.relispartition
             and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('e', 'i', 'a'))
  loop execute r.s; end loop;
  for r in select format('drop routine if exists %s cascade', p.oid::regprocedure) as s
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where ${USER_SCHEMA} and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  loop execute r.s; end loop;
  for r in select format('drop %s if exists %s cascade', case t.typtype when 'd' then 'domain' else 'type' end, t.oid::regtype) as s
           from pg_type t join pg_namespace n on n.oid = t.typnamespace
           where ${USER_SCHEMA} and t.typtype in ('c', 'd', 'e', 'r') and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
             and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
  loop execute r.s; end loop;
end $eve$;
${recreatePublic.join("\n")}
reset client_min_messages;
`;
}

export interface InPlaceOptions {
  url: string;
  store: Store;
  rec: SnapshotRecord;
  target: TargetInfo;
  pgRestore: PgTool;
  psql: PgTool;
  env: Record<string, string | undefined>;
  signal?: AbortSignal;
  keep: Preserve;
  plan: Array<string[] | null>;
  /** Where the --use-list files of a multi-pass plan go. */
  tmpDir: string;
  onProgress?: (bytes: number) => void;
}

export async function restoreInPlace(o: InPlaceOptions): Promise<void> {
  const conn = connArgs(o.url, o.env);
  const secrets = secretsOf(o.url);
  // psql reads the script from stdin; it commits only when it reaches the end of it.
  const psql = spawnTool(o.psql.path, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--no-password", "-d", conn.dbname, "-f", "-"], {
    env: conn.env,
    stdin: "pipe",
    stdout: "ignore",
  });
  const sql = psql.stdin!.getWriter();
  const dir = o.plan.length > 1 ? await mkdtemp(join(o.tmpDir, "eve-restore-")) : null;
  let ok = false;
  const psqlFailed = (p: { code: number | null; stderr: string }) =>
    toolFailed("E_RESTORE", "psql", p.code, cleanStderr(p.stderr, secrets), "the snapshot does not restore here (missing role or extension, privileges, or data that no longer passes a constraint)");
  try {
    await sql.write(new TextEncoder().encode(emptyDatabaseSql(o.target)));
    for (let i = 0; i < o.plan.length; i++) {
      const last = i === o.plan.length - 1;
      const list = dir ? await listFile(dir, o.plan[i]!, i) : [];
      await scriptPass(o, sql, [...preserveFlags(o.keep), ...list, "--file=-"], last, psql.exited, psqlFailed);
    }
    // Ownership (--no-owner) in the same transaction, then the end of input: psql commits.
    await sql.write(new TextEncoder().encode(o.keep.owners ? "\n;\n" : `\n;\n${reassignBlock(o.target.owner)};\n`));
    ok = true;
    await sql.close().catch(() => {});
    const p = await psql.exited;
    if (p.code !== 0) throw psqlFailed(p);
  } finally {
    // Never let psql see the end of its input unless everything succeeded: kill it, the server rolls back.
    if (!ok) psql.kill("SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * One `pg_restore -f -` run whose script goes into psql (without passing on
 * its end). The last pass checks the object's size and sha256 on the way; an
 * earlier one (schemas only) reads just the table of contents.
 */
async function scriptPass(
  o: InPlaceOptions,
  sql: WritableStreamDefaultWriter<Uint8Array>,
  args: string[],
  last: boolean,
  psqlExited: Promise<{ code: number | null; stderr: string }>,
  psqlFailed: (p: { code: number | null; stderr: string }) => Error,
): Promise<void> {
  const script = spawnTool(o.pgRestore.path, args, { env: o.env, stdin: "pipe" });
  try {
    const forward = (async () => {
      const reader = script.stdout.getReader();
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        await sql.write(r.value);
      }
    })();
    const src = await o.store.get(o.rec.key, { signal: o.signal });
    const feeding = last
      ? pumpVerified(src, script.stdin!, { size: o.rec.size!, sha256: o.rec.sha256!, what: `snapshot ${o.rec.id}` }, o.onProgress, script.exited)
      : pumpVerified(src, script.stdin!, null, undefined, script.exited).catch(() => ({ size: 0, sha256: "" }));
    // Both are awaited below; these only keep the loser of the race from being an unhandled rejection.
    feeding.catch(() => {});
    forward.catch(() => {});
    // Whichever fails first decides; a psql that stopped (SQL error) surfaces as a write error here.
    await Promise.all([feeding, forward]).catch(async (e) => {
      const p = await Promise.race([psqlExited, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
      if (p && p.code !== 0) throw psqlFailed(p);
      throw e;
    });
    const x = await script.exited;
    if (x.code !== 0) throw toolFailed("E_RESTORE", "pg_restore", x.code, cleanStderr(x.stderr, secretsOf(o.url)), "the archive could not be read");
  } finally {
    script.kill();
  }
}
