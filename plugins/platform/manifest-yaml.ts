/**
 * The manifest's YAML layer: text → a plain data tree plus the line and column
 * of every node, so each validation error can name its YAML path and line.
 * Hostile input is bounded here: the text size, alias expansion (billion
 * laughs), self-referencing aliases, nesting depth and the node count.
 * Positions of an environment's overrides are found under their own YAML path
 * (environments.<env>.overrides.…), so an error in a merged view points at the
 * override's line when the value came from it.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { redactText } from "../../core/db/url.ts";
import { EveError, ExitCode } from "../../core/errors.ts";

/** A path in the data tree: map keys and list indexes. */
export type DataPath = ReadonlyArray<string | number>;

/** A 1-based line and column in the manifest text. */
export interface Pos {
  line: number;
  column: number;
}

/** One located manifest problem, as reported in `details.errors`. */
export interface ManifestIssue {
  /** The YAML path, e.g. services.db.x-eve.managed.class. */
  path: string;
  line: number;
  column: number;
  message: string;
}

/** A problem before it is located: the data path and whether the key or the value is wrong. */
export interface RawIssue {
  path: DataPath;
  message: string;
  at?: "key" | "value";
}

/** Largest manifest accepted, in bytes. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Aliases resolved at most (yaml's guard against exponential expansion). */
const MAX_ALIAS_COUNT = 100;
/** Deepest nesting accepted. */
const MAX_DEPTH = 64;
/** Most nodes accepted after alias expansion. */
const MAX_NODES = 200_000;
/** Most errors listed in one report. */
const MAX_REPORTED = 50;

interface NodeLoc {
  value: Pos;
  key?: Pos;
}

/** Line and column of every node of one YAML document, by YAML path. */
export class Locations {
  readonly #map = new Map<string, NodeLoc>();

  static #id(path: DataPath): string {
    return path.map(String).join("\u0000");
  }

  set(path: DataPath, loc: NodeLoc): void {
    this.#map.set(Locations.#id(path), loc);
  }

  get(path: DataPath): NodeLoc | undefined {
    return this.#map.get(Locations.#id(path));
  }
}

/**
 * Where a path of one view (the top level, or the top level merged with one
 * environment's overrides) is written: the override's node when it has the
 * path, else the top level's; a missing node falls back to its nearest
 * written ancestor.
 */
export class ViewLocator {
  constructor(
    readonly locations: Locations,
    /** The environment whose overrides are merged in, or null for the top level alone. */
    readonly environment: string | null,
  ) {}

  /** The YAML path and position of a data path of this view. */
  locate(path: DataPath, at: "key" | "value" = "value"): { yamlPath: DataPath; pos: Pos } {
    const over = (p: DataPath): DataPath | null => (this.environment === null ? null : ["environments", this.environment, "overrides", ...p]);
    const exact = [over(path), path];
    for (const candidate of exact) {
      const loc = candidate && this.locations.get(candidate);
      if (candidate && loc) return { yamlPath: candidate, pos: (at === "key" ? loc.key : undefined) ?? loc.value };
    }
    for (let i = path.length - 1; i >= 0; i--) {
      const prefix = path.slice(0, i);
      for (const candidate of [prefix, over(prefix)]) {
        const loc = candidate && this.locations.get(candidate);
        if (candidate && loc) return { yamlPath: candidate === prefix ? path : (over(path) ?? path), pos: loc.value };
      }
    }
    return { yamlPath: path, pos: { line: 1, column: 1 } };
  }

  /** A raw issue with its YAML path and position. */
  issue(raw: RawIssue): ManifestIssue {
    const { yamlPath, pos } = this.locate(raw.path, raw.at);
    return { path: formatPath(yamlPath), line: pos.line, column: pos.column, message: raw.message };
  }
}

