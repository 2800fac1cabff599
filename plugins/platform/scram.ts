/**
 * SCRAM-SHA-256 password verifiers computed on the client (Web Crypto), in the
 * form Postgres stores in pg_authid.rolpassword. Sending the verifier instead
 * of the password keeps the plaintext out of the server's statement log.
 *
 * Postgres applies SASLprep to the password before hashing; for printable ASCII
 * that is the identity, so only printable ASCII passwords are accepted here
 * (the platform generates them) rather than half-implementing SASLprep.
 */
import { EveError, ExitCode } from "../../core/errors.ts";

/** The iteration count Postgres uses by default (scram_iterations). */
export const SCRAM_ITERATIONS = 4096;

const enc = new TextEncoder();

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function hmac(key: Uint8Array, message: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(message)));
}

function checkPassword(password: string): void {
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new EveError("E_PASSWORD", "a tenant password must be non-empty printable ASCII", ExitCode.usage, {
      hint: "generate passwords from [A-Za-z0-9] (the platform does)",
    });
  }
}

async function keys(password: string, salt: Uint8Array, iterations: number): Promise<{ storedKey: Uint8Array; serverKey: Uint8Array }> {
  checkPassword(password);
  const base = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveBits"]);
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations }, base, 256),
  );
  const clientKey = await hmac(salted, "Client Key");
  const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey as BufferSource));
  return { storedKey, serverKey: await hmac(salted, "Server Key") };
}

/**
 * `SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>` for
 * `password`, with a random 16-byte salt (or the one given, for tests).
 */
export async function scramVerifier(password: string, opts: { salt?: Uint8Array; iterations?: number } = {}): Promise<string> {
  const salt = opts.salt ?? crypto.getRandomValues(new Uint8Array(16));
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  const { storedKey, serverKey } = await keys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** True when `verifier` (a pg_authid.rolpassword value) accepts `password`; false for any other format. */
export async function scramMatches(verifier: string, password: string): Promise<boolean> {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (!m) return false;
  const { storedKey, serverKey } = await keys(password, unb64(m[2]!), Number(m[1]));
  return b64(storedKey) === m[3] && b64(serverKey) === m[4];
}

/** A random password nobody knows (for the idle rotation slot): 32 characters of [A-Za-z0-9]. */
export function randomPassword(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const out: string[] = [];
  // 62 * 4 = 248: bytes >= 248 are dropped so every character is equally likely.
  while (out.length < 32) {
    for (const b of crypto.getRandomValues(new Uint8Array(48))) if (b < 248 && out.length < 32) out.push(alphabet[b % 62]!);
  }
  return out.join("");
}
