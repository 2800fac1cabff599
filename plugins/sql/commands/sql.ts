import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseDuration, urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { errorJson, EveError, UsageError } from "../../../core/errors.ts";
import { paint } from "../../../core/io.ts";
import { OutputClosedError } from "../../../core/output/writer.ts";
import { defineCommand, type Context } from "../../../core/plugin.ts";
import { runSql } from "../engine.ts";
import { parseParams, type SqlPlan } from "../plan.ts";
import { planSqlIsolated } from "../planner.ts";
import { csvSink, jsonSink, ndjsonSink, tableSink } from "../sinks.ts";

interface Opts {
  url?: string;
  sql?: string;
  file?: string;
  params?: string;
  write?: boolean;
  json?: boolean;
  ndjson?: boolean;
  csv?: boolean;
  wait?: boolean;
  waitTimeout?: number;
}

export default defineCommand<Opts>({
  path: ["db", "sql"],
  summary: "run SQL: read-only unless --write; table, JSON, NDJSON or CSV output",
  description:
    "Runs the statements of --sql or --file in order on one session and prints each result set\n" +
    "with its command tag and row count. Results stream: millions of rows to --csv or --ndjson\n" +
    "use constant memory, and Ctrl-C cancels the running query on the server (exit 130).\n" +
    "\n" +
    "Read-only (default): the session starts with default_transaction_read_only=on and all\n" +
    "statements run in one READ ONLY transaction that is rolled back at the end, so writes fail\n" +
    "at the server. Statements that Postgres allows in a read-only transaction but that could end\n" +
    "or lift it, or act outside it, are refused before anything is sent (exit 4, code\n" +
    "E_READ_ONLY): transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION,\n" +
    "COMMIT PREPARED…), SET/RESET of default_transaction_read_only or transaction_read_only,\n" +
    "RESET ALL, SET TRANSACTION, SET SESSION CHARACTERISTICS, set_config() of those settings or\n" +
    "with a computed name, DO, CALL, ALTER SYSTEM, COPY FROM / TO a file or program, LOCK,\n" +
    "VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, LOAD, and calls to dblink*, pg_background_*,\n" +
    "server-file, backend-signalling, replication-slot and stats-reset functions. Decided on the\n" +
    "Postgres parser's AST. Functions called indirectly (inside other functions) are contained by\n" +
    "the read-only transaction and its rollback, except what they do outside the session (e.g.\n" +
    "dblink): use a read-only role for that.\n" +
    "\n" +
    "--write: no gate; a one-line warning goes to stderr. Several statements run in one\n" +
    "transaction (all or nothing) unless the SQL has its own BEGIN/COMMIT or a statement that\n" +
    "cannot run in a transaction (VACUUM, CREATE INDEX CONCURRENTLY…): then each statement\n" +
    "commits on its own.\n" +
    "\n" +
    "--params '[…]' is a JSON array bound to $1, $2, … (strings, numbers and booleans are sent as\n" +
    "text and typed by the server; objects and arrays as JSON text; null as NULL).\n" +
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
    "arrays of those as arrays, NULL as null, everything else as the server's text. A repeated\n" +
    "column name gets a suffix (id, id_2).\n" +
    "\n" +
    "--ndjson: one row object per line (same values). --csv: RFC 4180 quoting as Postgres COPY\n" +
    "writes it, a header row per result set, result sets separated by an empty line. With\n" +
    "--ndjson and --csv the command tags (SELECT 3, INSERT 0 1) go to stderr, so stdout holds\n" +
    "only data.\n" +
    "\n" +
    "SQL errors (exit 4) show the SQLSTATE, message, line:column with the source line, detail and\n" +
    "hint. A reader that goes away (| head) ends the run quietly (exit 0).",
  options: [
    urlOption,
    { flags: "--sql <text>", description: "the SQL to run (one or more statements)" },
    { flags: "--file <path>", description: "read the SQL from a file (- for stdin)" },
    { flags: "--params <json>", description: "JSON array of values for $1, $2, …" },
    { flags: "--write", description: "allow writes (no read-only session, no statement gate)" },
    { flags: "--json", description: "one JSON document on stdout (see above)" },
    { flags: "--ndjson", description: "one JSON object per row on stdout" },
    { flags: "--csv", description: "CSV on stdout (header row per result set)" },
    ...waitOptions,
  ],
  examples: [
    'eve db sql --url "$DATABASE_URL" --sql "select id, email from users order by id limit 5"',
    "eve db sql --sql 'select * from users where id = $1' --params '[42]' --json",
    "eve db sql --file report.sql --csv > report.csv",
    "cat fix.sql | eve db sql --file - --write",
  ],
  async run(ctx, opts) {
    const formats = (["json", "ndjson", "csv"] as const).filter((f) => opts[f]);
    if (formats.length > 1) throw new UsageError(`choose one output format (got --${formats.join(" and --")})`);
    const { text, source } = await readSql(ctx, opts);
    const params = parseParams(opts.params);
    // Refusals and parse errors happen here, before connecting.
    const plan = await planSqlIsolated(text, { write: !!opts.write, params, source });
    if (opts.write) ctx.out.log(paint(ctx.out, "yellow", "warning: ") + writeWarning(plan));

    const waitTimeout = typeof opts.waitTimeout === "number" ? opts.waitTimeout : parseDuration(String(opts.waitTimeout ?? "60s"));
    const conn = await openDirect(ctx, { url: opts.url, wait: opts.wait, waitTimeout }, {
      applicationName: "eve sql",
      rawTypes: true,
      readOnly: !opts.write,
      onNotice: (n) => ctx.out.log(`${n.severity ?? "NOTICE"}: ${n.message}`),
    });
    const stdout = ctx.out.stdout;
    const log = (line: string) => ctx.out.log(paint(ctx.out, "dim", line));
    const meta = { database: conn.label, readOnly: plan.mode === "read-only", mode: plan.mode };
    const gc = { onVolume: ctx.collectGarbage };
    const json = opts.json ? jsonSink(stdout, meta, gc) : undefined;
    const sink =
      json ?? (opts.ndjson ? ndjsonSink(stdout, log, gc) : opts.csv ? csvSink(stdout, log, gc) : tableSink(stdout, { tty: !!stdout.isTTY, width: stdout.columns, ...gc }));
    try {
      const summary = await runSql(conn.db, { text, params, write: opts.write, source, database: conn.label, signal: ctx.signal, notice: (line) => ctx.out.log(paint(ctx.out, "yellow", line)) }, sink, plan);
      if (json) await json.finish(summary.durationMs);
      else await (sink as { finish(): Promise<void> }).finish();
    } catch (e) {
      // The reader went away (| head): stop quietly, like other Unix tools.
      if (e instanceof OutputClosedError) return 0;
      if (json && e instanceof EveError) await json.fail(errorJson(e)).catch(() => {});
      else if (!json) await (sink as { finish(): Promise<void> }).finish().catch(() => {});
      throw e;
    } finally {
      await conn.close();
    }
  },
});

