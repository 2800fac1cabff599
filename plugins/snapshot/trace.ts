/**
 * `--debug` timing trace of snapshot and restore: each step's end, in ms since
 * the command started, through a sink the command installs (engines never
 * print). Without a sink, trace() costs a branch.
 */
let sink: ((line: string) => void) | null = null;
let t0 = 0;

/** Install the sink (the command, with --debug); `start` defaults to the process start (performance.now() counts from it). */
export function startTrace(write: (line: string) => void, start = 0): void {
  sink = write;
  t0 = start;
}

export function trace(step: string): void {
  if (sink) sink(`debug: ${(performance.now() - t0).toFixed(1).padStart(8)} ms  ${step}`);
}
