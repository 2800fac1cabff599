import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { EveError } from "../../../core/errors.ts";
import { renderSchema } from "../../../plugins/inspect/render-schema.ts";
import { SchemaResult, type SchemaEntry, type Table } from "../../../plugins/inspect/schema.ts";
import { inspectSchema } from "../../../plugins/inspect/schema-query.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { fixtureDatabase } from "./fixture.ts";

let db: Db;
let full: SchemaResult;

const schema = (r: SchemaResult, name: string): SchemaEntry => {
  const s = r.schemas.find((x) => x.name === name);
  if (!s) throw new Error(`schema ${name} not in result`);
  return s;
};
const table = (r: SchemaResult, s: string, name: string): Table => {
  const t = schema(r, s).tables.find((x) => x.name === name);
  if (!t) throw new Error(`table ${s}.${name} not in result`);
  return t;
};

beforeAll(async () => {
  db = connect(await fixtureDatabase("schema"));
  full = await inspectSchema(db);
});
afterAll(() => close(db));

describe("inspectSchema on the fixture", () => {
  test("result matches the zod schema; only user schemas, sorted", () => {
    expect(() => SchemaResult.parse(full)).not.toThrow();
    expect(full.schemas.map((s) => s.name)).toEqual(["app", "public"]);
    expect(full.filter).toEqual({ schemas: null, tables: null });
    expect(full.serverVersion).toMatch(/^\d+\.\d+/);
    expect(schema(full, "app").comment).toBe("Application objects");
    expect(schema(full, "app").tables.map((t) => t.name)).toEqual(["audit_log", "bookings", "rooms", "users"]);
  });

  test("extensions are listed, their member objects are not", () => {
    const citext = full.extensions.find((e) => e.name === "citext");
    expect(citext).toMatchObject({ schema: "public", version: expect.stringMatching(/^\d+\.\d+$/) });
    expect(full.extensions.map((e) => e.name)).toContain("plpgsql");
    // citext installs dozens of functions in public: none may show up.
    expect(schema(full, "public").functions).toEqual([]);
    expect(schema(full, "public").enums).toEqual([]);
  });

  test("columns: types, nullability, defaults, identity, generated, comments", () => {
    const cols = Object.fromEntries(table(full, "app", "users").columns.map((c) => [c.name, c]));
    expect(table(full, "app", "users").columns.map((c) => c.name)).toEqual([
      "id", "email", "status", "age", "first_name", "last_name", "full_name", "created_at", "deleted_at",
    ]);
    expect(cols.id).toEqual({ name: "id", type: "bigint", nullable: false, default: null, identity: "always", generated: null, comment: null });
    expect(cols.email).toMatchObject({ type: "citext", nullable: false, comment: "Login address, case-insensitive" });
    expect(cols.status).toMatchObject({ type: "app.user_status", default: "'invited'::app.user_status", identity: null });
    expect(cols.age).toMatchObject({ type: "integer", nullable: true, default: null });
    expect(cols.full_name!.default).toBeNull();
    expect(cols.full_name!.generated).toContain("COALESCE(first_name");
    expect(cols.created_at).toMatchObject({ type: "timestamp with time zone", default: "now()" });
    const booking = table(full, "app", "bookings").columns.find((c) => c.name === "id");
    expect(booking!.identity).toBe("by default");
    const room = table(full, "app", "rooms").columns.find((c) => c.name === "id");
    expect(room).toMatchObject({ identity: null, default: "nextval('app.rooms_id_seq'::regclass)" });
  });

  test("table facts: comment, RLS flags, row estimates", () => {
    const users = table(full, "app", "users");
    expect(users).toMatchObject({ kind: "table", owner: "postgres", comment: "People who can log in", rls: { enabled: true, forced: true } });
    expect(users.rowEstimate).toBeNull(); // never analyzed
    expect(table(full, "app", "bookings").rls).toEqual({ enabled: true, forced: false });
    expect(table(full, "app", "rooms").rls).toEqual({ enabled: false, forced: false });
    expect(table(full, "public", "countries").rowEstimate).toBe(100);
  });

  test("primary key, unique, check and exclusion constraints", () => {
    const users = table(full, "app", "users");
    expect(users.constraints.map((c) => [c.name, c.type, c.columns])).toEqual([
      ["users_age_check", "check", ["age"]],
      ["users_email_key", "unique", ["email"]],
      ["users_pkey", "primary key", ["id"]],
    ]);
    expect(users.constraints[0]!.definition).toBe("CHECK (age > 0)");
    const excl = table(full, "app", "bookings").constraints.find((c) => c.type === "exclusion");
    expect(excl).toMatchObject({ name: "bookings_no_overlap", columns: ["during"], deferrable: false, validated: true });
    expect(excl!.definition).toContain("EXCLUDE USING gist (during WITH &&)");
  });

  test("foreign keys with actions, match and deferrability", () => {
    const fks = table(full, "app", "bookings").foreignKeys;
    expect(fks.map((f) => f.name)).toEqual(["bookings_room_fk", "bookings_user_fk"]);
    expect(fks[0]).toMatchObject({
      columns: ["room_id"],
      references: { schema: "app", table: "rooms", columns: ["id"] },
      onDelete: "restrict",
      onUpdate: "cascade",
      match: "simple",
      deferrable: false,
      initiallyDeferred: false,
    });
    expect(fks[1]).toMatchObject({ onDelete: "cascade", onUpdate: "no action", deferrable: true, initiallyDeferred: true });
    // A key to a partitioned table: Postgres keeps hidden per-partition copies; only one is reported.
    const notes = table(full, "public", "event_notes").foreignKeys;
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ columns: ["event_id", "event_at"], references: { schema: "public", table: "events", columns: ["id", "occurred_at"] } });
  });

  test("indexes: definition, unique, partial predicate, expressions, include, backing constraint", () => {
    const idx = Object.fromEntries(table(full, "app", "users").indexes.map((i) => [i.name, i]));
    expect(Object.keys(idx)).toEqual(["users_active_email_idx", "users_email_key", "users_pkey"]);
    expect(idx.users_active_email_idx).toMatchObject({
      method: "btree",
      unique: false,
      primary: false,
      columns: ["lower(email::text)"],
      include: ["status"],
      predicate: "deleted_at IS NULL",
      valid: true,
      constraint: null,
    });
    expect(idx.users_active_email_idx!.definition).toStartWith("CREATE INDEX users_active_email_idx ON app.users USING btree");
    expect(idx.users_email_key).toMatchObject({ unique: true, primary: false, predicate: null, constraint: "users_email_key" });
    expect(idx.users_pkey).toMatchObject({ unique: true, primary: true, constraint: "users_pkey" });
    const excl = table(full, "app", "bookings").indexes.find((i) => i.name === "bookings_no_overlap");
    expect(excl).toMatchObject({ method: "gist", constraint: "bookings_no_overlap" });
  });

  test("triggers: timing, events, level, function", () => {
    expect(table(full, "app", "users").triggers).toEqual([
      expect.objectContaining({ name: "users_touch", timing: "before", events: ["insert", "update"], level: "row", function: "app.touch", enabled: "enabled" }),
    ]);
    const audit = table(full, "app", "bookings").triggers[0]!;
    expect(audit).toMatchObject({ name: "bookings_audit", timing: "after", events: ["delete", "truncate"], level: "statement", function: "app.log_change" });
    expect(audit.definition).toContain("CREATE TRIGGER bookings_audit AFTER DELETE OR TRUNCATE ON app.bookings");
  });

  test("partitioned tables: key, partitions with bounds, partitionOf", () => {
    const events = table(full, "public", "events");
    expect(events).toMatchObject({ kind: "partitioned", partitionKey: "RANGE (occurred_at)", partitionOf: null });
    expect(events.partitions.map((p) => p.name)).toEqual(["events_2025", "events_2026", "events_default"]);
    expect(events.partitions[0]!.bound).toMatch(/^FOR VALUES FROM \('2025-01-01.*TO \('2026-01-01/);
    expect(events.partitions[2]!.bound).toBe("DEFAULT");
    const p2025 = table(full, "public", "events_2025");
    expect(p2025).toMatchObject({ kind: "table", partitionKey: null, partitions: [] });
    expect(p2025.partitionOf).toMatchObject({ schema: "public", name: "events" });
    expect(table(full, "public", "countries").partitionOf).toBeNull();
  });

  test("views and materialized views", () => {
    const [view] = schema(full, "app").views;
    expect(view).toMatchObject({ name: "active_users", comment: "Users not deleted", options: ["security_invoker=true"], triggers: [] });
    expect(view!.columns.map((c) => c.name)).toEqual(["id", "email", "status"]);
    expect(view!.definition).toContain("FROM app.users");
    const [mv] = schema(full, "app").materializedViews;
    expect(mv).toMatchObject({ name: "user_counts", populated: true, rowEstimate: null });
    expect(mv!.indexes.map((i) => [i.name, i.unique])).toEqual([["user_counts_status_idx", true]]);
    expect(mv!.definition).toContain("GROUP BY");
  });

  test("enums keep their sort order", () => {
    expect(schema(full, "app").enums).toEqual([
      { schema: "app", name: "user_status", owner: "postgres", comment: "Lifecycle of a user", values: ["invited", "pending", "active", "suspended"] },
    ]);
  });

  test("sequences: settings, owner column, identity", () => {
    const seqs = Object.fromEntries(schema(full, "app").sequences.map((s) => [s.name, s]));
    expect(Object.keys(seqs)).toEqual(["audit_log_id_seq", "bookings_id_seq", "invoice_number", "rooms_id_seq", "users_id_seq"]);
    expect(seqs.invoice_number).toMatchObject({
      type: "integer", start: "1000", increment: "10", min: "1000", max: "999999", cycle: true, ownedBy: null, identity: false, lastValue: null,
    });
    expect(seqs.users_id_seq).toMatchObject({ type: "bigint", max: "9223372036854775807", identity: true, ownedBy: { schema: "app", table: "users", column: "id" } });
    expect(seqs.audit_log_id_seq).toMatchObject({ identity: false, ownedBy: { table: "audit_log", column: "id" } });
  });

  test("functions and procedures: signature, return type, language, volatility, security definer", () => {
    const fns = Object.fromEntries(schema(full, "app").functions.map((f) => [f.name, f]));
    expect(Object.keys(fns)).toEqual(["active_count", "full_name", "log_change", "purge_deleted", "touch"]);
    expect(fns.full_name).toMatchObject({
      kind: "function",
      signature: "full_name(first text, last text)",
      arguments: "first text, last text DEFAULT ''::text",
      returns: "text",
      language: "sql",
      volatility: "immutable",
      strict: true,
      securityDefiner: false,
      config: [],
      comment: "Joins two names",
    });
    expect(fns.active_count).toMatchObject({ returns: "bigint", volatility: "stable" });
    expect(fns.log_change).toMatchObject({ returns: "trigger", language: "plpgsql", securityDefiner: true, config: ["search_path=app, pg_temp"] });
    expect(fns.purge_deleted).toMatchObject({ kind: "procedure", returns: null, signature: "purge_deleted(IN older_than interval)" });
  });

  test("the human tree names every kind of object", () => {
    const text = renderSchema(full);
    for (const needle of [
      "schema app", "table users", "RLS enabled, forced", "identity always", "partitioned table events", "partition by RANGE (occurred_at)",
      "events_default  DEFAULT", "view active_users", "materialized view user_counts", "enum user_status: invited, pending, active, suspended",
      "sequence invoice_number", "procedure purge_deleted", "security definer", "on delete cascade, deferrable initially deferred",
      "where deleted_at IS NULL", "before insert or update, for each row", "~100 rows", "extensions: citext",
    ]) {
      expect(text).toContain(needle);
    }
    // Partitions are drawn under their parent, not again as tables.
    expect(text).not.toContain("table events_2025");
  });
});

