/**
 * Run an operation the way core/op-command.ts runs it locally (a real
 * connection with the op's session options, notices routed to the op's
 * handler) and check that what it produced survives the wire: the result and
 * every event as JSON through the op's zod schemas (the same text after, key
 * order included), and its error through errorToJson / errorFromJson. Shared by the inspect and rls op tests.
 */
import { expect } from "bun:test";
import postgres from "postgres";
import { close, connect, type Notice } from "../../../core/db/index.ts";
import { EveError } from "../../../core/errors.ts";
import { errorFromJson, errorToJson, type Operation, type OpDeps } from "../../../core/operation.ts";

export interface OpRun<R, E> {
  result?: R;
  events: E[];
  error?: unknown;
}

/** Run `op` on `url` with `input` (parsed by op.input first, as the command and the route do). */
export async function runOp<I, R, E>(op: Operation<I, R, E>, url: string, raw: unknown, label = "test"): Promise<OpRun<R, E>> {
  const input = op.input.parse(raw);
  let onNotice: (n: Notice) => void = () => {};
  const db = connect(url, { ...op.connection?.(input), onNotice: (n) => onNotice(n) });
  const deps: OpDeps = {
    db,
    url,
    label,
    mode: "direct",
    onNotice: (h) => void (onNotice = h),
    toolEnv: {},
    now: () => new Date(),
    signal: new AbortController().signal,
  };
  const events: E[] = [];
  try {
    return { result: await op.run(deps, input, (e) => void events.push(e)), events };
  } catch (error) {
    return { events, error };
  } finally {
    await close(db);
  }
}

/** The result and events as the other side of the wire gets them, parsed by the op's schemas. */
export function overTheWire<I, R, E>(op: Operation<I, R, E>, run: OpRun<R, E>): { result: R; events: E[] } {
  expect(run.error).toBeUndefined();
  const result = op.result.parse(JSON.parse(JSON.stringify(run.result)));
  const events = run.events.map((e) => op.event.parse(JSON.parse(JSON.stringify(e))));
  // Same text: the engine's keys are in the schemas' order, so validating on either side changes nothing.
  expect(JSON.stringify(result)).toBe(JSON.stringify(run.result));
  expect(events.map((e) => JSON.stringify(e))).toEqual(run.events.map((e) => JSON.stringify(e)));
  return { result, events };
}

/** The error thrown, as the other side gets it: same code, exit code, message, hint, context and details. */
export function errorOverTheWire(error: unknown): EveError {
  expect(error).toBeInstanceOf(EveError);
  const e = error as EveError;
  const back = errorFromJson(JSON.parse(JSON.stringify(errorToJson(e))));
  expect(back.code).toBe(e.code);
  expect(back.exitCode).toBe(e.exitCode);
  expect(back.message).toBe(e.message);
  expect(back.hint).toBe(e.hint);
  expect(back.context).toEqual(e.context?.length ? e.context : undefined);
  expect(back.details).toEqual(e.details);
  return back;
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
