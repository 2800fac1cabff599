/**
 * The server-side half of the read-only gate, run on the session before any
 * statement: the parser cannot know what a name resolves to, so every called
 * function name and every relation name the statements use is looked up in
 * the catalog, in ALL schemas (whatever search_path is or becomes):
 *
 * - a function candidate owned by a denied extension (dblink, postgres_fdw,
 *   tablefunc, pg_cron, …, any *_fdw), or one whose name or C symbol is a
 *   denied built-in, or a SQL/PL function whose body calls one;
 * - a relation that is a foreign table, or a view (at any depth) that reads
 *   one or calls a denied function.
 *
 * The same query checks that the settings the gate relies on are in force
 * (read-only, and the parsing settings pinned at connect) and tells whether
 * the role holds server-level privileges, for the one-line notice.
 */
import type { ReservedDb } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import { Category, deniedExtension, deniedFunction, pinnedSettings } from "../../core/sql/classify.ts";
import { describe, sourceExcerpt, type SqlPlan } from "./plan.ts";
import { guard } from "./statement.ts";

interface Found {
  /**
   * f: a function (src: its body, outside pg_catalog); r: a foreign table;
   * v: a view (src: its definition); p: a row-level security policy (src: its
   * expressions); F: the name of a foreign table anywhere (for body scans).
   */
  kind: "f" | "r" | "v" | "p" | "F";
  name: string;
  schema: string;
  ext: string | null;
  lang: string | null;
  src: string | null;
  via: string | null;
  /** The operator a function row was found through. */
  op: string | null;
}

/**
 * $1: function names (lower case), $2: relation names, $3: operator names.
 * What reading a relation runs: its view rule and its policies, followed
 * through pg_depend to the relations and functions they use (calls of
 * pinned built-ins leave no pg_depend row: their definitions are returned
 * for scanning instead).
 */
const CHECK_SQL = `
with recursive
rels(oid, via, depth) as (
  select c.oid, null::name, 0 from pg_catalog.pg_class c where c.relname = any($2::text[])
  union
  select n.oid, coalesce(r.via, c.relname), r.depth + 1
  from rels r
  join pg_catalog.pg_class c on c.oid = r.oid
  cross join lateral (
    select d.refobjid as oid
    from runs u
    join pg_catalog.pg_depend d on d.classid = u.classid and d.objid = u.objid
      and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjid <> r.oid
    where u.rel = r.oid
    union all
    -- Partitions and inheritance children are read with their parent.
    select i.inhrelid from pg_catalog.pg_inherits i where i.inhparent = r.oid
  ) n
  where r.depth < 32
),
runs(rel, classid, objid) as (
  select w.ev_class, 'pg_catalog.pg_rewrite'::regclass::oid, w.oid from pg_catalog.pg_rewrite w
  union all
  select p.polrelid, 'pg_catalog.pg_policy'::regclass::oid, p.oid from pg_catalog.pg_policy p
),
procs(oid, via, op) as (
  select p.oid, null::name, null::name from pg_catalog.pg_proc p where lower(p.proname) = any($1::text[])
  union
  select o.oprcode::oid, null::name, o.oprname from pg_catalog.pg_operator o where o.oprname = any($3::text[])
  union
  select d.refobjid, coalesce(r.via, c.relname), null::name
  from rels r
  join pg_catalog.pg_class c on c.oid = r.oid
  join runs u on u.rel = r.oid
  join pg_catalog.pg_depend d on d.classid = u.classid and d.objid = u.objid
    and d.refclassid = 'pg_catalog.pg_proc'::regclass
)
select 'f' as kind, p.proname::text as name, n.nspname::text as schema, e.extname::text as ext, l.lanname::text as lang,
       case when n.nspname <> 'pg_catalog' then p.prosrc end as src, x.via::text as via, x.op::text as op
from procs x
join pg_catalog.pg_proc p on p.oid = x.oid
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_language l on l.oid = p.prolang
left join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
left join pg_catalog.pg_extension e on e.oid = d.refobjid
union all
select case c.relkind when 'f' then 'r' else 'v' end, c.relname::text, n.nspname::text, null, null,
       case c.relkind when 'v' then pg_catalog.pg_get_viewdef(c.oid) end, x.via::text, null
from rels x
join pg_catalog.pg_class c on c.oid = x.oid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('f', 'v')
union all
select 'p', c.relname::text, n.nspname::text, null, null,
       concat_ws(' ', pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)), x.via::text, null
from rels x
join pg_catalog.pg_policy p on p.polrelid = x.oid
join pg_catalog.pg_class c on c.oid = x.oid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
union all
select 'F', c.relname::text, n.nspname::text, null, null, null, null, null
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'f'`;

