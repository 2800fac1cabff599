/**
 * Postgres text values to JSON, by column type OID. The server sends every
 * value as text; this keeps what the type means without losing precision:
 * int2/int4/oid and finite floats become numbers, bigint/numeric/money stay
 * strings (JavaScript numbers cannot hold them exactly), booleans become
 * true/false, json/jsonb are embedded as JSON, arrays of those types become
 * JSON arrays, and everything else (dates, uuids, intervals, bytea as \x…)
 * stays the server's text.
 */

/** Encodes one non-null text value as JSON text. */
export type JsonEncoder = (text: string) => string;

const BOOL = 16;
const INT_TYPES = new Set([21, 23, 26]); // int2, int4, oid
const FLOAT_TYPES = new Set([700, 701]);
const JSON_TYPE = 114;
const JSONB_TYPE = 3802;

/** Element type of the built-in array types whose elements get converted. */
const arrayElement = new Map<number, number>([
  [1000, BOOL],
  [1005, 21],
  [1007, 23],
  [1028, 26],
  [1021, 700],
  [1022, 701],
  [199, JSON_TYPE],
  [3807, JSONB_TYPE],
]);

/** Types aligned to the right in tables (psql does the same). */
const NUMERIC_TYPES = new Set([20, 21, 23, 26, 700, 701, 790, 1700]);

export function isNumericType(oid: number): boolean {
  return NUMERIC_TYPES.has(oid);
}

const quote = (s: string) => JSON.stringify(s);

/** The JSON encoder for a column of type `oid`. */
export function jsonEncoder(oid: number): JsonEncoder {
  if (oid === BOOL) return (s) => (s === "t" ? "true" : "false");
  if (INT_TYPES.has(oid)) return (s) => s;
  if (FLOAT_TYPES.has(oid)) return (s) => (/^-?(NaN|Infinity)$/.test(s) ? quote(s) : s);
  // jsonb output is compact and single-line; json keeps the input text, so re-serialise it.
  if (oid === JSONB_TYPE) return (s) => s;
  if (oid === JSON_TYPE) return (s) => JSON.stringify(JSON.parse(s));
  const elem = arrayElement.get(oid);
  if (elem !== undefined) {
    const decode = jsonDecoder(elem);
    return (s) => JSON.stringify(mapArray(parsePgArray(s), decode));
  }
  return quote;
}

/** The value (not JSON text) for a column of type `oid`. */
export function jsonDecoder(oid: number): (text: string) => unknown {
  const encode = jsonEncoder(oid);
  if (encode === quote) return (s) => s;
  return (s) => JSON.parse(encode(s));
}

type Nested = Array<string | null | Nested>;

function mapArray(a: Nested, f: (s: string) => unknown): unknown[] {
  return a.map((x) => (x === null ? null : Array.isArray(x) ? mapArray(x, f) : f(x)));
}

/**
 * Parse an array literal as the server prints it: `{1,2,NULL}`,
 * `{"a b","q\"t"}`, `{{1,2},{3,4}}`, `[0:1]={1,2}`. Unquoted NULL is null.
 */
export function parsePgArray(text: string): Nested {
  let i = text.startsWith("[") ? text.indexOf("=") + 1 : 0;
  const parse = (): Nested => {
    const out: Nested = [];
    i++; // "{"
    if (text[i] === "}") {
      i++;
      return out;
    }
    for (;;) {
      const c = text[i];
      if (c === "{") {
        out.push(parse());
      } else if (c === '"') {
        let s = "";
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === "\\") i++;
          s += text[i++] ?? "";
        }
        i++;
        out.push(s);
      } else {
        let j = i;
        while (j < text.length && text[j] !== "," && text[j] !== "}") j++;
        const raw = text.slice(i, j);
        out.push(raw === "NULL" ? null : raw);
        i = j;
      }
      if (text[i] === ",") {
        i++;
        continue;
      }
      i++; // "}"
      return out;
    }
  };
  return text[i] === "{" ? parse() : [text];
}
