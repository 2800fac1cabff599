/**
 * The engine's results as db.sql events: a ResultSink that emits them.
 * Rows go out in batches of at most 256 rows or about 64 KiB of values (a
 * single larger row goes alone); COPY bytes are gathered into ~64 KiB and
 * sent as text (a character split across chunks is kept whole). A promise
 * returned by `emit` (the local renderer's backpressure) is passed back to
 * the engine, which waits for it.
 */
import type { ResultSink, SqlEvent, StatementOutcome } from "./schema.ts";

type Emit = (e: SqlEvent) => void | Promise<void>;
type Row = Array<string | null>;

const ROWS_PER_EVENT = 256;
const BYTES_PER_EVENT = 1 << 16;

/** A sink that turns results into events; `csv` takes plain queries as server-written CSV. */
export function eventSink(emit: Emit, opts: { csv: boolean }): ResultSink {
  let bytes: Uint8Array | undefined;
  let used = 0;
  let decoder: TextDecoder | undefined;
  const send = (rows: Row[]) => emit({ type: "rows", rows });
  const sendRows = (rows: Row[], from: number): void | Promise<void> => {
    let size = 0;
    for (let i = from; i < rows.length; i++) {
      const r = rows[i]!;
      for (let j = 0; j < r.length; j++) size += r[j]?.length ?? 0;
      const n = i + 1 - from;
      if (n < ROWS_PER_EVENT && size < BYTES_PER_EVENT && i + 1 < rows.length) continue;
      const p = send(from === 0 && i + 1 === rows.length ? rows : rows.slice(from, i + 1));
      if (i + 1 === rows.length) return p;
      if (p) return p.then(() => sendRows(rows, i + 1));
      from = i + 1;
      size = 0;
    }
  };
  const flushCopy = (final: boolean) => {
    const text = used ? decoder!.decode(bytes!.subarray(0, used), { stream: !final }) : final && decoder ? decoder.decode() : "";
    used = 0;
    if (final) decoder = undefined;
    return text ? emit({ type: "csv", chunk: text }) : undefined;
  };
  return {
    csvCopy: opts.csv,
    begin: (set) => emit({ type: "columns", statement: set.statement, line: set.line, columns: set.columns, ...(set.copy ? { copy: true } : {}) }),
    rows: (rows) => sendRows(rows, 0),
    copy(chunk) {
      if (typeof chunk === "string") return emit({ type: "csv", chunk });
      decoder ??= new TextDecoder();
      bytes ??= new Uint8Array(BYTES_PER_EVENT);
      let p: void | Promise<void> = undefined;
      if (used + chunk.length > BYTES_PER_EVENT) p = flushCopy(false);
      if (chunk.length >= BYTES_PER_EVENT) {
        const text = decoder.decode(chunk, { stream: true });
        return chain(p, () => (text ? emit({ type: "csv", chunk: text }) : undefined));
      }
      bytes.set(chunk, used);
      used += chunk.length;
      return p;
    },
    end(outcome: StatementOutcome) {
      return chain(decoder ? flushCopy(true) : undefined, () => emit({ type: "complete", ...outcome }));
    },
  };
}

/** Run `next` after `p` (at once when there is nothing to wait for). */
function chain(p: void | Promise<void>, next: () => void | Promise<void>): void | Promise<void> {
  return p ? p.then(next) : next();
}