/** A YAML path as people write it: services.db.x-eve.managed.class, command[0], services["a b"]. */
export function formatPath(path: DataPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg.length > 64 ? `${seg.slice(0, 64)}…` : seg)}]`;
  }
  return out;
}

/** A value as shown in a message: quoted and cut short, never more than one line. */
export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  if (typeof v === "string") return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  return String(v);
}

/** The E_MANIFEST error for a list of located issues: the first in the message, all in context and details. */
export function manifestError(source: string, issues: ManifestIssue[]): EveError {
  const seen = new Set<string>();
  const unique = issues
    .map((i) => ({ ...i, path: redactText(i.path), message: redactText(i.message) }))
    .filter((i) => {
      const id = `${i.line}:${i.column}:${i.path}:${i.message}`;
      return seen.has(id) ? false : (seen.add(id), true);
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
  const lines = unique.map((i) => `${source}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ""}${i.message}`);
  const listed = lines.slice(0, MAX_REPORTED);
  if (lines.length > MAX_REPORTED) listed.push(`… and ${lines.length - MAX_REPORTED} more`);
  const message = unique.length === 1 ? lines[0]! : `${unique.length} errors in ${source}, the first: ${lines[0]}`;
  return new EveError("E_MANIFEST", message, ExitCode.usage, {
    hint: `fix ${unique.length === 1 ? "it" : "them"} in ${source} and deploy again (nothing was changed)`,
    context: unique.length === 1 ? undefined : listed,
    details: { errors: unique.slice(0, MAX_REPORTED) },
  });
}

/** The parsed text: its data tree and the position of every node. */
export interface YamlTree {
  data: unknown;
  locations: Locations;
}

/** Parse manifest text into a plain data tree with positions; throws E_MANIFEST (or E_MANIFEST_TOO_LARGE). */
export function readYaml(text: string, source: string): YamlTree {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_MANIFEST_BYTES) {
    throw new EveError("E_MANIFEST_TOO_LARGE", `${source} is ${bytes} bytes, more than the ${MAX_MANIFEST_BYTES} (1 MiB) a manifest may have`, ExitCode.usage, {
      hint: "a manifest declares services; move large content (scripts, data) into files it references",
      details: { bytes, limit: MAX_MANIFEST_BYTES },
    });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, schema: "core", merge: false });
  const pos = (offset: number): Pos => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length) {
    throw manifestError(
      source,
      doc.errors.map((e) => ({ path: "", ...pos(e.pos[0]), message: e.code === "DUPLICATE_KEY" ? "duplicate key (map keys must be unique)" : e.message.replace(/\s+/g, " ") })),
    );
  }
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const why = e instanceof ReferenceError && /alias/i.test(e.message) ? `aliases expand beyond ${MAX_ALIAS_COUNT} nodes (a resource exhaustion attack?)` : `cannot be read: ${(e as Error).message}`;
    throw manifestError(source, [{ path: "", line: 1, column: 1, message: why }]);
  }
  const locations = new Locations();
  const issues: ManifestIssue[] = [];
  walk(doc.contents, [], locations, pos, 0, issues);
  if (issues.length) throw manifestError(source, issues);
  const raw: RawIssue[] = [];
  const data = plainTree(js, [], new Set(), { nodes: 0 }, raw);
  if (raw.length) throw manifestError(source, raw.map((r) => new ViewLocator(locations, null).issue(r)));
  return { data, locations };
}

/** Record positions of every node (not through aliases: they point at nodes recorded elsewhere). */
function walk(node: Node | null, path: DataPath, locs: Locations, pos: (o: number) => Pos, depth: number, issues: ManifestIssue[]): void {
  if (!node || isAlias(node) || isScalar(node)) return;
  if (depth >= MAX_DEPTH) {
    const at = node.range ? pos(node.range[0]) : { line: 1, column: 1 };
    issues.push({ path: formatPath(path), ...at, message: `nested more than ${MAX_DEPTH} levels deep` });
    return;
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key)) continue;
      const name = key.value === null ? "" : String(key.value);
      const value = pair.value as Node | null;
      const keyPos = key.range ? pos(key.range[0]) : undefined;
      const valuePos = value?.range && value.range[0] < value.range[1] ? pos(value.range[0]) : keyPos;
      if (valuePos) locs.set([...path, name], { value: valuePos, key: keyPos });
      walk(value, [...path, name], locs, pos, depth + 1, issues);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const n = item as Node | null;
      if (n?.range) locs.set([...path, i], { value: pos(n.range[0]) });
      walk(n, [...path, i], locs, pos, depth + 1, issues);
    });
  }
}

/**
 * yaml's JS value as a tree this module owns: aliases expanded into copies,
 * a self-referencing alias refused, depth and node count bounded.
 */
function plainTree(v: unknown, path: DataPath, ancestors: Set<object>, budget: { nodes: number }, issues: RawIssue[]): unknown {
  if (++budget.nodes > MAX_NODES) {
    if (budget.nodes === MAX_NODES + 1) issues.push({ path, message: `more than ${MAX_NODES} values once aliases are expanded` });
    return null;
  }
  if (v === null || typeof v !== "object") return v;
  if (ancestors.has(v)) {
    issues.push({ path, message: "an alias refers to a node that contains it" });
    return null;
  }
  if (path.length >= MAX_DEPTH) {
    issues.push({ path, message: `nested more than ${MAX_DEPTH} levels deep` });
    return null;
  }
  ancestors.add(v);
  const out = Array.isArray(v)
    ? v.map((item, i) => plainTree(item, [...path, i], ancestors, budget, issues))
    : Object.fromEntries(Object.entries(v).map(([k, item]) => [k, plainTree(item, [...path, k], ancestors, budget, issues)]));
  ancestors.delete(v);
  return out;
}

/** Whether `v` is a map of the data tree (not a list, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
