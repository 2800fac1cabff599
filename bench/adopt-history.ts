/**
 * A generated migration history for adoption tests and bench/adopt.ts: blocks
 * of ten files per table mixing CREATE TABLE, ALTER ADD/DROP COLUMN, a
 * constraint dropped and re-added with another definition, CREATE INDEX
 * CONCURRENTLY (runs outside a transaction), functions, views, an enum and a
 * trigger, and data-only files (positions 5, 9 and 10 of each block: 9 and 10
 * end every block with a run of two files that change no schema).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface GeneratedFile {
  name: string;
  version: string;
  sql: string;
  /** The file changes no schema (data only). */
  dataOnly: boolean;
}

export function generateHistory(count: number): GeneratedFile[] {
  const out: GeneratedFile[] = [];
  for (let i = 1; i <= count; i++) {
    const b = Math.floor((i - 1) / 10) + 1;
    const pos = ((i - 1) % 10) + 1;
    const t = `t_${b}`;
    let sql: string;
    switch (pos) {
      case 1:
        sql =
          (b === 1 ? "create type status as enum ('new', 'done');\n" : "") +
          `create table ${t} (\n  id bigserial primary key,\n  name text not null default '',\n  state status not null default 'new',\n  created_at timestamptz default now()` +
          (b > 1 ? `,\n  parent_id bigint references t_${b - 1} (id) on delete cascade` : "") +
          "\n);\n" +
          `comment on table ${t} is 'block ${b}';\n`;
        break;
      case 2:
        sql = `alter table ${t} add column note text, add column extra integer default 0;\n`;
        break;
      case 3:
        sql = `alter table ${t} drop column extra;\nalter table ${t} add column score numeric(10, 2);\n`;
        break;
      case 4:
        sql =
          `alter table ${t} add constraint ${t}_len check (length(name) < 100);\n` +
          (b > 1 ? `alter table t_${b - 1} drop constraint t_${b - 1}_len;\nalter table t_${b - 1} add constraint t_${b - 1}_len check (length(name) < 200);\n` : "");
        break;
      case 5:
        sql = `insert into ${t} (name, note) select 'n' || g, 'x' from generate_series(1, 20) g;\n`;
        break;
      case 6:
        sql = `create index concurrently ${t}_name_idx on ${t} (name);\n`;
        break;
      case 7:
        sql =
          `create or replace function f_${b}(x integer) returns integer language plpgsql immutable as $$\nbegin\n  return x + ${b};\nend\n$$;\n` +
          `create or replace function touch_${b}() returns trigger language plpgsql as $$ begin new.note := coalesce(new.note, 'touched'); return new; end $$;\n` +
          `create trigger ${t}_touch before insert on ${t} for each row execute function touch_${b}();\n` +
          (b > 1 ? `create or replace function f_${b - 1}(x integer) returns integer language plpgsql immutable as $$ begin return x * ${b}; end $$;\n` : "");
        break;
      case 8:
        sql = `create or replace view v_${b} as select id, name, note, f_${b}(id::int) as f from ${t} where state = 'new';\n`;
        break;
      case 9:
        sql = `update ${t} set note = 'y', score = id where id % 2 = 0;\n`;
        break;
      default:
        sql = `delete from ${t} where id % 5 = 0;\nupdate ${t} set state = 'done' where id % 3 = 0;\n`;
    }
    const version = String(20260101000000 + i);
    out.push({ name: `${version}_m${i}.sql`, version, sql, dataOnly: pos === 5 || pos === 9 || pos === 10 });
  }
  return out;
}

/** Write the files to `dir`. */
export function writeHistory(dir: string, files: GeneratedFile[]): void {
  for (const f of files) writeFileSync(join(dir, f.name), f.sql);
}

/** The prefix length eve should adopt for a database at `k` files: the end of the run of data-only files after k. */
export function expectedAdoption(files: GeneratedFile[], k: number): { matched: number; assumed: string[] } {
  let first = k;
  while (first > 0 && files[first - 1]!.dataOnly) first--;
  let last = k;
  while (last < files.length && files[last]!.dataOnly) last++;
  // `first` is the prefix before the run of data-only files that contains k: it matches too.
  return { matched: last, assumed: files.slice(first, last).map((f) => f.name) };
}
