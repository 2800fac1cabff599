/**
 * `eve server` and `eve server init`: the control plane joined to the
 * runtime's HTTP server and signals. Start-up: EVE_MASTER_KEY is loaded, the
 * platform database (EVE_DATABASE_URL) reached, its schema created/upgraded by
 * our own migrate engine, the key checked against the one the database was
 * initialised with; then the app is served. SIGTERM/Ctrl-C: stop accepting,
 * let in-flight requests finish (up to EVE_SHUTDOWN_GRACE, default 25 s), then
 * cancel what still runs and exit 0.
 */
import { hostname } from "node:os";
import { parseDuration } from "../core/config.ts";
import { close, connect, ping, type Db } from "../core/db/index.ts";
import { EveError, ExitCode, UsageError } from "../core/errors.ts";
import type { Operation } from "../core/operation.ts";
import { definePlugin, type Context, type Plugin } from "../core/plugin.ts";
import * as rt from "../core/runtime/index.ts";

const DEFAULT_LISTEN = "127.0.0.1:8080";

/**
 * The control plane's modules, loaded when a server command runs: every other
 * command (and `eve --version`) starts without evaluating them.
 */
async function serverModules() {
  const [secrets, runner, migrations, app, log, settings, tokens] = await Promise.all([
    import("../core/secrets.ts"),
    import("../plugins/migrate/runner.ts"),
    import("../plugins/platform/migrations.ts"),
    import("../plugins/platform/server/app.ts"),
    import("../plugins/platform/server/log.ts"),
    import("../plugins/platform/settings.ts"),
    import("../plugins/platform/tokens.ts"),
  ]);
  return { ...secrets, ...runner, ...migrations, ...app, ...log, ...settings, ...tokens };
}

