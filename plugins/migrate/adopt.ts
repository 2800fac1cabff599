/**
 * Adopting a database that another tool migrated (objects, no eve history):
 * where does it stand in the migration files? The files are applied one by
 * one to a scratch "shadow" database on the same server (or the server of
 * --shadow-url), with the same apply code as a normal run, and after each file
 * the shadow's catalog is compared with the target's (fingerprint.ts). The
 * longest matching prefix is adopted; no match stops the run before anything
 * is written to the target. The shadow is always dropped.
 *
 * Scope of the comparison: the schemas that exist in the shadow after k files
 * (plus the target's current schema). Schemas of the target that no file
 * creates (a platform's auth/storage schemas, say) are not compared, and are
 * reported as ignored.
 */
import { createDatabaseSql, dropDatabase } from "../../core/db/admin.ts";
import { close, connect, mapDbError, quoteIdent, withDatabase, type Db } from "../../core/db/index.ts";
import { facts as databaseFacts } from "../../core/db/recreate-facts.ts";
import { CheckError, EveError, ExitCode, InterruptedError } from "../../core/errors.ts";
import { apply, describeFailure, type Prepared } from "./apply.ts";
import { classCounts, counts, diff, fingerprint, sameCounts, schemasOf, signature, signatureDistance, type Difference, type Exclude, type Signature } from "./fingerprint.ts";
import { ensureHistoryTable } from "./history.ts";

export interface AdoptOptions {
  /** URL of the target (the shadow is created on its server unless shadowUrl is given). */
  url: string;
  /** A server to create the shadow database on instead (any database of it). */
  shadowUrl?: string;
  /** Every migration file, in order (the history is empty). */
  files: Prepared[];
  /** Extensions the files need (created in the shadow before the first file needing them). */
  extensions: Array<{ name: string; neededBy: string[] }>;
  /** The target's history table, left out of the comparison. */
  exclude: Exclude;
  signal?: AbortSignal;
  /** The shadow database was created, dropped, or could not be dropped (`error`); swept: one left by a killed run was dropped. */
  onShadow?: (e: ShadowEvent) => void;
}

export interface ShadowEvent {
  phase: "create" | "drop" | "leftover" | "swept";
  name: string;
  files: number;
  /** Why this shadow: compare every prefix; closest (no prefix matched): name signatures; difference: up to the closest. */
  purpose: "compare" | "closest" | "difference";
  error?: string;
}

export interface AdoptDecision {
  /** Number of files whose result matches the database: files 1..matched are adopted. */
  matched: number;
  /** Every prefix length whose schema matches (ascending); the longest is adopted. */
  matches: number[];
  /** Files adopted although the schema already matched without them (they change no schema). */
  assumed: string[];
  /** Target schemas outside the compared scope (no file creates them). */
  ignoredSchemas: string[];
  /** The shadow database used (dropped). */
  shadow: string;
  durationMs: number;
}

const MAX_LISTED = 20;

