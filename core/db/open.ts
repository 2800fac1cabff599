/**
 * Open a direct-mode connection for a command: resolve the URL (flag, then
 * DATABASE_URL), connect, and check it answers (optionally waiting for it).
 */
import { resolveDbUrl } from "../config.ts";
import type { Context } from "../plugin.ts";
import { close, connect, ping, type ConnectOptions, type Db } from "./index.ts";
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
  const db = connect(url, conn);
  try {
    await ping(db, url, opts.wait ? (opts.waitTimeout ?? 60_000) : 0);
  } catch (e) {
    await close(db, 0);
    throw e;
  }
  return { db, url, label: describeTarget(target), close: () => close(db) };
}
