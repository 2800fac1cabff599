/**
 * The `eve db schema` engine: one query per object kind (schema-sql.ts), sent
 * pipelined in one read-only REPEATABLE READ transaction, then assembled into the
 * SchemaResult shape with Maps keyed by oid, decoding raw catalog codes on the
 * way. Linear in the number of objects. Takes a Db, returns data; never prints.
 */
import { mapDbError, SqlError, type Db } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import type {
  Collation,
  Column,
  CompositeType,
  Constraint,
  DefaultPrivilege,
  Domain,
  Enum,
  ForeignKey,
  Index,
  MaterializedView,
  Policy,
  Privilege,
  RangeType,
  Routine,
  SchemaEntry,
  SchemaResult,
  Sequence,
  Table,
  Trigger,
  View,
} from "./schema.ts";
import { decodeAcl } from "./acl.ts";
import * as Q from "./schema-sql.ts";

export interface SchemaOptions {
  /** Only these schemas (exact names). */
  schemas?: string[];
  /** Only these relations: "name" (any schema) or "schema.name". */
  tables?: string[];
  /**
   * Two sessions on one snapshot, each reading half the relations, when the pool
   * allows two connections: "auto" (default) only for catalogs large enough to
   * repay a second connection; true always; false never.
   */
  parallel?: boolean | "auto";
}

interface RawColumn extends Omit<Column, "identity"> {
  rel: number;
  num: number;
  identity: string;
}
interface RawConstraint {
  rel: number;
  name: string;
  type: string;
  keys: number[] | null;
  definition: string;
  deferrable: boolean;
  initiallyDeferred: boolean;
  validated: boolean;
  refSchema: string | null;
  refTable: string | null;
  refColumns: string[] | null;
  onUpdate: string;
  onDelete: string;
  match: string;
}
interface RawTrigger {
  rel: number;
  name: string;
  type: number;
  enabled: string;
  function: string;
  definition: string;
}
type RawIndex = Index & { rel: number };
type RawPolicy = Omit<Policy, "command"> & { rel: number; command: string };
type RawPartition = Table["partitions"][number] & { rel: number };
interface RawRelation {
  oid: number;
  schema: string;
  name: string;
  kind: string;
  owner: string;
  comment: string | null;
  reltuples: number;
  relpages: number;
  rlsEnabled: boolean;
  rlsForced: boolean;
  options: string[] | null;
  populated: boolean;
  unlogged: boolean;
  partitionKey: string | null;
  parentSchema: string | null;
  parentName: string | null;
  partitionBound: string | null;
  definition: string | null;
  privileges: Privilege[];
}
/** A relation with the rows of the per-relation queries attached. */
interface Assembled extends RawRelation {
  columns: RawColumn[];
  /** Column names by attnum, for constraint keys. */
  names: string[];
  constraints: RawConstraint[];
  indexes: Index[];
  triggers: RawTrigger[];
  partitions: Table["partitions"];
  policies: RawPolicy[];
}
type RawSequence = Omit<Sequence, "ownedBy" | "identity"> & {
  ownerSchema: string | null;
  ownerTable: string | null;
  ownerColumn: string | null;
  identity: boolean | null;
};
type RawRoutine = Omit<Routine, "kind" | "signature" | "volatility" | "config"> & {
  kind: string;
  identityArguments: string;
  volatility: string;
  config: string[] | null;
};
/** Type rows carry their oid and array type's oid for the --table filter. */
type TypeRow<T> = T & { oid: number; array_oid: number };
type RawCollation = Omit<Collation, "provider"> & { oid: number; provider: string };
interface RawDefaultAcl {
  schema: string | null;
  role: string;
  objtype: string;
  privileges: Privilege[];
}
interface Raw {
  meta: { database: string; server_version: string; version_num: number };
  schemas: Array<{ name: string; owner: string; comment: string | null; privileges: Privilege[] }>;
  relations: Assembled[];
  enums: TypeRow<Enum>[];
  domains: TypeRow<Domain>[];
  composites: TypeRow<CompositeType>[];
  ranges: TypeRow<RangeType>[];
  collations: RawCollation[];
  defaultAcls: RawDefaultAcl[];
  /** With --table: the types and collations the shown columns use. */
  used: { types: Set<number>; collations: Set<number> } | null;
  sequences: RawSequence[];
  functions: RawRoutine[];
  extensions: SchemaResult["extensions"];
}

