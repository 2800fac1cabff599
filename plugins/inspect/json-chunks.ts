/**
 * `JSON.stringify(value, null, 2)` in pieces: the text is the same byte for byte,
 * but a catalog of 10,000 tables goes out one table at a time instead of as one
 * string of tens of MB (and its UTF-8 copy on the way to stdout).
 */

/**
 * Yield the pretty-printed JSON of `value` in chunks. Containers down to `depth`
 * levels are opened here; anything deeper is one JSON.stringify() call.
 */
export function* jsonChunks(value: unknown, depth = 4, indent = ""): Generator<string> {
  if (depth <= 0 || value === null || typeof value !== "object" || typeof (value as { toJSON?: unknown }).toJSON === "function") {
    const text = JSON.stringify(value, null, 2) ?? "null";
    // JSON text never holds a raw newline inside a string, so this only re-indents lines.
    yield indent ? text.replace(/\n/g, "\n" + indent) : text;
    return;
  }
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (!value.length) {
      yield "[]";
      return;
    }
    yield "[\n" + inner;
    for (let i = 0; i < value.length; i++) {
      if (i) yield ",\n" + inner;
      const v = value[i];
      // JSON.stringify writes null for undefined, functions and symbols in arrays.
      yield* jsonChunks(v === undefined || typeof v === "function" || typeof v === "symbol" ? null : v, depth - 1, inner);
    }
    yield "\n" + indent + "]";
    return;
  }
  // Keys whose value JSON.stringify leaves out.
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== "function" && typeof v !== "symbol");
  if (!entries.length) {
    yield "{}";
    return;
  }
  yield "{\n" + inner;
  let first = true;
  for (const [k, v] of entries) {
    if (!first) yield ",\n" + inner;
    first = false;
    yield JSON.stringify(k) + ": ";
    yield* jsonChunks(v, depth - 1, inner);
  }
  yield "\n" + indent + "}";
}
