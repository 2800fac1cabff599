/**
 * Open a direct-mode connection for a command: resolve the URL (flag, then
 * DATABASE_URL), connect, and check it answers (optionally waiting for it).
 */
import { resolveConnectTimeout, resolveDbUrl } from "../config.ts";
import type { Context } from "../plugin.ts";
import { close, connect, DEFAULT_CONNECT_TIMEOUT, ping, type ConnectOptions, type Db } from "./index.ts";
import { describeTarget, parseDbUrl } from "./url.ts";

export interface DirectOptions {
  url?: string;
  wait?: boolean;
  waitTimeout?: number;
}

export interface DirectDb {
  db: Db;
  url: string;
  /** user@host:port/db, safe to print. */
  label: string;
  close(): Promise<void>;
}

export async function openDirect(ctx: Context, opts: DirectOptions, conn: ConnectOptions = {}): Promise<DirectDb> {
  const url = resolveDbUrl(opts.url, ctx.env);
  const target = parseDbUrl(url, opts.url ? "--url" : "DATABASE_URL");
  const label = describeTarget(target);
  const connectTimeout = conn.connectTimeout ?? target.connectTimeout ?? resolveConnectTimeout(ctx.env) ?? DEFAULT_CONNECT_TIMEOUT;
  const db = connect(url, { ...conn, connectTimeout });
  const waitMs = opts.wait ? (opts.waitTimeout ?? 60_000) : 0;
  if (ctx.debug) ctx.out.log(`connecting to ${label} (connect timeout ${connectTimeout}s)`);
  try {
    await ping(db, url, {
      waitMs,
      signal: ctx.signal,
      onRetry: (failure, attempt) => {
        // One line when waiting starts, then only with --debug.
        const reason = failure.message.replace(/^cannot (?:connect to|use) \S+: /, "");
        if (attempt === 1) ctx.out.log(`waiting for ${label} to accept connections (${reason}); retrying for up to ${Math.round(waitMs / 1000)}s`);
        else if (ctx.debug) ctx.out.log(`attempt ${attempt}: ${reason}`);
      },
    });
  } catch (e) {
    await close(db, 0);
    throw e;
  }
  return { db, url, label, close: () => close(db) };
}
