/**
 * Platform ids: a prefix, "_", then 26 lowercase Crockford base32 characters
 * holding 48 bits of milliseconds and 80 random bits (like a ULID). Ids sort
 * by creation (monotonic within this process) and reveal nothing else.
 */

/** The kinds of platform ids. */
export type IdPrefix = "tok" | "proj" | "env" | "mdbi" | "mdbt" | "op" | "req";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const RANDOM_MASK = (1n << 80n) - 1n;

let lastMs = -1;
let lastRandom = 0n;

function randomBits80(): bigint {
  const b = crypto.getRandomValues(new Uint8Array(10));
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

function encode(value: bigint, chars: number): string {
  let out = "";
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}

/** A new id such as `proj_01jf…`; later calls in this process sort after earlier ones. */
export function newId(prefix: IdPrefix): string {
  let ms = Date.now();
  let random: bigint;
  if (ms <= lastMs) {
    // Same millisecond (or the clock stepped back): keep the time, count up.
    ms = lastMs;
    random = (lastRandom + 1n) & RANDOM_MASK;
    if (random === 0n) ms = lastMs + 1;
  } else {
    random = randomBits80();
  }
  lastMs = ms;
  lastRandom = random;
  return `${prefix}_${encode(BigInt(ms), 10)}${encode(random, 16)}`;
}

/** Whether `id` has the shape of an id of this kind (checked before any query). */
export function isId(prefix: IdPrefix, id: string): boolean {
  return id.length === prefix.length + 27 && id.startsWith(prefix + "_") && /^[0-9a-hjkmnp-tv-z]{26}$/.test(id.slice(prefix.length + 1));
}