const SETTINGS_SQL = `
select
  current_setting('default_transaction_read_only') as default_transaction_read_only,
  current_setting('transaction_read_only') as transaction_read_only,
  ${Object.keys(pinnedSettings).map((k) => `current_setting('${k}') as ${k}`).join(",\n  ")},
  session_user::text as role,
  (select coalesce(bool_or(r.rolsuper), false) from pg_catalog.pg_roles r where pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')) as superuser,
  (select coalesce(bool_or(r.rolreplication), false) from pg_catalog.pg_roles r where pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')) as replication,
  (select coalesce(bool_or(r.rolbypassrls), false) from pg_catalog.pg_roles r where pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')) as bypassrls,
  (select coalesce(string_agg(r.rolname, ', ' order by r.rolname), '') from pg_catalog.pg_roles r
    where r.rolname in ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program', 'pg_signal_backend',
                        'pg_monitor', 'pg_read_all_settings', 'pg_read_all_stats', 'pg_stat_scan_tables', 'pg_read_all_data',
                        'pg_write_all_data', 'pg_checkpoint', 'pg_signal_autovacuum_worker', 'pg_create_subscription', 'pg_maintain')
      and pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')) as predefined`;

export interface CheckContext {
  conn: ReservedDb;
  signal?: AbortSignal;
  setCurrent(q?: { cancel(): unknown }): void;
  source: string;
  /** The whole SQL text (for the source line shown with a refusal). */
  text: string;
  /** Receives the one-line notice for a privileged role. */
  notice?: (line: string) => void;
}

/** Run the checks; throws E_READ_ONLY (exit 4) naming the first statement that is refused. */
export async function serverCheck(x: CheckContext, plan: SqlPlan): Promise<void> {
  const settings = (await query(x, SETTINGS_SQL, []))[0] as Record<string, string | boolean>;
  const yes = (v: unknown) => v === true || v === "t";
  for (const [name, want] of Object.entries({ default_transaction_read_only: "on", transaction_read_only: "on", ...pinnedSettings })) {
    const got = String(settings[name]);
    if (got.toLowerCase() !== want.toLowerCase()) {
      throw new EveError("E_READ_ONLY", `the session has ${name} = ${got}; read-only mode needs ${want}`, ExitCode.failed, {
        hint: `nothing was run; remove ${name} from the URL's options (or the role's settings), or use --write`,
      });
    }
  }
  const privileged = privilegeSummary(settings, yes);
  if (privileged) {
    x.notice?.(
      `notice: role ${settings.role} ${privileged}: read-only mode is a safety gate against mistakes and cannot stop everything such a role can do (e.g. through functions it owns); the permission boundary is a read-only role`,
    );
  }

  const functions = [...new Set(plan.statements.flatMap((s) => s.names.functions))];
  const relations = [...new Set(plan.statements.flatMap((s) => s.names.relations))];
  const operators = [...new Set(plan.statements.flatMap((s) => s.names.operators))];
  if (!functions.length && !relations.length && !operators.length) return;
  const list = (xs: string[]) => `{${xs.map(arrayItem).join(",")}}`;
  const found = (await query(x, CHECK_SQL, [list(functions), list(relations), list(operators)])) as unknown as Found[];
  const foreign = new Set(found.filter((f) => f.kind === "F").map((f) => f.name.toLowerCase()));
  for (const f of found) {
    const why = refusalFor(f, foreign) ?? dynamicRefusal(f, plan);
    if (!why) continue;
    const stmt = plan.statements.find((s) =>
      f.op ? s.names.operators.includes(f.op)
      : f.kind === "f" && !f.via ? s.names.functions.includes(f.name.toLowerCase())
      : s.names.relations.includes(f.via ?? f.name),
    );
    const target = stmt ?? plan.statements[0]!;
    throw new EveError("E_READ_ONLY", `refused ${describe(target, plan.statements.length, x.source)}: ${why}`, ExitCode.failed, {
      hint: "nothing was run; --write allows it (the statements then run read-write)",
      details: { statement: target.index, line: target.stmt.line, column: target.stmt.column, reason: why },
      context: sourceExcerpt(x.text, target.stmt.start),
    });
  }
}

