/**
 * db.sql's events rendered as `eve db sql` prints them: the event stream
 * feeds the output sinks (sinks.ts), so a local run and a replayed remote
 * one write the same bytes in every format. Tags of --csv/--ndjson and the
 * notices go to stderr.
 */
import { errorJson, EveError, OutputClosedError } from "../../core/errors.ts";
import { paint, type Output } from "../../core/io.ts";
import type { SqlEvent, SqlMode, SqlRunSummary } from "./schema.ts";
import { csvSink, jsonSink, ndjsonSink, tableSink, type JsonSink, type StreamSink } from "./sinks.ts";

export type SqlFormat = "table" | "json" | "ndjson" | "csv";

export interface SqlRenderer {
  /** Render one event; a returned promise is the output's backpressure. */
  event(e: SqlEvent): void | Promise<void>;
  /** Close the output after a successful run. */
  finish(r: SqlRunSummary): Promise<void>;
  /** Close the output after a failure: --json gets its "error" member once output began. */
  fail(e: unknown): Promise<void>;
}

export interface RenderOptions {
  /** Print the --write warning when the run starts (when it was not printed before connecting). */
  warn?: boolean;
  /** Called every few MB written (a garbage collection). */
  onVolume?: () => void;
}

/** The one-line --write warning (stderr). */
export function writeWarning(run: { mode: SqlMode; statements: number; autocommitReason?: string }): string {
  const n = run.statements;
  if (run.mode === "transaction") return `--write: ${n} statements run read-write in one transaction (all or nothing)`;
  if (n === 1) return "--write: the statement runs read-write";
  return `--write: ${n} statements run read-write, each committing on its own (${run.autocommitReason ?? "autocommit"})`;
}

/** A renderer writing to `out` in `format`. */
export function sqlRenderer(out: Output, format: SqlFormat, opts: RenderOptions = {}): SqlRenderer {
  const stdout = out.stdout;
  const gc = { onVolume: opts.onVolume };
  const log = (line: string) => out.log(paint(out, "dim", line));
  let json: JsonSink | undefined;
  let sink: StreamSink | undefined;
  // A failed write whose promise nobody awaited (a replayed stream) ends the run at the next event.
  let failed: unknown;
  const handle = (p: void | Promise<void>) => {
    if (!p) return;
    p.catch((e) => void (failed ??= e));
    return p;
  };
  const on = (e: SqlEvent): void | Promise<void> => {
    switch (e.type) {
      case "start":
        if (opts.warn && e.mode !== "read-only") out.log(paint(out, "yellow", "warning: ") + writeWarning(e));
        if (format === "json") json = jsonSink(stdout, { database: e.database, readOnly: e.readOnly, mode: e.mode }, gc);
        else if (format === "ndjson") sink = ndjsonSink(stdout, log, gc);
        else if (format === "csv") sink = csvSink(stdout, log, gc);
        else sink = tableSink(stdout, { tty: !!stdout.isTTY, width: stdout.columns, ...gc });
        return;
      case "columns":
        return (json ?? sink)!.begin(e);
      case "rows":
        return (json ?? sink)!.rows(e.rows);
      case "csv":
        return (json ?? sink)!.copy!(e.chunk);
      case "complete": {
        const { type: _, ...outcome } = e;
        return (json ?? sink)!.end(outcome);
      }
      case "notice":
        return out.log(paint(out, "yellow", e.line));
      case "server-notice":
        return out.log(`${e.severity}: ${e.message}`);
    }
  };
  return {
    event(e) {
      if (failed) throw failed;
      return handle(on(e));
    },
    async finish(r) {
      if (failed) throw failed;
      if (json) await json.finish(r.durationMs);
      else await sink?.finish();
    },
    async fail(e) {
      // The reader went away (| head): stop quietly, like other Unix tools.
      if (e instanceof OutputClosedError || failed instanceof OutputClosedError) return;
      if (json && e instanceof EveError) await json.fail(errorJson(e)).catch(() => {});
      else if (sink) await sink.finish().catch(() => {});
    },
  };
}
