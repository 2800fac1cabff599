/**
 * Shared pieces of the platform commands: resolving the control plane
 * (core/remote.ts precedence), small table/JSON printing helpers.
 */
import type { Context } from "../../../core/plugin.ts";
import { remoteOptions, resolveRemote, type Remote, type RemoteFlags } from "../../../core/remote.ts";
import { renderTable } from "../../../core/io.ts";

export { remoteOptions };

export type Flags = RemoteFlags & { json?: boolean };

export function remoteOf(ctx: Context, opts: RemoteFlags, needProject = false): Promise<Remote> {
  return resolveRemote(opts, ctx.env, { needProject });
}

/** The project of a command: --project, EVE_PROJECT, the profile's; required. */
export async function projectOf(ctx: Context, opts: RemoteFlags): Promise<{ remote: Remote; project: string }> {
  const remote = await remoteOf(ctx, opts, true);
  return { remote, project: remote.project! };
}

export const enc = encodeURIComponent;

/** Print a list as JSON (--json) or a table of the given columns. */
export function printList(ctx: Context, json: boolean | undefined, body: { items: Array<Record<string, unknown>> }, columns: Array<[string, string]>, empty: string): void {
  if (json) return void ctx.out.printJson(body);
  if (!body.items.length) return void ctx.out.print(empty);
  ctx.out.print(renderTable(columns.map(([h]) => h), body.items.map((i) => columns.map(([, k]) => fmt(i[k])))));
}

export function fmt(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return v.length ? v.join(",") : "-";
  return String(v);
}

/** key: value lines for one record (human output of show commands). */
export function printRecord(ctx: Context, json: boolean | undefined, rec: Record<string, unknown>): void {
  if (json) return void ctx.out.printJson(rec);
  const keys = Object.keys(rec);
  const w = Math.max(...keys.map((k) => k.length));
  ctx.out.print(keys.map((k) => `${k.padEnd(w)}  ${typeof rec[k] === "object" && rec[k] !== null && !Array.isArray(rec[k]) ? JSON.stringify(rec[k]) : fmt(rec[k])}`).join("\n"));
}