function privilegeSummary(s: Record<string, string | boolean>, yes: (v: unknown) => boolean): string | undefined {
  if (yes(s.superuser)) return "is a superuser";
  const parts: string[] = [];
  if (yes(s.replication)) parts.push("has REPLICATION");
  if (yes(s.bypassrls)) parts.push("has BYPASSRLS");
  if (s.predefined) parts.push(`is a member of ${s.predefined}`);
  return parts.length ? parts.join(", ") : undefined;
}

/** Why one catalog row is refused, or undefined. */
function refusalFor(f: Found, foreign: ReadonlySet<string>): string | undefined {
  if (f.kind === "F") return undefined;
  const obj = `${f.schema}.${f.name}`;
  const via = f.op ? `operator ${f.op} runs ` : f.via ? `${f.via} ${f.kind === "r" ? "reads" : "calls"} ` : "";
  if (f.kind === "r") return f.via ? `${via}${obj}, a foreign table, which ${Category.foreignTable}` : `${obj} is a foreign table, which ${Category.foreignTable}`;
  // Calls of built-ins leave no pg_depend row (pg_catalog is pinned): read the definition.
  if (f.kind === "v" || f.kind === "p") {
    const called = deniedWord(f.src);
    const what = f.kind === "v" ? `${obj} (a view)` : `a row-level security policy of ${obj}`;
    return called ? `${f.via ? `${f.via} reads ` : ""}${what}, which calls ${called.word}(), which ${called.category}` : undefined;
  }
  const ext = f.ext ? deniedExtension(f.ext) : undefined;
  if (ext) return `${via}${obj}() belongs to extension ${f.ext}, which ${ext}`;
  const named = deniedFunction(f.name);
  if (named) return `${via}${obj}() ${named}`;
  if (f.src && (f.lang === "internal" || f.lang === "c")) {
    const symbol = deniedFunction(f.src.trim());
    if (symbol) return `${via}${obj}() is the built-in ${f.src.trim()}, which ${symbol}`;
  }
  if (f.lang !== "internal" && f.lang !== "c") {
    // COPY is allowed in a read-only transaction; in a body it can be dynamic SQL.
    if (f.src && /\bcopy\b[\s\S]*\bto\s+program\b/i.test(f.src)) return `${via}${obj}() runs COPY … TO PROGRAM, which runs a program on the server`;
    if (f.src && /\bcopy\b[\s\S]*\b(to|from)\s+(E?'|\$|'')/i.test(f.src)) return `${via}${obj}() runs COPY with a file, which ${Category.writeFiles}`;
    const called = deniedWord(f.src);
    if (called) return `${via}${obj}() calls ${called.word}(), which ${called.category}`;
    const table = words(f.src).find((w) => foreign.has(w.toLowerCase()));
    if (table) return `${via}${obj}() reads ${table}, a foreign table, which ${Category.foreignTable}`;
  }
  return undefined;
}

/**
 * A procedural function that runs dynamic SQL (EXECUTE, spi_exec, plpy.execute…)
 * is refused when a statement hands it text naming a denied function.
 */
function dynamicRefusal(f: Found, plan: SqlPlan): string | undefined {
  if (f.kind !== "f" || !f.src || !f.lang || ["sql", "internal", "c"].includes(f.lang) || !/execute|spi_exec|spi_query/i.test(f.src)) return undefined;
  const s = plan.statements.find((p) => p.mentions.length && p.names.functions.includes(f.name.toLowerCase()));
  if (!s) return undefined;
  return `${f.schema}.${f.name}() runs dynamic SQL, and the statement passes it text naming ${s.mentions[0]}${s.mentions[0]!.startsWith("copy") ? "" : "()"}`;
}

/** The identifiers of a function body or definition (a scan, not a parse: it may over-match). */
function words(src: string | null): string[] {
  return src?.match(/[A-Za-z_][A-Za-z0-9_$]*/g) ?? [];
}

/** The first word of a function body or view definition that names a denied function. */
function deniedWord(src: string | null): { word: string; category: string } | undefined {
  for (const word of words(src)) {
    const category = deniedFunction(word);
    if (category) return { word: word.toLowerCase(), category };
  }
  return undefined;
}

/** A value inside a text[] literal. */
function arrayItem(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => "\\" + c)}"`;
}

/** One query on the session, cancelled on abort. */
async function query(x: CheckContext, text: string, args: string[]): Promise<Array<Record<string, unknown>>> {
  const q = x.conn.unsafe(text, args, { prepare: false, simple: false } as { prepare: boolean });
  x.setCurrent(q);
  try {
    return (await guard(q as unknown as Promise<void>, x.signal)) as unknown as Array<Record<string, unknown>>;
  } finally {
    x.setCurrent(undefined);
  }
}
