/**
 * Run an operation the way core/op-command.ts local() does, against a real
 * test database: deps from a connection with the operation's session options,
 * events collected, and the JSON round trip of its result, events and error
 * checked against the operation's own schemas (what crosses the wire).
 */
import { expect } from "bun:test";
import { close, connect, describeTarget, parseDbUrl, type Notice } from "../../../core/db/index.ts";
import { EveError } from "../../../core/errors.ts";
import { errorFromJson, errorToJson, type Operation, type OpDeps } from "../../../core/operation.ts";

export interface OpRun<R, E> {
  result?: R;
  error?: EveError;
  events: E[];
}

/** Run `op` on `url` with `input` (parsed by op.input, as a request body would be); `extra` overrides deps (mode, hooks). */
export async function runOp<I, R, E>(op: Operation<I, R, E>, url: string, input: unknown, extra: Partial<OpDeps> = {}): Promise<OpRun<R, E>> {
  const parsed = op.input.parse(input);
  let onNotice: (n: Notice) => void = () => {};
  const db = connect(url, { ...op.connection?.(parsed), onNotice: (n) => onNotice(n) });
  const events: E[] = [];
  const deps: OpDeps = {
    db,
    url,
    label: describeTarget(parseDbUrl(url)),
    mode: "direct",
    onNotice: (h) => void (onNotice = h),
    toolEnv: {},
    now: () => new Date(),
    signal: new AbortController().signal,
    ...extra,
  };
  try {
    return { result: await op.run(deps, parsed, (e) => void events.push(e)), events };
  } catch (e) {
    if (!(e instanceof EveError)) throw e;
    return { error: e, events };
  } finally {
    await close(db);
  }
}

/** Everything a run produced survives JSON: the result and each event parse with the op's schemas, the error keeps its fields. */
export function expectWireSafe<R, E>(op: Operation<any, R, E>, run: OpRun<R, E>): void {
  const wire = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));
  if (run.result !== undefined) expect(op.result.parse(wire(run.result))).toEqual(run.result);
  for (const e of run.events) expect(op.event.parse(wire(e))).toEqual(e);
  if (run.error) {
    const back = errorFromJson(wire(errorToJson(run.error)) as ReturnType<typeof errorToJson>);
    expect(back).toBeInstanceOf(EveError);
    expect({ code: back.code, exitCode: back.exitCode, message: back.message, hint: back.hint, context: back.context }).toEqual({
      code: run.error.code,
      exitCode: run.error.exitCode,
      message: run.error.message,
      hint: run.error.hint,
      context: run.error.context,
    });
    expect(back.details as unknown).toEqual(run.error.details === undefined ? undefined : wire(run.error.details));
  }
}
