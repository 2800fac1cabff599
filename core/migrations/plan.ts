/**
 * Pure planning: compare the files on disk with the history rows and decide
 * what is applied, pending, drifted, missing or out of order. No I/O.
 */
import { normalizeText, sha256, type MigrationFile } from "./files.ts";

export interface HistoryRow {
  name: string;
  checksum: string;
  applied_at: Date;
  /** applied | baselined | marked | empty | running (null for rows written by the original runner). */
  kind: string | null;
  duration_ms: number | null;
  details: unknown;
  /** For a `running` row: how many statements of the no-transaction file completed. */
  statements_done?: number | null;
}

/** A file run statement by statement that did not finish (a kill, a failure). */
export interface Running {
  row: HistoryRow;
  /** undefined when the file is gone. */
  file?: MigrationFile;
  /** Set when the file changed since it started. */
  drift?: Drift;
}

export interface Drift {
  name: string;
  storedChecksum: string;
  fileChecksum: string;
}

export interface Plan {
  applied: Array<{ file: MigrationFile; row: HistoryRow }>;
  pending: MigrationFile[];
  /** Content changed after it was applied. */
  drifted: Drift[];
  /** Only line endings or a BOM changed: reported as a notice. */
  lineEndingOnly: Drift[];
  /** Applied rows whose file is gone. */
  missing: HistoryRow[];
  /** Pending files older than the newest applied version. */
  outOfOrder: MigrationFile[];
  /** Partially applied no-transaction files (history rows of kind `running`). */
  running: Running[];
}

/** Key a history row by version when the name carries one, else by name. */
function rowKey(name: string): string {
  return /^(\d{14})_/.exec(name)?.[1] ?? name;
}

export function plan(files: MigrationFile[], rows: HistoryRow[]): Plan {
  const byKey = new Map<string, HistoryRow>();
  for (const r of rows) byKey.set(rowKey(r.name), r);
  const out: Plan = { applied: [], pending: [], drifted: [], lineEndingOnly: [], missing: [], outOfOrder: [], running: [] };
  const seen = new Set<string>();
  let newest = "";
  for (const f of files) {
    const row = byKey.get(f.version);
    if (!row) {
      out.pending.push(f);
      continue;
    }
    seen.add(f.version);
    if (f.version > newest) newest = f.version;
    if (row.kind === "running") {
      const running: Running = { row, file: f };
      if (row.checksum !== f.checksum && !sameExceptLineEndings(f, row.checksum)) {
        running.drift = { name: f.name, storedChecksum: row.checksum, fileChecksum: f.checksum };
        out.drifted.push(running.drift);
      }
      out.running.push(running);
      continue;
    }
    out.applied.push({ file: f, row });
    // Rows marked by --baseline VERSION never ran, so their stored sum is still the file's.
    if (row.checksum !== f.checksum) {
      const d = { name: f.name, storedChecksum: row.checksum, fileChecksum: f.checksum };
      if (sameExceptLineEndings(f, row.checksum)) out.lineEndingOnly.push(d);
      else out.drifted.push(d);
    }
  }
  for (const r of rows) {
    if (seen.has(rowKey(r.name))) continue;
    if (r.kind === "running") out.running.push({ row: r });
    else out.missing.push(r);
  }
  // A partially applied file counts as started: pending files older than it are out of order.
  out.outOfOrder = out.pending.filter((f) => f.version < newest);
  return out;
}

/** Does `stored` match the file with only CRLF/LF or BOM differences? */
export function sameExceptLineEndings(f: MigrationFile, stored: string): boolean {
  if (stored === f.normalizedChecksum) return true;
  const lf = normalizeText(f.text);
  const crlf = lf.replace(/\n/g, "\r\n");
  return [crlf, "\uFEFF" + lf, "\uFEFF" + crlf].some((v) => sha256(v) === stored);
}
