/**
 * Plan SQL in a short-lived worker (plan-worker.ts) so the parser's WASM heap
 * stays out of the streaming thread; falls back to planning in this thread
 * where workers are unavailable. Same result and errors either way.
 */
import { EveError, ExitCode } from "../../core/errors.ts";
import { ensureParser } from "../../core/sql/index.ts";
import { planSql, type PlanOptions, type SqlPlan } from "./plan.ts";

interface WireError {
  code: string;
  message: string;
  exitCode: number;
  hint?: string;
  details?: Record<string, unknown>;
  context?: string[];
}

/** An error as plain data for postMessage. */
export function toWire(e: unknown): WireError {
  if (e instanceof EveError) {
    return { code: e.code, message: e.message, exitCode: e.exitCode, hint: e.hint, details: e.details, context: e.context };
  }
  return { code: "E_INTERNAL", message: e instanceof Error ? e.message : String(e), exitCode: ExitCode.error };
}

function fromWire(w: WireError): EveError {
  return new EveError(w.code, w.message, w.exitCode as ExitCode, { hint: w.hint, details: w.details, context: w.context });
}

export async function planSqlIsolated(text: string, opts: PlanOptions): Promise<SqlPlan> {
  let worker: Worker;
  try {
    worker = new Worker(workerUrl(), { type: "module" });
  } catch {
    return planHere(text, opts);
  }
  const reply = await new Promise<{ plan?: SqlPlan; error?: WireError } | undefined>((resolve) => {
    worker.onmessage = (e: MessageEvent) => resolve(e.data as { plan?: SqlPlan; error?: WireError });
    worker.onerror = () => resolve(undefined);
    worker.postMessage({ text, opts });
  });
  worker.terminate();
  if (!reply) return planHere(text, opts);
  if (reply.error) throw fromWire(reply.error);
  return reply.plan!;
}

/**
 * From source, the worker sits next to this file. In a compiled binary every
 * module shares the executable's URL, and the worker (a separate entrypoint
 * in build.ts) is found by its path from the repository root.
 */
function workerUrl(): string {
  const here = import.meta.url;
  return /\/planner\.[jt]s$/.test(here) ? new URL("./plan-worker.ts", here).href : "./plugins/sql/plan-worker.ts";
}

async function planHere(text: string, opts: PlanOptions): Promise<SqlPlan> {
  await ensureParser();
  return planSql(text, opts);
}