/**
 * Read the schema of the connected database.
 * @example const result = await inspectSchema(db, { schemas: ["app"] });
 */
export async function inspectSchema(db: Db, opts: SchemaOptions = {}): Promise<SchemaResult> {
  const schemas = opts.schemas?.length ? [...new Set(opts.schemas)] : null;
  const tables = opts.tables?.length ? [...new Set(opts.tables)] : null;
  let raw: Raw;
  try {
    // Two sessions when the pool has room for them (the command opens two; tests mostly one).
    const poolOfTwo = ((db.options as { max?: number }).max ?? 1) >= 2;
    const parallel = poolOfTwo ? (opts.parallel ?? "auto") : false;
    raw = await fetchCatalog(db, schemas, tables, parallel);
  } catch (e) {
    const err = mapDbError(e);
    // A catalog column this query needs is missing: the server predates PostgreSQL 12.
    if (err instanceof SqlError && err.sqlstate === "42703") {
      throw new EveError("E_UNSUPPORTED", `eve db schema needs PostgreSQL 12 or newer (${err.message})`, ExitCode.failed, {
        hint: "upgrade the server, or use pg_dump --schema-only",
        cause: e,
      });
    }
    throw err;
  }
  const result = build(raw, schemas, tables);
  checkFilters(raw, schemas, tables);
  return result;
}

type Params = Array<string | number | null>;
type Query = <T>(text: string, params?: Params) => Promise<T[]>;
const TX = "isolation level repeatable read read only";

/** The per-relation queries for part `part` of `parts` (by relation oid). */
function relationQueries(q: Query, p2: Params, parts: number, part: number) {
  const p = [...p2, parts, part];
  return Promise.all([
    q<RawRelation>(Q.RELATIONS_SQL, p),
    q<RawColumn>(Q.COLUMNS_SQL, p),
    q<RawConstraint>(Q.CONSTRAINTS_SQL, p),
    q<RawIndex>(Q.INDEXES_SQL, p),
    q<RawTrigger>(Q.TRIGGERS_SQL, p),
    q<RawPartition>(Q.PARTITIONS_SQL, p),
    q<RawPolicy>(Q.POLICIES_SQL, p),
    q<RawSequence>(Q.SEQUENCES_SQL, p),
  ] as const);
}
type RelationRows = Awaited<ReturnType<typeof relationQueries>>;

/** The queries that are cheap whatever the size: run once, in the first session. */
function otherQueries(q: Query, p1: Params, p2: Params, withTables: boolean) {
  return Promise.all([
    q<Raw["meta"]>(Q.META_SQL),
    q<Raw["schemas"][number]>(Q.SCHEMAS_SQL, p1),
    q<TypeRow<Enum>>(Q.ENUMS_SQL, p1),
    q<TypeRow<Domain>>(Q.DOMAINS_SQL, p1),
    q<TypeRow<CompositeType>>(Q.COMPOSITES_SQL, p1),
    q<TypeRow<RangeType>>(Q.RANGES_SQL, p1),
    q<RawCollation>(Q.COLLATIONS_SQL, p1),
    q<RawDefaultAcl>(Q.DEFAULT_ACL_SQL, p1),
    withTables ? q<{ type: number; collation: number }>(Q.USED_TYPES_SQL, p2) : Promise.resolve(null),
    q<RawRoutine>(Q.FUNCTIONS_SQL, p2),
    q<SchemaResult["extensions"][number]>(Q.EXTENSIONS_SQL),
  ] as const);
}

const queryOn =
  (tx: { unsafe: Db["unsafe"] }): Query =>
  <T>(text: string, params: Params = []) =>
    tx.unsafe(text, params as string[]) as unknown as Promise<T[]>;

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  return { promise, resolve, reject };
}

/**
 * The second session could not start: the server cannot export a snapshot (some
 * poolers, old standbys) or refused the connection (max_connections). One session
 * then does everything.
 */
class NoSecondSession extends Error {}

/**
 * Two sessions on one exported snapshot, each reading half the relations: the
 * deparsing functions (pg_get_indexdef, pg_get_constraintdef, pg_get_expr) cost
 * most of the time and run on both server cores at once.
 */
