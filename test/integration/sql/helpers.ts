/** Shared setup for the sql engine tests: run SQL the way `eve db sql` does. */
import { close, connect } from "../../../core/db/index.ts";
import type { EveError } from "../../../core/errors.ts";
import { runSql, sessionOptions, type ResultSink } from "../../../plugins/sql/engine.ts";
import { collectSink } from "../../../plugins/sql/sinks.ts";

export interface RunOpts {
  write?: boolean;
  params?: Array<string | null>;
  sink?: ResultSink;
  signal?: AbortSignal;
  batchRows?: number;
  source?: string;
}

/** Run on a fresh session (read-only unless write), collecting results. */
export async function run(url: string, text: string, opts: RunOpts = {}) {
  const db = connect(url, sessionOptions(!!opts.write));
  const sink = opts.sink ?? collectSink();
  try {
    const summary = await runSql(db, { text, database: "test", ...opts }, sink);
    return { summary, results: (sink as ReturnType<typeof collectSink>).results };
  } finally {
    await close(db);
  }
}

/** The error a run fails with. */
export async function failure(url: string, text: string, opts: RunOpts = {}): Promise<EveError> {
  try {
    await run(url, text, opts);
  } catch (e) {
    return e as EveError;
  }
  throw new Error(`expected a failure: ${text}`);
}
