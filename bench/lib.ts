/**
 * Shared bench helpers: timing spawned commands, medians, ratios, peak RSS.
 * Benchmarks print figures; they never assert on time.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import postgres from "postgres";

export interface Timed {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size in KiB (via /usr/bin/time when available). */
  maxRssKb?: number;
}

/** Run a command and time it with a monotonic clock. */
export function timed(cmd: string, args: string[], opts: SpawnSyncOptions & { rss?: boolean } = {}): Timed {
  const useTime = opts.rss ?? false;
  const [file, argv] = useTime ? ["/usr/bin/time", ["-f", "__RSS__%M", cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const r = spawnSync(file, argv, { encoding: "utf8", maxBuffer: 1 << 30, ...opts });
  const ms = performance.now() - t0;
  const stderr = String(r.stderr ?? "");
  const m = /__RSS__(\d+)/.exec(stderr);
  return { ms, code: r.status ?? 1, stdout: String(r.stdout ?? ""), stderr: stderr.replace(/__RSS__\d+\n?/, ""), maxRssKb: m ? Number(m[1]) : undefined };
}

export function must(t: Timed, what: string): Timed {
  if (t.code !== 0) throw new Error(`${what} exited ${t.code}: ${t.stderr.slice(0, 2000)}`);
  return t;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

/** Print one comparison line: medians and the ratio (a / b), plus the median of per-pair ratios. */
export function report(label: string, a: { name: string; ms: number[] }, b: { name: string; ms: number[] }, target?: number): number {
  const ma = median(a.ms);
  const mb = median(b.ms);
  const ratio = ma / mb;
  const pairRatios = a.ms.map((x, i) => x / b.ms[i]!);
  const verdict = target === undefined ? "" : ratio <= target ? `  (target ≤ ${target}: met)` : `  (target ≤ ${target}: NOT met)`;
  console.log(
    `${label}: ${a.name} ${fmt(ma)} vs ${b.name} ${fmt(mb)} (n=${a.ms.length}) → ratio ${ratio.toFixed(3)}; median pair ratio ${median(pairRatios).toFixed(3)}${verdict}`,
  );
  return ratio;
}

/** Numbered scratch databases on a bench cluster: create one (its URL), drop one. */
export function scratchDatabases(adminUrl: string) {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  let n = 0;
  return {
    async fresh(): Promise<string> {
      const name = `bench_${n++}`;
      await admin.unsafe(`create database ${name}`);
      const u = new URL(adminUrl);
      u.pathname = "/" + name;
      return u.toString();
    },
    async drop(url: string): Promise<void> {
      await admin.unsafe(`drop database ${new URL(url).pathname.slice(1)} with (force)`);
    },
    end: () => admin.end(),
  };
}
