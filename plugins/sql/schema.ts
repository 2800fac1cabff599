/**
 * Shapes of the sql plugin. `SqlResult` is the `--json` document: always an
 * object with one entry per statement, in order, whatever the number of
 * statements. `SqlRunSummary` is db.sql's result and `SqlEvent` its event
 * stream; `ResultSink` is where the engine streams results (sinks.ts,
 * events.ts).
 */
import { z } from "zod";

export const SqlColumn = z.object({
  name: z.string(),
  /** The type as format_type() prints it: integer, text, timestamp with time zone, jsonb, integer[] … */
  type: z.string(),
  typeOid: z.number(),
});
export type SqlColumn = z.infer<typeof SqlColumn>;

/** A JSON value converted from Postgres text (see core/output/pg-values.ts). */
export const SqlValue: z.ZodType<unknown> = z.unknown();

export const SqlResultSet = z.object({
  /** 1-based position of the statement in the SQL text. */
  statement: z.number(),
  /** Line of the statement's first character in the SQL text. */
  line: z.number(),
  /**
   * One object per row, keyed by column name. A name that repeats within a
   * row (select a.id, b.id) gets a suffix: id, id_2, id_3.
   */
  rows: z.array(z.record(z.string(), SqlValue)),
  /** The result columns (empty for statements that return no rows). */
  columns: z.array(SqlColumn),
  /** The command of the server's completion tag: SELECT, INSERT, SET … */
  command: z.string(),
  /** The completion tag as psql prints it: SELECT 3, INSERT 0 1, CREATE TABLE. */
  tag: z.string(),
  /** Rows returned, or rows affected for INSERT/UPDATE/DELETE/MERGE without RETURNING. */
  rowCount: z.number(),
});
export type SqlResultSet = z.infer<typeof SqlResultSet>;

export const SqlMode = z.enum(["read-only", "transaction", "autocommit"]);
export type SqlMode = z.infer<typeof SqlMode>;

export const SqlResult = z.object({
  /** user@host:port/db (never the password). */
  database: z.string(),
  /** False only with --write. */
  readOnly: z.boolean(),
  /**
   * How the statements ran: read-only (one READ ONLY transaction, rolled
   * back), transaction (--write, several statements, one transaction, all or
   * nothing), autocommit (--write, one statement, or statements that manage
   * or cannot run in a transaction).
   */
  mode: SqlMode,
  results: z.array(SqlResultSet),
  durationMs: z.number(),
  /** Present when a statement failed after earlier results were written. */
  error: z.record(z.string(), z.unknown()).optional(),
});
export type SqlResult = z.infer<typeof SqlResult>;

/** A result column as it arrives, before its type name is known. */
export const RawColumn = z.object({ name: z.string(), typeOid: z.number() });
export type RawColumn = z.infer<typeof RawColumn>;

/** What the engine reports for one statement once it completed. */
export const StatementOutcome = z.object({
  statement: z.number(),
  line: z.number(),
  command: z.string(),
  tag: z.string(),
  rowCount: z.number(),
  columns: z.array(SqlColumn),
});
export type StatementOutcome = z.infer<typeof StatementOutcome>;

/** The engine's summary of a run (results themselves went to the sink); the result of db.sql. */
export const SqlRunSummary = z.object({
  database: z.string(),
  readOnly: z.boolean(),
  mode: SqlMode,
  statements: z.array(StatementOutcome),
  durationMs: z.number(),
});
export type SqlRunSummary = z.infer<typeof SqlRunSummary>;

/** Receives results as they stream. A returned promise is waited for (backpressure). */
export interface ResultSink {
  /** Take plain queries as COPY CSV bytes (header row included) through `copy`. */
  csvCopy?: boolean;
  /** A result set starts (before its first rows; also for zero rows). */
  begin(set: { statement: number; line: number; columns: RawColumn[]; copy?: boolean }): void | Promise<void>;
  /** Values as the server's text; null is NULL. */
  rows(rows: Array<Array<string | null>>): void | Promise<void>;
  /** Raw COPY CSV output (only when csvCopy is set): bytes from the server, or text replayed from events. */
  copy?(chunk: Uint8Array | string): void | Promise<void>;
  /** A statement completed (every statement, with or without rows). */
  end(outcome: StatementOutcome): void | Promise<void>;
}

/**
 * What db.sql streams while it runs: enough for any client to render the
 * four formats exactly as a local run does (plugins/sql/render.ts).
 * - start: planned; how the statements will run (before any result);
 * - columns: a result set starts (raw columns: names and type OIDs); `copy`
 *   when its rows come as `csv` events instead of `rows`;
 * - rows: a batch of rows as the server's text values (null is NULL);
 * - csv: server-written CSV text (header row included) of a plain query,
 *   only when the input asked for the CSV fast path;
 * - complete: a statement finished (command tag, row count, named columns);
 * - notice: eve's own one-line notice (a privileged role in read-only mode);
 * - server-notice: a NOTICE/WARNING the server sent.
 */
export const SqlEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("start"), database: z.string(), readOnly: z.boolean(), mode: SqlMode, statements: z.number(), autocommitReason: z.string().optional() }),
  z.object({ type: z.literal("columns"), statement: z.number(), line: z.number(), columns: z.array(RawColumn), copy: z.boolean().optional() }),
  z.object({ type: z.literal("rows"), rows: z.array(z.array(z.string().nullable())) }),
  z.object({ type: z.literal("csv"), chunk: z.string() }),
  z.object({ type: z.literal("complete"), ...StatementOutcome.shape }),
  z.object({ type: z.literal("notice"), line: z.string() }),
  z.object({ type: z.literal("server-notice"), severity: z.string(), message: z.string() }),
]);
export type SqlEvent = z.infer<typeof SqlEvent>;