async function fetchParallel(db: Db, p1: Params, p2: Params, withTables: boolean, minClasses: number) {
  const snapshot = deferred<string>();
  const imported = deferred<void>();
  let second: Promise<RelationRows> | undefined;
  let importedDone = false;
  const first = db
    .begin(TX, async (tx) => {
      let id: string;
      let classes: number;
      try {
        const [row] = await tx.unsafe("select pg_export_snapshot() as id, (select count(*) from pg_class)::int as classes");
        id = row!.id as string;
        classes = row!.classes as number;
      } catch (e) {
        throw new NoSecondSession(String(e));
      }
      const q = queryOn(tx);
      // A small catalog is read faster by one session than by two.
      if (classes < minClasses) {
        const [other, rels] = await Promise.all([otherQueries(q, p1, p2, withTables), relationQueries(q, p2, 1, 0)]);
        return { other, rels };
      }
      second = startSecond();
      second.catch(() => {}); // settled and read below, after the first session
      snapshot.resolve(id);
      const work = Promise.all([otherQueries(q, p1, p2, withTables), relationQueries(q, p2, 2, 0)]);
      // The exporting transaction must stay open until the other session has imported.
      const [[other, rels]] = await Promise.all([work, imported.promise]);
      return { other, rels };
    })
    .catch((e) => {
      snapshot.reject(e);
      throw e;
    });
  function startSecond(): Promise<RelationRows> {
    return db
      .begin(TX, async (tx) => {
        const id = await snapshot.promise;
        if (!/^[0-9A-F-]+$/i.test(id)) throw new Error(`unexpected snapshot id ${id}`);
        await tx.unsafe(`set transaction snapshot '${id}'`);
        importedDone = true;
        imported.resolve();
        return relationQueries(queryOn(tx), p2, 2, 1);
      })
      .catch((e) => {
        const before = !importedDone;
        const err = before ? new NoSecondSession(String(e)) : e;
        imported.reject(err);
        throw err;
      });
  }
  const a = await Promise.allSettled([first]).then(([r]) => r);
  const b = second ? (await Promise.allSettled([second]))[0] : undefined;
  if (a.status === "rejected") throw a.reason;
  if (b?.status === "rejected") throw b.reason;
  return { other: a.value.other, rels: b ? [a.value.rels, b.value] : [a.value.rels] };
}

/**
 * pg_class rows from which "auto" reads with two sessions: about 500 tables with
 * their indexes, TOAST tables and sequences. Below it, the second connection and
 * the second planning of each query cost more than the halved deparsing saves.
 */
const PARALLEL_MIN_CLASSES = 4000;

async function fetchCatalog(db: Db, schemas: string[] | null, tables: string[] | null, parallel: boolean | "auto"): Promise<Raw> {
  const p1: Params = [schemas ? JSON.stringify(schemas) : null];
  const p2: Params = [...p1, tables ? JSON.stringify(tables) : null];
  // Sent back to back on one connection: postgres.js pipelines them.
  const serial = () =>
    db.begin(TX, async (tx) => {
      const q = queryOn(tx);
      const [other, rels] = await Promise.all([otherQueries(q, p1, p2, !!tables), relationQueries(q, p2, 1, 0)]);
      return { other, rels: [rels] };
    });
  let fetched: { other: Awaited<ReturnType<typeof otherQueries>>; rels: RelationRows[] };
  if (!parallel) fetched = await serial();
  else {
    try {
      fetched = await fetchParallel(db, p1, p2, !!tables, parallel === "auto" ? PARALLEL_MIN_CLASSES : 0);
    } catch (e) {
      if (!(e instanceof NoSecondSession)) throw e;
      fetched = await serial();
    }
  }
  const [meta, schemaRows, enums, domains, composites, ranges, collations, defaultAcls, usedRows, fnRows, extRows] = fetched.other;
  const part = (i: number) => fetched.rels.map((r) => r[i]);
  const relRows = mergeSorted(part(0) as RawRelation[][]);
  const [colRows, conRows, idxRows, trgRows, partRows, polRows] = [1, 2, 3, 4, 5, 6].map((i) => part(i).flat()) as [
    RawColumn[],
    RawConstraint[],
    RawIndex[],
    RawTrigger[],
    RawPartition[],
    RawPolicy[],
  ];
  const seqRows = mergeSorted(part(7) as RawSequence[][]);
  // ACLs arrive as aclitem texts: decode them in place.
  for (const list of [schemaRows, relRows, colRows, enums, domains, composites, ranges, seqRows, fnRows, defaultAcls] as Array<Array<{ privileges: unknown }>>) {
    for (const row of list) row.privileges = decodeAcl(row.privileges as string[] | null);
  }
  const rels = new Map<number, Assembled>();
  const relations = relRows.map((r) => {
    const a: Assembled = { ...r, columns: [], names: [], constraints: [], indexes: [], triggers: [], partitions: [], policies: [] };
    rels.set(r.oid, a);
    return a;
  });
  // Each per-relation query returns rows for relations in scope only, grouped by relation.
  for (const c of colRows) {
    const r = rels.get(c.rel);
    if (!r) continue;
    r.columns.push(c);
    r.names[c.num] = c.name;
  }
  for (const c of conRows) rels.get(c.rel)?.constraints.push(c);
  for (const { rel, ...i } of idxRows) rels.get(rel)?.indexes.push(i);
  for (const t of trgRows) rels.get(t.rel)?.triggers.push(t);
  for (const { rel, ...p } of partRows) rels.get(rel)?.partitions.push(p);
  for (const p of polRows) rels.get(p.rel)?.policies.push(p);
  return {
    meta: meta[0]!,
    schemas: schemaRows.map(({ name, owner, comment, privileges }) => ({ name, owner, comment, privileges })),
    relations,
    enums,
    domains,
    composites,
    ranges,
    collations,
    defaultAcls,
    used: usedRows ? { types: new Set(usedRows.map((u) => u.type)), collations: new Set(usedRows.map((u) => u.collation)) } : null,
    sequences: seqRows,
    functions: fnRows,
    extensions: extRows.map(({ name, version, schema }) => ({ name, version, schema })),
  };
}

