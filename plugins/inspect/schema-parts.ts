/**
 * A SchemaResult in pieces, for the db.schema operation: each schema's object
 * lists travel as events of at most PART_SIZE items, and the result is the
 * rest (the head). Through the control plane a catalog of 10,000 tables is
 * then many small NDJSON frames instead of one frame of tens of MB; locally
 * the pieces are the same objects passed by reference. `joinSchema` puts them
 * back with every key in its original place, so the JSON text is unchanged.
 */
import { z } from "zod";
import {
  Collation,
  CompositeType,
  Domain,
  Enum,
  MaterializedView,
  RangeType,
  Routine,
  SchemaEntry,
  SchemaResult,
  Sequence,
  Table,
  View,
} from "./schema.ts";

/** The object lists of a SchemaEntry, in the entry's key order. */
export const SCHEMA_LISTS = [
  "tables",
  "views",
  "materializedViews",
  "enums",
  "domains",
  "compositeTypes",
  "rangeTypes",
  "collations",
  "sequences",
  "functions",
] as const;
export type SchemaList = (typeof SCHEMA_LISTS)[number];

/** Items per part: a part of 100 wide tables stays well under a megabyte of JSON. */
export const PART_SIZE = 100;

const part = <T extends SchemaList, S extends z.ZodType>(type: T, item: S) =>
  z.object({ type: z.literal(type), schema: z.string(), items: z.array(item) });

/** Some objects of one list of one schema, in order. */
export const SchemaPart = z.discriminatedUnion("type", [
  part("tables", Table),
  part("views", View),
  part("materializedViews", MaterializedView),
  part("enums", Enum),
  part("domains", Domain),
  part("compositeTypes", CompositeType),
  part("rangeTypes", RangeType),
  part("collations", Collation),
  part("sequences", Sequence),
  part("functions", Routine),
]);
export type SchemaPart = z.infer<typeof SchemaPart>;

const omitLists = Object.fromEntries(SCHEMA_LISTS.map((k) => [k, true])) as { [K in SchemaList]: true };

/** A schema without its object lists. */
export const SchemaHeadEntry = SchemaEntry.omit(omitLists);
export type SchemaHeadEntry = z.infer<typeof SchemaHeadEntry>;

/** A SchemaResult whose schemas are heads (the lists came as parts). */
export const SchemaHead = SchemaResult.extend({ schemas: z.array(SchemaHeadEntry) });
export type SchemaHead = z.infer<typeof SchemaHead>;

/**
 * Send every non-empty list of `r` as parts, in schema and list order; return the head.
 * @example const head = splitSchema(result, (p) => emit(p));
 */
export function splitSchema(r: SchemaResult, emit: (p: SchemaPart) => void, size = PART_SIZE): SchemaHead {
  const schemas = r.schemas.map((s) => {
    for (const type of SCHEMA_LISTS) {
      const list = s[type] as unknown[];
      for (let i = 0; i < list.length; i += size) {
        const items = list.length <= size ? list : list.slice(i, i + size);
        emit({ type, schema: s.name, items } as SchemaPart);
      }
    }
    const head: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) if (!(SCHEMA_LISTS as readonly string[]).includes(k)) head[k] = v;
    return head as SchemaHeadEntry;
  });
  return { ...r, schemas };
}

/** Collects parts as they arrive and joins them with the head into the SchemaResult they came from. */
export class SchemaAssembler {
  readonly #lists = new Map<string, Partial<Record<SchemaList, unknown[]>>>();

  add(p: SchemaPart): void {
    let got = this.#lists.get(p.schema);
    if (!got) this.#lists.set(p.schema, (got = {}));
    const list = got[p.type];
    if (!list) got[p.type] = p.items;
    else for (const item of p.items) list.push(item);
  }

  /** The whole result: each head followed by its lists (empty when no part came). */
  join(head: SchemaHead): SchemaResult {
    const schemas = head.schemas.map((h) => {
      const got = this.#lists.get(h.name) ?? {};
      const entry: Record<string, unknown> = { ...h };
      for (const k of SCHEMA_LISTS) entry[k] = got[k] ?? [];
      return entry as SchemaEntry;
    });
    this.#lists.clear();
    return { ...head, schemas };
  }
}
