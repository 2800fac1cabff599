/**
 * db.schema: the catalog of the target (tables, views, types, functions,
 * grants, extensions) as a SchemaResult. The object lists come as events
 * (schema-parts.ts) so that a large catalog crosses the wire in small frames;
 * the result is the rest, and SchemaAssembler joins them back.
 */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { SchemaHead, SchemaPart, splitSchema } from "../schema-parts.ts";
import { inspectSchema } from "../schema-query.ts";

/** A schema name, or a relation as NAME or SCHEMA.NAME. */
const Name = z.string().min(1).max(300);

export const SchemaInput = z.object({
  /** Only these schemas (exact names); empty: every user schema. */
  schemas: z.array(Name).max(10_000).default([]),
  /** Only these relations: NAME (any schema) or SCHEMA.NAME; empty: all of them. */
  tables: z.array(Name).max(10_000).default([]),
});
export type SchemaInput = z.infer<typeof SchemaInput>;

export const schemaOp = defineOperation({
  name: "db.schema",
  summary: "show tables, views, indexes, policies, types, collations, functions, grants and extensions",
  access: "read",
  input: SchemaInput,
  result: SchemaHead,
  event: SchemaPart,
  // Two sessions: the catalog is read in two halves on one exported snapshot.
  connection: () => ({ applicationName: "eve schema", max: 2 }),
  async run(deps, input, emit) {
    const result = await inspectSchema(deps.db, { schemas: input.schemas, tables: input.tables });
    return splitSchema(result, emit);
  },
});
