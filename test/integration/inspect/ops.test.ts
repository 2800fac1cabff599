/**
 * The db.schema and db.status operations on a real database: what they
 * return and emit survives JSON and the op's zod schemas, the schema parts
 * join back into exactly the document inspectSchema builds (the same JSON
 * text, key order included), and their errors survive errorToJson/errorFromJson.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { close, connect, type Db } from "../../../core/db/index.ts";
import { entryOf, readMigrationDir } from "../../../core/migrations/files.ts";
import { jsonChunks } from "../../../plugins/inspect/json-chunks.ts";
import { schemaOp } from "../../../plugins/inspect/ops/schema.ts";
import { statusOp } from "../../../plugins/inspect/ops/status.ts";
import { PART_SIZE, SchemaAssembler, splitSchema, type SchemaPart } from "../../../plugins/inspect/schema-parts.ts";
import { inspectSchema } from "../../../plugins/inspect/schema-query.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { tempDir, writeFiles } from "../../helpers/fs.ts";
import { fixtureDatabase } from "./fixture.ts";
import { errorOverTheWire, overTheWire, runOp, withCatalogLocked } from "./op-harness.ts";

let url: string;
let db: Db;

beforeAll(async () => {
  url = await fixtureDatabase("inspect_ops");
  db = connect(url, { max: 1 });
});
afterAll(async () => {
  await close(db);
});

describe("db.schema", () => {
  test("parts and head cross the wire and join into the document inspectSchema builds, byte for byte", async () => {
    const run = await runOp(schemaOp, url, {});
    const { result, events } = overTheWire(schemaOp, run);
    expect(events.length).toBeGreaterThan(0);
    // The head carries no object list; the parts carry them all.
    for (const s of result.schemas) expect(Object.keys(s)).not.toContain("tables");
    const parts = new SchemaAssembler();
    for (const e of events) parts.add(e);
    const joined = parts.join(result);
    const direct = await inspectSchema(db);
    expect([...jsonChunks(joined)].join("")).toBe(JSON.stringify(direct, null, 2));
    expect(joined.schemas.reduce((n, s) => n + s.tables.length, 0)).toBeGreaterThan(0);
  });

  test("filters travel in the input: --schema and --table", async () => {
    const run = await runOp(schemaOp, url, { schemas: ["app"], tables: ["users"] });
    const { result, events } = overTheWire(schemaOp, run);
    expect(result.filter).toEqual({ schemas: ["app"], tables: ["users"] });
    const parts = new SchemaAssembler();
    for (const e of events) parts.add(e);
    const joined = parts.join(result);
    expect(joined.schemas.map((s) => s.name)).toEqual(["app"]);
    expect(joined.schemas[0]!.tables.map((t) => t.name)).toEqual(["users"]);
    expect(JSON.stringify(joined)).toBe(JSON.stringify(await inspectSchema(db, { schemas: ["app"], tables: ["users"] })));
  });

  test("a list longer than a part is split in order and joined back", async () => {
    const u = await freshDatabase("inspect_parts");
    const n = PART_SIZE * 2 + 7;
    await withSql(u, (sql) =>
      sql.unsafe(`do $$ begin for i in 1..${n} loop execute format('create table t%s (id int primary key)', lpad(i::text, 4, '0')); end loop; end $$`),
    );
    const run = await runOp(schemaOp, u, {});
    const { result, events } = overTheWire(schemaOp, run);
    const tableParts = events.filter((e): e is Extract<SchemaPart, { type: "tables" }> => e.type === "tables");
    expect(tableParts.map((p) => p.items.length)).toEqual([PART_SIZE, PART_SIZE, 7]);
    const parts = new SchemaAssembler();
    for (const e of events) parts.add(e);
    const joined = parts.join(result);
    const names = joined.schemas[0]!.tables.map((t) => t.name);
    expect(names.length).toBe(n);
    expect(names).toEqual([...names].sort());
    const d = connect(u, { max: 1 });
    try {
      expect(JSON.stringify(joined)).toBe(JSON.stringify(await inspectSchema(d)));
    } finally {
      await close(d);
    }
  });

  test("splitSchema with a small part size: every item once, in order; empty lists send nothing", async () => {
    const direct = await inspectSchema(db);
    const sent: SchemaPart[] = [];
    const head = splitSchema(direct, (p) => sent.push(p), 2);
    expect(sent.every((p) => p.items.length > 0 && p.items.length <= 2)).toBe(true);
    const parts = new SchemaAssembler();
    for (const p of sent) parts.add(p);
    expect(JSON.stringify(parts.join(head))).toBe(JSON.stringify(direct));
  });

  test("a filter that matches nothing: E_NOT_FOUND with its hint, over the wire", async () => {
    const run = await runOp(schemaOp, url, { schemas: ["nope"] });
    expect(run.events).toEqual([]);
    const back = errorOverTheWire(run.error);
    expect(back.code).toBe("E_NOT_FOUND");
    expect(back.hint).toContain("--schema");
  });

  test("a catalog query that fails: SQLSTATE and details, over the wire", async () => {
    const u = await freshDatabase("inspect_locked");
    const run = await withCatalogLocked(u, "pg_policy", () =>
      runOp({ ...schemaOp, connection: () => ({ max: 1, startupParameters: { lock_timeout: "200ms" } }) }, u, {}),
    );
    const back = errorOverTheWire(run.error);
    expect(back.code).toBe("E_SQL");
    expect(back.details?.sqlstate).toBe("55P03");
  });

  test("input: defaults, and bad values refused by the schema", () => {
    expect(schemaOp.input.parse({})).toEqual({ schemas: [], tables: [] });
    expect(schemaOp.input.safeParse({ schemas: [""] }).success).toBe(false);
    expect(schemaOp.input.safeParse({ tables: "users" }).success).toBe(false);
    expect(schemaOp.access).toBe("read");
  });
});

describe("db.status", () => {
  test("without files: the history alone, over the wire", async () => {
    const run = await runOp(statusOp, url, {}, "me@host:5432/db");
    const { result, events } = overTheWire(statusOp, run);
    expect(events).toEqual([]);
    expect(result.target).toBe("me@host:5432/db");
    expect(result.migrations.directory).toBeNull();
    expect(result.migrations.pending).toBeNull();
  });

  test("with files sent as {name, sql}: pending, drifted and missing computed by the receiver", async () => {
    const u = await freshDatabase("status_ops");
    const dir = writeFiles(tempDir("eve-status-ops-"), {
      "20260101000000_one.sql": "create table one (id int);\n",
      "20260101000001_two.sql": "create table two (id int);\n",
    });
    await withSql(u, async (sql) => {
      await sql`create table schema_migrations (name text primary key, checksum text, applied_at timestamptz not null default now())`;
      await sql`insert into schema_migrations (name, checksum) values ('20260101000000_one.sql', 'not-the-file'), ('20251231000000_gone.sql', 'x')`;
    });
    const files = await readMigrationDir(dir);
    const run = await runOp(statusOp, u, { migrations: files.map(entryOf), directory: dir });
    const { result } = overTheWire(statusOp, run);
    expect(result.migrations).toMatchObject({
      directory: dir,
      applied: 2,
      pending: ["20260101000001_two.sql"],
      drifted: ["20260101000000_one.sql"],
      missing: ["20251231000000_gone.sql"],
    });
  });

  test("a bad file name sent: a usage error with its lines and details, over the wire", async () => {
    const run = await runOp(statusOp, url, { migrations: [{ name: "create_users.sql", sql: "select 1" }], directory: null });
    const back = errorOverTheWire(run.error);
    expect(back.exitCode).toBe(2);
    expect(back.context).toEqual(["  create_users.sql"]);
    expect(back.details).toMatchObject({ badNames: ["create_users.sql"] });
  });
});
