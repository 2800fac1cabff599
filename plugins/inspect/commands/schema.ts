/**
 * `eve db schema`: runs db.schema (plugins/inspect/ops/schema.ts) and prints
 * the tree or the JSON document in pieces with backpressure, so a large
 * catalog is never one string in memory.
 */
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { StreamWriter } from "../../../core/output/writer.ts";
import { jsonChunks } from "../json-chunks.ts";
import { renderSchemaChunks } from "../render-schema.ts";
import { SchemaAssembler, type SchemaHead, type SchemaPart } from "../schema-parts.ts";
import { schemaOp, type SchemaInput } from "../ops/schema.ts";

type Opts = OpFlags<SchemaInput, { schema?: string[]; table?: string[] }>;

/** The parts of each run, by its options object (one per invocation). */
const runs = new WeakMap<Opts, SchemaAssembler>();

export default defineOpCommand<SchemaInput, SchemaHead, SchemaPart, Opts>({
  op: schemaOp,
  path: ["db", "schema"],
  summary: schemaOp.summary,
  description:
    "Reads the catalog (one query per object kind, pipelined in one read-only snapshot) and\n" +
    "prints a tree per schema. System schemas (pg_*, information_schema) and objects that\n" +
    "belong to an extension are left out. --schema and --table may be repeated; --table takes\n" +
    "NAME or SCHEMA.NAME, keeps those relations (plus the sequences they own and the types and\n" +
    "collations their columns use) and drops functions and default privileges. A filter that\n" +
    "matches nothing is an error (exit 1). The human tree leaves out grants that are implied\n" +
    "(the owner's own, PUBLIC's default EXECUTE/USAGE); --json has every ACL entry.\n\n" +
    "--json prints one document (zod: SchemaResult in plugins/inspect/schema.ts):\n" +
    "{ database, serverVersion, filter: {schemas, tables},\n" +
    "  extensions: [{name, version, schema}],\n" +
    "  defaultPrivileges: [DEFAULT] (database-wide ALTER DEFAULT PRIVILEGES),\n" +
    "  schemas: [{ name, owner, comment, privileges: [GRANT], defaultPrivileges: [DEFAULT],\n" +
    "    tables: [{ schema, name, kind (table|partitioned|foreign), owner, comment,\n" +
    "      rowEstimate (null: never analyzed), unlogged, options, rls: {enabled, forced},\n" +
    "      policies: [{name, command (all|select|insert|update|delete), permissive, roles,\n" +
    "                  using, withCheck}], privileges: [GRANT],\n" +
    "      partitionKey, partitions: [{schema, name, bound}], partitionOf: {schema, name, bound},\n" +
    "      columns: [{name, type, nullable, default, identity (always|by default),\n" +
    "                 generated, comment, collation (non-default only), privileges: [GRANT]}],\n" +
    "      constraints: [{name, type (primary key|unique|check|exclusion), columns,\n" +
    "                     definition, deferrable, initiallyDeferred, validated}],\n" +
    "      foreignKeys: [{name, columns, references: {schema, table, columns}, onUpdate,\n" +
    "                     onDelete, match, deferrable, initiallyDeferred, validated, definition}],\n" +
    "      indexes: [{name, definition, method, unique, primary, columns, include, predicate,\n" +
    "                 valid, constraint}],\n" +
    "      triggers: [{name, timing, events, level, function, enabled, definition}] }],\n" +
    "    views: [{schema, name, owner, comment, options, definition, columns, triggers,\n" +
    "             privileges}],\n" +
    "    materializedViews: [{schema, name, owner, comment, populated, rowEstimate,\n" +
    "                         definition, columns, indexes, privileges}],\n" +
    "    enums: [{schema, name, owner, comment, values, privileges}],\n" +
    "    domains: [{schema, name, owner, comment, type, notNull, default, collation,\n" +
    "               constraints: [{name, definition, validated}], privileges}],\n" +
    "    compositeTypes: [{schema, name, owner, comment, attributes: [{name, type, collation}],\n" +
    "                      privileges}],\n" +
    "    rangeTypes: [{schema, name, owner, comment, subtype, collation, multirange, privileges}],\n" +
    "    collations: [{schema, name, owner, comment, provider (libc|icu|builtin|default), locale,\n" +
    "                  lcCollate, lcCtype, rules, deterministic}],\n" +
    "    sequences: [{schema, name, type, start, increment, min, max, cache, cycle, lastValue,\n" +
    "                 ownedBy: {schema, table, column}, identity, owner, comment, privileges}],\n" +
    "    functions: [{schema, name, kind (function|procedure|aggregate|window), signature,\n" +
    "                 arguments, returns, language, volatility, strict, securityDefiner,\n" +
    "                 config, owner, comment, privileges}] }] }\n" +
    "GRANT = {grantee (role or PUBLIC), grantor, privileges: [\"SELECT\", …], grantable}; an ACL\n" +
    "never changed shows the built-in defaults. DEFAULT = {role, objectType (tables|sequences|\n" +
    "functions|types|schemas), grantee, privileges, grantable}.\n" +
    "Every key is always present (null when absent or unknown); lists are sorted by name;\n" +
    "64-bit sequence values are strings.",
  options: [
    { flags: "--schema <name>", description: "only this schema (repeatable)", repeatable: true },
    { flags: "--table <name>", description: "only this table, view or sequence: NAME or SCHEMA.NAME (repeatable)", repeatable: true },
  ],
  examples: ["eve db schema --url postgres://…", "eve db schema --schema app --table users --json", "eve db schema --env staging"],
  input(_ctx, opts) {
    return { schemas: opts.schema ?? [], tables: opts.table ?? [] };
  },
  event(_ctx, part, opts) {
    let parts = runs.get(opts);
    if (!parts) runs.set(opts, (parts = new SchemaAssembler()));
    parts.add(part);
  },
  async result(ctx, head, opts) {
    const result = (runs.get(opts) ?? new SchemaAssembler()).join(head);
    runs.delete(opts);
    // Written in pieces with backpressure: a large catalog is never one string.
    // The catalog rows are garbage now; so is each chunk once written.
    ctx.collectGarbage?.();
    const w = new StreamWriter(ctx.out.stdout, { onVolume: ctx.collectGarbage });
    for (const chunk of opts.json ? jsonChunks(result) : renderSchemaChunks(result, ctx.out)) await w.text(chunk);
    await w.text("\n");
    await w.flush();
  },
});
