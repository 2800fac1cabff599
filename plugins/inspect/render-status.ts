/** Human rendering of a StatusResult: aligned "key  value" lines. */
import { formatBytes, formatDuration, paint, type Output } from "../../core/io.ts";
import type { StatusResult } from "./schema.ts";
import { alignCells } from "./tree.ts";

export function renderStatus(s: StatusResult, out: Pick<Output, "color"> = { color: false }): string {
  const c = s.connections;
  const m = s.migrations;
  const pairs: string[][] = [
    ["server", `PostgreSQL ${s.server.version}${s.server.inRecovery ? " (standby, read-only)" : " (primary)"}, up since ${s.server.startedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")}`],
    ["latency", `${s.latencyMs.toFixed(2)} ms round trip`],
    ["database", `${s.database.name}, ${formatBytes(s.database.sizeBytes)}, owner ${s.database.owner}, ${s.database.encoding}`],
    ["connections", `${c.used} of ${c.max} in use (${Math.round((100 * c.used) / Math.max(1, c.max))}%), ${c.thisDatabase} on this database, ${c.reservedForSuperuser} reserved for superusers`],
    ["extensions", s.extensions.length ? s.extensions.map((e) => `${e.name} ${e.version}`).join(", ") : "none"],
    ["migrations", migrationsLine(m)],
  ];
  if (m.pending?.length) pairs.push(["  pending", m.pending.join(", ")]);
  if (m.drifted?.length) pairs.push(["  drifted", m.drifted.join(", ")]);
  if (m.missing?.length) pairs.push(["  missing", m.missing.join(", ")]);
  const q = s.longestQuery;
  pairs.push(["longest query", q ? `pid ${q.pid}, ${formatDuration(q.durationMs)}, ${q.state ?? "?"}${q.user ? `, ${q.user}` : ""}: ${q.query}` : "none running"]);
  const t = s.oldestTransaction;
  pairs.push(["oldest transaction", t ? `pid ${t.pid}, open ${formatDuration(t.ageMs)}, ${t.state ?? "?"}${t.user ? `, ${t.user}` : ""}` : "none open"]);
  const head = `${paint(out, "bold", s.target)}: ${paint(out, "green", "reachable")}`;
  return [head, ...alignCells(pairs).map((l) => "  " + l)].join("\n");
}

function migrationsLine(m: StatusResult["migrations"]): string {
  if (!m.table) return "no current schema (empty search_path)";
  let text = m.exists ? `${m.applied} applied` : `none (no ${m.table} table)`;
  if (m.latest) text += `, latest ${m.latest.name} at ${m.latest.appliedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")}`;
  if (m.directory !== null) {
    text += `; ${m.directory}: ${m.pending!.length} pending, ${m.drifted!.length} drifted, ${m.missing!.length} missing`;
  }
  return text;
}
