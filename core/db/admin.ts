/**
 * Database-level administration shared by wipe (core/db/recreate.ts) and
 * restore (plugins/snapshot): connecting to a maintenance database, creating
 * a database like another one, ending its sessions, and dropping it.
 */
import { close, connect, mapDbError, quoteIdent, quoteLiteral, withDatabase, type Db } from "./index.ts";
import type { DatabaseFacts } from "./recreate-facts.ts";

/**
 * A connection to a maintenance database of `url`'s server: postgres, else
 * template1 (never `except`, e.g. the database about to be dropped). Throws the
 * last failure mapped against `url` (EveError, no secrets) when neither answers.
 */
export async function openMaintenance(url: string, opts: { applicationName: string; except?: string }): Promise<{ db: Db; name: string }> {
  let last: unknown;
  for (const name of ["postgres", "template1"].filter((n) => n !== opts.except)) {
    const db = connect(withDatabase(url, name), { applicationName: opts.applicationName });
    try {
      await db`select 1`;
      return { db, name };
    } catch (e) {
      last = e;
      await close(db, 0);
    }
  }
  throw mapDbError(last, url);
}

/** CREATE DATABASE `name` with the owner, encoding, locale, tablespace and connection limit of `f`. */
export function createDatabaseSql(name: string, f: DatabaseFacts): string {
  const parts = [`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(f.owner)} TEMPLATE template0`];
  parts.push(`ENCODING ${quoteLiteral(f.encoding)} LC_COLLATE ${quoteLiteral(f.collate)} LC_CTYPE ${quoteLiteral(f.ctype)}`);
  if (f.versionNum >= 150000) parts.push(`LOCALE_PROVIDER ${f.localeProvider}`);
  if (f.locale !== null && f.localeProvider === "icu") parts.push(`ICU_LOCALE ${quoteLiteral(f.locale)}`);
  if (f.locale !== null && f.localeProvider === "builtin") parts.push(`BUILTIN_LOCALE ${quoteLiteral(f.locale)}`);
  if (f.icuRules !== null) parts.push(`ICU_RULES ${quoteLiteral(f.icuRules)}`);
  if (f.tablespace && f.tablespace !== "pg_default") parts.push(`TABLESPACE ${quoteIdent(f.tablespace)}`);
  if (f.connectionLimit !== -1) parts.push(`CONNECTION LIMIT ${f.connectionLimit}`);
  return parts.join(" ");
}

/**
 * End the client sessions on `database` other than our own and those in
 * `except` (backend pids of a connection the caller still holds). One call
 * per session, so a session we may not end (a superuser's) does not stop the rest.
 */
export async function terminateSessions(db: Db, database: string, except: number[] = []): Promise<{ terminated: number; refused: number }> {
  const others = await db`
    select pid from pg_stat_activity
    where datname = ${database} and pid <> pg_backend_pid() and backend_type = 'client backend'
      and pid <> all(string_to_array(${except.join(",")}, ',')::int[])`;
  let terminated = 0;
  for (const { pid } of others) {
    const ok = await db`select pg_terminate_backend(${pid}::int) as ok`.then((r) => !!r[0]?.ok, () => false);
    if (ok) terminated++;
  }
  return { terminated, refused: others.length - terminated };
}

/**
 * DROP DATABASE, ending its sessions: WITH (FORCE) on PostgreSQL 13+, before
 * that by terminating and retrying while sessions race in (55006).
 */
export async function dropDatabase(db: Db, name: string, versionNum: number, opts: { ifExists?: boolean } = {}): Promise<void> {
  const drop = `DROP DATABASE ${opts.ifExists ? "IF EXISTS " : ""}${quoteIdent(name)}`;
  if (versionNum >= 130000) {
    await db.unsafe(`${drop} WITH (FORCE)`);
    return;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      await db.unsafe(drop);
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== "55006" || attempt >= 10) throw e;
      await terminateSessions(db, name);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** A database name derived from `base` that fits in 63 bytes: base (truncated) + suffix. */
export function derivedName(base: string, suffix: string): string {
  const enc = new TextEncoder();
  let b = base;
  while (enc.encode(b + suffix).length > 63) b = b.slice(0, -1);
  return b + suffix;
}
