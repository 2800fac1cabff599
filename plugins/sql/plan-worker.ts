/**
 * Worker entry: parses and plans SQL off the main thread. The parser's WASM
 * heap (135 MB reserved) then never lives in the thread that streams results,
 * where it would make the garbage collector lazy enough to let a
 * multi-million-row stream grow to hundreds of MB. See planner.ts.
 */
import { errorToJson } from "../../core/operation.ts";
import { ensureParser } from "../../core/sql/index.ts";
import { planSql, type PlanOptions } from "./plan.ts";

declare const self: { onmessage: ((e: MessageEvent<{ text: string; opts: PlanOptions }>) => void) | null; postMessage(m: unknown): void };

self.onmessage = async (e) => {
  try {
    await ensureParser();
    self.postMessage({ plan: planSql(e.data.text, e.data.opts) });
  } catch (err) {
    self.postMessage({ error: errorToJson(err) });
  }
};