export async function adopt(db: Db, o: AdoptOptions): Promise<AdoptDecision> {
  const t0 = performance.now();
  const [me] = await db`select current_schema() as schema, current_setting('search_path') as search_path, current_database() as name`;
  const target = { schema: me!.schema as string, searchPath: me!.search_path as string, name: me!.name as string };
  // The target's side of each check, read once (the costlier ones only when first needed).
  const targetClasses = await classCounts(db, o.exclude);
  const lazy = <T>(f: () => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => (p ??= f());
  };
  const targetCounts = lazy(() => counts(db, o.exclude));
  const targetSig = lazy(() => signature(db, o.exclude));
  const targetFp = lazy(() => fingerprint(db, o.exclude));

  const n = o.files.length;
  const scopes: Set<string>[] = [];
  const matches: number[] = [];
  let shadowName = "";
  // Pass 1: replay every file; after each, checks from cheapest to exact, each only when the previous agreed.
  await withShadow(db, o, target, "compare", async (shadow, name) => {
    shadowName = name;
    let passed = false; // did the relation counts of the previous prefix agree?
    const check = async (k: number) => {
      if (k > 0 && !passed && classNeutral(o.files[k - 1]!)) {
        // This file cannot change the relations or schemas: the counts still disagree.
        scopes[k] = scopes[k - 1]!;
        return;
      }
      const classes = await classCounts(shadow, SHADOW_EXCLUDE);
      const scope = schemasOf(classes).add(target.schema);
      scopes[k] = scope;
      passed = sameCounts(classes, targetClasses, scope);
      if (!passed) return;
      if (!sameCounts(await counts(shadow, SHADOW_EXCLUDE), await targetCounts(), scope)) return;
      if (signatureDistance(await signature(shadow, SHADOW_EXCLUDE), await targetSig(), scope) !== 0) return;
      if (diff(await fingerprint(shadow, SHADOW_EXCLUDE), await targetFp(), scope).length === 0) matches.push(k);
    };
    await check(0);
    await applyAll(shadow, o, n, check);
  });

  if (!matches.length) {
    // No match (the rare path): replay again with a name-level signature after every file to find the
    // closest prefix (fewest differing object names; ties: the longest), then once more up to it for the exact difference.
    const sigs: Signature[] = [];
    await withShadow(db, o, target, "closest", async (shadow) => {
      const record = async (k: number) => void (sigs[k] = await signature(shadow, SHADOW_EXCLUDE));
      await record(0);
      await applyAll(shadow, o, n, record);
    });
    let closest = 0;
    let best = Infinity;
    for (let k = 0; k <= n; k++) {
      const d = signatureDistance(sigs[k]!, await targetSig(), scopes[k]!);
      if (d <= best) [best, closest] = [d, k];
    }
    let differences: Difference[] = [];
    await withShadow(db, o, target, "difference", async (shadow) => {
      await applyAll(shadow, o, closest);
      differences = diff(await fingerprint(shadow, SHADOW_EXCLUDE), await targetFp(), scopes[closest]!);
    });
    throw noMatch(o, closest, differences);
  }

  const matched = matches[matches.length - 1]!;
  // The run of matching prefixes ending at the adopted one: the files inside it changed no schema.
  let first = matched;
  while (matches.includes(first - 1)) first--;
  const assumed = o.files.slice(first, matched).map((m) => m.file.name);
  const scope = scopes[matched]!;
  const ignoredSchemas = [...schemasOf(targetClasses)].filter((s) => !scope.has(s)).sort();
  return { matched, matches, assumed, ignoredSchemas, shadow: shadowName, durationMs: Math.round(performance.now() - t0) };
}

function noMatch(o: AdoptOptions, closest: number, differences: Difference[]): CheckError {
  const n = o.files.length;
  const at = closest === 0 ? "before the first file (an empty schema)" : `after ${closest} file${closest === 1 ? "" : "s"} (${o.files[closest - 1]!.file.name})`;
  const listed = differences.slice(0, MAX_LISTED).map((d) => `  ${d.change === "missing" ? "-" : d.change === "extra" ? "+" : "~"} ${d.change} ${d.kind} ${d.name}`);
  if (differences.length > MAX_LISTED) listed.push(`  … and ${differences.length - MAX_LISTED} more`);
  const example = o.files[Math.max(closest, 1) - 1]!.file.version;
  return new CheckError(
    "E_ADOPT_NO_MATCH",
    `the database has objects but no migration history, and its schema matches the result of no prefix of the ${n} migration file${n === 1 ? "" : "s"}; ` +
      `closest: ${at}, ${differences.length} object${differences.length === 1 ? "" : "s"} differ${differences.length === 1 ? "s" : ""} (- missing from the database, + extra in it, ~ different)`,
    {
      context: listed,
      hint: `if you know which files were applied, record them without running them with --baseline VERSION (e.g. --baseline ${example}); nothing was written`,
      details: { closest: { files: closest, file: closest ? o.files[closest - 1]!.file.name : null }, differences: differences.slice(0, 100), differenceCount: differences.length },
    },
  );
}

/**
 * Statements that never create or drop a relation, index, sequence or schema
 * (pg_class and pg_namespace counts stay the same). INSERT/UPDATE/DELETE are
 * assumed not to fire triggers that do DDL.
 */
const CLASS_NEUTRAL = new Set([
  "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "CreateFunctionStmt", "AlterFunctionStmt", "CommentStmt", "GrantStmt",
  "GrantRoleStmt", "AlterDefaultPrivilegesStmt", "CreateTrigStmt", "CreatePolicyStmt", "AlterPolicyStmt", "CreateEnumStmt",
  "AlterEnumStmt", "CreateDomainStmt", "AlterDomainStmt", "VariableSetStmt", "TransactionStmt", "AlterOwnerStmt", "CreateRoleStmt",
]);