async function readSql(ctx: Context, opts: Opts): Promise<{ text: string; source: string }> {
  if (opts.sql !== undefined && opts.file !== undefined) throw new UsageError("give --sql or --file, not both");
  if (opts.sql !== undefined) return { text: opts.sql, source: "--sql" };
  if (opts.file === "-") {
    if (!ctx.readStdin) throw new UsageError("no standard input here", { hint: "use --sql or --file PATH" });
    return { text: await ctx.readStdin(), source: "stdin" };
  }
  if (opts.file !== undefined) {
    try {
      return { text: await readFile(resolve(ctx.cwd, opts.file), "utf8"), source: opts.file };
    } catch (e) {
      throw new UsageError(`cannot read --file ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        hint: "check the path (relative paths start at the current directory), or use --file - for stdin",
      });
    }
  }
  throw new UsageError("no SQL given", { hint: 'pass --sql "select …", --file FILE, or --file - to read stdin' });
}

function writeWarning(plan: SqlPlan): string {
  const n = plan.statements.length;
  if (plan.mode === "transaction") return `--write: ${n} statements run read-write in one transaction (all or nothing)`;
  if (n === 1) return "--write: the statement runs read-write";
  return `--write: ${n} statements run read-write, each committing on its own (${plan.autocommitReason ?? "autocommit"})`;
}
