/**
 * db.wipe: empty the database, keeping what defines it (core/db/recreate.ts).
 * Without `force` nothing happens: the refusal carries what would be lost
 * (the preview) as data.
 */
import { z } from "zod";
import { facts, type DatabaseFacts } from "../../../core/db/recreate-facts.ts";
import { wipeDatabase, type WipeResult } from "../../../core/db/recreate.ts";
import { defineOperation, type OpDeps } from "../../../core/operation.ts";
import { WipeEvent, WipeResult as WipeResultSchema } from "../schema.ts";
import { preview, refusal } from "../wipe-preview.ts";
import { LockTimeoutMs } from "./migrate.ts";

export const WipeInput = z.object({
  /** Really do it; without it the run is refused with the preview. */
  force: z.boolean().default(false),
  /** Drop and recreate the schemas instead of the database. */
  schemasOnly: z.boolean().default(false),
  /** Schema mode: the longest wait for any one lock. */
  lockTimeoutMs: LockTimeoutMs,
  /** Through the control plane, an environment named production or prod also needs this. */
  dangerResetProduction: z.boolean().default(false),
});
export type WipeInput = z.infer<typeof WipeInput>;

export const wipeOp = defineOperation({
  name: "db.wipe",
  summary: "drop and recreate the database (everything in it is lost)",
  access: "owner",
  input: WipeInput,
  result: WipeResultSchema,
  event: WipeEvent,
  connection: () => ({ applicationName: "eve wipe" }),
  async run(deps, input, emit) {
    const f = await facts(deps.db);
    if (!input.force) throw refusal("wipe", preview(deps.label, f, input.schemasOnly));
    return wipe(deps, input, f, emit);
  },
});

/**
 * Wipe the target: the control plane's way in managed mode (deps.wipeDatabase),
 * else the wipe engine over the connection already open (`f`: its facts).
 */
export function wipe(deps: OpDeps, input: WipeInput, f: DatabaseFacts, emit: (e: WipeEvent) => void): Promise<WipeResult> {
  const opts = { label: deps.label, schemasOnly: input.schemasOnly, report: emit, signal: deps.signal, lockTimeoutMs: input.lockTimeoutMs };
  return deps.wipeDatabase ? deps.wipeDatabase(opts) : wipeDatabase(deps.url, opts, { db: deps.db, facts: f });
}