/** host:port (IPv6 in brackets); port 0 picks a free one. */
export function parseListen(value: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen must be HOST:PORT such as 127.0.0.1:8080 (got "${value.slice(0, 60)}")`);
  return { hostname: m[1] ?? m[2]!, port };
}

/** Connect to the platform database and bring its schema up to date; the key is checked. */
async function openPlatform(ctx: Context) {
  const { loadMasterKey, ensurePlatformSchema, migrate, verifyMasterKey } = await serverModules();
  const key = await loadMasterKey(ctx.env);
  const url = ctx.env.EVE_DATABASE_URL;
  if (!url) {
    throw new UsageError("EVE_DATABASE_URL is not set: the control plane keeps its state in a Postgres database", {
      hint: "set EVE_DATABASE_URL=postgres://user:pass@host:5432/eve (the role needs CREATE on that database)",
    });
  }
  const db = connect(url, { max: 10, applicationName: "eve server" });
  try {
    await ping(db, url, { waitMs: 30_000, signal: ctx.signal });
    await ensurePlatformSchema(db, (conn, files) => migrate(conn, files, { database: "platform", directory: "eve_platform", lockTimeoutMs: 60_000 }));
    await verifyMasterKey(db, key);
  } catch (e) {
    await close(db, 0);
    throw e;
  }
  return { db: db as Db, key };
}

export function serverPlugin(operations: () => Operation[]): Plugin {
  return definePlugin({
    name: "server",
    groups: { server: "run the control plane" },
    commands: [
      {
        path: ["server"],
        summary: "run the control plane (HTTP API) on EVE_DATABASE_URL",
        description:
          "Serves the eve API: tokens, instances, projects, environments, the manifest, and every eve db\n" +
          "operation on the environments' managed databases (see /openapi.json). State lives in the schema\n" +
          "eve_platform of EVE_DATABASE_URL, created and upgraded at start; several replicas may share it.\n" +
          "Secrets are encrypted with EVE_MASTER_KEY (32 bytes, base64 or hex). Logs are JSON lines on\n" +
          "stderr. /healthz answers while the process runs, /readyz when the platform database answers and\n" +
          "its schema is current. SIGTERM: stop accepting, finish in-flight requests, exit 0.",
        options: [{ flags: "--listen <host:port>", description: `address to listen on (default: $EVE_LISTEN, else ${DEFAULT_LISTEN})` }],
        examples: ["EVE_DATABASE_URL=postgres://… EVE_MASTER_KEY=$(openssl rand -base64 32) eve server --listen 127.0.0.1:8080"],
        termGraceMs: 30_000,
        async run(ctx, opts: { listen?: string }) {
          const listen = parseListen(opts.listen ?? ctx.env.EVE_LISTEN ?? DEFAULT_LISTEN);
          const graceMs = ctx.env.EVE_SHUTDOWN_GRACE ? parseDuration(ctx.env.EVE_SHUTDOWN_GRACE, "EVE_SHUTDOWN_GRACE") : 25_000;
          const { jsonLogger, bootstrapAdminToken, buildApp, platformStatus } = await serverModules();
          const log = jsonLogger((text) => ctx.out.log(text.trimEnd()), { batchMs: 50 });
          const { db, key } = await openPlatform(ctx);
          if (ctx.env.EVE_ADMIN_TOKEN) await bootstrapAdminToken(db, ctx.env.EVE_ADMIN_TOKEN);
          const shutdown = new AbortController();
          const replica = `${hostname()}:${rt.pid()}`;
          const app = buildApp({
            db,
            platformUrl: ctx.env.EVE_DATABASE_URL!,
            key,
            operations: operations(),
            log,
            replica,
            version: ctx.version,
            toolEnv: ctx.env,
            shutdown: shutdown.signal,
            async ready() {
              const s = await platformStatus(db);
              return s.current ? { ready: true } : { ready: false, reason: `platform migrations pending: ${s.pending.join(", ")}` };
            },
          });
          let server: rt.HttpServer;
          try {
            server = rt.serve(app.fetch, listen);
          } catch (e) {
            await close(db, 0);
            throw new EveError("E_LISTEN", `cannot listen on ${opts.listen ?? DEFAULT_LISTEN}: ${(e as Error).message}`, ExitCode.error, { hint: "pick another --listen port" });
          }
          log.info("listening", { url: server.url, replica, version: ctx.version });
          log.flush();
          // The URL on stdout alone, for scripts and tests (port 0).
          ctx.out.print(server.url);
          await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
          log.info("shutting down: finishing in-flight requests", { grace_ms: graceMs });
          const cancel = setTimeout(() => shutdown.abort(new EveError("E_SHUTDOWN", "the server is shutting down", ExitCode.terminated)), graceMs);
          await server.stop();
          clearTimeout(cancel);
          await close(db);
          log.info("stopped");
          log.flush();
          return ExitCode.ok;
        },
      },
      {
        path: ["server", "init"],
        summary: "create or upgrade the platform schema and print the first admin token once",
        description:
          "Connects to EVE_DATABASE_URL, creates or upgrades the schema eve_platform, records EVE_MASTER_KEY's\n" +
          "check, and creates the first admin token, printing it once (store it: it is kept only hashed).\n" +
          "With EVE_ADMIN_TOKEN set, that value becomes the admin token instead. Safe to re-run: when an\n" +
          "admin token exists, nothing is created.",
        async run(ctx) {
          const { bootstrapAdminToken } = await serverModules();
          const { db } = await openPlatform(ctx);
          try {
            const r = await bootstrapAdminToken(db, ctx.env.EVE_ADMIN_TOKEN);
            if (r.token) {
              ctx.out.log("platform ready; the first admin token (shown once, store it now):");
              ctx.out.print(r.token);
            } else {
              ctx.out.log(ctx.env.EVE_ADMIN_TOKEN ? "platform ready; EVE_ADMIN_TOKEN is the admin token" : "platform ready; an admin token already exists (create more with eve token create --admin)");
            }
          } finally {
            await close(db);
          }
        },
      },
    ],
  });
}
