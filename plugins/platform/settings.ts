/**
 * Platform settings: the master-key check, written by the first server to
 * start on a platform database and verified by every later start, so a server
 * with another EVE_MASTER_KEY fails at once rather than on each secret.
 */
import type { Db } from "../../core/db/index.ts";
import { keyCheck, keyMismatchError, verifyKeyCheck, type MasterKey } from "../../core/secrets.ts";
import { PLATFORM_SCHEMA } from "./migrations.ts";

const KEY_CHECK = "master_key_check";

/**
 * Store the key check if this platform database has none, then verify it:
 * a different key → E_MASTER_KEY. Run after ensurePlatformSchema.
 */
export async function verifyMasterKey(db: Db, key: MasterKey): Promise<void> {
  const check = await keyCheck(key);
  await db.unsafe(`insert into ${PLATFORM_SCHEMA}.settings (key, value) values ($1, $2) on conflict (key) do nothing`, [KEY_CHECK, check]);
  const [row] = await db.unsafe(`select value from ${PLATFORM_SCHEMA}.settings where key = $1`, [KEY_CHECK]);
  if (!row || !(await verifyKeyCheck(key, row.value as string))) throw keyMismatchError();
}
