import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { EveError } from "../../../core/errors.ts";
import { decodeAcl } from "../../../plugins/inspect/acl.ts";
import { jsonChunks } from "../../../plugins/inspect/json-chunks.ts";
import { renderSchema, renderSchemaChunks } from "../../../plugins/inspect/render-schema.ts";
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

// Hooks get bun's 5 s default; starting a cluster on a busy machine can take longer.
beforeAll(async () => {
  db = connect(await fixtureDatabase("schema"));
  full = await inspectSchema(db);
}, 60_000);
afterAll(() => close(db));

describe("inspectSchema on the fixture", () => {
  test("result matches the zod schema; only user schemas, sorted", () => {
    expect(() => SchemaResult.parse(full)).not.toThrow();
    expect(full.schemas.map((s) => s.name)).toEqual(["app", "public"]);
    expect(full.filter).toEqual({ schemas: null, tables: null });
    expect(full.serverVersion).toMatch(/^\d+\.\d+/);
    expect(schema(full, "app").comment).toBe("Application objects");
    expect(schema(full, "app").tables.map((t) => t.name)).toEqual(["audit_log", "bookings", "contacts", "rooms", "users"]);
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
    expect(cols.id).toEqual({
      name: "id", type: "bigint", nullable: false, default: null, identity: "always", generated: null, comment: null, collation: null, privileges: [],
    });
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
    expect(table(full, "app", "rooms")).toMatchObject({ unlogged: false, options: [] });
    expect(table(full, "app", "audit_log")).toMatchObject({ unlogged: true, options: ["fillfactor=70", "autovacuum_enabled=false"] });
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
      {
        schema: "app",
        name: "user_status",
        owner: "postgres",
        comment: "Lifecycle of a user",
        values: ["invited", "pending", "active", "suspended"],
        privileges: [
          { grantee: "PUBLIC", grantor: "postgres", privileges: ["USAGE"], grantable: false },
          { grantee: "postgres", grantor: "postgres", privileges: ["USAGE"], grantable: false },
        ],
      },
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

  test("domains: base type, collation, not null, default, checks (NOT VALID flagged), grants", () => {
    expect(schema(full, "app").domains).toEqual([
      {
        schema: "app",
        name: "email_address",
        owner: "postgres",
        comment: "An address with an @",
        type: "character varying(200)",
        notNull: true,
        default: "'nobody@example.com'::character varying",
        collation: "app.ci",
        constraints: [
          { name: "email_has_at", definition: "CHECK (VALUE::text ~ '@'::text)", validated: true },
          { name: "email_short", definition: "CHECK (length(VALUE::text) < 100) NOT VALID", validated: false },
        ],
        privileges: [
          { grantee: "PUBLIC", grantor: "postgres", privileges: ["USAGE"], grantable: false },
          { grantee: "inspect_writer", grantor: "postgres", privileges: ["USAGE"], grantable: false },
          { grantee: "postgres", grantor: "postgres", privileges: ["USAGE"], grantable: false },
        ],
      },
    ]);
  });

  test("composite and range types; a range's constructor functions are not listed as functions", () => {
    expect(schema(full, "app").compositeTypes).toEqual([
      {
        schema: "app",
        name: "address",
        owner: "postgres",
        comment: "Postal address",
        attributes: [
          { name: "street", type: "text", collation: null },
          { name: "city", type: "text", collation: '"C"' },
          { name: "zip", type: "character varying(10)", collation: null },
        ],
        privileges: [
          { grantee: "PUBLIC", grantor: "postgres", privileges: ["USAGE"], grantable: false },
          { grantee: "postgres", grantor: "postgres", privileges: ["USAGE"], grantable: false },
        ],
      },
    ]);
    // Table row types are not composite types of their own.
    expect(schema(full, "app").compositeTypes.map((c) => c.name)).not.toContain("users");
    expect(schema(full, "app").rangeTypes).toEqual([
      expect.objectContaining({ name: "floatrange", subtype: "double precision", collation: null, multirange: "app.floatmultirange" }),
    ]);
    expect(schema(full, "app").functions.map((f) => f.name)).not.toContain("floatrange");
    expect(schema(full, "app").functions.map((f) => f.name)).not.toContain("floatmultirange");
  });

  test("collations: user-defined ones with provider and locale; columns name a non-default collation", () => {
    expect(schema(full, "app").collations).toEqual([
      { schema: "app", name: "c_utf8", owner: "postgres", comment: null, provider: "libc", locale: null, lcCollate: "C.UTF-8", lcCtype: "C.UTF-8", rules: null, deterministic: true },
      { schema: "app", name: "ci", owner: "postgres", comment: "Case-insensitive", provider: "icu", locale: "und-u-ks-level2", lcCollate: null, lcCtype: null, rules: null, deterministic: false },
    ]);
    const contacts = Object.fromEntries(table(full, "app", "contacts").columns.map((c) => [c.name, c]));
    expect(contacts.nickname!.collation).toBe("app.ci");
    expect(contacts.tags!.collation).toBe("app.c_utf8");
    // A domain column takes the domain's collation: not a column-level one.
    expect(contacts.email).toMatchObject({ type: "app.email_address", collation: null });
    expect(table(full, "app", "rooms").columns.find((c) => c.name === "name")!.collation).toBe('"C"');
    // The type's default collation is not repeated on every text column.
    expect(table(full, "app", "users").columns.every((c) => c.collation === null)).toBe(true);
  });

  test("privileges: schema, table (with grant option), column-level, sequence, function; untouched ACLs show the defaults", () => {
    const owner = (privileges: string[]) => ({ grantee: "postgres", grantor: "postgres", privileges, grantable: false });
    const allTable = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"];
    expect(schema(full, "app").privileges).toEqual([
      { grantee: "inspect_reader", grantor: "postgres", privileges: ["USAGE"], grantable: false },
      { grantee: "inspect_writer", grantor: "postgres", privileges: ["CREATE", "USAGE"], grantable: true },
      owner(["CREATE", "USAGE"]),
    ]);
    expect(table(full, "app", "audit_log").privileges).toEqual([owner(allTable)]);
    expect(table(full, "app", "users").privileges).toEqual([{ grantee: "inspect_reader", grantor: "postgres", privileges: ["SELECT"], grantable: false }, owner(allTable)]);
    expect(table(full, "app", "bookings").privileges).toEqual([
      { grantee: "inspect_reader", grantor: "postgres", privileges: ["SELECT"], grantable: false },
      { grantee: "inspect_writer", grantor: "postgres", privileges: ["INSERT", "SELECT"], grantable: true },
      owner(allTable),
    ]);
    const rooms = Object.fromEntries(table(full, "app", "rooms").columns.map((c) => [c.name, c.privileges]));
    expect(rooms).toEqual({
      id: [{ grantee: "inspect_writer", grantor: "postgres", privileges: ["SELECT"], grantable: false }],
      name: [{ grantee: "inspect_writer", grantor: "postgres", privileges: ["SELECT", "UPDATE"], grantable: false }],
    });
    // A column grant is not a table grant.
    expect(table(full, "app", "rooms").privileges).toEqual([owner(allTable)]);
    const seqs = Object.fromEntries(schema(full, "app").sequences.map((q) => [q.name, q]));
    expect(seqs.invoice_number).toMatchObject({ owner: "postgres", privileges: [{ grantee: "inspect_writer", grantor: "postgres", privileges: ["USAGE"], grantable: false }, owner(["SELECT", "UPDATE", "USAGE"])] });
    const fns = Object.fromEntries(schema(full, "app").functions.map((f) => [f.name, f.privileges]));
    expect(fns.active_count).toEqual([{ grantee: "inspect_reader", grantor: "postgres", privileges: ["EXECUTE"], grantable: false }, owner(["EXECUTE"])]);
    expect(fns.full_name).toEqual([{ grantee: "PUBLIC", grantor: "postgres", privileges: ["EXECUTE"], grantable: false }, owner(["EXECUTE"])]);
    expect(schema(full, "app").views[0]!.privileges).toEqual([owner(allTable)]);
    expect(schema(full, "app").enums[0]!.privileges).toContainEqual({ grantee: "PUBLIC", grantor: "postgres", privileges: ["USAGE"], grantable: false });
  });

  test("default privileges: per schema, and database-wide at the top", () => {
    expect(schema(full, "app").defaultPrivileges).toEqual([
      { role: "postgres", objectType: "sequences", grantee: "inspect_writer", privileges: ["USAGE"], grantable: true },
      { role: "postgres", objectType: "tables", grantee: "inspect_reader", privileges: ["SELECT"], grantable: false },
    ]);
    expect(schema(full, "public").defaultPrivileges).toEqual([]);
    // REVOKE … FROM PUBLIC database-wide stores the whole new ACL: the owner alone.
    expect(full.defaultPrivileges).toEqual([{ role: "postgres", objectType: "functions", grantee: "postgres", privileges: ["EXECUTE"], grantable: false }]);
  });

  test("row-level security policies: command, permissive/restrictive, roles, expressions", () => {
    expect(table(full, "app", "bookings").policies).toEqual([
      { name: "bookings_insert", command: "insert", permissive: false, roles: ["inspect_writer"], using: null, withCheck: "room_id IS NOT NULL" },
      { name: "bookings_own", command: "select", permissive: true, roles: ["inspect_reader", "inspect_writer"], using: "user_id > 0", withCheck: null },
    ]);
    expect(table(full, "app", "users").policies).toEqual([
      { name: "users_visible", command: "all", permissive: true, roles: ["PUBLIC"], using: "deleted_at IS NULL", withCheck: null },
    ]);
    expect(table(full, "app", "rooms").policies).toEqual([]);
  });

  test("the human tree names every kind of object", () => {
    const text = renderSchema(full);
    for (const needle of [
      "schema app", "table users", "RLS enabled, forced", "identity always", "partitioned table events", "partition by RANGE (occurred_at)",
      "events_default  DEFAULT", "view active_users", "materialized view user_counts", "enum user_status: invited, pending, active, suspended",
      "sequence invoice_number", "procedure purge_deleted", "security definer", "on delete cascade, deferrable initially deferred",
      "where deleted_at IS NULL", "before insert or update, for each row", "~100 rows", "extensions: citext",
      "domain email_address: character varying(200) · collate app.ci · not null", "email_short CHECK (length(VALUE::text) < 100) NOT VALID",
      'type address (street text, city text collate "C", zip character varying(10))', "range type floatrange: subtype double precision",
      "collation ci: icu · locale und-u-ks-level2 · nondeterministic", "collation c_utf8: libc · locale C.UTF-8", "collate app.ci",
      "to inspect_writer  INSERT, SELECT (with grant option)", "grant SELECT, UPDATE to inspect_writer", "grants: inspect_writer USAGE",
      "stable · no PUBLIC execute · grants: inspect_reader EXECUTE", "for postgres  on tables     to inspect_reader  SELECT",
      "bookings_insert  restrictive  for insert to inspect_writer with check (room_id IS NOT NULL)",
      "default privileges in all schemas (the full ACL of new objects):",
      "table audit_log  rows unknown · UNLOGGED · with (fillfactor=70, autovacuum_enabled=false)",
    ]) {
      expect(text).toContain(needle);
    }
    // The owner's own privileges and PUBLIC's default EXECUTE are implied, not drawn.
    const schemaBlocks = text.slice(text.indexOf("\nschema app"));
    expect(schemaBlocks).not.toContain("to postgres");
    expect(schemaBlocks).not.toContain("to pg_database_owner");
    expect(text).not.toMatch(/full_name\(.*grants/);
    // Partitions are drawn under their parent, not again as tables.
    expect(text).not.toContain("table events_2025");
  });
});

describe("two sessions on one snapshot, streamed output", () => {
  test("a pool of two reads the catalog in two halves: the same result as one session (and as auto, one session here)", async () => {
    const url = await fixtureDatabase("schema_par");
    const app = `inspect-par-${process.pid}`;
    const two = connect(url, { max: 2, applicationName: app });
    // The pool keeps its connections open: count them on the server.
    const sessions = () =>
      withSql(url, async (sql) => (await sql`select count(*)::int as n from pg_stat_activity where application_name = ${app}`)[0]!.n as number);
    try {
      const serial = await inspectSchema(two, { parallel: false });
      expect(await sessions()).toBe(1);
      // "auto" on a small catalog: still one session.
      expect(await inspectSchema(two)).toEqual(serial);
      expect(await sessions()).toBe(1);
      const parallel = await inspectSchema(two, { parallel: true });
      expect(await sessions()).toBe(2);
      expect(parallel).toEqual(serial);
      // Both sessions ran: the second one imported the first one's snapshot.
      expect(parallel.schemas.flatMap((s) => s.tables).length).toBe(serial.schemas.flatMap((s) => s.tables).length);
      const filtered = await inspectSchema(two, { tables: ["app.contacts", "users"], parallel: true });
      expect(filtered).toEqual(await inspectSchema(two, { tables: ["app.contacts", "users"], parallel: false }));
    } finally {
      await close(two);
    }
  });

  test("when the second session is refused (role connection limit 1), one session reads everything", async () => {
    const url = await fixtureDatabase("schema_one");
    const role = `inspect_one_${process.pid}`;
    await withSql(url, (sql) => sql.unsafe(`create role ${role} login password 'one-pw' connection limit 1; grant pg_read_all_data to ${role}`));
    const u = new URL(url);
    u.username = role;
    u.password = "one-pw";
    const one = connect(u.toString(), { max: 2 });
    try {
      const r = await inspectSchema(one, { parallel: true });
      expect(r.schemas.map((s) => s.name)).toEqual(["app", "public"]);
      expect(schema(r, "app").tables.map((t) => t.name)).toEqual(schema(full, "app").tables.map((t) => t.name));
    } finally {
      await close(one);
      await withSql(url, (sql) => sql.unsafe(`drop owned by ${role}; drop role ${role}`)).catch(() => {});
    }
  });

  test("a snapshot that sees a table created after it started does not show it in either half", async () => {
    const url = await fixtureDatabase("schema_snap");
    const two = connect(url, { max: 2 });
    try {
      // Many tables so that both halves hold some; created concurrently with the read.
      await withSql(url, (sql) => sql.unsafe(Array.from({ length: 40 }, (_, i) => `create table app.extra_${i} (id int primary key);`).join("\n")));
      const before = await inspectSchema(two);
      const creating = withSql(url, (sql) => sql.unsafe("create table app.late (id int primary key)"));
      const during = await inspectSchema(two, { parallel: true });
      await creating;
      const names = (r: SchemaResult) => r.schemas.flatMap((s) => s.tables.map((t) => `${t.schema}.${t.name}`));
      // Either the whole table (columns, constraints, index) or none of it.
      const late = during.schemas.flatMap((s) => s.tables).find((t) => t.name === "late");
      if (late) expect([late.columns.length, late.constraints.length, late.indexes.length]).toEqual([1, 1, 1]);
      expect(names(during).filter((n) => n !== "app.late")).toEqual(names(before));
    } finally {
      await close(two);
    }
  });

  test("streamed JSON and tree chunks join to exactly JSON.stringify and renderSchema", () => {
    expect([...jsonChunks(full)].join("")).toBe(JSON.stringify(full, null, 2));
    expect([...jsonChunks({ a: [], b: {}, c: [1, { d: null, e: undefined }], f: "x\ny", g: undefined }, 9)].join("")).toBe(
      JSON.stringify({ a: [], b: {}, c: [1, { d: null, e: undefined }], f: "x\ny", g: undefined }, null, 2),
    );
    const chunks = [...renderSchemaChunks(full)];
    expect(chunks.length).toBeGreaterThan(full.schemas.length + 10);
    expect(chunks.join("")).toBe(renderSchema(full));
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
    expect([app.domains, app.compositeTypes, app.rangeTypes, app.collations, app.defaultPrivileges]).toEqual([[], [], [], [], []]);
  });

  test("--table keeps the domains, composite and range types and collations its columns use", async () => {
    const r = await inspectSchema(db, { tables: ["app.contacts"] });
    const app = schema(r, "app");
    expect(app.tables.map((t) => t.name)).toEqual(["contacts"]);
    expect(app.domains.map((d) => d.name)).toEqual(["email_address"]);
    expect(app.compositeTypes.map((c) => c.name)).toEqual(["address"]);
    expect(app.rangeTypes.map((c) => c.name)).toEqual(["floatrange"]);
    expect(app.collations.map((c) => c.name)).toEqual(["c_utf8", "ci"]);
    expect(app.enums).toEqual([]);
    // Schema-level facts stay; per-schema default privileges go with the functions.
    expect(app.privileges.length).toBeGreaterThan(0);
    expect(app.defaultPrivileges).toEqual([]);
  });

  test("--table keeps the schema of a type its columns use, with just that type", async () => {
    const url = await freshDatabase("schema_xtype");
    await withSql(url, (sql) =>
      sql.unsafe(`
        create schema types; create schema data;
        create domain types.code as text check (value <> '');
        create domain types.unused as int;
        create table data.items (id int primary key, code types.code[]);
        create table data.other (id int);`),
    );
    const conn = connect(url);
    try {
      const r = await inspectSchema(conn, { tables: ["items"] });
      expect(r.schemas.map((s) => [s.name, s.tables.map((t) => t.name), s.domains.map((d) => d.name)])).toEqual([
        ["data", ["items"], []],
        ["types", [], ["code"]],
      ]);
    } finally {
      await close(conn);
    }
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
        {
          name: "public",
          owner: "pg_database_owner",
          comment: "standard public schema",
          privileges: [
            { grantee: "PUBLIC", grantor: "pg_database_owner", privileges: ["USAGE"], grantable: false },
            { grantee: "pg_database_owner", grantor: "pg_database_owner", privileges: ["CREATE", "USAGE"], grantable: false },
          ],
          defaultPrivileges: [],
          tables: [], views: [], materializedViews: [], enums: [], domains: [], compositeTypes: [], rangeTypes: [], collations: [], sequences: [], functions: [],
        },
      ]);
      expect(r.defaultPrivileges).toEqual([]);
      expect(renderSchema(r)).toContain("schema public  owner pg_database_owner");
    } finally {
      await close(conn);
    }
  });

  test("odd names: role names with ACL syntax characters, quoted collation names, dropped columns before constraint keys", async () => {
    const url = await freshDatabase("schema_odd");
    // An aclitem's text form quotes such names; the inspector must not parse that text.
    const role = 'inspect "odd"=r/x,y';
    await withSql(url, (sql) =>
      sql.unsafe(`
        do $$ begin
          if not exists (select from pg_roles where rolname = 'inspect "odd"=r/x,y') then create role "inspect ""odd""=r/x,y"; end if;
        end $$;
        create collation "My Coll" (locale = 'C.UTF-8');
        create table parent (x int, gone int, id int primary key);
        create table t (a int, b int, c int unique, d int, p int references parent (id), "Weird Col" text collate "My Coll");
        alter table t drop column b;
        alter table t add constraint t_d_check check (d > 0);
        alter table parent drop column gone;
        grant select ("Weird Col"), update on t to "inspect ""odd""=r/x,y" with grant option;`),
    );
    const conn = connect(url);
    try {
      const r = await inspectSchema(conn);
      const t = table(r, "public", "t");
      expect(t.columns.map((c) => c.name)).toEqual(["a", "c", "d", "p", "Weird Col"]);
      expect(t.constraints.map((c) => [c.name, c.columns])).toEqual([
        ["t_c_key", ["c"]],
        ["t_d_check", ["d"]],
      ]);
      expect(t.foreignKeys[0]).toMatchObject({ columns: ["p"], references: { table: "parent", columns: ["id"] } });
      expect(t.privileges).toContainEqual({ grantee: role, grantor: "postgres", privileges: ["UPDATE"], grantable: true });
      const weird = t.columns.find((c) => c.name === "Weird Col")!;
      expect(weird.collation).toBe('public."My Coll"');
      expect(weird.privileges).toEqual([{ grantee: role, grantor: "postgres", privileges: ["SELECT"], grantable: true }]);
      expect(schema(r, "public").collations.map((c) => c.name)).toEqual(["My Coll"]);
      expect(renderSchema(r)).toContain(`to ${role}  UPDATE (with grant option)`);
      // The ACL decoder agrees with the server's aclexplode() on every odd role name.
      const odd = ['inspect a*b', "inspect rôle ünï", 'inspect =/"', "INSPECT Upper"];
      const ident = (n: string) => `"${n.replace(/"/g, '""')}"`;
      await conn.unsafe(
        odd.map((n) => `do $$ begin if not exists (select from pg_roles where rolname = '${n.replace(/'/g, "''")}') then create role ${ident(n)}; end if; end $$;`).join("\n"),
      );
      await conn.unsafe(`grant select, insert on parent to ${odd.map(ident).join(", ")}; grant delete on parent to ${ident(odd[0]!)} with grant option`);
      const [row] = await conn.unsafe(`
        select to_json(relacl::text[]) as items,
               (select json_agg(json_build_array(case when x.grantee = 0 then 'PUBLIC' else pg_get_userbyid(x.grantee) end,
                                                 pg_get_userbyid(x.grantor), x.privilege_type, x.is_grantable)) from aclexplode(relacl) x) as truth
        from pg_class where relname = 'parent'`);
      const flat = decodeAcl(row!.items).flatMap((p) => p.privileges.map((priv) => JSON.stringify([p.grantee, p.grantor, priv, p.grantable])));
      expect(flat.sort()).toEqual((row!.truth as unknown[]).map((t) => JSON.stringify(t)).sort());
      expect(flat.length).toBeGreaterThan(8);
      // Filter values travel as data: a quote in --table is a name that does not exist, nothing more.
      await expect(inspectSchema(conn, { tables: ["t'); drop table t; --"] })).rejects.toThrow("no table, view or sequence named");
      await expect(inspectSchema(conn, { schemas: ['public"'] })).rejects.toThrow('schema not found: public"');
      expect(table(await inspectSchema(conn, { tables: ["t"] }), "public", "t").columns).toHaveLength(5);
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