describe("filters", () => {
  test("--schema keeps one schema", async () => {
    const r = await inspectSchema(db, { schemas: ["public"] });
    expect(r.filter).toEqual({ schemas: ["public"], tables: null });
    expect(r.schemas.map((s) => s.name)).toEqual(["public"]);
    // Extensions are database-wide and always listed.
    expect(r.extensions.map((e) => e.name)).toContain("citext");
  });

  test("--table by bare name, with its owned sequence and the enums it uses; no functions", async () => {
    const r = await inspectSchema(db, { tables: ["users"] });
    expect(r.schemas.map((s) => s.name)).toEqual(["app"]);
    const app = schema(r, "app");
    expect(app.tables.map((t) => t.name)).toEqual(["users"]);
    expect(app.views).toEqual([]);
    expect(app.sequences.map((s) => s.name)).toEqual(["users_id_seq"]);
    expect(app.enums.map((e) => e.name)).toEqual(["user_status"]);
    expect(app.functions).toEqual([]);
  });

  test("--table repeated, qualified names, views and sequences", async () => {
    const r = await inspectSchema(db, { tables: ["public.events", "app.active_users", "invoice_number"] });
    expect(r.schemas.map((s) => [s.name, s.tables.map((t) => t.name), s.views.map((v) => v.name), s.sequences.map((q) => q.name)])).toEqual([
      ["app", [], ["active_users"], ["invoice_number"]],
      ["public", ["events"], [], []],
    ]);
    expect(table(r, "public", "events").partitions).toHaveLength(3);
  });

  test("--schema and --table together", async () => {
    const r = await inspectSchema(db, { schemas: ["app"], tables: ["rooms", "bookings"] });
    expect(schema(r, "app").tables.map((t) => t.name)).toEqual(["bookings", "rooms"]);
    expect(schema(r, "app").enums).toEqual([]);
    await expect(inspectSchema(db, { schemas: ["public"], tables: ["rooms"] })).rejects.toThrow("no table, view or sequence named rooms in public");
  });

  test("a filter that matches nothing is an error naming it", async () => {
    const e1 = await inspectSchema(db, { schemas: ["app", "nope"] }).catch((e) => e);
    expect(e1).toBeInstanceOf(EveError);
    expect(e1).toMatchObject({ code: "E_NOT_FOUND", exitCode: 1, message: "schema not found: nope" });
    const e2 = await inspectSchema(db, { tables: ["missing_table"] }).catch((e) => e);
    expect(e2).toMatchObject({ code: "E_NOT_FOUND", message: "no table, view or sequence named missing_table" });
    // System schemas are not user schemas, even when asked for.
    await expect(inspectSchema(db, { schemas: ["pg_catalog"] })).rejects.toThrow("schema not found: pg_catalog");
  });
});

