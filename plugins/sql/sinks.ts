/**
 * Result sinks: where the engine's streamed results go. One per output format
 * (psql-style table, --json, --ndjson, --csv) writing to a stream with
 * backpressure, and a collecting sink for callers that want the whole
 * SqlResult in memory (tests).
 */
import { csvRecord } from "../../core/output/csv.ts";
import { isNumericType, jsonDecoder, jsonEncoder } from "../../core/output/pg-values.ts";
import { alignedHeader, alignedRows, alignedWidth, columnWidths, expandedRows, rowsFooter, type TableColumn } from "../../core/output/table.ts";
import { StreamWriter, type StreamWriterOptions } from "../../core/output/writer.ts";
import type { Writer } from "../../core/io.ts";
import type { RawColumn, ResultSink, SqlMode, SqlResultSet, StatementOutcome } from "./schema.ts";

export interface StreamSink extends ResultSink {
  /** Flush what is buffered (after the run). */
  finish(): Promise<void>;
}

type Row = Array<string | null>;

/** Object keys for the columns: a repeated name gets _2, _3 … */
export function jsonKeys(names: string[]): string[] {
  const taken = new Set(names);
  const seen = new Set<string>();
  return names.map((n) => {
    let key = n;
    if (seen.has(key)) for (let i = 2; taken.has(key); i++) key = `${n}_${i}`;
    seen.add(key);
    taken.add(key);
    return key;
  });
}

/** A function turning one row into a JSON object text. */
export function rowEncoder(columns: RawColumn[]): (row: Row) => string {
  const keys = jsonKeys(columns.map((c) => c.name)).map((k) => JSON.stringify(k) + ":");
  const enc = columns.map((c) => jsonEncoder(c.typeOid));
  return (row) => {
    let s = "{";
    for (let i = 0; i < keys.length; i++) {
      const v = row[i];
      s += (i ? "," : "") + keys[i] + (v === null || v === undefined ? "null" : enc[i]!(v));
    }
    return s + "}";
  };
}

const isDml = (command: string) => /^(INSERT|UPDATE|DELETE|MERGE)$/.test(command);

/** psql-style aligned tables; on a terminal too narrow for a table, expanded records. */
export function tableSink(out: Writer, opts: { tty?: boolean; width?: number } & StreamWriterOptions = {}): StreamSink {
  const w = new StreamWriter(out, opts);
  const CHUNK = 10_000;
  let any = false;
  let cols: TableColumn[] | undefined;
  let widths: number[] = [];
  let buffer: Row[] = [];
  let count = 0;
  let printed = 0;
  let expanded = false;
  const lines = (ls: string[]) => (ls.length ? w.text(ls.join("\n") + "\n") : undefined);
  const flushRows = () => {
    if (!cols) return;
    const first = printed === 0;
    widths = columnWidths(cols, buffer, first ? undefined : widths);
    if (first) expanded = !!opts.tty && !!opts.width && cols.length > 1 && alignedWidth(widths) > opts.width;
    const out = expanded
      ? expandedRows(cols, buffer, printed + 1, opts.width)
      : [...(first ? alignedHeader(cols, widths) : []), ...alignedRows(cols, widths, buffer)];
    printed += buffer.length;
    buffer = [];
    if (first && expanded && out.length === 0) out.push("(0 rows)");
    return lines(out);
  };
  // Widths are set per CHUNK rows exactly, however the rows were batched.
  const push = (rows: Row[], from: number): Promise<void> | undefined => {
    for (let i = from; i < rows.length; i++) {
      buffer.push(rows[i]!);
      if (buffer.length < CHUNK) continue;
      const p = flushRows();
      if (p && i + 1 < rows.length) return p.then(() => push(rows, i + 1));
      if (p) return p;
    }
    return undefined;
  };
  return {
    begin(set) {
      const p = any ? w.text("\n") : undefined;
      any = true;
      cols = set.columns.map((c) => ({ name: c.name, right: isNumericType(c.typeOid) }));
      buffer = [];
      count = 0;
      printed = 0;
      return p;
    },
    rows(rows) {
      count += rows.length;
      return push(rows, 0);
    },
    async end(o) {
      if (cols) {
        // A result set: flush even with zero rows so the header prints.
        if (buffer.length || printed === 0) {
          const p = flushRows();
          if (p) await p;
        }
        await (lines([expanded && count === 0 ? "" : rowsFooter(count), ...(isDml(o.command) ? [o.tag] : [])].filter(Boolean)) ?? Promise.resolve());
        cols = undefined;
        return;
      }
      const p = any ? w.text("\n") : undefined;
      if (p) await p;
      any = true;
      await (lines([o.tag]) ?? Promise.resolve());
    },
    finish: async () => void (await w.flush()),
  };
}

