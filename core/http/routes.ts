/**
 * The server side of operations: mount an operation as `POST <prefix>/<op
 * path>`. The body is validated with the operation's own input schema; the
 * caller's `resolve` authorises and lends the deps (the tenant's connection,
 * the busy-tenant lock); then the run either streams NDJSON frames (Accept:
 * application/x-ndjson — the CLI) or answers the result as one JSON document.
 * Everything refused before the run is a 4xx JSON error; a failure during a
 * stream is its last frame.
 */
import type { Context, Hono } from "hono";
import { EveError, ExitCode } from "../errors.ts";
import { accessOf, errorToJson, type Operation, type OpDeps } from "../operation.ts";
import { errorBody, httpStatusOf } from "./errors.ts";
import { NDJSON, opPath } from "./wire.ts";

/** What `resolve` lends a run; `release` is called once when it ends (with the error, if any). */
export interface Lease {
  deps: OpDeps;
  release(error?: unknown): Promise<void>;
}

export type ResolveDeps = (c: Context, op: Operation, input: unknown) => Promise<Lease>;

export interface MountOptions {
  /** Authorise what can be before the body is read (the caller's project and the least role the operation needs). */
  preauthorize?(c: Context, op: Operation): Promise<void>;
  /** The request id (for error bodies). */
  requestId(c: Context): string;
  /** Called with an error that ended a run (for the log). */
  onRunError?(c: Context, op: Operation, e: unknown): void;
}

/** Parse a JSON body; an empty body is `{}`. Bad JSON → E_BAD_JSON (400). */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new EveError("E_BAD_JSON", `the request body is not valid JSON: ${(e as Error).message}`, ExitCode.usage);
  }
}

/** Validate with a zod schema; failures → E_VALIDATION (400) listing each issue with its path. */
export function validate<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(body)", message: i.message }));
  throw new EveError("E_VALIDATION", `invalid ${what}: ${issues[0]!.path}: ${issues[0]!.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`, ExitCode.usage, {
    details: { issues },
  });
}

/**
 * Mount `op` as POST <prefix>/<op path>. A read operation whose input has
 * defaults for everything is also served by GET with that default input (the
 * original platform's GET db/schema, db/rls, db/migrations).
 */
export function mountOperation(app: Hono<any>, prefix: string, op: Operation, resolve: ResolveDeps, o: MountOptions): void {
  const empty = op.input.safeParse({});
  const methods = empty.success && accessOf(op, empty.data) === "read" ? ["POST", "GET"] : ["POST"];
  app.on(methods, `${prefix}/${opPath(op.name)}`, async (c) => {
    await o.preauthorize?.(c, op);
    const input = validate(op.input, c.req.method === "GET" ? {} : await readJsonBody(c), `input for ${op.name}`);
    const lease = await resolve(c, op, input);
    const streaming = (c.req.header("accept") ?? "").includes(NDJSON);
    if (!streaming) {
      try {
        const result = await op.run(lease.deps, input, () => {});
        await lease.release();
        return c.json(result as object);
      } catch (e) {
        await lease.release(e).catch(() => {});
        o.onRunError?.(c, op, e);
        return c.json(errorBody(e, o.requestId(c)), httpStatusOf(e) as 400);
      }
    }
    const encoder = new TextEncoder();
    // Frames go through a bounded queue: when the client reads slowly, emit() returns a promise
    // that settles once there is room, so a streaming operation waits instead of buffering.
    const { readable: body, writable } = new TransformStream<Uint8Array, Uint8Array>(undefined, undefined, new CountQueuingStrategy({ highWaterMark: 64 }));
    const writer = writable.getWriter();
    let gone = false;
    const send = (frame: object): void | Promise<void> => {
      if (gone) return;
      const bytes = encoder.encode(JSON.stringify(frame) + "\n");
      writer.write(bytes).catch(() => {
        // The client went away: the run is aborted through the request's signal.
        gone = true;
      });
      if ((writer.desiredSize ?? 1) <= 0) return writer.ready.catch(() => void (gone = true));
    };
    void (async () => {
      let error: unknown;
      try {
        const result = await op.run(lease.deps, input, (event) => send({ event }));
        await send({ result });
      } catch (e) {
        error = e;
        o.onRunError?.(c, op, e);
        await send({ error: e instanceof EveError ? errorToJson(e) : errorBody(e, o.requestId(c)).error });
      }
      await lease.release(error).catch(() => {});
      await writer.close().catch(() => {});
    })();
    return new Response(body, { status: 200, headers: { "content-type": NDJSON, "cache-control": "no-store", "x-request-id": o.requestId(c) } });
  });
}
