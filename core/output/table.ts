/**
 * psql-style result tables: the aligned format (` a | b ` with a `-+-` rule,
 * numbers right-aligned, headers centred, multi-line cells continued with `+`)
 * and the expanded format (`-[ RECORD 1 ]`, one line per column) that psql's
 * `\x auto` switches to when rows are wider than the terminal.
 */
import { displayWidth } from "../io.ts";

export interface TableColumn {
  name: string;
  /** Right-align (numbers). */
  right?: boolean;
}

/** Cell widths for a set of rows (at least the header widths). */
export function columnWidths(columns: TableColumn[], rows: ReadonlyArray<ReadonlyArray<string | null>>, start?: number[]): number[] {
  const widths = start ? [...start] : columns.map((c) => Math.max(...c.name.split("\n").map(displayWidth)));
  for (const r of rows) {
    for (let i = 0; i < columns.length; i++) {
      const v = r[i];
      if (!v) continue;
      const w = v.includes("\n") ? Math.max(...v.split("\n").map(displayWidth)) : displayWidth(v);
      if (w > (widths[i] ?? 0)) widths[i] = w;
    }
  }
  return widths;
}

/** Width of one aligned line for these column widths. */
export function alignedWidth(widths: number[]): number {
  return widths.reduce((a, w) => a + w + 3, 0) - 1;
}

const pad = (s: string, w: number, right?: boolean) => {
  const gap = " ".repeat(Math.max(0, w - displayWidth(s)));
  return right ? gap + s : s + gap;
};

/** Header and rule lines of an aligned table. */
export function alignedHeader(columns: TableColumn[], widths: number[]): string[] {
  const cells = columns.map((c, i) => {
    const w = widths[i] ?? 0;
    const left = Math.floor((w - displayWidth(c.name)) / 2);
    return " " + pad(" ".repeat(Math.max(0, left)) + c.name, w) + " ";
  });
  return [cells.join("|").trimEnd(), widths.map((w) => "-".repeat(w + 2)).join("+")];
}

/** Lines of aligned rows (NULL shows as empty, like psql). */
export function alignedRows(columns: TableColumn[], widths: number[], rows: ReadonlyArray<ReadonlyArray<string | null>>): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const cells = columns.map((_, i) => (r[i] ?? "").split("\n"));
    const height = Math.max(1, ...cells.map((c) => c.length));
    for (let k = 0; k < height; k++) {
      let line = "";
      for (let i = 0; i < columns.length; i++) {
        const part = cells[i]![k] ?? "";
        const more = k < cells[i]!.length - 1;
        line += (i ? "|" : "") + " " + pad(part, widths[i] ?? 0, columns[i]!.right) + (more ? "+" : " ");
      }
      out.push(line.trimEnd());
    }
  }
  return out;
}

/** Lines of expanded records, numbered from `first`. */
export function expandedRows(columns: TableColumn[], rows: ReadonlyArray<ReadonlyArray<string | null>>, first: number, termWidth?: number): string[] {
  const nameWidth = Math.max(0, ...columns.map((c) => displayWidth(c.name)));
  const out: string[] = [];
  rows.forEach((r, n) => {
    const valueWidth = Math.max(0, ...columns.map((_, i) => Math.max(...(r[i] ?? "").split("\n").map(displayWidth))));
    const head = `-[ RECORD ${first + n} ]`;
    const full = Math.min(nameWidth + 3 + valueWidth, termWidth ?? Infinity);
    out.push(head + "-".repeat(Math.max(0, full - head.length)));
    columns.forEach((c, i) => {
      const lines = (r[i] ?? "").split("\n");
      lines.forEach((l, k) => {
        const more = k < lines.length - 1;
        out.push(`${pad(k === 0 ? c.name : "", nameWidth)} | ${l}${more ? "+" : ""}`.trimEnd());
      });
    });
  });
  return out;
}

/** psql's footer: (1 row), (3 rows). */
export function rowsFooter(n: number): string {
  return `(${n} row${n === 1 ? "" : "s"})`;
}
