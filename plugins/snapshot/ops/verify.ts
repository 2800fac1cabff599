/**
 * db.snapshot.verify: read a snapshot back (size, sha256, and every data block
 * through a pg_restore that reads its archive version). Mismatches are in the
 * result (ok: false); the command turns them into exit 5. Needs no database
 * connection.
 */
import { defineOperation } from "../../../core/operation.ts";
import { readRecord } from "../catalog.ts";
import { ReadEvent, VerifyResult } from "../schema.ts";
import { verifySnapshot } from "../verify.ts";
import { storeOf, throttleProgress } from "./common.ts";
import { SnapshotIdInput } from "./show.ts";

export const verifyOp = defineOperation({
  name: "db.snapshot.verify",
  summary: "re-read a snapshot: size, sha256 and every data block (exit 5 on mismatch)",
  access: "read",
  input: SnapshotIdInput,
  result: VerifyResult,
  event: ReadEvent,
  store: true,
  connects: false,
  async run(deps, input, emit) {
    const store = storeOf(deps, "db.snapshot.verify");
    const record = await readRecord(store, input.id);
    const progress = throttleProgress(emit);
    emit({ type: "started", record });
    return verifySnapshot({ store, record, env: deps.toolEnv, signal: deps.signal, onProgress: (bytes) => progress({ type: "progress", bytes }) });
  },
});
