/** Postgres version strings, pure. */

export interface PgVersion {
  /** 15, 16, … (9.6 style for versions before 10). */
  major: number;
  /** 8 in 15.8 (the patch level); 0 for betas and release candidates. */
  minor: number;
  /** As printed: "15.8", "17beta2", "9.6.24". */
  text: string;
}

/**
 * Parse the output of `pg_dump --version` (or psql/pg_restore), or a
 * `server_version` setting.
 * @example parsePgVersion("pg_dump (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)") // { major: 15, minor: 8, text: "15.8" }
 */
export function parsePgVersion(output: string): PgVersion | null {
  const line = output.trim();
  const m =
    /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?((?:devel|alpha|beta|rc)\d*)?/i.exec(line) ??
    /^(\d+)(?:\.(\d+))?(?:\.(\d+))?((?:devel|alpha|beta|rc)\d*)?(?:\s|$)/i.exec(line);
  if (!m) return null;
  const a = Number(m[1]);
  const b = m[2] === undefined ? undefined : Number(m[2]);
  const c = m[3] === undefined ? undefined : Number(m[3]);
  const pre = m[4] ?? "";
  if (a < 10) {
    if (b === undefined) return null;
    return { major: a + b / 10, minor: c ?? 0, text: `${a}.${b}${c === undefined ? "" : "." + c}${pre}` };
  }
  return { major: a, minor: pre ? 0 : (b ?? 0), text: `${a}${b === undefined ? "" : "." + b}${pre}` };
}

/**
 * The major version from `server_version_num` (SHOW server_version_num).
 * @example majorFromVersionNum(150008) // 15
 * @example majorFromVersionNum(90624) // 9.6
 */
export function majorFromVersionNum(num: number | string): number {
  const n = Number(num);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`not a server_version_num: ${num}`);
  if (n >= 100000) return Math.floor(n / 10000);
  return Math.floor(n / 10000) + Math.floor((n % 10000) / 100) / 10;
}

/** "15", "9.6". */
export function formatMajor(major: number): string {
  return Number.isInteger(major) ? String(major) : major.toFixed(1);
}
