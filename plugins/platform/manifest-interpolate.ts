/**
 * `${managed.<service>.<field>}` references in the strings of a manifest's
 * services: found (with their data path), checked against the managed_db
 * services of the same view, and substituted. `$${managed.…}` is an escape
 * for a literal `${managed.…}`; every other `${…}` (e.g. `${secret.X}`) and
 * its escape belong to other layers and are left exactly as written.
 */
import { isRecord, show, type DataPath, type RawIssue } from "./manifest-yaml.ts";
import { isManaged } from "./manifest-schema.ts";

/** The values a managed service exposes. */
export const MANAGED_FIELDS = ["url", "host", "port", "database", "user", "password", "readonly_url"] as const;
export type ManagedField = (typeof MANAGED_FIELDS)[number];

const OPEN = "${managed.";

type Token = { text: string } | { ref: { service: string; field: ManagedField; raw: string } } | { error: string };

/** A string cut into literal text, references and malformed references. */
function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const j = s.indexOf(OPEN, i);
    if (j < 0) {
      out.push({ text: s.slice(i) });
      break;
    }
    const end = s.indexOf("}", j);
    const stop = end < 0 ? s.length : end + 1;
    const raw = s.slice(j, stop);
    if (j > i && s[j - 1] === "$") {
      out.push({ text: s.slice(i, j - 1) + raw });
    } else {
      out.push({ text: s.slice(i, j) });
      const parts = raw.slice(2, -1).split(".");
      if (end < 0) out.push({ error: `unterminated reference ${show(raw)}: close it with }` });
      else if (parts.length !== 3 || !parts[1]) out.push({ error: `malformed reference ${show(raw)}: use \${managed.<service>.<field>}` });
      else if (!(MANAGED_FIELDS as readonly string[]).includes(parts[2]!)) {
        out.push({ error: `unknown field ${show(parts[2])} in ${show(raw)} (expected ${MANAGED_FIELDS.join(", ")})` });
      } else out.push({ ref: { service: parts[1], field: parts[2] as ManagedField, raw } });
    }
    i = stop;
  }
  return out;
}

/** One reference found in a service's strings. */
export interface RawRef {
  path: DataPath;
  service: string;
  field: ManagedField;
  /** The reference as written, e.g. ${managed.db.url}. */
  text: string;
}

/** Every string of a value with its data path. */
function* strings(v: unknown, path: DataPath): Generator<[string, DataPath]> {
  if (typeof v === "string") yield [v, path];
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* strings(v[i], [...path, i]);
  else if (isRecord(v)) for (const [k, item] of Object.entries(v)) yield* strings(item, [...path, k]);
}

/** The references in the services of one view, and what is wrong with them. */
export function scanReferences(services: Record<string, unknown>): { refs: RawRef[]; issues: RawIssue[] } {
  const refs: RawRef[] = [];
  const issues: RawIssue[] = [];
  const managed = Object.keys(services).filter((n) => isManaged(services[n]));
  for (const [s, path] of strings(services, ["services"])) {
    if (!s.includes(OPEN)) continue;
    for (const t of tokenize(s)) {
      if ("error" in t) issues.push({ path, message: t.error });
      if (!("ref" in t)) continue;
      const { service, field, raw } = t.ref;
      if (!Object.hasOwn(services, service)) {
        issues.push({ path, message: `unknown service ${show(service)} in ${show(raw)} (managed services: ${managed.join(", ") || "none"})` });
      } else if (!managed.includes(service)) {
        issues.push({ path, message: `service ${show(service)} in ${show(raw)} is not a managed database (x-eve.role: managed_db)` });
      } else refs.push({ path, service, field, text: raw });
    }
  }
  return { refs, issues };
}

/** `s` with every reference replaced by `value(service, field)` and escapes undone. */
export function substitute(s: string, value: (service: string, field: ManagedField) => string): string {
  if (!s.includes(OPEN)) return s;
  return tokenize(s)
    .map((t) => ("text" in t ? t.text : "ref" in t ? value(t.ref.service, t.ref.field) : ""))
    .join("");
}

/** A copy of a data value with `fn` applied to every string. */
export function mapStrings(v: unknown, fn: (s: string) => string): unknown {
  if (typeof v === "string") return fn(v);
  if (Array.isArray(v)) return v.map((item) => mapStrings(item, fn));
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, mapStrings(item, fn)]));
  return v;
}

/** What hides a password in output. */
export const MASK = "********";

/**
 * A connection URL with its password masked: the userinfo after `user:` up to
 * the last `@` (an unencoded password may hold `@`), and any `password=` value.
 */
export function maskUrlPassword(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([\s\S]*)$/i.exec(url);
  let out = url;
  if (m) {
    const rest = m[2]!;
    const at = rest.lastIndexOf("@");
    const colon = rest.slice(0, Math.max(at, 0)).indexOf(":");
    if (at > 0 && colon >= 0) out = `${m[1]}${rest.slice(0, colon)}:${MASK}${rest.slice(at)}`;
  }
  return out.replace(/([?&](?:ssl)?pass(?:word)?=)[^&#]*/gi, `$1${MASK}`);
}
