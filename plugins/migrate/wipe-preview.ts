/**
 * Shared by db.wipe and db.reset and their commands: what would be lost (the
 * refusal without --force, its preview as data) and the human lines for a
 * finished wipe.
 */
import type { DatabaseFacts } from "../../core/db/recreate-facts.ts";
import type { WipeResult } from "../../core/db/recreate.ts";
import { errorJson, EveError, ExitCode } from "../../core/errors.ts";
import { formatBytes, formatDuration, type Output } from "../../core/io.ts";
import { WipePreview } from "./schema.ts";

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

/** The refusal without --force (exit 1): what would be lost travels as data in `details.preview`. */
export function refusal(verb: "wipe" | "reset", p: WipePreview): EveError {
  return new EveError("E_REFUSED", `refusing to ${verb} database ${p.name} without --force`, ExitCode.error, {
    hint: `pass --force to ${p.plan === "database" ? "drop and recreate it" : "drop and recreate every schema"}${verb === "reset" ? ", then apply the migrations" : ""}`,
    details: { preview: p },
  });
}

/**
 * Print a refusal's preview (what would be lost) before the error itself is
 * reported: with --json one document, the preview and the error; else lines on stderr.
 * Does nothing for any other error.
 */
export function printRefusal(out: Output, verb: "wipe" | "reset", e: unknown): void {
  if (!(e instanceof EveError) || e.code !== "E_REFUSED") return;
  const parsed = WipePreview.safeParse(e.details?.preview);
  if (!parsed.success) return;
  const p = parsed.data;
  if (out.json) {
    out.printJson({ ...p, error: errorJsonWithout(e, "preview") });
    return;
  }
  const rows = Math.round(p.rowsEstimate).toLocaleString("en-US");
  out.log(`${verb} would permanently delete everything in database ${p.name} (${p.database}):`);
  out.log(`  size     ${formatBytes(p.sizeBytes)}`);
  out.log(`  tables   ${p.tables} (~${rows} rows estimated)`);
  out.log(`  schemas  ${p.schemas.length ? p.schemas.join(", ") : "(none)"}`);
  out.log(`  owner    ${p.owner}`);
  if (p.plan === "schemas") out.log(`  how      drop and recreate every schema (${p.fallbackReason})`);
  if (p.migrations !== undefined) out.log(`  then     apply ${p.migrations} migration file${p.migrations === 1 ? "" : "s"}`);
}

/** errorJson of `e` without the details that are printed beside it (a preview, a partial result). */
export function errorJsonWithout(e: EveError, ...keys: string[]): Record<string, unknown> {
  const j = errorJson(e);
  for (const k of keys) delete j[k];
  return j;
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