/** ALTER TABLE subcommands that keep the number of relations (no index, sequence or dependent object made or dropped). */
const NEUTRAL_ALTER = new Set([
  "AT_SetNotNull", "AT_DropNotNull", "AT_ColumnDefault", "AT_SetStatistics", "AT_SetOptions", "AT_ResetOptions", "AT_SetStorage",
  "AT_SetCompression", "AT_EnableRowSecurity", "AT_DisableRowSecurity", "AT_ForceRowSecurity", "AT_NoForceRowSecurity",
  "AT_EnableTrig", "AT_DisableTrig", "AT_EnableAlwaysTrig", "AT_EnableReplicaTrig", "AT_EnableTrigAll", "AT_DisableTrigAll",
  "AT_EnableTrigUser", "AT_DisableTrigUser", "AT_ValidateConstraint", "AT_SetRelOptions", "AT_ResetRelOptions", "AT_ChangeOwner",
  "AT_AlterColumnType",
]);
const CREATES_RELATION = new Set(["CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION", "CONSTR_IDENTITY"]);
const SERIAL = new Set(["serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"]);

function classNeutral(m: Prepared): boolean {
  return m.statements.every((s) => CLASS_NEUTRAL.has(s.type) || (s.type === "AlterTableStmt" && neutralAlter(s.node)));
}

/** ALTER TABLE that only adds plain columns and check/foreign-key/not-null constraints, or changes settings. */
function neutralAlter(node: Record<string, unknown>): boolean {
  if (node.objtype !== "OBJECT_TABLE") return false;
  const cmds = (node.cmds as Array<{ AlterTableCmd?: { subtype?: string; def?: Record<string, any> } }> | undefined) ?? [];
  return cmds.every(({ AlterTableCmd: c }) => {
    if (!c?.subtype) return false;
    if (NEUTRAL_ALTER.has(c.subtype)) return true;
    if (c.subtype === "AT_AddColumn") {
      const col = c.def?.ColumnDef;
      const type = col?.typeName?.names?.at(-1)?.String?.sval;
      const cons = (col?.constraints ?? []) as Array<{ Constraint?: { contype?: string } }>;
      return !!col && !SERIAL.has(String(type)) && cons.every((k) => !CREATES_RELATION.has(String(k.Constraint?.contype)));
    }
    if (c.subtype === "AT_AddConstraint") return !CREATES_RELATION.has(String(c.def?.Constraint?.contype));
    return false;
  });
}

/** The shadow's own history rows go to a temporary table, outside every compared schema. */
const SHADOW_HISTORY = "pg_temp.eve_shadow_history";
const SHADOW_EXCLUDE: Exclude = { schema: "pg_temp", table: "eve_shadow_history" };