/** A filter that names nothing is almost always a typo: say so instead of printing an empty tree. */
function checkFilters(raw: Raw, schemas: string[] | null, tables: string[] | null): void {
  if (schemas) {
    const found = new Set(raw.schemas.map((s) => s.name));
    const missing = schemas.filter((s) => !found.has(s));
    if (missing.length) {
      throw new EveError("E_NOT_FOUND", `schema${missing.length > 1 ? "s" : ""} not found: ${missing.join(", ")}`, ExitCode.error, {
        hint: "check the --schema names (case-sensitive); system schemas are never shown",
      });
    }
  }
  if (tables) {
    const names = [...raw.relations.map((r) => [r.name, `${r.schema}.${r.name}`]), ...raw.sequences.map((s) => [s.name, `${s.schema}.${s.name}`])].flat();
    const found = new Set(names);
    const missing = tables.filter((t) => !found.has(t));
    if (missing.length) {
      throw new EveError("E_NOT_FOUND", `no table, view or sequence named ${missing.join(", ")}${schemas ? ` in ${schemas.join(", ")}` : ""}`, ExitCode.error, {
        hint: "use --table NAME or --table SCHEMA.NAME (case-sensitive)",
      });
    }
  }
}

function build(raw: Raw, schemas: string[] | null, tables: string[] | null): SchemaResult {
  const v = raw.meta.version_num;
  const entries = new Map<string, SchemaEntry>();
  for (const s of raw.schemas) {
    entries.set(s.name, {
      ...s,
      defaultPrivileges: [],
      tables: [],
      views: [],
      materializedViews: [],
      enums: [],
      domains: [],
      compositeTypes: [],
      rangeTypes: [],
      collations: [],
      sequences: [],
      functions: [],
    });
  }
  const entry = (name: string) => entries.get(name)!;
  for (const r of raw.relations) {
    if (r.kind === "v") entry(r.schema).views.push(toView(r));
    else if (r.kind === "m") entry(r.schema).materializedViews.push(toMatview(r, v));
    else entry(r.schema).tables.push(toTable(r, v));
  }
  // With --table: only the types and collations the shown columns use (types directly or as arrays).
  const used = raw.used;
  const keep = <T>(rows: TypeRow<T>[], push: (t: T & { schema: string }) => void) => {
    for (const { oid, array_oid, ...t } of rows) {
      if (used && !used.types.has(oid) && !used.types.has(array_oid)) continue;
      push(t as unknown as T & { schema: string });
    }
  };
  keep(raw.enums, (e) => entry(e.schema).enums.push(e));
  keep(raw.domains, (d) => entry(d.schema).domains.push(d));
  keep(raw.composites, (c) => entry(c.schema).compositeTypes.push(c));
  keep(raw.ranges, (r) => entry(r.schema).rangeTypes.push(r));
  for (const { oid, ...c } of raw.collations) {
    if (used && !used.collations.has(oid)) continue;
    entry(c.schema).collations.push({ ...c, provider: collationProviders[c.provider] ?? "default" });
  }
  const globalDefaults: DefaultPrivilege[] = [];
  for (const d of raw.defaultAcls) {
    const list = toDefaultPrivileges(d);
    if (d.schema === null) globalDefaults.push(...list);
    else if (!tables) entries.get(d.schema)?.defaultPrivileges.push(...list);
  }
  for (const s of raw.sequences) entry(s.schema).sequences.push(toSequence(s));
  for (const f of raw.functions) entry(f.schema).functions.push(toRoutine(f));
  let list = [...entries.values()];
  // With --table, schemas holding none of the named objects (or of the types and collations their columns use) are noise.
  if (tables) {
    list = list.filter((s) =>
      [s.tables, s.views, s.materializedViews, s.sequences, s.enums, s.domains, s.compositeTypes, s.rangeTypes, s.collations].some((l) => l.length),
    );
  }
  return {
    database: raw.meta.database,
    serverVersion: raw.meta.server_version.split(" ")[0]!,
    filter: { schemas, tables },
    schemas: list,
    extensions: raw.extensions,
    defaultPrivileges: globalDefaults,
  };
}

