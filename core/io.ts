/**
 * Output: where commands write, whether it is a terminal, colour, and a test
 * constructor backed by buffers. Engines never print; they report events
 * through a Reporter and the command renders the result.
 */

export interface Writer {
  write(chunk: string | Uint8Array): boolean;
  isTTY?: boolean;
  columns?: number;
  once?(event: "drain", cb: () => void): unknown;
}

export interface Output {
  /** Data for the user (results, JSON). */
  stdout: Writer;
  /** Logs, progress, warnings and errors. */
  stderr: Writer;
  /** --json given: stdout carries exactly one JSON document. */
  json: boolean;
  /** Colour allowed on stderr/stdout (TTY, no NO_COLOR, TERM != dumb). */
  color: boolean;
  /** Write a line to stdout. */
  print(line?: string): void;
  /** Write a line to stderr. */
  log(line?: string): void;
  /** Write a JSON document to stdout. */
  printJson(value: unknown): void;
}

export function createOutput(
  stdout: Writer,
  stderr: Writer,
  opts: { json?: boolean; env?: Record<string, string | undefined> } = {},
): Output {
  const env = opts.env ?? {};
  const color = !!stderr.isTTY && env.NO_COLOR === undefined && env.TERM !== "dumb";
  return {
    stdout,
    stderr,
    json: !!opts.json,
    color,
    print: (line = "") => void stdout.write(line + "\n"),
    log: (line = "") => void stderr.write(line + "\n"),
    printJson: (value) => void stdout.write(JSON.stringify(value, null, 2) + "\n"),
  };
}

/** A buffer-backed Writer for tests. */
export function bufferWriter(): Writer & { text(): string } {
  const chunks: string[] = [];
  const dec = new TextDecoder();
  return {
    write(chunk) {
      chunks.push(typeof chunk === "string" ? chunk : dec.decode(chunk));
      return true;
    },
    text: () => chunks.join(""),
  };
}

const codes = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof codes;

/** Wrap text in an ANSI style when colour is on. */
export function paint(out: Pick<Output, "color">, style: Style, text: string): string {
  if (!out.color) return text;
  const [a, b] = codes[style];
  return `\x1b[${a}m${text}\x1b[${b}m`;
}

/**
 * Render rows as an aligned plain-text table (psql-like). Cells are strings;
 * the widest cell sets the column width; numbers may be right-aligned.
 */
export function renderTable(
  headers: string[],
  rows: string[][],
  opts: { align?: ("left" | "right")[]; indent?: string } = {},
): string {
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ""))));
  const pad = (s: string, i: number) => {
    const gap = " ".repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(s)));
    return opts.align?.[i] === "right" ? gap + s : s + gap;
  };
  const indent = opts.indent ?? "";
  const line = (cells: string[]) => indent + cells.map(pad).join("  ").trimEnd();
  const out = [line(headers), indent + widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of rows) out.push(line(headers.map((_, i) => r[i] ?? "")));
  return out.join("\n");
}

/** Width in terminal cells (approximation: code points, no wide-char table). */
export function displayWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Human byte size with 1024 base, one decimal: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Human duration: 850ms, 2.4s, 3m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, "0")}s`;
}
