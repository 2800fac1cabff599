/**
 * The operation wire format shared by the server routes and the CLI client.
 * A streamed run is NDJSON (`application/x-ndjson`): one frame per line,
 * `{"event": …}` any number of times, then exactly one `{"result": …}` or
 * `{"error": …}`. A request refused before the run starts (authentication,
 * validation, a busy tenant) is a plain JSON error body with a 4xx status:
 * `{"error": {code, message, exitCode, hint?, details?, request_id}}`.
 */
import type { ErrorJson } from "../operation.ts";

export const NDJSON = "application/x-ndjson";

export type Frame<E = unknown, R = unknown> = { event: E } | { result: R } | { error: ErrorJson };

/** The JSON error body of a refused request. */
export interface ErrorBody {
  error: ErrorJson & { request_id?: string };
}

/** The route of an operation under a tenant: "db.rls.init" → "db/rls/init". */
export function opPath(name: string): string {
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(name)) throw new Error(`bad operation name ${name}`);
  return name.split(".").join("/");
}

/** Split a byte stream into parsed NDJSON frames. */
export async function* readFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const decoder = new TextDecoder();
  let buf = "";
  // Where the search for the next newline resumes: a long frame arriving in many chunks is scanned once.
  let from = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf("\n", Math.max(from, start))) >= 0) {
      const line = buf.slice(start, nl);
      start = nl + 1;
      from = 0;
      if (line.trim()) yield JSON.parse(line) as Frame;
    }
    buf = buf.slice(start);
    from = buf.length;
  }
  buf += decoder.decode();
  if (buf.trim()) yield JSON.parse(buf) as Frame;
}
