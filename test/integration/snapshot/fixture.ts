/**
 * Shared by the snapshot tests: a database with one of everything (tables,
 * identity and serial sequences, a standalone sequence, views, a
 * materialized view, functions, a trigger, an enum, a domain, RLS policies,
 * large objects, comments) owned by a non-superuser role; a fingerprint of a
 * database (schema-only dump, per-table row checksums, sequences, large
 * objects) to compare before and after; and engine options.
 */
import { execFileSync } from "node:child_process";
import { hostname } from "node:os";
import process from "node:process";
import { openStore } from "../../../core/store/index.ts";
import type { Store } from "../../../core/store/types.ts";
import type { StaleOptions } from "../../../plugins/snapshot/catalog.ts";
import { adminUrl, freshDatabase, withSql } from "../../helpers/db.ts";
import { tempDir } from "../../helpers/fs.ts";

import type { TestRole as Role } from "../../helpers/roles.ts";
export { createRole, dropRoles } from "../../helpers/roles.ts";
export type { Role };

export const nameOf = (u: string) => decodeURIComponent(new URL(u).pathname.slice(1));

/** A fresh database owned by `owner` (no CREATEDB: in-place restores as the owner). */
export async function ownedDatabase(owner: Role, prefix: string): Promise<string> {
  const url = await freshDatabase(prefix);
  await withSql(await adminUrl(), (sql) => sql.unsafe(`alter database "${nameOf(url)}" owner to "${owner.name}"`));
  return url;
}

/** Fill `url` with one of everything, created by `owner`. */
export async function seed(url: string, owner: Role, reader: Role): Promise<void> {
  await withSql(owner.urlFor(url), (sql) =>
    sql.unsafe(`
      create schema app;
      create type app.mood as enum ('sad', 'ok', 'happy');
      create domain app.email as text check (value like '%@%');
      create sequence app.ticket_seq start 1000 increment 7;
      create table app.users (
        id bigint generated always as identity primary key,
        email app.email not null unique,
        mood app.mood not null default 'ok',
        tenant int not null,
        created timestamptz not null default '2024-01-01 00:00:00+00'
      );
      create table app.orders (
        id serial primary key,
        user_id bigint not null references app.users(id),
        ticket int not null default nextval('app.ticket_seq'),
        amount numeric(10,2) not null,
        note text
      );
      create index orders_user on app.orders (user_id);
      comment on table app.orders is 'orders, with a comment';
      create function app.total(u bigint) returns numeric language sql stable as
        'select coalesce(sum(amount), 0) from app.orders where user_id = u';
      create function app.touch() returns trigger language plpgsql as $$
        begin new.note := coalesce(new.note, 'touched'); return new; end $$;
      create trigger orders_touch before insert on app.orders for each row execute function app.touch();
      create view app.user_totals as select u.id, u.email, app.total(u.id) as total from app.users u;
      create materialized view app.mood_counts as select mood, count(*) as n from app.users group by mood;
      alter table app.users enable row level security;
      create policy tenant_read on app.users for select to "${reader.name}" using (tenant = 1);
      create policy owner_all on app.users to "${owner.name}" using (true) with check (true);
      create table public.plain (k text primary key, v jsonb);
      insert into app.users (email, mood, tenant)
        select 'user' || g || '@example.com', (array['sad','ok','happy'])[1 + g % 3]::app.mood, 1 + g % 2 from generate_series(1, 300) g;
      insert into app.orders (user_id, amount) select 1 + g % 300, (g * 3.17)::numeric(10,2) from generate_series(1, 2000) g;
      insert into public.plain select 'k' || g, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)) from generate_series(1, 200) g;
      refresh materialized view app.mood_counts;
      select lo_from_bytea(0, convert_to(repeat('large object one ', 1000), 'UTF8'));
      select lo_from_bytea(0, decode(repeat('00ff7f80', 5000), 'hex'));
    `),
  );
}

export interface Fingerprint {
  schema: string;
  rows: Record<string, string>;
  sequences: string[];
  /** oid, owner, ACL and md5 of each large object. */
  largeObjects: string[];
  owner: string;
  /** The database's own ACL ("-" for the default). */
  databaseAcl: string;
}

/** pg_dump --schema-only without comment lines and the per-run \restrict keys. */
export function schemaDump(url: string): string {
  const out = execFileSync("pg_dump", ["--schema-only", "--no-password", "-d", url], { encoding: "utf8", env: { ...process.env } });
  return out
    .split("\n")
    .filter((l) => !l.startsWith("--") && !/^\\(un)?restrict /.test(l))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n");
}

export async function fingerprint(url: string): Promise<Fingerprint> {
  const admin = new URL(url);
  const base = new URL(await adminUrl());
  admin.username = base.username;
  admin.password = base.password;
  const su = admin.toString();
  return withSql(su, async (sql) => {
    const tables = await sql<{ t: string }[]>`
      select format('%I.%I', n.nspname, c.relname) as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
      order by 1`;
    const rows: Record<string, string> = {};
    for (const { t } of tables) {
      const [r] = await sql.unsafe(`select count(*)::text || ':' || md5(coalesce(string_agg(x::text, E'\\n' order by x::text), '')) as h from ${t} x`);
      rows[t] = r!.h;
    }
    const sequences = (await sql`select format('%I.%I', schemaname, sequencename) || '=' || coalesce(last_value::text, 'null') as s from pg_sequences order by 1`).map((r) => r.s as string);
    const largeObjects = (await sql`select oid::text || ' ' || pg_get_userbyid(lomowner) || ' ' || coalesce(lomacl::text, '-') || ' ' || md5(lo_get(oid)) as l from pg_largeobject_metadata order by oid`).map((r) => r.l as string);
    const [o] = await sql`select pg_get_userbyid(datdba) as owner, coalesce(datacl::text, '-') as acl from pg_database where datname = current_database()`;
    return { schema: schemaDump(su), rows, sequences, largeObjects, owner: o!.owner as string, databaseAcl: o!.acl as string };
  });
}

/** Row checksums only (cheap). */
export async function rowSums(url: string): Promise<Record<string, string>> {
  return (await fingerprint(url)).rows;
}

export function fileStore(): { store: Store; dir: string } {
  const dir = tempDir("eve-snap-");
  return { store: openStore(dir, {}), dir };
}

export function staleOpts(): Omit<StaleOptions, "now"> {
  return { host: hostname(), isAlive: (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as { code?: string }).code === "EPERM";
    }
  } };
}

/** The options every engine call needs in tests. */
export function engineBase() {
  return {
    env: { ...process.env } as Record<string, string | undefined>,
    now: () => new Date(),
    writer: { host: hostname(), pid: process.pid },
    stale: staleOpts(),
  };
}

/** Databases whose name starts with `prefix` (scratch databases a restore may have left). */
export async function databasesLike(prefix: string): Promise<string[]> {
  return withSql(await adminUrl(), async (sql) => (await sql`select datname from pg_database where datname like ${prefix + "%"} order by 1`).map((r) => r.datname as string));
}
