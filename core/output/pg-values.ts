/**
 * Postgres text values to JSON, by column type OID. The server sends every
 * value as text; this keeps what the type means without losing precision:
 * int2/int4/oid and finite floats become numbers, bigint/numeric/money stay
 * strings (JavaScript numbers cannot hold them exactly), booleans become
 * true/false, json/jsonb are embedded as JSON, timestamps become ISO 8601
 * (`2026-11-30T07:04:26.698144+00:00`, every digit kept; years BC as
 * astronomical years, `-0043-03-15`; `infinity`/`-infinity` as those
 * strings), arrays of built-in types become JSON arrays whose elements follow
 * the same rules (nested for multi-dimensional arrays, NULL as null), and
 * everything else (uuids, intervals, bytea as \x…, arrays of user-defined
 * and composite types) stays the server's text.
 */

/** Encodes one non-null text value as JSON text. */
export type JsonEncoder = (text: string) => string;

const BOOL = 16;
const INT_TYPES = new Set([21, 23, 26]); // int2, int4, oid
const FLOAT_TYPES = new Set([700, 701]);
const JSON_TYPE = 114;
const JSONB_TYPE = 3802;
const DATE = 1082;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;

/**
 * Element type of the built-in array types that become JSON arrays. (box[]
 * is left out: its elements are separated by ";", and stay text.)
 */
const arrayElement = new Map<number, number>([
  [1000, BOOL], [1005, 21], [1007, 23], [1028, 26], [1021, 700], [1022, 701], [199, JSON_TYPE], [3807, JSONB_TYPE],
  [1016, 20], [1231, 1700], [791, 790], [1009, 25], [1015, 1043], [1014, 1042], [1002, 18], [1003, 19],
  [2951, 2950], [1182, DATE], [1115, TIMESTAMP], [1185, TIMESTAMPTZ], [1183, 1083], [1270, 1266], [1187, 1186],
  [1001, 17], [1041, 869], [651, 650], [1040, 829], [775, 774], [143, 142], [1561, 1560], [1563, 1562],
  [2210, 2205], [2211, 2206], [4192, 4191], [2207, 2202], [2208, 2203], [2209, 2204], [4090, 4089], [3643, 3614], [3645, 3615],
  [1017, 600], [1018, 601], [1019, 602], [1027, 604], [719, 718], [629, 628], [3221, 3220], [1263, 2275], [1034, 1033],
  [1008, 24], [1010, 27], [1011, 28], [1012, 29], [1013, 30], [3905, 3904], [3907, 3906], [3909, 3908], [3911, 3910],
  [3913, 3912], [3927, 3926],
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
  // ISO 8601 text never needs JSON escaping; other forms go through quote().
  if (oid === TIMESTAMPTZ || oid === TIMESTAMP || oid === DATE) {
    return (s) => {
      const iso = isoTimestamp(s);
      return iso === s && !isoShaped(s) ? quote(s) : '"' + iso + '"';
    };
  }
  const elem = arrayElement.get(oid);
  if (elem !== undefined) {
    const encode = jsonEncoder(elem);
    return (s) => {
      // Fast path: one dimension, nothing quoted ({1,2,NULL}).
      if (s.charCodeAt(0) === 123 && s.charCodeAt(s.length - 1) === 125 && s.indexOf('"') < 0 && s.indexOf("{", 1) < 0 && s.indexOf("}") === s.length - 1) {
        if (s.length === 2) return "[]";
        const parts = s.slice(1, -1).split(",");
        let out = "[";
        for (let i = 0; i < parts.length; i++) {
          const x = parts[i]!;
          out += (i ? "," : "") + (x === "NULL" ? "null" : encode(x));
        }
        return out + "]";
      }
      const parsed = parsePgArray(s);
      // Not an array literal as expected (a setting changed the output): keep the text.
      return parsed ? arrayJson(parsed, encode) : quote(s);
    };
  }
  return quote;
}

/** JSON text of a parsed array, each element encoded like a scalar of its type. */
function arrayJson(a: Nested, encode: JsonEncoder): string {
  let out = "[";
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    out += (i ? "," : "") + (x === null ? "null" : Array.isArray(x) ? arrayJson(x, encode) : encode(x));
  }
  return out + "]";
}

/**
 * A date, timestamp or timestamptz as the server prints it with
 * DateStyle ISO (`2026-11-30 07:04:26.698144+00`, `0044-03-15 BC`) in ISO
 * 8601: `T` between date and time, the offset as ±hh:mm (±hh:mm:ss when
 * the zone has seconds, which ISO 8601 cannot express otherwise), years BC as
 * astronomical years with a sign (1 BC is 0000, 44 BC is -0043), years past
 * 9999 with a +. Text in any other form (another DateStyle, infinity) is
 * returned unchanged.
 */
export function isoTimestamp(text: string): string {
  // Fast path, the common case: a four-digit year AD, DateStyle ISO.
  const n = text.length;
  if (n >= 10 && isDigits(text, 0, 4) && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45 && text.charCodeAt(n - 1) !== 67) {
    if (n === 10) return text;
    if (text.charCodeAt(10) === 32 && text.charCodeAt(13) === 58) {
      const sign = text.charCodeAt(n - 3);
      return text.slice(0, 10) + "T" + text.slice(11) + (sign === 43 || sign === 45 ? ":00" : "");
    }
  }
  const m = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::\d\d){0,2})?)?( BC)?$/.exec(text);
  if (!m) return text;
  const [, y, mo, d, time, offset, bc] = m;
  let year = Number(y);
  if (bc) year = 1 - year;
  const yearText = year < 0 ? "-" + String(-year).padStart(4, "0") : year > 9999 ? "+" + String(year) : String(year).padStart(4, "0");
  let out = `${yearText}-${mo}-${d}`;
  if (time) out += `T${time}`;
  if (offset) out += offset.length === 3 ? `${offset}:00` : offset;
  return out;
}

function isDigits(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Text made only of the characters ISO dates and timestamps use (no JSON escaping needed). */
function isoShaped(s: string): boolean {
  return /^[0-9T:.+\- ]*$/.test(s);
}

/** The value (not JSON text) for a column of type `oid`. */
export function jsonDecoder(oid: number): (text: string) => unknown {
  const encode = jsonEncoder(oid);
  if (encode === quote) return (s) => s;
  return (s) => JSON.parse(encode(s));
}

type Nested = Array<string | null | Nested>;

/**
 * Parse an array literal as the server prints it: `{1,2,NULL}`,
 * `{"a b","q\\"t"}`, `{{1,2},{3,4}}`, `[0:1]={1,2}`. Unquoted NULL is null;
 * quoted elements keep their backslash-escaped quotes and backslashes.
 * Returns undefined for text that is not such a literal.
 */
export function parsePgArray(text: string): Nested | undefined {
  // Fast path: one dimension, no quoted elements ({1,2,NULL}).
  if (text.charCodeAt(0) === 123 && text.charCodeAt(text.length - 1) === 125 && text.indexOf('"') < 0 && text.indexOf("{", 1) < 0) {
    const inner = text.slice(1, -1);
    if (inner.indexOf("}") >= 0) return undefined;
    return inner === "" ? [] : inner.split(",").map((x) => (x === "NULL" ? null : x));
  }
  let i = text.startsWith("[") ? text.indexOf("=") + 1 : 0;
  if (text[i] !== "{") return undefined;
  let bad = false;
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
      if (text[i] !== "}") bad = true;
      i++; // "}"
      return out;
    }
  };
  const out = parse();
  return bad || i !== text.length ? undefined : out;
}
