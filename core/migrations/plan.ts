/**
 * Pure planning: compare the files on disk with the history rows and decide
 * what is applied, pending, drifted, missing or out of order. No I/O.
 */
import { normalizeText, sha256, type MigrationFile } from "./files.ts";

export interface HistoryRow {
  name: string;
  checksum: string;
  applied_at: Date;
  /** applied | baselined | marked (null for rows written by the original runner). */
  kind: string | null;
  duration_ms: number | null;
  details: unknown;
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
}

/** Key a history row by version when the name carries one, else by name. */
function rowKey(name: string): string {
  return /^(\d{14})_/.exec(name)?.[1] ?? name;
}

export function plan(files: MigrationFile[], rows: HistoryRow[]): Plan {
  const byKey = new Map<string, HistoryRow>();
  for (const r of rows) byKey.set(rowKey(r.name), r);
  const out: Plan = { applied: [], pending: [], drifted: [], lineEndingOnly: [], missing: [], outOfOrder: [] };
  const seen = new Set<string>();
  for (const f of files) {
    const row = byKey.get(f.version);
    if (!row) {
      out.pending.push(f);
      continue;
    }
    seen.add(f.version);
    out.applied.push({ file: f, row });
    // Rows marked by --baseline VERSION never ran, so their stored sum is still the file's.
    if (row.checksum !== f.checksum) {
      const d = { name: f.name, storedChecksum: row.checksum, fileChecksum: f.checksum };
      if (sameExceptLineEndings(f, row.checksum)) out.lineEndingOnly.push(d);
      else out.drifted.push(d);
    }
  }
  for (const r of rows) if (!seen.has(rowKey(r.name))) out.missing.push(r);
  const newestApplied = out.applied.reduce((m, a) => (a.file.version > m ? a.file.version : m), "");
  out.outOfOrder = out.pending.filter((f) => f.version < newestApplied);
  return out;
}

/** Does `stored` match the file with only CRLF/LF or BOM differences? */
export function sameExceptLineEndings(f: MigrationFile, stored: string): boolean {
  if (stored === f.normalizedChecksum) return true;
  const lf = normalizeText(f.text);
  const crlf = lf.replace(/\n/g, "\r\n");
  return [crlf, "\uFEFF" + lf, "\uFEFF" + crlf].some((v) => sha256(v) === stored);
}
