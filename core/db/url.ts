/**
 * Database URL parsing and redaction. A URL with a password never leaves this
 * module unredacted unless the caller asks for the raw value on purpose.
 */
import { UsageError } from "../errors.ts";

/** Replace the password (and any `password=` query value) in a Postgres URL with `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const key of ["password", "sslpassword"]) {
      if (u.searchParams.has(key)) u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    // Not parseable: blank out anything that looks like user:pass@.
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
  }
}

/** Remove every occurrence of the given secrets (and URL passwords) from a text. */
export function redactText(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*):[^@\s/]*@/g, "$1:***@");
  for (const s of secrets) {
    if (s && s.length >= 3) out = out.split(s).join("***");
  }
  return out;
}

export interface DbTarget {
  /** The full URL including credentials; never print it. */
  url: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

/** Parse and validate a postgres:// URL; errors name the flag to fix. */
export function parseDbUrl(url: string, source = "--url"): DbTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${source} is not a valid URL: ${redactUrl(url)}`, {
      hint: "use the form postgres://user@host:5432/database, with the password as user:password@ or in PGPASSWORD",
    });
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new UsageError(`${source} must start with postgres:// or postgresql:// (got ${u.protocol}//)`, {
      hint: "use the form postgres://user@host:5432/database, with the password as user:password@ or in PGPASSWORD",
    });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  return {
    url,
    host: decodeURIComponent(u.hostname) || "localhost",
    port: u.port ? Number(u.port) : 5432,
    database: database || decodeURIComponent(u.username) || "postgres",
    user: decodeURIComponent(u.username),
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/** The same URL pointing at another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

/** A short description safe for output: user@host:port/db. */
export function describeTarget(t: DbTarget): string {
  return `${t.user ? t.user + "@" : ""}${t.host}:${t.port}/${t.database}`;
}