describe("edge cases", () => {
  test("an empty database has just public, empty", async () => {
    const conn = connect(await freshDatabase("schema_empty"));
    try {
      // Temporary tables live in pg_temp_N: never user objects.
      await conn`create temp table scratch (id int)`;
      const r = await inspectSchema(conn);
      expect(r.schemas).toEqual([
        { name: "public", owner: "pg_database_owner", comment: "standard public schema", tables: [], views: [], materializedViews: [], enums: [], sequences: [], functions: [] },
      ]);
      expect(renderSchema(r)).toContain("schema public  owner pg_database_owner");
    } finally {
      await close(conn);
    }
  });

  test("row estimate appears after ANALYZE; unpopulated matview and NOT VALID constraints are flagged", async () => {
    const url = await freshDatabase("schema_edge");
    await withSql(url, (sql) =>
      sql.unsafe(`
        create table t (id int primary key, parent int);
        create table empty_t (id int);
        analyze empty_t;
        insert into t select g, null from generate_series(1, 50) g;
        alter table t add constraint t_parent_fk foreign key (parent) references t (id) match full not valid;
        alter table t add constraint t_id_check check (id > 0) not valid;
        create materialized view mv as select * from t with no data;`),
    );
    const conn = connect(url);
    try {
      let r = await inspectSchema(conn);
      expect(table(r, "public", "t").rowEstimate).toBeNull();
      // Analyzed and empty is a known 0 (PG 14+), not unknown.
      expect(table(r, "public", "empty_t").rowEstimate).toBe(0);
      await conn`analyze t`;
      r = await inspectSchema(conn);
      const t = table(r, "public", "t");
      expect(t.rowEstimate).toBe(50);
      expect(t.foreignKeys[0]).toMatchObject({ match: "full", validated: false });
      expect(t.constraints.find((c) => c.name === "t_id_check")).toMatchObject({ validated: false });
      expect(schema(r, "public").materializedViews[0]).toMatchObject({ name: "mv", populated: false });
      expect(renderSchema(r)).toContain("not populated");
    } finally {
      await close(conn);
    }
  });
});
