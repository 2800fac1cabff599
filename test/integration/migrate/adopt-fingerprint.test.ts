import { afterAll, describe, expect, test } from "bun:test";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { diff, fingerprint, schemasOf, signature, signatureDistance } from "../../../plugins/migrate/fingerprint.ts";
import { dropDatabases, freshDatabase } from "../../helpers/db.ts";

const open: Db[] = [];
const made: string[] = [];
afterAll(async () => {
  await Promise.all(open.map((d) => close(d, 1)));
  await dropDatabases(made);
}, 60_000);

async function db(...sql: string[]): Promise<Db> {
  const url = await freshDatabase("fp");
  made.push(url);
  const d = connect(url);
  open.push(d);
  for (const s of sql) await d.unsafe(s);
  return d;
}

const ex = { schema: "public", table: "schema_migrations" };
const scopeOf = async (a: Db, b: Db) => new Set([...schemasOf(await signature(a, ex)), ...schemasOf(await signature(b, ex))]);
async function differences(a: Db, b: Db) {
  const scope = await scopeOf(a, b);
  return diff(await fingerprint(a, ex), await fingerprint(b, ex), scope).map((d) => `${d.change} ${d.kind} ${d.name}`);
}

const SCHEMA = `
create schema app;
create type app.mood as enum ('sad', 'ok', 'happy');
create domain app.email as text check (value like '%@%');
create type app.pair as (a int, b text);
create table app.users (id bigserial primary key, email app.email not null unique, mood app.mood default 'ok', created_at timestamptz default now());
create table app.posts (id int generated always as identity primary key, user_id bigint references app.users (id) on delete cascade, body text collate "C", n int generated always as (length(body)) stored);
create index posts_user_idx on app.posts (user_id) where body is not null;
create view app.v as select u.email, count(p.id) from app.users u left join app.posts p on p.user_id = u.id group by u.email;
create materialized view app.mv as select id from app.users;
create sequence app.counter increment by 5;
create function app.f(x int) returns int language sql immutable as $$ select x + 1 $$;
create procedure app.p() language plpgsql as $$ begin perform 1; end $$;
create function app.trg() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger t_users before insert on app.users for each row execute function app.trg();
alter table app.users enable row level security;
create policy own on app.users using (id > 0);
comment on table app.users is 'people';
comment on column app.users.email is 'login';
`;

describe("catalog fingerprint", () => {
  test("the same schema built in another order, with data, dropped columns and sequence use, has no difference", async () => {
    const a = await db(SCHEMA);
    // b: created in another statement order, through ALTERs, with a dropped column (attnum gap) and data.
    const b = await db(`
create schema app;
create type app.pair as (a int, b text);
create type app.mood as enum ('sad', 'happy');
alter type app.mood add value 'ok' before 'happy';
`, `
create domain app.email as text check (value like '%@%');
create sequence app.counter increment by 5;
create table app.users (id bigserial primary key, junk int, email app.email not null unique);
alter table app.users drop column junk;
alter table app.users add column mood app.mood default 'ok', add column created_at timestamptz default now();
create function app.trg() returns trigger language plpgsql as $$ begin return new; end $$;
create table app.posts (id int generated always as identity primary key, user_id bigint, body text collate "C", n int generated always as (length(body)) stored);
alter table app.posts add foreign key (user_id) references app.users (id) on delete cascade;
create index posts_user_idx on app.posts (user_id) where body is not null;
create function app.f(x int) returns int language sql immutable as $$ select x + 1 $$;
create procedure app.p() language plpgsql as $$ begin perform 1; end $$;
create view app.v as select u.email, count(p.id) from app.users u left join app.posts p on p.user_id = u.id group by u.email;
create materialized view app.mv as select id from app.users;
create trigger t_users before insert on app.users for each row execute function app.trg();
alter table app.users enable row level security;
create policy own on app.users using (id > 0);
comment on table app.users is 'people';
comment on column app.users.email is 'login';
insert into app.users (email) values ('a@b');
select nextval('app.counter'), nextval('app.counter');
create table public.schema_migrations (name text primary key);
`);
    expect(await differences(a, b)).toEqual([]);
    const scope = await scopeOf(a, b);
    expect(signatureDistance(await signature(a, ex), await signature(b, ex), scope)).toBe(0);
  }, 60_000);

  test("each kind of change is reported by object name", async () => {
    const base = await db(SCHEMA);
    const cases: Array<[string, string]> = [
      ["alter table app.users add column extra int", "extra column app.users.extra"],
      ["alter table app.users alter column created_at drop default", "different column app.users.created_at"],
      ["alter table app.users alter column mood set not null", "different column app.users.mood"],
      ["alter table app.posts drop constraint posts_user_id_fkey", "missing constraint app.posts.posts_user_id_fkey"],
      ["drop index app.posts_user_idx; create index posts_user_idx on app.posts (user_id)", "different index app.posts_user_idx"],
      ["create or replace view app.v as select u.email, count(p.id) + 0 as count from app.users u left join app.posts p on p.user_id = u.id group by u.email", "different view app.v"],
      ["alter sequence app.counter increment by 6", "different sequence app.counter"],
      // What a CREATE INDEX CONCURRENTLY cut off midway leaves behind.
      ["update pg_index set indisvalid = false where indexrelid = 'app.posts_user_idx'::regclass", "different index app.posts_user_idx"],
      ["alter table app.users alter column created_at set data type timestamp", "different column app.users.created_at"],
      ["create or replace procedure app.p() language plpgsql as $$ begin perform 2; end $$", "different procedure app.p()"],
      ["alter domain app.email drop constraint email_check", "missing constraint app.email.email_check"],
      ["create or replace function app.f(x int) returns int language sql immutable as $$ select x + 2 $$", "different function app.f(x integer)"],
      ["alter type app.mood add value 'meh'", "different enum app.mood"],
      ["alter domain app.email set not null", "different domain app.email"],
      ["alter table app.users disable trigger t_users", "different trigger app.users.t_users"],
      ["alter table app.users force row level security", "different table app.users"],
      ["alter policy own on app.users using (id > 1)", "different policy app.users.own"],
      ["comment on column app.users.email is 'e-mail'", "different comment table column app.users.email"],
      ["create extension if not exists pgcrypto", "extra extension pgcrypto"],
      ["create schema extra_schema", "extra schema extra_schema"],
    ];
    for (const [change, expected] of cases) {
      const other = await db(SCHEMA, change);
      const found = await differences(base, other);
      expect({ change, found }).toEqual({ change, found: expect.arrayContaining([expected]) });
      const scope = await scopeOf(base, other);
      // The cheap signature (names and counts) sees every missing or extra object.
      if (!expected.startsWith("different")) expect(signatureDistance(await signature(base, ex), await signature(other, ex), scope)).toBeGreaterThan(0);
      await close(other);
    }
  }, 120_000);

  test("the history table and extension members are left out; owners do not matter", async () => {
    const a = await db("create extension if not exists pgcrypto; create table t (id int)");
    const b = await db(`create extension if not exists pgcrypto; create role fp_owner_${process.pid}; create table t (id int); alter table t owner to fp_owner_${process.pid};
      create table schema_migrations (name text primary key, checksum text); comment on table schema_migrations is 'x'`);
    expect(await differences(a, b)).toEqual([]);
    await b.unsafe(`drop table t; drop role fp_owner_${process.pid}`);
  });
});
