/**
 * Database URL parsing and redaction. A URL with a password never leaves this
 * module unredacted unless the caller asks for the raw value on purpose.
 *
 * Redaction is textual and errs on the side of hiding too much: in a
 * postgres:// URL everything between `user:` and the LAST `@` of the URL (a
 * password may hold unencoded `@`, `:`, `/`, `?` or `#`) is starred, and so are
 * `password=` values in query strings and key=value conninfo strings.
 */
import { UsageError } from "../errors.ts";

const URL_HINT = "use the form postgres://user@host:5432/database, with the password as user:password@ (percent-encoded) or in PGPASSWORD";

/**
 * Replace the password (and any `password=` value) in one Postgres URL or
 * conninfo string with `***`. The whole string is the URL: a password may even
 * hold spaces, so the userinfo runs to the last `@` of the string.
 */
export function redactUrl(url: string): string {
  const m = /^(\s*postgres(?:ql)?:\/\/)([\s\S]*)$/i.exec(url);
  return redactText(m ? m[1]! + redactAuthority(m[2]!) : url);
}

/** Every string inside a JSON-like value redacted (before it is serialised, so escaping cannot hide a secret). */
export function redactDeep<T>(value: T, secrets: ReadonlyArray<string | undefined> = []): T {
  if (typeof value === "string") return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, secrets)])) as T;
  }
  return value;
}

/**
 * Starred forms of every URL password and `password=` value in `text`, then of
 * every given secret (raw, percent-encoded and decoded forms are the caller's).
 * Apply it before any truncation: a cut secret no longer matches.
 */
export function redactText(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text;
  // Longest first, so a secret containing a shorter one is starred whole.
  for (const s of [...new Set(secrets)].sort((a, b) => (b?.length ?? 0) - (a?.length ?? 0))) {
    if (s && s.length >= 3) out = out.split(s).join("***");
  }
  // postgres://user:secret@host — the userinfo ends at the last `@` of the URL token.
  out = out.replace(/(postgres(?:ql)?:\/\/)(\S*)/gi, (_m, scheme: string, rest: string) => scheme + redactAuthority(rest));
  // password=… in query strings and conninfo strings (quoted values may hold spaces).
  out = out.replace(/(\b(?:ssl)?pass(?:word)?\s*=\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s&'"]+)/gi, (_m, key: string) => `${key}***`);
  return out;
}

function redactAuthority(rest: string): string {
  const at = rest.lastIndexOf("@");
  if (at < 0) return rest;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(":");
  if (colon < 0) return rest;
  return `${userinfo.slice(0, colon)}:***${rest.slice(at)}`;
}

/**
 * The secrets inside a list of texts (flags, variables): URL passwords (the
 * userinfo after `user:` up to the last `@`), `?password=` and conninfo
 * `password=` values, each in raw, decoded and encoded forms.
 */
export function secretsIn(texts: ReadonlyArray<string | undefined>): string[] {
  const found: string[] = [];
  for (const t of texts) {
    if (!t) continue;
    // A value that is a URL is one URL to its end (spaces included); in other text, to the next space.
    const whole = /^(?:--[\w-]+=)?\s*postgres(?:ql)?:\/\/([\s\S]*)$/i.exec(t);
    for (const m of whole ? [whole] : t.matchAll(/postgres(?:ql)?:\/\/(\S*)/gi)) {
      const rest = m[1]!;
      const at = rest.lastIndexOf("@");
      const colon = rest.indexOf(":");
      if (at > 0 && colon >= 0 && colon < at) found.push(rest.slice(colon + 1, at));
    }
    for (const m of t.matchAll(/\b(?:ssl)?pass(?:word)?\s*=\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&'"#]+)/gi)) {
      const v = m[1]!;
      found.push(/^['"]/.test(v) ? v.slice(1, -1) : v);
    }
  }
  return secretValues(found);
}

/** Each value with its percent-decoded and percent-encoded forms. */
export function secretValues(values: ReadonlyArray<string | undefined>): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (!v) continue;
    out.push(v, encodeURIComponent(v));
    try {
      out.push(decodeURIComponent(v));
    } catch {
      /* malformed escapes: the raw form is enough */
    }
  }
  return [...new Set(out)];
}

export interface DbTarget {
  /** The full URL including credentials; never print it. */
  url: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** libpq's connect_timeout from the query string, in seconds. */
  connectTimeout?: number;
}

/** Parse and validate a postgres:// URL; errors name the flag (or variable) to fix and never show the password. */
export function parseDbUrl(url: string, source = "--url"): DbTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${source} is not a valid URL: ${redactUrl(url)}`, {
      hint: /^\s*\w+\s*=/.test(url) ? "key=value connection strings are not supported; " + URL_HINT : URL_HINT,
    });
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new UsageError(`${source} must start with postgres:// or postgresql:// (got ${u.protocol}//)`, { hint: URL_HINT });
  }
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(`${source} has a malformed percent-escape in the ${what}`, {
        hint: "write a literal % as %25 (percent-encode special characters: @ as %40, : as %3A, / as %2F)",
      });
    }
  };
  // libpq ends the userinfo at the first `/`: a password with an unencoded `/` and `@`
  // would be read as host and database ("u:p@ss/w0rd@h/db"). Refuse instead of guessing.
  if (u.pathname.includes("@")) {
    throw new UsageError(`${source} has an "@" after the host: a password containing "/" or "@" must be percent-encoded`, {
      hint: "percent-encode special characters in the password: @ as %40, / as %2F, : as %3A, ? as %3F, # as %23 (or use PGPASSWORD)",
    });
  }
  const queryPassword = u.searchParams.get("password");
  const timeout = u.searchParams.get("connect_timeout");
  if (timeout !== null && !/^\d+(\.\d+)?$/.test(timeout)) {
    throw new UsageError(`${source} has an invalid connect_timeout "${timeout.slice(0, 20)}" (seconds expected)`);
  }
  const database = decode(u.pathname.replace(/^\//, ""), "database name");
  const user = decode(u.username, "user name");
  const password = u.password ? decode(u.password, "password") : (queryPassword ?? undefined);
  return {
    url,
    host: decode(u.hostname, "host") || "localhost",
    port: u.port ? Number(u.port) : 5432,
    database: database || user || "postgres",
    user,
    password: password || undefined,
    // 0 means "no limit" to libpq; eve always keeps a limit, so 0 falls back to the default.
    connectTimeout: timeout !== null && Number(timeout) > 0 ? Number(timeout) : undefined,
  };
}

/** The same URL pointing at another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

/** The URL postgres.js receives: the password travels as an option, never as a `?password=` startup parameter. */
export function withoutQueryPassword(url: string): string {
  const u = new URL(url);
  if (!u.searchParams.has("password")) return url;
  u.searchParams.delete("password");
  return u.toString();
}

/** A short description safe for output: user@host:port/db. */
export function describeTarget(t: DbTarget): string {
  return `${t.user ? t.user + "@" : ""}${t.host}:${t.port}/${t.database}`;
}