const collationProviders: Record<string, Collation["provider"]> = { c: "libc", i: "icu", b: "builtin", d: "default" };
const defaultAclTypes: Record<string, DefaultPrivilege["objectType"]> = { r: "tables", S: "sequences", f: "functions", T: "types", n: "schemas" };

/** One entry per grantee and grant option (the grantor is always the role). */
function toDefaultPrivileges(d: RawDefaultAcl): DefaultPrivilege[] {
  const objectType = defaultAclTypes[d.objtype] ?? "tables";
  return d.privileges.map((p) => ({ role: d.role, objectType, grantee: p.grantee, privileges: p.privileges, grantable: p.grantable }));
}

const policyCommands: Record<string, Policy["command"]> = { "*": "all", r: "select", a: "insert", w: "update", d: "delete" };

function toPolicy({ rel: _rel, command, ...p }: RawPolicy): Policy {
  return { name: p.name, command: policyCommands[command] ?? "all", permissive: p.permissive, roles: p.roles, using: p.using, withCheck: p.withCheck };
}

/** reltuples is -1 when never analyzed (PG 14+); before 14, 0 rows on 0 pages meant the same. */
function rowEstimate(r: RawRelation, versionNum: number): number | null {
  if (r.reltuples < 0) return null;
  if (versionNum < 140000 && r.reltuples === 0 && r.relpages === 0) return null;
  return Math.round(r.reltuples);
}

function toColumn({ rel: _rel, num: _num, ...c }: RawColumn): Column {
  return { ...c, identity: c.identity === "a" ? "always" : c.identity === "d" ? "by default" : null };
}

const constraintTypes: Record<string, Constraint["type"]> = { p: "primary key", u: "unique", c: "check", x: "exclusion" };
const fkActions: Record<string, ForeignKey["onDelete"]> = {
  a: "no action",
  r: "restrict",
  c: "cascade",
  n: "set null",
  d: "set default",
};
const matchTypes: Record<string, ForeignKey["match"]> = { s: "simple", f: "full", p: "partial" };

function toTable(r: Assembled, v: number): Table {
  const constraints: Constraint[] = [];
  const foreignKeys: ForeignKey[] = [];
  for (const c of r.constraints) {
    const columns = (c.keys ?? []).map((k) => r.names[k] ?? `#${k}`);
    // Keys in the order of the zod schemas (and of the --json help).
    if (c.type === "f") {
      foreignKeys.push({
        name: c.name,
        columns,
        references: { schema: c.refSchema!, table: c.refTable!, columns: c.refColumns ?? [] },
        onUpdate: fkActions[c.onUpdate] ?? "no action",
        onDelete: fkActions[c.onDelete] ?? "no action",
        match: matchTypes[c.match] ?? "simple",
        deferrable: c.deferrable,
        initiallyDeferred: c.initiallyDeferred,
        validated: c.validated,
        definition: c.definition,
      });
    } else {
      constraints.push({
        name: c.name,
        type: constraintTypes[c.type]!,
        columns,
        definition: c.definition,
        deferrable: c.deferrable,
        initiallyDeferred: c.initiallyDeferred,
        validated: c.validated,
      });
    }
  }
  return {
    schema: r.schema,
    name: r.name,
    kind: r.kind === "p" ? "partitioned" : r.kind === "f" ? "foreign" : "table",
    owner: r.owner,
    comment: r.comment,
    rowEstimate: rowEstimate(r, v),
    unlogged: r.unlogged,
    options: r.options ?? [],
    rls: { enabled: r.rlsEnabled, forced: r.rlsForced },
    policies: r.policies.map(toPolicy),
    privileges: r.privileges,
    partitionKey: r.partitionKey,
    partitions: r.partitions,
    partitionOf: r.parentName ? { schema: r.parentSchema!, name: r.parentName, bound: r.partitionBound ?? "" } : null,
    columns: r.columns.map(toColumn),
    constraints,
    foreignKeys,
    indexes: r.indexes,
    triggers: r.triggers.map(toTrigger),
  };
}

