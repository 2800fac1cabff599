/**
 * What a manifest must look like, checked on one view (the top level, or the
 * top level merged with one environment's overrides): service names, the
 * `x-eve` block, and — in zod — the `x-eve.managed` block of managed_db
 * services, strictly (a typo such as `clas:` is an error, not ignored).
 * Other services' contents are free-form. Every problem comes back as a raw
 * issue (data path + message) for the caller to locate; all are reported.
 */
import { Cron } from "croner";
import { z } from "zod";
import { EXTENSION_ALLOWLIST, SUPPORTED_ENGINES, TIER_NAMES } from "./tiers.ts";
import { isRecord, show, type DataPath, type RawIssue } from "./manifest-yaml.ts";

/** A service name: it becomes part of resource names and env variables. */
export const SERVICE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** The role that makes a service a managed database. */
export const MANAGED_ROLE = "managed_db";

const or = (items: readonly string[]): string => (items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`);
const CLASSES = or(TIER_NAMES);

/** The error text of a field: "required" when absent, else `bad(input)`. */
function err(field: string, bad: (input: unknown) => string) {
  return { error: (iss: { input?: unknown }) => (iss.input === undefined ? `${field} is required` : bad(iss.input)) };
}

/** A 5-field cron expression croner accepts. */
function isCron(expr: string): boolean {
  if (expr.trim().split(/\s+/).length !== 5) return false;
  try {
    new Cron(expr, { paused: true });
    return true;
  } catch {
    return false;
  }
}

const backupSchema = z.strictObject(
  {
    schedule: z
      .union([z.literal(false), z.string()], err("schedule", (v) => `schedule must be a cron expression or false, not ${show(v)}`))
      .refine((v) => v === false || isCron(v), {
        error: (iss) => `invalid schedule ${show(iss.input)}: use 5 cron fields (minute hour day month weekday, UTC), e.g. "0 2 * * *", or false`,
      })
      .optional(),
    retention: z
      .string(err("retention", (v) => `retention must be a string such as "30d", not ${show(v)}`))
      .regex(/^[1-9]\d{0,4}[dhw]$/, { error: (iss) => `invalid retention ${show(iss.input)}: use a positive number of hours, days or weeks, e.g. "48h", "30d", "12w"` })
      .optional(),
    snapshot_on_delete: z.boolean(err("snapshot_on_delete", (v) => `snapshot_on_delete must be true or false, not ${show(v)}`)).optional(),
    snapshot_on_reset: z.boolean(err("snapshot_on_reset", (v) => `snapshot_on_reset must be true or false, not ${show(v)}`)).optional(),
  },
  err("backup", (v) => `backup must be a map (schedule, retention, snapshot_on_delete, snapshot_on_reset), not ${show(v)}`),
);

/** The `x-eve.managed` block of a managed_db service. */
export const managedSchema = z.strictObject(
  {
    class: z.enum(TIER_NAMES, err(`class (${CLASSES})`, (v) => `unknown class ${show(v)} (expected ${CLASSES})`)),
    engine: z.enum(SUPPORTED_ENGINES, err(`engine (${or(SUPPORTED_ENGINES)})`, (v) => `unknown engine ${show(v)} (expected ${or(SUPPORTED_ENGINES)})`)),
    engine_version: z
      .union([z.string(), z.number()], err("engine_version", (v) => `engine_version must be a major version such as "16", not ${show(v)}`))
      .transform(String)
      .pipe(z.string().regex(/^[1-9]\d$/, { error: (iss) => `engine_version must be a major version such as "16", not ${show(iss.input)}` }))
      .optional(),
    extensions: z
      .array(z.string(err("an extension", (v) => `an extension is a name, not ${show(v)}`)), err("extensions", (v) => `extensions must be a list of names, not ${show(v)}`))
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((name, i) => {
          if (!EXTENSION_ALLOWLIST.includes(name)) {
            ctx.addIssue({ code: "custom", path: [i], input: name, message: `extension ${show(name)} is not allowed (allowed: ${EXTENSION_ALLOWLIST.join(", ")})` });
          } else if (seen.has(name)) {
            ctx.addIssue({ code: "custom", path: [i], input: name, message: `extension ${show(name)} is listed twice` });
          }
          seen.add(name);
        });
      })
      .optional(),
    backup: backupSchema.optional(),
  },
  err("x-eve.managed", (v) => `x-eve.managed must be a map (class, engine, engine_version, extensions, backup), not ${show(v)}`),
);

/** A valid `x-eve.managed` block. */
export type ManagedSpec = z.output<typeof managedSchema>;

/** The keys a strict map allows, for "did you mean". */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  managed: Object.keys(managedSchema.shape),
  backup: Object.keys(backupSchema.shape),
};

/** Levenshtein distance, for suggesting the key a typo meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

function unknownKey(key: string, known: readonly string[]): string {
  const near = known.filter((k) => distance(k, key) <= 2).sort((x, y) => distance(x, key) - distance(y, key))[0];
  return `unknown key ${show(key)}${near ? ` (did you mean ${near}?)` : ""} (expected ${or(known)})`;
}

/** Zod's issues as raw issues under `prefix`; an unknown key is reported at the key itself. */
function fromZod(error: z.ZodError, prefix: DataPath): RawIssue[] {
  const out: RawIssue[] = [];
  for (const iss of error.issues) {
    const path = [...prefix, ...iss.path.map((p) => (typeof p === "number" ? p : String(p)))];
    if (iss.code === "unrecognized_keys") {
      const parent = String(path.at(-1));
      for (const key of iss.keys) out.push({ path: [...path, key], at: "key", message: unknownKey(key, KNOWN_KEYS[parent] ?? []) });
    } else {
      out.push({ path, message: iss.message });
    }
  }
  return out;
}

/** Two names that would map to the same resource or variable (case and -/_ ignored). */
function nameKey(name: string): string {
  return name.toLowerCase().replaceAll("-", "_");
}

/** Every problem of one view of the manifest (environments excluded: the caller checks them). */
export function checkView(data: unknown): RawIssue[] {
  if (!isRecord(data)) {
    return [{ path: [], message: data === null ? "the manifest is empty: expected a map with services:" : `expected a map at the top level, not ${show(data)}` }];
  }
  const services = data.services;
  if (services === undefined || services === null) return [];
  if (!isRecord(services)) return [{ path: ["services"], message: `services must be a map of service names, not ${show(services)}` }];
  const issues: RawIssue[] = [];
  const byKey = new Map<string, string>();
  for (const [name, spec] of Object.entries(services)) {
    const path = ["services", name];
    if (!SERVICE_NAME.test(name)) {
      issues.push({ path, at: "key", message: `invalid service name ${show(name)}: use a lowercase letter then lowercase letters, digits, - or _ (at most 63)` });
    }
    const other = byKey.get(nameKey(name));
    if (other !== undefined) {
      issues.push({ path, at: "key", message: `duplicate service names ${show(other)} and ${show(name)} (they map to the same resource and variable names; rename one)` });
    } else byKey.set(nameKey(name), name);
    issues.push(...checkService(spec, path));
  }
  return issues;
}

function checkService(spec: unknown, path: DataPath): RawIssue[] {
  if (!isRecord(spec)) return [{ path, message: `a service must be a map, not ${show(spec)}` }];
  const xeve = spec["x-eve"];
  if (xeve === undefined) return [];
  const xpath = [...path, "x-eve"];
  if (!isRecord(xeve)) return [{ path: xpath, message: `x-eve must be a map, not ${show(xeve)}` }];
  const role = xeve.role;
  if (role !== undefined && (typeof role !== "string" || role === "")) {
    return [{ path: [...xpath, "role"], message: `x-eve.role must be a name such as ${MANAGED_ROLE}, not ${show(role)}` }];
  }
  if (role !== MANAGED_ROLE) {
    return xeve.managed === undefined ? [] : [{ path: [...xpath, "managed"], at: "key", message: `x-eve.managed is only for services with x-eve.role: ${MANAGED_ROLE}` }];
  }
  const parsed = managedSchema.safeParse(xeve.managed);
  return parsed.success ? [] : fromZod(parsed.error, [...xpath, "managed"]);
}

/** Whether a service of a valid view is a managed database. */
export function isManaged(spec: unknown): boolean {
  return isRecord(spec) && isRecord(spec["x-eve"]) && spec["x-eve"].role === MANAGED_ROLE;
}
