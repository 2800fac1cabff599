import { urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { renderSchema } from "../render-schema.ts";
import { inspectSchema } from "../schema-query.ts";

interface Opts {
  url?: string;
  schema?: string[];
  table?: string[];
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "schema"],
  summary: "show tables, views, indexes, constraints, types, functions and extensions",
  description:
    "Reads the catalog in one query and prints a tree per schema. System schemas (pg_*,\n" +
    "information_schema) and objects that belong to an extension are left out. --schema and\n" +
    "--table may be repeated; --table takes NAME or SCHEMA.NAME, keeps those relations (plus the\n" +
    "sequences they own and the enums their columns use) and drops functions. A filter that\n" +
    "matches nothing is an error (exit 1).\n\n" +
    "--json prints one document (zod: SchemaResult in plugins/inspect/schema.ts):\n" +
    "{ database, serverVersion, filter: {schemas, tables},\n" +
    "  extensions: [{name, version, schema}],\n" +
    "  schemas: [{ name, owner, comment,\n" +
    "    tables: [{ schema, name, kind (table|partitioned|foreign), owner, comment,\n" +
    "      rowEstimate (null: never analyzed), rls: {enabled, forced},\n" +
    "      partitionKey, partitions: [{schema, name, bound}], partitionOf: {schema, name, bound},\n" +
    "      columns: [{name, type, nullable, default, identity (always|by default),\n" +
    "                 generated, comment}],\n" +
    "      constraints: [{name, type (primary key|unique|check|exclusion), columns,\n" +
    "                     definition, deferrable, initiallyDeferred, validated}],\n" +
    "      foreignKeys: [{name, columns, references: {schema, table, columns}, onUpdate,\n" +
    "                     onDelete, match, deferrable, initiallyDeferred, validated, definition}],\n" +
    "      indexes: [{name, definition, method, unique, primary, columns, include, predicate,\n" +
    "                 valid, constraint}],\n" +
    "      triggers: [{name, timing, events, level, function, enabled, definition}] }],\n" +
    "    views: [{schema, name, owner, comment, options, definition, columns, triggers}],\n" +
    "    materializedViews: [{schema, name, owner, comment, populated, rowEstimate,\n" +
    "                         definition, columns, indexes}],\n" +
    "    enums: [{schema, name, owner, comment, values}],\n" +
    "    sequences: [{schema, name, type, start, increment, min, max, cache, cycle, lastValue,\n" +
    "                 ownedBy: {schema, table, column}, identity, comment}],\n" +
    "    functions: [{schema, name, kind (function|procedure|aggregate|window), signature,\n" +
    "                 arguments, returns, language, volatility, strict, securityDefiner,\n" +
    "                 config, owner, comment}] }] }\n" +
    "Every key is always present (null when absent or unknown); lists are sorted by name;\n" +
    "64-bit sequence values are strings.",
  options: [
    urlOption,
    { flags: "--schema <name>", description: "only this schema (repeatable)", repeatable: true },
    { flags: "--table <name>", description: "only this table, view or sequence: NAME or SCHEMA.NAME (repeatable)", repeatable: true },
    ...waitOptions,
  ],
  examples: ["eve db schema --url postgres://…", "eve db schema --schema app --table users --json"],
  async run(ctx, opts) {
    const conn = await openDirect(ctx, opts, { applicationName: "eve schema" });
    try {
      const result = await inspectSchema(conn.db, { schemas: opts.schema, tables: opts.table });
      if (opts.json) ctx.out.printJson(result);
      else ctx.out.print(renderSchema(result, ctx.out));
    } finally {
      await conn.close();
    }
  },
});
