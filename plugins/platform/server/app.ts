/**
 * The control plane's HTTP application (Hono, Web-standard: served by
 * Bun.serve or Deno.serve in cli/serve.ts, and called in-process by tests
 * with app.request()). Middleware, in order: request id (X-Request-ID accepted
 * when well-formed, else generated; always echoed), access log, body limit
 * (413), bearer authentication (all but /healthz, /readyz, /openapi.json),
 * Idempotency-Key; then the platform routes and one route per operation.
 * Every error is `{error:{code,message,…,request_id}}` with a 4xx/5xx status.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { isPostgresError, mapDbError, type Db } from "../../../core/db/index.ts";
import { EveError, ExitCode } from "../../../core/errors.ts";
import { errorBody, httpStatusOf } from "../../../core/http/errors.ts";
import type { Operation } from "../../../core/operation.ts";
import type { MasterKey } from "../../../core/secrets.ts";
import { newId } from "../ids.ts";
import { authenticate, type TokenRecord } from "../tokens.ts";
import { idempotency } from "./idempotency.ts";
import type { Logger } from "./log.ts";
import { openApiDocument } from "./openapi.ts";
import { adminRoutes } from "./routes-admin.ts";
import { opRoutes } from "./routes-ops.ts";
import { projectRoutes } from "./routes-projects.ts";

export interface ServerConfig {
  /** The platform database (search_path eve_platform). */
  db: Db;
  /** Its URL, for the connections a deploy takes outside the pool (its lock). */
  platformUrl: string;
  key: MasterKey;
  /** Every operation the binary has; each becomes POST /projects/:p/envs/:e/<op path>. */
  operations: Operation[];
  log: Logger;
  /** This replica's name (host:pid), recorded on the operations it runs. */
  replica: string;
  version: string;
  /** Largest request body (default 16 MiB). */
  maxBodyBytes?: number;
  /** Environment for client tools (pg_dump…). */
  toolEnv: Record<string, string | undefined>;
  /** /readyz: the platform database answers and its schema is current. */
  ready(): Promise<{ ready: boolean; reason?: string }>;
  /** Aborted when the server shuts down: running operations are cancelled. */
  shutdown: AbortSignal;
}

export type AppEnv = { Variables: { requestId: string; token: TokenRecord } };
export type AppContext = Context<AppEnv>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PUBLIC = new Set(["/healthz", "/readyz", "/openapi.json"]);

export function buildApp(cfg: ServerConfig): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const requestId = (c: Context) => (c.get("requestId") as string | undefined) ?? "unknown";

  app.use(async (c, next) => {
    const given = c.req.header("x-request-id");
    const id = given && REQUEST_ID.test(given) ? given : newId("req");
    c.set("requestId", id);
    const t0 = performance.now();
    await next();
    c.header("x-request-id", id);
    const token = c.get("token") as TokenRecord | undefined;
    cfg.log.info("request", {
      request_id: id,
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      ms: Math.round((performance.now() - t0) * 10) / 10,
      ...(token ? { token_id: token.id } : {}),
    });
  });

  app.onError((raw, c) => {
    // A postgres.js or socket error from the platform database: mapped (SQLSTATE kept, secrets redacted), never a bare 500.
    const err = raw instanceof EveError || !(isPostgresError(raw) || typeof (raw as { code?: unknown }).code === "string") ? raw : mapDbError(raw);
    const status = httpStatusOf(err);
    if (status >= 500) cfg.log.error("request failed", { request_id: requestId(c), error: String((err as Error).stack ?? err) });
    return c.json(errorBody(err, requestId(c)), status as 500);
  });
  app.notFound((c) => c.json(errorBody(new EveError("E_NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`, ExitCode.usage), requestId(c)), 404));

  app.use(
    bodyLimit({
      maxSize: cfg.maxBodyBytes ?? 16 * 1024 * 1024,
      onError: (c) => {
        const mib = Math.round((cfg.maxBodyBytes ?? 16 * 1024 * 1024) / 1024 / 1024);
        const e = new EveError("E_TOO_LARGE", `the request body is larger than ${mib} MiB`, ExitCode.usage, { hint: "send fewer or smaller migrations per request" });
        return c.json(errorBody(e, requestId(c)), 413);
      },
    }),
  );

  app.get("/healthz", (c) => c.json({ ok: true, version: cfg.version, replica: cfg.replica }));
  app.get("/readyz", async (c) => {
    const r = await cfg.ready().catch((e) => ({ ready: false, reason: (e as Error).message }));
    return c.json(r, r.ready ? 200 : 503);
  });
  app.get("/openapi.json", (c) => c.json(openApiDocument(cfg.operations, cfg.version)));

  app.use(async (c, next) => {
    if (PUBLIC.has(new URL(c.req.url).pathname)) return next();
    const auth = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) {
      throw new EveError("E_UNAUTHENTICATED", auth ? "the Authorization header must be `Bearer <token>`" : "no token: send Authorization: Bearer eve_pat_…", ExitCode.connection);
    }
    c.set("token", await authenticate(cfg.db, m[1]!));
    return next();
  });
  app.use(idempotency(cfg.db));

  adminRoutes(app, cfg);
  projectRoutes(app, cfg);
  opRoutes(app, cfg, requestId);
  return app;
}
