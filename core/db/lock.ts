/**
 * Session-level advisory locks, taken by polling pg_try_advisory_lock so a
 * waiting runner never blocks inside the server and can time out or be
 * cancelled cleanly.
 */
import { createHash } from "node:crypto";
import { EveError, ExitCode, InterruptedError } from "../errors.ts";
import type { Db } from "./index.ts";

/** A stable signed 64-bit key (as a decimal string) for a name. */
export function advisoryKey(name: string): string {
  const h = createHash("sha256").update(name).digest();
  return BigInt.asIntN(64, h.readBigUInt64BE(0)).toString();
}

export interface LockOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once when the lock is busy, with the holder's backend pid if visible. */
  onWait?: (holderPid: number | null) => void;
  pollMs?: number;
  /** Used in the timeout message. */
  what?: string;
}

/** Acquire a session advisory lock on the (single) connection of `db`. */
export async function acquireAdvisoryLock(db: Db, key: string, opts: LockOptions): Promise<() => Promise<void>> {
  const deadline = Date.now() + opts.timeoutMs;
  let warned = false;
  for (;;) {
    const [row] = await db`select pg_try_advisory_lock(${key}::bigint) as ok`;
    if (row?.ok) {
      return async () => {
        await db`select pg_advisory_unlock(${key}::bigint)`.catch(() => {});
      };
    }
    const holder = await lockHolder(db, key);
    if (!warned) {
      warned = true;
      opts.onWait?.(holder);
    }
    if (opts.signal?.aborted) throw new InterruptedError("interrupted while waiting for the lock");
    if (Date.now() >= deadline) {
      throw new EveError(
        "E_LOCK_TIMEOUT",
        `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for the ${opts.what ?? "advisory"} lock` +
          (holder ? ` (held by server process ${holder})` : ""),
        ExitCode.lockTimeout,
        { hint: "another run is in progress; wait for it or raise --lock-timeout" },
      );
    }
    const base = opts.pollMs ?? 200;
    await sleep(Math.min(base + Math.floor(Math.random() * base), Math.max(10, deadline - Date.now())), opts.signal);
  }
}

async function lockHolder(db: Db, key: string): Promise<number | null> {
  const big = BigInt(key);
  // pg_locks shows a bigint key as two unsigned 32-bit oids.
  const hi = Number(BigInt.asUintN(32, big >> 32n));
  const lo = Number(BigInt.asUintN(32, big));
  const rows = await db`
    select pid from pg_locks
    where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
      and classid::bigint = ${hi} and objid::bigint = ${lo} and objsubid = 1
    limit 1`.catch(() => []);
  return (rows[0]?.pid as number | undefined) ?? null;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
