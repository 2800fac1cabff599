/**
 * Builds a catalog of N tables for bench/schema.ts: spread over 4 schemas, each
 * table with 6 columns (identity, text with a non-default collation, numeric with a
 * default and a check, a domain, timestamptz, a foreign key to the previous table),
 * a primary key, two indexes, comments on the table and a column, a grant to a
 * reader role; every 50th table also gets a view and a trigger, every 100th a
 * function. Tables are created in batches (one transaction each) so the lock table
 * never overflows.
 */
import type postgres from "postgres";

export const SCHEMAS = 4;

export function tableSql(i: number): string {
  const s = `bench_${i % SCHEMAS}`;
  const prev = i > 0 ? `,\n  parent_id bigint references bench_${(i - 1) % SCHEMAS}.t_${i - 1} (id) on delete cascade` : "";
  let sql = `create table ${s}.t_${i} (
  id bigint generated always as identity primary key,
  name text collate "C" not null,
  score numeric(10, 2) default 0 check (score >= 0),
  email bench_0.email,
  created_at timestamptz not null default now()${prev}
);
create index t_${i}_name_idx on ${s}.t_${i} (name);
create unique index t_${i}_name_created_key on ${s}.t_${i} (name, created_at) where score > 0;
comment on table ${s}.t_${i} is 'table ${i}';
comment on column ${s}.t_${i}.name is 'name of ${i}';
grant select on ${s}.t_${i} to bench_reader;
`;
  if (i % 50 === 0) {
    sql += `create view ${s}.v_${i} as select id, name from ${s}.t_${i} where score > 0;
create trigger t_${i}_touch before update on ${s}.t_${i} for each row execute function bench_0.touch();
`;
  }
  if (i % 100 === 0) {
    sql += `create function ${s}.f_${i}(x integer) returns integer language sql immutable as $$ select x + ${i} $$;\n`;
  }
  return sql;
}

/** Create the schemas, shared objects and `n` tables. */
export async function populate(sql: postgres.Sql, n: number, batch = 250, log: (s: string) => void = () => {}): Promise<void> {
  const schemas = Array.from({ length: SCHEMAS }, (_, k) => `create schema bench_${k}; grant usage on schema bench_${k} to bench_reader;`).join("\n");
  await sql.unsafe(`
    do $$ begin if not exists (select from pg_roles where rolname = 'bench_reader') then create role bench_reader; end if; end $$;
    ${schemas}
    create domain bench_0.email as text check (value ~ '@');
    create type bench_0.pair as (a integer, b text);
    create function bench_0.touch() returns trigger language plpgsql as $$ begin return new; end $$;
  `);
  for (let start = 0; start < n; start += batch) {
    const parts: string[] = ["begin;"];
    for (let i = start; i < Math.min(n, start + batch); i++) parts.push(tableSql(i));
    parts.push("commit;");
    await sql.unsafe(parts.join("\n"));
    if ((start + batch) % 1000 === 0) log(`${Math.min(n, start + batch)} tables`);
  }
  await sql.unsafe("analyze");
}
