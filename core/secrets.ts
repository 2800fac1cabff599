/**
 * Secrets at rest: AES-256-GCM under EVE_MASTER_KEY, with Web Crypto only
 * (runtime-neutral). A ciphertext is "v1:" + base64url(iv ‖ ciphertext+tag)
 * and is bound to its row by additional authenticated data, so a blob copied
 * to another row does not decrypt. Key material and plaintexts never appear
 * in messages.
 */
import { EveError, ExitCode } from "./errors.ts";

/** A master key imported for AES-GCM; opaque outside this module. */
export interface MasterKey {
  readonly cryptoKey: CryptoKey;
}

const VERSION = "v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_CHECK_TEXT = "eve platform master key check";
const KEY_CHECK_AAD = "settings:master_key_check";
const GENERATE_HINT = "generate one with `openssl rand -base64 32` and keep it: every stored secret is encrypted under it";

function keyError(message: string, hint = GENERATE_HINT): EveError {
  return new EveError("E_MASTER_KEY", message, ExitCode.usage, { hint });
}

/** Standard or URL-safe base64 (padding optional) to bytes; undefined when it is not base64. */
function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || /[+/].*[_-]|[_-].*[+/]/.test(text)) return undefined;
  const std = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (std.length % 4 === 1) return undefined;
  try {
    const bin = atob(std + "=".repeat((4 - (std.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Bytes to unpadded base64url. */
export function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hexBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Read EVE_MASTER_KEY: 32 bytes as base64 (standard or URL-safe) or 64 hex
 * characters. Missing, malformed or of the wrong length → E_MASTER_KEY (exit 2)
 * naming the problem, never the value.
 */
export async function loadMasterKey(env: Record<string, string | undefined>): Promise<MasterKey> {
  const raw = env.EVE_MASTER_KEY?.trim();
  if (!raw) throw keyError("EVE_MASTER_KEY is not set: the control plane encrypts stored secrets with it");
  const bytes = /^[0-9a-fA-F]{64}$/.test(raw) ? hexBytes(raw) : fromBase64(raw);
  if (!bytes) throw keyError(`EVE_MASTER_KEY is neither base64 nor 64 hex characters (${raw.length} characters given)`);
  if (bytes.length !== 32) throw keyError(`EVE_MASTER_KEY decodes to ${bytes.length} bytes; it must be exactly 32 (AES-256)`);
  return importKey(bytes);
}

/** Import 32 raw bytes as a master key. */
export async function importKey(bytes: Uint8Array): Promise<MasterKey> {
  if (bytes.length !== 32) throw keyError(`a master key must be exactly 32 bytes, not ${bytes.length}`);
  const cryptoKey = await crypto.subtle.importKey("raw", bytes as Uint8Array<ArrayBuffer>, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  return { cryptoKey };
}

const encoder = new TextEncoder();

/** Encrypt `plaintext`, bound to `aad` (e.g. "instance:<id>:admin_password"). */
export async function encryptSecret(key: MasterKey, plaintext: string, aad: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(aad) }, key.cryptoKey, encoder.encode(plaintext)),
  );
  const out = new Uint8Array(IV_BYTES + sealed.length);
  out.set(iv);
  out.set(sealed, IV_BYTES);
  return VERSION + toBase64Url(out);
}

function decryptError(aad: string, why: string): EveError {
  return new EveError("E_SECRET_DECRYPT", `cannot decrypt the stored secret ${aad}: ${why}`, ExitCode.error, {
    hint: "the server must run with the EVE_MASTER_KEY the secret was stored under; a changed or copied ciphertext cannot be recovered",
    details: { secret: aad },
  });
}

/**
 * Decrypt a blob made by encryptSecret with the same `aad`. A wrong key, a
 * changed byte or another row's `aad` → E_SECRET_DECRYPT.
 */
export async function decryptSecret(key: MasterKey, blob: string, aad: string): Promise<string> {
  if (!blob.startsWith(VERSION)) throw decryptError(aad, "unknown format");
  const bytes = fromBase64(blob.slice(VERSION.length));
  if (!bytes || bytes.length < IV_BYTES + TAG_BYTES) throw decryptError(aad, "malformed ciphertext");
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.slice(0, IV_BYTES), additionalData: encoder.encode(aad) },
      key.cryptoKey,
      bytes.slice(IV_BYTES),
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    throw decryptError(aad, "authentication failed (wrong key, altered ciphertext, or a ciphertext of another record)");
  }
}

/** A known plaintext encrypted under `key`, stored once so a later start can tell whether its key is the same. */
export function keyCheck(key: MasterKey): Promise<string> {
  return encryptSecret(key, KEY_CHECK_TEXT, KEY_CHECK_AAD);
}

/** Whether `stored` (from keyCheck) was made under `key`. */
export async function verifyKeyCheck(key: MasterKey, stored: string): Promise<boolean> {
  try {
    return (await decryptSecret(key, stored, KEY_CHECK_AAD)) === KEY_CHECK_TEXT;
  } catch {
    return false;
  }
}

/** The start-up error for a key that does not match the platform database's key check. */
export function keyMismatchError(): EveError {
  return keyError(
    "EVE_MASTER_KEY does not match the key this platform database was initialised with",
    "start the server with the original EVE_MASTER_KEY; secrets stored under it cannot be read with another key",
  );
}