/** CSV: header row per result set, sets separated by an empty line; tags on stderr. */
export function csvSink(out: Writer, log: (line: string) => void, opts: StreamWriterOptions = {}): StreamSink {
  const w = new StreamWriter(out, opts);
  let sets = 0;
  return {
    csvCopy: true,
    begin(set) {
      const sep = sets++ ? "\n" : "";
      return set.copy ? (sep ? w.text(sep) : undefined) : w.text(sep + csvRecord(set.columns.map((c) => c.name)));
    },
    rows(rows) {
      let s = "";
      for (const r of rows) s += csvRecord(r);
      return w.text(s);
    },
    copy: (chunk) => (typeof chunk === "string" ? w.text(chunk) : w.data(chunk)),
    end: (o) => log(o.tag),
    finish: async () => void (await w.flush()),
  };
}

/** NDJSON: one object per row, across all result sets; tags on stderr. */
export function ndjsonSink(out: Writer, log: (line: string) => void, opts: StreamWriterOptions = {}): StreamSink {
  const w = new StreamWriter(out, opts);
  let enc: (row: Row) => string = () => "{}";
  return {
    begin(set) {
      enc = rowEncoder(set.columns);
    },
    rows(rows) {
      let s = "";
      for (const r of rows) s += enc(r) + "\n";
      return w.text(s);
    },
    end: (o) => log(o.tag),
    finish: async () => void (await w.flush()),
  };
}

export interface JsonSink extends ResultSink {
  /** Close the document after a successful run. */
  finish(durationMs: number): Promise<void>;
  /**
   * Close the document with an "error" member after a failure. Returns false
   * when nothing was written yet (the caller prints the error document).
   */
  fail(error: Record<string, unknown>): Promise<boolean>;
}

/**
 * The --json document (schema SqlResult), streamed: one row object per line
 * inside an indented document, so millions of rows never sit in memory.
 */
export function jsonSink(out: Writer, meta: { database: string; readOnly: boolean; mode: SqlMode }, opts: StreamWriterOptions = {}): JsonSink {
  const w = new StreamWriter(out, opts);
  const started = performance.now();
  let opened = false;
  let results = 0;
  let inRows = false;
  let rowsSoFar = 0;
  let enc: (row: Row) => string = () => "{}";
  const q = JSON.stringify;
  const open = () => {
    if (opened) return;
    opened = true;
    w.text(`{\n  "database": ${q(meta.database)},\n  "readOnly": ${meta.readOnly},\n  "mode": ${q(meta.mode)},\n  "results": [`);
  };
  const openResult = (statement: number, line: number) => {
    open();
    w.text(`${results++ ? "," : ""}\n    {\n      "statement": ${statement},\n      "line": ${line},\n      "rows": [`);
    inRows = true;
    rowsSoFar = 0;
  };
  const closeResult = (o: Pick<StatementOutcome, "columns" | "command" | "tag" | "rowCount">) => {
    inRows = false;
    return w.text(
      `${rowsSoFar ? "\n      " : ""}],\n      "columns": ${q(o.columns)},\n      "command": ${q(o.command)},\n      "tag": ${q(o.tag)},\n      "rowCount": ${o.rowCount}\n    }`,
    );
  };
  return {
    begin(set) {
      openResult(set.statement, set.line);
      enc = rowEncoder(set.columns);
    },
    rows(rows) {
      let s = "";
      for (const r of rows) s += (rowsSoFar++ ? ",\n        " : "\n        ") + enc(r);
      return w.text(s);
    },
    end(o) {
      if (!inRows) openResult(o.statement, o.line);
      return closeResult(o);
    },
    async finish(durationMs) {
      open();
      w.text(`${results ? "\n  " : ""}],\n  "durationMs": ${durationMs}\n}\n`);
      await w.flush();
    },
    async fail(error) {
      if (!opened) return false;
      if (inRows) closeResult({ columns: [], command: "", tag: "", rowCount: rowsSoFar });
      w.text(`${results ? "\n  " : ""}],\n  "durationMs": ${Math.round(performance.now() - started)},\n  "error": ${q(error)}\n}\n`);
      await w.flush();
      return true;
    },
  };
}

/** Collects every result set in memory as the --json document's `results`. */
export function collectSink(): ResultSink & { results: SqlResultSet[] } {
  const results: SqlResultSet[] = [];
  let current: { rows: Array<Record<string, unknown>>; keys: string[]; dec: Array<(s: string) => unknown> } | undefined;
  return {
    results,
    begin(set) {
      current = { rows: [], keys: jsonKeys(set.columns.map((c) => c.name)), dec: set.columns.map((c) => jsonDecoder(c.typeOid)) };
    },
    rows(rows) {
      const c = current!;
      for (const r of rows) {
        const o: Record<string, unknown> = {};
        c.keys.forEach((k, i) => (o[k] = r[i] === null || r[i] === undefined ? null : c.dec[i]!(r[i]!)));
        c.rows.push(o);
      }
    },
    end(o) {
      results.push({ statement: o.statement, line: o.line, rows: current?.rows ?? [], columns: o.columns, command: o.command, tag: o.tag, rowCount: o.rowCount });
      current = undefined;
    },
  };
}
