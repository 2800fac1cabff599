/**
 * A one-line progress display on stderr: bytes, rate, elapsed, and a bar when
 * the total is known. Only on a TTY and never with --json; otherwise every
 * call is a no-op, so engines can report progress unconditionally.
 */
import { formatBytes, formatDuration, type Output } from "../../core/io.ts";

export interface Progress {
  update(bytes: number): void;
  /** Switch the label (e.g. from "dumping" to "restoring"). */
  phase(label: string, total?: number): void;
  /** Erase the line. */
  done(): void;
}

const silent: Progress = { update() {}, phase() {}, done() {} };

export function createProgress(out: Output, json: boolean | undefined, label: string, total?: number, now = () => Date.now()): Progress {
  if (json || out.json || !out.stderr.isTTY) return silent;
  let start = now();
  let last = 0;
  let shown = false;
  let bytes = 0;
  const draw = () => {
    const ms = Math.max(1, now() - start);
    const rate = (bytes / ms) * 1000;
    let bar = "";
    if (total && total > 0) {
      const frac = Math.min(1, bytes / total);
      const w = 24;
      const fill = Math.round(frac * w);
      bar = ` [${"#".repeat(fill)}${".".repeat(w - fill)}] ${Math.floor(frac * 100)}%`;
    }
    const line = `${label}${bar} ${formatBytes(bytes)}${total ? ` / ${formatBytes(total)}` : ""}  ${formatBytes(Math.round(rate))}/s  ${formatDuration(ms)}`;
    out.stderr.write(`\r\x1b[2K${line}`);
    shown = true;
  };
  return {
    update(b) {
      bytes = b;
      const t = now();
      if (t - last < 100) return;
      last = t;
      draw();
    },
    phase(l, t) {
      label = l;
      total = t;
      bytes = 0;
      start = now();
      last = 0;
    },
    done() {
      if (shown) out.stderr.write("\r\x1b[2K");
      shown = false;
    },
  };
}
