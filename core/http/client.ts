/**
 * The CLI side of the control plane: run an operation remotely (its events
 * replayed as they arrive, then its result or error) and plain JSON requests
 * for the platform endpoints. Errors come back as the server's EveErrors;
 * transport failures are connection errors (exit 3) naming the API URL,
 * never the token.
 */
import { ConnectionError, EveError, ExitCode } from "../errors.ts";
import { errorFromJson, type ErrorJson } from "../operation.ts";
import type { Remote } from "../remote.ts";
import { NDJSON, opPath, readFrames, type ErrorBody } from "./wire.ts";

export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

async function send(remote: Remote, method: string, path: string, body: unknown, accept: string, o: RequestOptions): Promise<Response> {
  const url = `${remote.api}${path}`;
  try {
    return await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${remote.token}`,
        accept,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...o.headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: o.signal,
    });
  } catch (e) {
    if (o.signal?.aborted) throw o.signal.reason ?? e;
    throw new ConnectionError("E_API_UNREACHABLE", `cannot reach the control plane at ${remote.api}: ${(e as Error).message}`, {
      hint: "check --api / EVE_API_URL and that eve server is running",
    });
  }
}

/** The EveError of a non-2xx response (the server's error body, or the status when there is none). */
async function failure(remote: Remote, res: Response): Promise<EveError> {
  let body: Partial<ErrorBody> | undefined;
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    body = undefined;
  }
  const err = body?.error;
  if (err && typeof err.code === "string" && typeof err.message === "string") {
    const e = errorFromJson(err as ErrorJson);
    if (res.status === 401) return new EveError(e.code, e.message, ExitCode.connection, { hint: e.hint ?? "check the token (eve login, EVE_TOKEN)", details: e.details });
    return e;
  }
  return new EveError("E_API", `the control plane at ${remote.api} answered ${res.status} ${res.statusText}`, res.status === 401 ? ExitCode.connection : ExitCode.error);
}

/** A JSON request to a platform endpoint; returns the parsed body. */
export async function apiRequest<T = unknown>(remote: Remote, method: string, path: string, body?: unknown, o: RequestOptions = {}): Promise<T> {
  const res = await send(remote, method, path, body, "application/json", o);
  if (!res.ok) throw await failure(remote, res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** The path of a tenant's operation route. */
export function tenantOpPath(project: string, env: string, opName: string): string {
  return `/projects/${encodeURIComponent(project)}/envs/${encodeURIComponent(env)}/${opPath(opName)}`;
}

/**
 * Run an operation on the control plane: POST the input, replay each event
 * into `onEvent` as it arrives, return the result or throw the run's error.
 */
export async function runRemote<R, E>(
  remote: Remote,
  path: string,
  input: unknown,
  onEvent: (e: E) => void | Promise<void>,
  o: RequestOptions = {},
): Promise<R> {
  const res = await send(remote, "POST", path, input, NDJSON, o);
  if (!res.ok) throw await failure(remote, res);
  if (!res.body) throw new ConnectionError("E_API_STREAM", `the control plane at ${remote.api} sent no body`);
  try {
    for await (const frame of readFrames(res.body)) {
      if ("event" in frame) {
        // The renderer is behind (a slow stdout): stop reading, so the server's stream backs up too.
        const p = onEvent(frame.event as E);
        if (p) await p;
      }
      else if ("result" in frame) return frame.result as R;
      else if ("error" in frame) throw errorFromJson(frame.error);
    }
  } catch (e) {
    if (e instanceof EveError) throw e;
    if (o.signal?.aborted) throw o.signal.reason ?? e;
    throw new ConnectionError("E_API_STREAM", `the stream from ${remote.api} broke: ${(e as Error).message}`);
  }
  throw new ConnectionError("E_API_STREAM", `the control plane at ${remote.api} closed the stream before the result`, {
    hint: "the server may have stopped; check its logs and the operation's state",
  });
}
