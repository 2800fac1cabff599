/**
 * Idempotency-Key on POST/DELETE: the first request with a key (per token)
 * runs and, when it succeeds, its JSON response is kept for 24 hours; a retry
 * with the same key and the same body gets that response again without
 * running anything (a failed request is forgotten: fix it and retry); the
 * same key with another body is 422; a retry while the first is still running
 * is 409. Streamed operation runs (NDJSON) are not replayable: the key is
 * released when they end, so a retry after a dropped stream runs again (the
 * operations are themselves safe to re-run: migrate applies only what is
 * pending, wipe and reset need --force).
 */
import type { MiddlewareHandler } from "hono";
import type { Db } from "../../../core/db/index.ts";
import { EveError, ExitCode } from "../../../core/errors.ts";
import { NDJSON } from "../../../core/http/wire.ts";
import { sha256 } from "../../../core/migrations/files.ts";
import type { TokenRecord } from "../tokens.ts";

const KEY = /^[A-Za-z0-9._:-]{1,255}$/;

export function idempotency(db: Db): MiddlewareHandler {
  return async (c, next) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined || (c.req.method !== "POST" && c.req.method !== "DELETE")) return next();
    if (!KEY.test(key)) throw new EveError("E_USAGE", "Idempotency-Key must be 1-255 characters of A-Z a-z 0-9 . _ : -", ExitCode.usage);
    const token = c.get("token") as TokenRecord;
    const path = new URL(c.req.url).pathname;
    const bodyHash = sha256(await c.req.raw.clone().text());
    // Claim the key; an entry older than 24 hours is expired and taken over.
    const [claimed] = await db<{ status: number }[]>`
      insert into eve_platform.idempotency (token_id, key, method, path, body_sha256, status, response)
      values (${token.id}, ${key}, ${c.req.method}, ${path}, ${bodyHash}, 0, null)
      on conflict (token_id, key) do update
        set method = excluded.method, path = excluded.path, body_sha256 = excluded.body_sha256,
            status = 0, response = null, created_at = now()
        where idempotency.created_at <= now() - interval '24 hours'
      returning status`;
    if (!claimed) {
      const [prev] = await db<{ method: string; path: string; body_sha256: string; status: number; response: unknown }[]>`
        select method, path, body_sha256, status, response from eve_platform.idempotency where token_id = ${token.id} and key = ${key}`;
      if (!prev) throw new EveError("E_CONFLICT", "this Idempotency-Key is being reused concurrently", ExitCode.error, { hint: "retry" });
      if (prev.method !== c.req.method || prev.path !== path || prev.body_sha256 !== bodyHash) {
        throw new EveError("E_IDEMPOTENCY", "this Idempotency-Key was used for a different request", ExitCode.usage, {
          hint: "use a new key for a new request",
        });
      }
      if (prev.status === 0) {
        throw new EveError("E_CONFLICT", "a request with this Idempotency-Key is still running", ExitCode.error, { hint: "retry after it finished" });
      }
      c.header("idempotent-replayed", "true");
      return c.json(prev.response as object, prev.status as 200);
    }
    try {
      await next();
    } catch (e) {
      await db`delete from eve_platform.idempotency where token_id = ${token.id} and key = ${key}`.catch(() => {});
      throw e;
    }
    const res = c.res;
    const type = res.headers.get("content-type") ?? "";
    // Only a success is remembered: after an error the client may fix the request and retry with the same key.
    if (type.includes(NDJSON) || !type.includes("application/json") || res.status >= 300) {
      await db`delete from eve_platform.idempotency where token_id = ${token.id} and key = ${key}`.catch(() => {});
      return;
    }
    const body = await res.clone().json().catch(() => null);
    await db`update eve_platform.idempotency set status = ${res.status}, response = ${db.json(body as never)} where token_id = ${token.id} and key = ${key}`;
  };
}
