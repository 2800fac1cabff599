/**
 * `eve db sql`: flags → the db.sql input (the SQL read from --sql, --file or
 * stdin and checked here), and its events rendered in the chosen format.
 * With --url the SQL is planned before connecting, so refusals need no
 * server; with --env the control plane plans and refuses it itself.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UsageError } from "../../../core/errors.ts";
import { paint } from "../../../core/io.ts";
import { findInvalidUtf8 } from "../../../core/migrations/files.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import type { Context } from "../../../core/plugin.ts";
import { sqlOp, type SqlInput } from "../ops/sql.ts";
import { checkSqlText, parseParams, type SqlPlan } from "../plan.ts";
import { preparePlan } from "../planner.ts";
import { sqlRenderer, writeWarning, type SqlFormat, type SqlRenderer } from "../render.ts";
import type { SqlEvent, SqlRunSummary } from "../schema.ts";

type Opts = OpFlags<Omit<SqlInput, "params" | "source">, { file?: string; params?: string; ndjson?: boolean }>;

/** Per run: the plan made before connecting (--url) and the renderer. */
const runs = new WeakMap<Opts, { plan?: SqlPlan; renderer?: SqlRenderer }>();

export default defineOpCommand<SqlInput, SqlRunSummary, SqlEvent, Opts>({
  op: sqlOp,
  path: ["db", "sql"],
  summary: sqlOp.summary,
  description:
    "Runs the statements of --sql or --file in order on one session and prints each result set\n" +
    "with its command tag and row count. Results stream: millions of rows to --csv or --ndjson\n" +
    "use constant memory, and Ctrl-C cancels the running query on the server (exit 130).\n" +
    "With --env the control plane runs the same checks and statements on the environment's\n" +
    "database (as its read-only role unless --write) and streams the results back: the output\n" +
    "is the same as with --url.\n" +
    "\n" +
    "Read-only (default) is a safety gate against mistakes, not a permission boundary. The\n" +
    "session starts with default_transaction_read_only=on and with the settings that decide how\n" +
    "the server reads SQL text pinned (standard_conforming_strings=on, client_encoding=UTF8);\n" +
    "all statements run in one READ ONLY transaction that is rolled back, each sent alone\n" +
    "(extended protocol) as exactly the text that was checked, so writes fail at the server.\n" +
    "Refused before anything runs (exit 4, code E_READ_ONLY):\n" +
    "  - what could end or lift the read-only transaction, or change how the server reads the\n" +
    "    text after it: transaction control, DO, CALL, SET/RESET/set_config() of the read-only\n" +
    "    settings, of standard_conforming_strings, client_encoding (SET NAMES), backslash_quote\n" +
    "    or escape_string_warning, or with a computed name, RESET ALL, SET TRANSACTION,\n" +
    "    SET SESSION CHARACTERISTICS;\n" +
    "  - statements that act outside it: ALTER SYSTEM, COPY FROM / TO a file or program, LOCK,\n" +
    "    VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, LOAD;\n" +
    "  - functions, by category: runs SQL given as text (query_to_xml, ts_stat, crosstab…),\n" +
    "    opens its own connection (dblink…), signals other sessions, changes replication state,\n" +
    "    resets statistics, changes server state/configuration, reads files on the server,\n" +
    "    takes a lock that outlives the transaction, writes to indexes; matched however the name\n" +
    "    is written (schema-qualified, quoted, any case, x.f field notation) and, on the server\n" +
    "    before the first statement, in every schema: functions of extensions such as dblink,\n" +
    "    postgres_fdw, tablefunc, pg_cron or pgtap, functions that wrap a refused one, foreign\n" +
    "    tables, and views that read or call any of these.\n" +
    "What it cannot stop: anything a privileged role can reach that the gate cannot see, such as\n" +
    "a function it owns doing something the categories above do not name. A role that is a\n" +
    "superuser or holds server-level privileges (REPLICATION, BYPASSRLS, pg_read_server_files,\n" +
    "pg_signal_backend, pg_monitor…) gets a one-line notice on stderr. The permission boundary\n" +
    "is a read-only role: connect as one when the SQL is not trusted.\n" +
    "\n" +
    "--write: no gate; a one-line warning goes to stderr. Several statements run in one\n" +
    "transaction (all or nothing) unless the SQL has its own BEGIN/COMMIT or a statement that\n" +
    "cannot run in a transaction (VACUUM, CREATE INDEX CONCURRENTLY…): then each statement\n" +
    "commits on its own.\n" +
    "\n" +
    "--params '[…]' is a JSON array bound to $1, $2, … exactly as written (numbers keep every\n" +
    "digit; strings as their value; objects and arrays as their JSON text, so $1::jsonb gets that\n" +
    "JSON; null as NULL), typed by the server. Never pasted into the SQL text.\n" +
    "\n" +
    "The SQL (--sql, --file, --file -) must be valid UTF-8: otherwise exit 2 naming the line and\n" +
    "byte offset of the first bad byte, and nothing is sent.\n" +
    "\n" +
    "Table output (default): psql-style, numbers right-aligned, NULL empty; on a terminal too\n" +
    "narrow for the table, one record per block (like psql \\x auto).\n" +
    "\n" +
    "--json: one document, whatever the number of statements:\n" +
    "  {\"database\", \"readOnly\", \"mode\", \"durationMs\",\n" +
    "   \"results\": [{\"statement\", \"line\", \"rows\": [{…}], \"columns\": [{\"name\", \"type\", \"typeOid\"}],\n" +
    "                \"command\", \"tag\", \"rowCount\"}]}\n" +
    "plus \"error\" when a statement failed after output began. Values keep their types:\n" +
    "int2/int4/float as numbers, bigint/numeric/money as strings, booleans, json/jsonb as JSON,\n" +
    "timestamps and dates as ISO 8601 (2026-11-30T07:04:26.698144+00:00; BC years as -0043;\n" +
    "infinity kept), arrays of built-in types as JSON arrays with the same element rules (nested\n" +
    "when multi-dimensional), NULL as null, everything else (arrays of user-defined or composite\n" +
    "types included) as the server's text. A repeated column name gets a suffix (id, id_2).\n" +
    "\n" +
    "--ndjson: one row object per line (same values). --csv: RFC 4180 quoting as Postgres COPY\n" +
    "writes it, a header row per result set, result sets separated by an empty line. With\n" +
    "--ndjson and --csv the command tags (SELECT 3, INSERT 0 1) go to stderr, so stdout holds\n" +
    "only data.\n" +
    "\n" +
    "SQL errors (exit 4) show the SQLSTATE, message, line:column with the source line, detail and\n" +
    "hint. A reader that goes away (| head) ends the run quietly (exit 0).",
  options: [
    { flags: "--sql <text>", description: "the SQL to run (one or more statements)" },
    { flags: "--file <path>", description: "read the SQL from a file (- for stdin)" },
    { flags: "--params <json>", description: "JSON array of values for $1, $2, …" },
    { flags: "--write", description: "allow writes (no read-only session, no statement gate)" },
    { flags: "--json", description: "one JSON document on stdout (see above)" },
    { flags: "--ndjson", description: "one JSON object per row on stdout" },
    { flags: "--csv", description: "CSV on stdout (header row per result set)" },
  ],
  examples: [
    'eve db sql --url "$DATABASE_URL" --sql "select id, email from users order by id limit 5"',
    "eve db sql --sql 'select * from users where id = $1' --params '[42]' --json",
    "eve db sql --file report.sql --csv > report.csv",
    "cat fix.sql | eve db sql --file - --write",
    "eve db sql --env staging --sql 'select count(*) from users' --json",
  ],
  async input(ctx, opts) {
    format(opts);
    const { text, source } = await readSql(ctx, opts);
    checkSqlText(text, source);
    const params = parseParams(opts.params);
    const write = !!opts.write;
    // Refusals and parse errors happen here, before connecting (the operation reuses this plan).
    const plan = opts.env === undefined ? await preparePlan(text, { write, params, source }) : undefined;
    runs.set(opts, { plan });
    return { sql: text, source, params, write, csv: !!opts.csv };
  },
  before(ctx, input, opts) {
    const plan = runs.get(opts)?.plan;
    if (input.write && plan) {
      ctx.out.log(paint(ctx.out, "yellow", "warning: ") + writeWarning({ mode: plan.mode, statements: plan.statements.length, autocommitReason: plan.autocommitReason }));
    }
  },
  event(ctx, e, opts, input) {
    const run = runs.get(opts)!;
    run.renderer ??= sqlRenderer(ctx.out, format(opts), { warn: input.write && !run.plan, onVolume: ctx.collectGarbage });
    return run.renderer.event(e);
  },
  async result(_ctx, r, opts) {
    await runs.get(opts)?.renderer?.finish(r);
  },
  async failure(_ctx, e, opts) {
    await runs.get(opts)?.renderer?.fail(e);
  },
});

