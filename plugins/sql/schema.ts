/**
 * Result shapes of the sql plugin. `SqlResult` is the `--json` document (and
 * the HTTP body): always an object with one entry per statement, in order,
 * whatever the number of statements.
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

/** What the engine reports for one statement once it completed. */
export interface StatementOutcome {
  statement: number;
  line: number;
  command: string;
  tag: string;
  rowCount: number;
  columns: SqlColumn[];
}

/** The engine's summary of a run (results themselves went to the sink). */
export interface SqlRunSummary {
  database: string;
  readOnly: boolean;
  mode: SqlMode;
  statements: StatementOutcome[];
  durationMs: number;
}
