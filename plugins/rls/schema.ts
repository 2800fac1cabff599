/**
 * Result shapes of the rls plugin: `eve db rls` (RlsReport) and
 * `eve db rls init` (RlsInitResult). One zod schema per result, shared by the
 * engines (types), the renderers, `--json` and the HTTP API.
 */
import { z } from "zod";

/**
 * Finding severities, lowest first. `--fail-on` compares against this order.
 * - high: rows are readable or writable by callers the policies were meant to stop
 *   (policies ignored because RLS is off, a permissive write policy that is `true` for
 *   PUBLIC, a view that reads RLS tables with a bypassing owner's rights).
 * - medium: RLS can be bypassed by a particular route (the connecting role owns the table
 *   without FORCE, SECURITY DEFINER without a fixed search_path, a `true` write policy for
 *   named roles, a definer-rights view whose owner is itself subject to RLS).
 * - low: probably unintended but not a leak (RLS on with no policy = deny all; several
 *   permissive policies OR-ed together on one command).
 * - info: context worth knowing (the connecting role is a superuser or BYPASSRLS).
 */
export const SEVERITIES = ["info", "low", "medium", "high"] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export const PolicyCommand = z.enum(["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]);
export type PolicyCommand = z.infer<typeof PolicyCommand>;

export const Policy = z.object({
  name: z.string(),
  /** SELECT/INSERT/UPDATE/DELETE/ALL (not the catalog letters r/a/w/d/*). */
  command: PolicyCommand,
  /** PERMISSIVE policies are OR-ed together; RESTRICTIVE ones are AND-ed on top. */
  mode: z.enum(["PERMISSIVE", "RESTRICTIVE"]),
  /** Role names; "public" means every role. */
  roles: z.array(z.string()),
  /** USING expression (pg_get_expr), null when absent. */
  using: z.string().nullable(),
  /** WITH CHECK expression (pg_get_expr), null when absent. */
  withCheck: z.string().nullable(),
});
export type Policy = z.infer<typeof Policy>;

export const Relation = z.object({
  schema: z.string(),
  name: z.string(),
  kind: z.enum(["table", "partitioned table", "view"]),
  owner: z.string(),
  /** relrowsecurity (always false for views). */
  rlsEnabled: z.boolean(),
  /** relforcerowsecurity: the owner is subject to the policies too. */
  rlsForced: z.boolean(),
  /** Views only: reloption security_invoker (PG15+); null for tables. */
  securityInvoker: z.boolean().nullable(),
  /** Views only: RLS-enabled tables it reads (directly or through other views). */
  readsRlsTables: z.array(z.string()),
  policies: z.array(Policy),
});
export type Relation = z.infer<typeof Relation>;

export const Finding = z.object({
  /** Stable kind, e.g. "policies-without-rls". */
  rule: z.enum([
    "rls-without-policy",
    "policies-without-rls",
    "owner-without-force",
    "permissive-true-write",
    "multiple-permissive",
    "definer-without-search-path",
    "view-without-security-invoker",
    "role-bypasses-rls",
  ]),
  severity: Severity,
  /** What it is about: schema.table, schema.view, schema.fn(args) or a role name. */
  object: z.string(),
  /** Policy name(s) involved, when any. */
  policies: z.array(z.string()).optional(),
  message: z.string(),
  /** One line: what to run or change. */
  fix: z.string(),
});
export type Finding = z.infer<typeof Finding>;

export const RlsReport = z.object({
  /** user@host:port/db (no password). */
  database: z.string(),
  serverVersion: z.number(),
  /** The role the inspection ran as, and whether it bypasses RLS everywhere. */
  role: z.object({ name: z.string(), superuser: z.boolean(), bypassRls: z.boolean() }),
  relations: z.array(Relation),
  findings: z.array(Finding),
  summary: z.object({
    tables: z.number(),
    views: z.number(),
    rlsEnabled: z.number(),
    policies: z.number(),
    findings: z.object({ high: z.number(), medium: z.number(), low: z.number(), info: z.number() }),
  }),
});
export type RlsReport = z.infer<typeof RlsReport>;

/** `eve db rls init` applied to a database (the db.rls.init operation's result). */
export const RlsInitApplied = z.object({
  mode: z.literal("database"),
  database: z.string(),
  withGroups: z.boolean(),
  /** False when the scaffolding was already exactly in place (a rerun). */
  changed: z.boolean(),
  /** Objects that did not exist before, e.g. "function app.current_user_id()". */
  created: z.array(z.string()),
  /** Objects whose definition changed (an older scaffold refreshed). */
  updated: z.array(z.string()),
  durationMs: z.number(),
});
export type RlsInitApplied = z.infer<typeof RlsInitApplied>;

/** `eve db rls init`: applied to a database, or written to a file / new migration. */
export const RlsInitResult = z.discriminatedUnion("mode", [
  RlsInitApplied,
  z.object({
    mode: z.literal("file"),
    /** Absolute path written. */
    path: z.string(),
    withGroups: z.boolean(),
    /** False when the file already held exactly this SQL. */
    changed: z.boolean(),
    sha256: z.string(),
  }),
  z.object({
    mode: z.literal("migration"),
    /** Absolute path of the new migration file. */
    path: z.string(),
    withGroups: z.boolean(),
    changed: z.literal(true),
    sha256: z.string(),
  }),
]);
export type RlsInitResult = z.infer<typeof RlsInitResult>;