function format(opts: Opts): SqlFormat {
  const formats = (["json", "ndjson", "csv"] as const).filter((f) => opts[f]);
  if (formats.length > 1) throw new UsageError(`choose one output format (got --${formats.join(" and --")})`);
  return formats[0] ?? "table";
}

async function readSql(ctx: Context, opts: Opts): Promise<{ text: string; source: string }> {
  if (opts.sql !== undefined && opts.file !== undefined) throw new UsageError("give --sql or --file, not both");
  if (opts.sql !== undefined) return { text: checkDecoded(opts.sql, "--sql"), source: "--sql" };
  if (opts.file === "-") {
    if (!ctx.readStdin) throw new UsageError("no standard input here", { hint: "use --sql or --file PATH" });
    return { text: checkDecoded(await ctx.readStdin(), "--file - (stdin)"), source: "stdin" };
  }
  if (opts.file !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(resolve(ctx.cwd, opts.file));
    } catch (e) {
      throw new UsageError(`cannot read --file ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        hint: "check the path (relative paths start at the current directory), or use --file - for stdin",
      });
    }
    const bad = findInvalidUtf8(bytes);
    if (bad) throw notUtf8(`--file ${opts.file}`, bad.line, bad.offset);
    return { text: new TextDecoder().decode(bytes), source: opts.file };
  }
  throw new UsageError("no SQL given", { hint: 'pass --sql "select …", --file FILE, or --file - to read stdin' });
}

/**
 * Text that reached us already decoded (an argument, stdin): bytes that were
 * not UTF-8 became U+FFFD, and everything before the first one is intact, so
 * its position is the first bad byte's.
 */
function checkDecoded(text: string, what: string): string {
  const at = text.indexOf("\uFFFD");
  if (at < 0) return text;
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  throw notUtf8(what, line, new TextEncoder().encode(before).length, " (or holds U+FFFD, the replacement character)");
}

function notUtf8(what: string, line: number, offset: number, extra = ""): UsageError {
  return new UsageError(`${what} is not valid UTF-8${extra}: line ${line}, byte offset ${offset}`, {
    hint: "nothing was sent to the database; convert the SQL to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)",
    details: { line, byteOffset: offset },
  });
}