/** Apply files 1..upTo to the shadow (with the extensions they need), calling `after(k)` after each. */
async function applyAll(shadow: Db, o: AdoptOptions, upTo: number, after?: (k: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < upTo; i++) {
    if (o.signal?.aborted) throw new InterruptedError("interrupted while comparing schemas on the shadow database; nothing was written to the target");
    const m = o.files[i]!;
    for (const ext of o.extensions.filter((e) => e.neededBy[0] === m.file.name)) {
      await shadow.unsafe(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(ext.name)}`).catch((e) => {
        throw new EveError("E_ADOPT_SHADOW", `cannot create extension ${ext.name} (needed by ${m.file.name}) in the shadow database: ${mapDbError(e).message}`, ExitCode.failed, {
          hint: "the shadow database needs the same extensions as a normal run; record the applied files with --baseline VERSION instead; nothing was written",
        });
      });
    }
    try {
      await apply(shadow, SHADOW_HISTORY, m, o.signal);
    } catch (e) {
      if (o.signal?.aborted) throw new InterruptedError("interrupted while comparing schemas on the shadow database; nothing was written to the target");
      const failure = describeFailure(e, m);
      throw new EveError("E_ADOPT_SHADOW", `cannot replay the migrations on a shadow database to find where the database stands: ${failure.message}`, ExitCode.failed, {
        hint: "the files must apply cleanly to an empty database; if you know which files were applied, record them with --baseline VERSION; nothing was written",
        cause: e,
        details: failure.details,
      });
    }
    await after?.(i + 1);
  }
}

/** Create a shadow database like the target, run `fn` on a connection to it, and always drop it. */
async function withShadow(
  db: Db,
  o: AdoptOptions,
  target: { searchPath: string },
  purpose: ShadowEvent["purpose"],
  fn: (shadow: Db, name: string) => Promise<void>,
): Promise<void> {
  const serverUrl = o.shadowUrl ?? o.url;
  const maint = o.shadowUrl ? connect(o.shadowUrl, { applicationName: "eve migrate (shadow)" }) : db;
  // Opaque (only [a-z0-9_]): nothing of the target's name, so it needs no quoting or URL encoding anywhere.
  const name = `eve_shadow_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
  let created = false;
  let shadow: Db | undefined;
  let versionNum = 130000;
  try {
    const f = await databaseFacts(db);
    const [s] = await maint`select current_user as me, current_setting('server_version_num')::int as version_num`.catch((e) => {
      throw shadowConnectError(e, serverUrl, !!o.shadowUrl);
    });
    versionNum = s!.version_num as number;
    await sweepLeftovers(maint, versionNum, o, purpose);
    const like = { ...f, owner: s!.me as string, versionNum, tablespace: "pg_default", connectionLimit: -1 };
    try {
      await maint.unsafe(createDatabaseSql(name, like));
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "42501") {
        throw new EveError(
          "E_ADOPT_SHADOW",
          `the database has objects but no migration history; finding which migrations it already has needs a scratch (shadow) database, and role ${s!.me} may not create databases (CREATEDB)`,
          ExitCode.failed,
          { hint: "grant CREATEDB to the role, or pass --shadow-url with a server where it may create databases, or record the applied files with --baseline VERSION; nothing was written", cause: e },
        );
      }
      throw new EveError("E_ADOPT_SHADOW", `cannot create the shadow database ${name}: ${mapDbError(e, serverUrl).message}`, ExitCode.failed, {
        hint: "pass --shadow-url with a server where the role may create databases, or record the applied files with --baseline VERSION; nothing was written",
        cause: e,
      });
    }
    created = true;
    o.onShadow?.({ phase: "create", name, files: o.files.length, purpose });
    shadow = connect(withDatabase(serverUrl, name), { applicationName: "eve migrate (shadow)" });
    // The target's search_path (it may come from ALTER DATABASE, which the shadow lacks).
    // A scratch database: commits need not wait for the WAL flush.
    await shadow`select set_config('search_path', ${target.searchPath}, false), set_config('synchronous_commit', 'off', false)`.catch((e) => {
      throw shadowConnectError(e, serverUrl, !!o.shadowUrl);
    });
    await ensureHistoryTable(shadow, SHADOW_HISTORY, { versionNum: like.versionNum, schema: "pg_temp", tableExists: false, hasExtraColumns: true });
    await fn(shadow, name);
  } finally {
    if (shadow) await close(shadow, 0).catch(() => {});
    if (created) {
      await dropDatabase(maint, name, versionNum, { ifExists: true })
        .then(() => o.onShadow?.({ phase: "drop", name, files: o.files.length, purpose }))
        .catch((e) => o.onShadow?.({ phase: "leftover", name, files: o.files.length, purpose, error: mapDbError(e, serverUrl).message }));
    }
    if (maint !== db) await close(maint, 0).catch(() => {});
  }
}

/** Shadows are left only by a killed eve: older than this and unused, they are dropped. */
const LEFTOVER_AGE_MS = 10 * 60_000;

/**
 * Drop shadow databases that interrupted runs (kill -9) left behind: the name
 * carries its creation time; one older than LEFTOVER_AGE_MS with no session
 * is nobody's. Best effort: one the role may not drop is reported, not fatal.
 */
async function sweepLeftovers(maint: Db, versionNum: number, o: AdoptOptions, purpose: ShadowEvent["purpose"]): Promise<void> {
  const rows = await maint`
    select d.datname from pg_database d
    where d.datname ~ '^eve_shadow_[0-9a-z]+_[0-9a-z]+$'
      and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`.catch(() => []);
  for (const { datname } of rows) {
    const born = parseInt(String(datname).split("_")[2]!, 36);
    if (!(Date.now() - born > LEFTOVER_AGE_MS)) continue;
    await dropDatabase(maint, datname as string, versionNum, { ifExists: true })
      .then(() => o.onShadow?.({ phase: "swept", name: datname as string, files: o.files.length, purpose }))
      .catch((e) => o.onShadow?.({ phase: "leftover", name: datname as string, files: o.files.length, purpose, error: mapDbError(e).message }));
  }
}

function shadowConnectError(e: unknown, url: string, flag: boolean): EveError {
  const m = mapDbError(e, url);
  return new EveError(m.code, `cannot use the shadow database server${flag ? " (--shadow-url)" : ""}: ${m.message}`, m.exitCode, {
    hint: `${flag ? "check --shadow-url" : "pass --shadow-url with a server where the role may create databases"}, or record the applied files with --baseline VERSION; nothing was written`,
    cause: e,
  });
}