function toView(r: Assembled): View {
  return {
    schema: r.schema,
    name: r.name,
    owner: r.owner,
    comment: r.comment,
    options: r.options ?? [],
    definition: (r.definition ?? "").trim(),
    columns: r.columns.map(toColumn),
    triggers: r.triggers.map(toTrigger),
    privileges: r.privileges,
  };
}

function toMatview(r: Assembled, v: number): MaterializedView {
  return {
    schema: r.schema,
    name: r.name,
    owner: r.owner,
    comment: r.comment,
    populated: r.populated,
    rowEstimate: rowEstimate(r, v),
    definition: (r.definition ?? "").trim(),
    columns: r.columns.map(toColumn),
    indexes: r.indexes,
    privileges: r.privileges,
  };
}

/** Decode pg_trigger.tgtype bits (see pg_trigger.h). */
export function decodeTriggerType(t: number): Pick<Trigger, "timing" | "events" | "level"> {
  const events: Trigger["events"] = [];
  if (t & 4) events.push("insert");
  if (t & 16) events.push("update");
  if (t & 8) events.push("delete");
  if (t & 32) events.push("truncate");
  return { timing: t & 2 ? "before" : t & 64 ? "instead of" : "after", events, level: t & 1 ? "row" : "statement" };
}

const triggerEnabled: Record<string, Trigger["enabled"]> = { O: "enabled", D: "disabled", R: "replica", A: "always" };

function toTrigger(t: RawTrigger): Trigger {
  return { name: t.name, ...decodeTriggerType(t.type), function: t.function, enabled: triggerEnabled[t.enabled] ?? "enabled", definition: t.definition };
}

function toSequence(s: RawSequence): Sequence {
  const { ownerSchema, ownerTable, ownerColumn } = s;
  // Keys in the order of the zod schema.
  return {
    schema: s.schema,
    name: s.name,
    type: s.type,
    start: s.start,
    increment: s.increment,
    min: s.min,
    max: s.max,
    cache: s.cache,
    cycle: s.cycle,
    lastValue: s.lastValue,
    ownedBy: ownerTable && ownerColumn ? { schema: ownerSchema!, table: ownerTable, column: ownerColumn } : null,
    identity: !!s.identity,
    owner: s.owner,
    comment: s.comment,
    privileges: s.privileges,
  };
}

const routineKinds: Record<string, Routine["kind"]> = { f: "function", p: "procedure", a: "aggregate", w: "window" };
const volatility: Record<string, Routine["volatility"]> = { i: "immutable", s: "stable", v: "volatile" };

function toRoutine(f: RawRoutine): Routine {
  // Keys in the order of the zod schema.
  return {
    schema: f.schema,
    name: f.name,
    kind: routineKinds[f.kind] ?? "function",
    signature: `${f.name}(${f.identityArguments})`,
    arguments: f.arguments,
    returns: f.returns,
    language: f.language,
    volatility: volatility[f.volatility] ?? "volatile",
    strict: f.strict,
    securityDefiner: f.securityDefiner,
    config: f.config ?? [],
    owner: f.owner,
    comment: f.comment,
    privileges: f.privileges,
  };
}

/** Byte order of the UTF-8 encodings: the order of Postgres' `name` type (C collation). */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Merge lists each sorted by (schema, name) into one sorted list. */
function mergeSorted<T extends { schema: string; name: string }>(lists: T[][]): T[] {
  if (lists.length === 1) return lists[0]!;
  const [a, b] = lists as [T[], T[]];
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const c = compareNames(a[i]!.schema, b[j]!.schema) || compareNames(a[i]!.name, b[j]!.name);
    out.push(c <= 0 ? a[i++]! : b[j++]!);
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}
