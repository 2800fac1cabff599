/**
 * Run an operation the way core/op-command.ts runs it locally (a real
 * connection with the op's session options, notices routed to the op's
 * handler; none at all for `connects: false`) and check that what it produced
 * survives the wire: the result and every event as JSON through the op's zod
 * schemas (the same text after, key order included), and its error through
 * errorToJson / errorFromJson. Shared by the operation tests of every plugin.
 */
import { expect } from "bun:test";
import { close, connect, describeTarget, parseDbUrl, type Notice } from "../../core/db/index.ts";
import { EveError } from "../../core/errors.ts";
import { noConnection } from "../../core/op-command.ts";
import { errorFromJson, errorToJson, type Operation, type OpDeps } from "../../core/operation.ts";

export interface OpRun<R, E> {
  result?: R;
  events: E[];
  error?: unknown;
}

/** Run `op` on `url` (none: no connection) with `raw` parsed by op.input first, as the command and the route do; `extra` overrides deps. */
export async function runOp<I, R, E>(op: Operation<I, R, E>, url: string | undefined, raw: unknown, extra: Partial<OpDeps> = {}): Promise<OpRun<R, E>> {
  const input = op.input.parse(raw);
  let onNotice: (n: Notice) => void = () => {};
  const db = url ? connect(url, { ...op.connection?.(input), onNotice: (n) => onNotice(n) }) : noConnection(op.name);
  const deps: OpDeps = {
    db,
    url: url ?? "",
    label: url ? describeTarget(parseDbUrl(url)) : "",
    mode: "direct",
    onNotice: (h) => void (onNotice = h),
    toolEnv: {},
    now: () => new Date(),
    signal: new AbortController().signal,
    ...extra,
  };
  const events: E[] = [];
  try {
    return { result: await op.run(deps, input, (e) => void events.push(e)), events };
  } catch (error) {
    return { events, error };
  } finally {
    if (url) await close(db);
  }
}

/** The result and events as the other side of the wire gets them, parsed by the op's schemas (the same JSON text after). */
export function overTheWire<I, R, E>(op: Operation<I, R, E>, run: OpRun<R, E>): { result: R; events: E[] } {
  expect(run.error).toBeUndefined();
  const result = op.result.parse(JSON.parse(JSON.stringify(run.result)));
  const events = run.events.map((e) => op.event.parse(JSON.parse(JSON.stringify(e))));
  // Same text: the engine's keys are in the schemas' order, so validating on either side changes nothing.
  expect(JSON.stringify(result)).toBe(JSON.stringify(run.result));
  expect(events.map((e) => JSON.stringify(e))).toEqual(run.events.map((e) => JSON.stringify(e)));
  return { result, events };
}

/** The error thrown, as the other side gets it: same code, exit code, message, hint, context and details (as JSON). */
export function errorOverTheWire(error: unknown): EveError {
  expect(error).toBeInstanceOf(EveError);
  const e = error as EveError;
  const back = errorFromJson(JSON.parse(JSON.stringify(errorToJson(e))));
  expect([back.code, back.exitCode, back.message, back.hint]).toEqual([e.code, e.exitCode, e.message, e.hint]);
  expect(back.context).toEqual(e.context?.length ? e.context : undefined);
  expect(back.details).toEqual(e.details === undefined ? undefined : JSON.parse(JSON.stringify(e.details)));
  return back;
}
