/** What the snapshot operations share: the store they were lent, and progress events at a bounded rate. */
import { EveError } from "../../../core/errors.ts";
import type { OpDeps } from "../../../core/operation.ts";
import type { Store } from "../../../core/store/types.ts";

/** The snapshot store of an operation that declared `store: true`. */
export function storeOf(deps: OpDeps, op: string): Store {
  if (!deps.store) throw new EveError("E_INTERNAL", `operation ${op} needs a snapshot store but was given none`);
  return deps.store;
}

/** Whether an event is (or wraps) a byte count. */
type Progressive = { type: string; event?: { type: string } };

/**
 * `emit`, passing progress events (also those nested in a `safety` event) at
 * most once per `ms`: a display redraws no faster, and a stream to a remote
 * client stays small. Every other event passes at once.
 */
export function throttleProgress<E extends Progressive>(emit: (e: E) => void, ms = 100): (e: E) => void {
  let last = 0;
  return (e) => {
    if (e.type === "progress" || e.event?.type === "progress") {
      const t = Date.now();
      if (t - last < ms) return;
      last = t;
    }
    emit(e);
  };
}
