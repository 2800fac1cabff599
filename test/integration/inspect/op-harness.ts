/**
 * The inspect and rls operation tests' harness: test/helpers/op-run.ts with
 * results labelled "test", and a catalog held locked by another session.
 */
import postgres from "postgres";
import { runOp as run, type OpRun } from "../../helpers/op-run.ts";
import type { Operation } from "../../../core/operation.ts";

export { errorOverTheWire, overTheWire, type OpRun } from "../../helpers/op-run.ts";

/** Run `op` on `url` with `input`, its results labelled `label`. */
export function runOp<I, R, E>(op: Operation<I, R, E>, url: string, raw: unknown, label = "test"): Promise<OpRun<R, E>> {
  return run(op, url, raw, { label });
}

/** Hold ACCESS EXCLUSIVE on a catalog in another session while `fn` runs (its readers wait, then time out). */
export async function withCatalogLocked<T>(u: string, catalog: string, fn: () => Promise<T>): Promise<T> {
  const sql = postgres(u, { max: 1, onnotice: () => {} });
  let release: (() => void) | undefined;
  let locked!: () => void;
  const held = new Promise<void>((r) => (locked = r));
  const done = sql.begin(async (tx) => {
    await tx.unsafe(`lock table pg_catalog.${catalog} in access exclusive mode`);
    locked();
    await new Promise<void>((r) => (release = r));
  });
  try {
    await Promise.race([held, done]);
    return await fn();
  } finally {
    release?.();
    await done.catch(() => {});
    await sql.end();
  }
}
