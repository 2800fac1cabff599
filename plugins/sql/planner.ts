/**
 * Plan SQL in a short-lived worker (plan-worker.ts) so the parser's WASM heap
 * stays out of the streaming thread; falls back to planning in this thread
 * where workers are unavailable. Same result and errors either way.
 *
 * `eve db sql --url` plans before connecting (refusals need no server) and
 * the db.sql operation plans again: `preparePlan` keeps that first plan for
 * the operation's call with the very same arguments, so a local run plans
 * once. Nothing else is kept: a server plans every request itself.
 */
import { errorFromJson, type ErrorJson } from "../../core/operation.ts";
import { ensureParser } from "../../core/sql/index.ts";
import { planSql, type PlanOptions, type SqlPlan } from "./plan.ts";

let prepared: { text: string; opts: PlanOptions; plan: Promise<SqlPlan> } | undefined;

/** Plan now and keep the plan for the next `planSqlIsolated` call with the same text and options. */
export function preparePlan(text: string, opts: PlanOptions): Promise<SqlPlan> {
  const plan = plan0(text, opts);
  const entry = { text, opts, plan };
  prepared = entry;
  plan.catch(() => {
    if (prepared === entry) prepared = undefined;
  });
  return plan;
}

/** The plan of `text` (the prepared one when the arguments are the same, taken once). */
export function planSqlIsolated(text: string, opts: PlanOptions): Promise<SqlPlan> {
  const p = prepared;
  if (p && p.text === text && sameOptions(p.opts, opts)) {
    prepared = undefined;
    return p.plan;
  }
  return plan0(text, opts);
}

function sameOptions(a: PlanOptions, b: PlanOptions): boolean {
  return a.write === b.write && a.source === b.source && a.params.length === b.params.length && a.params.every((v, i) => v === b.params[i]);
}

async function plan0(text: string, opts: PlanOptions): Promise<SqlPlan> {
  let worker: Worker;
  try {
    worker = new Worker(workerUrl(), { type: "module" });
  } catch {
    return planHere(text, opts);
  }
  const reply = await new Promise<{ plan?: SqlPlan; error?: ErrorJson } | undefined>((resolve) => {
    worker.onmessage = (e: MessageEvent) => resolve(e.data as { plan?: SqlPlan; error?: ErrorJson });
    worker.onerror = () => resolve(undefined);
    worker.postMessage({ text, opts });
  });
  worker.terminate();
  if (!reply) return planHere(text, opts);
  if (reply.error) throw errorFromJson(reply.error);
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
