/**
 * db.sql: run SQL text on one session, read-only unless `write`, streaming
 * every result as events (plugins/sql/schema.ts SqlEvent) so any client
 * renders them in its own format. The gate runs here, on the text received:
 * a caller's own planning (the CLI plans before connecting) is never trusted.
 */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { runSql, sessionOptions } from "../engine.ts";
import { eventSink } from "../events.ts";
import { planSqlIsolated } from "../planner.ts";
import { SqlEvent, SqlRunSummary } from "../schema.ts";

export const SqlInput = z.object({
  /** The SQL text: one or more statements. */
  sql: z.string(),
  /** Where the text came from, for messages: "--sql", "stdin" or a file name. */
  source: z.string().min(1).max(4096).default("--sql"),
  /**
   * Values for $1, $2, …: a string binds as its text, null as NULL, a number
   * or boolean as its JSON text, an object or array as its JSON (so $1::jsonb
   * gets it); all typed by the server. null: no parameters.
   */
  params: z.array(z.unknown()).max(65535).nullable().default(null),
  /** Allow writes: no read-only session, no statement gate (access "write"). */
  write: z.boolean().default(false),
  /**
   * Output hint, not a format: the client renders CSV, so plain queries may
   * come as server-written CSV (`csv` events, the COPY fast path) instead of
   * `columns`/`rows` events.
   */
  csv: z.boolean().default(false),
});
export type SqlInput = z.infer<typeof SqlInput>;

export const sqlOp = defineOperation({
  name: "db.sql",
  summary: "run SQL: read-only unless --write; table, JSON, NDJSON or CSV output",
  access: (i: SqlInput) => (i.write ? "write" : "read"),
  input: SqlInput,
  result: SqlRunSummary,
  event: SqlEvent,
  connection: (i) => ({ applicationName: "eve sql", ...sessionOptions(i.write) }),
  async run(deps, input, emit) {
    const params = (input.params ?? []).map(paramText);
    const plan = await planSqlIsolated(input.sql, { write: input.write, params, source: input.source });
    const { mode, autocommitReason } = plan;
    emit({ type: "start", database: deps.label, readOnly: mode === "read-only", mode, statements: plan.statements.length, ...(autocommitReason ? { autocommitReason } : {}) });
    deps.onNotice((n) => emit({ type: "server-notice", severity: n.severity ?? "NOTICE", message: n.message ?? "" }));
    const req = {
      text: input.sql,
      params,
      write: input.write,
      source: input.source,
      database: deps.label,
      signal: deps.signal,
      notice: (line: string) => emit({ type: "notice", line }),
    };
    // emit's promise, when the renderer returns one, is the output's backpressure.
    return runSql(deps.db, req, eventSink(emit as (e: SqlEvent) => void | Promise<void>, { csv: input.csv }), plan);
  },
});

/** The text a parameter binds as (see SqlInput.params). */
function paramText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}
