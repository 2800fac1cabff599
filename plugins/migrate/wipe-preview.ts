/**
 * Shared by `eve db wipe` and `eve db reset`: what would be lost (the refusal
 * without --force) and the human lines for a finished wipe.
 */
import type { DatabaseFacts } from "../../core/db/recreate-facts.ts";
import type { WipeResult } from "../../core/db/recreate.ts";
import { errorJson, EveError, ExitCode } from "../../core/errors.ts";
import { formatBytes, formatDuration, type Output } from "../../core/io.ts";
import type { WipePreview } from "./schema.ts";

export function preview(label: string, f: DatabaseFacts, schemasOnly: boolean, migrations?: number): WipePreview {
  const fallbackReason = schemasOnly ? "schema mode requested (--schemas-only)" : f.cannotRecreate;
  return {
    refused: true,
    database: label,
    name: f.name,
    owner: f.owner,
    sizeBytes: f.sizeBytes,
    tables: f.tables,
    rowsEstimate: f.rowsEstimate,
    schemas: f.schemas,
    plan: fallbackReason ? "schemas" : "database",
    fallbackReason,
    ...(migrations === undefined ? {} : { migrations }),
  };
}

/** Print what would be lost, then throw the refusal (exit 1). */
export function refuse(out: Output, verb: "wipe" | "reset", p: WipePreview): never {
  const err = new EveError("E_REFUSED", `refusing to ${verb} database ${p.name} without --force`, ExitCode.error, {
    hint: `pass --force to ${p.plan === "database" ? "drop and recreate it" : "drop and recreate every schema"}${verb === "reset" ? ", then apply the migrations" : ""}`,
  });
  if (out.json) {
    out.printJson({ ...p, error: errorJson(err) });
    throw err;
  }
  const rows = Math.round(p.rowsEstimate).toLocaleString("en-US");
  out.log(`${verb} would permanently delete everything in database ${p.name} (${p.database}):`);
  out.log(`  size     ${formatBytes(p.sizeBytes)}`);
  out.log(`  tables   ${p.tables} (~${rows} rows estimated)`);
  out.log(`  schemas  ${p.schemas.length ? p.schemas.join(", ") : "(none)"}`);
  out.log(`  owner    ${p.owner}`);
  if (p.plan === "schemas") out.log(`  how      drop and recreate every schema (${p.fallbackReason})`);
  if (p.migrations !== undefined) out.log(`  then     apply ${p.migrations} migration file${p.migrations === 1 ? "" : "s"}`);
  throw err;
}

export function describeWipe(r: WipeResult): string {
  const lost = `${r.before.tables} table${r.before.tables === 1 ? "" : "s"}, ${formatBytes(r.before.sizeBytes)}`;
  const sessions = r.terminatedSessions ? `; terminated ${r.terminatedSessions} other session${r.terminatedSessions === 1 ? "" : "s"}` : "";
  if (r.mode === "database") {
    const c = r.recreated!;
    const locale = c.localeProvider === "libc" ? `${c.collate}/${c.ctype}` : `${c.localeProvider} ${c.locale}`;
    return `wiped ${r.name} (${lost}): dropped and recreated the database (owner ${c.owner}, ${c.encoding}, ${locale}) in ${formatDuration(r.durationMs)}${sessions}`;
  }
  const s = r.schemas!;
  return `wiped ${r.name} (${lost}) schema by schema: dropped ${s.dropped.join(", ") || "nothing"}; recreated ${s.recreated.join(", ")} in ${formatDuration(r.durationMs)}${sessions}`;
}
