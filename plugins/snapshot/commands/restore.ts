import { tmpdir } from "node:os";
import { parsePositiveInt, resolveDbUrl, urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { describeDatabase } from "../../../core/db/recreate.ts";
import { errorJson, EveError, ExitCode } from "../../../core/errors.ts";
import { formatBytes, formatDuration, paint } from "../../../core/io.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { createProgress } from "../progress.ts";
import { checkRestorable, restoreSnapshot } from "../restore.ts";
import type { RestorePreview } from "../schema.ts";
import { sourceKeyOf } from "../snapshot.ts";
import { warmTools } from "../tools.ts";
import { startTrace, trace } from "../trace.ts";
import { logStale, parseRetention, staleOptions, storeFor, storeOption, writer } from "./common.ts";

interface Opts {
  url?: string;
  store?: string;
  snapshot?: string;
  force?: boolean;
  skipSafetySnapshot?: boolean;
  jobs?: number;
  sourceUrl?: string;
  retention?: string;
  owner?: boolean;
  acl?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "restore"],
  summary: "restore a snapshot into the database (atomically; safety snapshot first)",
  description:
    "Refuses anything but a completed snapshot whose size and sha256 still match (checked while\n" +
    "streaming). Takes a safety snapshot of the target first (trigger pre_restore) and prints its id\n" +
    "(none when the target is empty: it holds nothing to keep; an empty target is restored into\n" +
    "directly, in one transaction, without a scratch database unless --jobs is given).\n" +
    "Then restores into a new database on the same server (same owner, encoding, locale, database\n" +
    "grants and settings) and swaps it in by renaming, ending the target's sessions; the old database\n" +
    "is dropped. A role that cannot create databases restores in place in one transaction (the target\n" +
    "is emptied and the dump replayed through psql --single-transaction). Any failure leaves the target\n" +
    "as it was. A snapshot of another database needs --source-url naming that database (only host,\n" +
    "port and name are compared).\n" +
    "Owners and privileges: objects come back with their owners, grants (schema, table, column,\n" +
    "sequence, function, large object) and default privileges, as pg_dump recorded them. Before\n" +
    "anything changes, eve reads the snapshot's table of contents: if a role it names does not exist on\n" +
    "the target server, or the connecting role (not a superuser) may not act as an owner (membership,\n" +
    "with SET on PostgreSQL 16+), it refuses (exit 1) naming the roles. The ways out: create the\n" +
    "roles, or choose explicitly --no-owner (every object belongs to the target database's owner)\n" +
    "and/or --no-acl (no GRANT/REVOKE or default privileges restored); the output lists what was not\n" +
    "restored and why. RLS policies are always restored (the roles they name must exist).\n" +
    "Without --force nothing happens: it prints what would be replaced and exits 1.",
  options: [
    urlOption,
    storeOption,
    { flags: "--snapshot <id>", description: "the snapshot to restore (required)" },
    { flags: "--force", description: "really replace the database's contents" },
    { flags: "--skip-safety-snapshot", description: "do not snapshot the target first" },
    { flags: "--jobs <n>", description: "parallel pg_restore from a downloaded temp file (swap only)", parse: (v) => parsePositiveInt(v, "--jobs") },
    { flags: "--source-url <url>", description: "the database the snapshot was taken from (for restoring across databases)" },
    { flags: "--retention <age>", description: "retention of the safety snapshot", default: "30d" },
    { flags: "--no-owner", description: "do not restore owners: every object belongs to the target database's owner" },
    { flags: "--no-acl", description: "do not restore grants and default privileges" },
    ...waitOptions,
  ],
  examples: [
    "eve db restore --url postgres://…/app --snapshot snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC --force",
    "eve db restore --url postgres://…/staging --snapshot snap_… --source-url postgres://db.internal:5432/prod --force --jobs 4",
    "eve db restore --url postgres://…/other --snapshot snap_… --source-url postgres://…/app --force --no-owner --no-acl",
  ],
  async run(ctx, opts) {
    if (ctx.debug) startTrace((l) => ctx.out.log(l));
    trace("command started (process start to here: runtime and CLI loading)");
    if (!opts.snapshot) throw new EveError("E_USAGE", "--snapshot is required", ExitCode.usage, { hint: "list snapshots with eve db snapshots" });
    const retention = parseRetention(opts.retention ?? "30d");
    const store = storeFor(ctx, opts.store);
    const out = ctx.out;
    const sourceKey = opts.sourceUrl ? sourceKeyOf(opts.sourceUrl, "--source-url") : undefined;
    warmTools(ctx.env);
    // The snapshot's record is read while connecting (its errors are reported after the connection's).
    const checked = Promise.resolve().then(() => checkRestorable(store, opts.snapshot!, resolveDbUrl(opts.url, ctx.env), sourceKey));
    checked.catch(() => {});
    const conn = await openDirect(ctx, opts, { applicationName: "eve restore" });
    trace("connected");
    let preview;
    if (!opts.force) {
      try {
        const rec = await checked;
        preview = { rec, f: await describeDatabase(conn.db) };
      } finally {
        await conn.close();
      }
    }
    if (preview) {
      const { rec, f } = preview;
      const err = new EveError("E_REFUSED", `refusing to restore ${rec.id} into ${f.name} without --force`, ExitCode.error, {
        hint: "pass --force to replace the database's contents (a safety snapshot is taken first)",
      });
      if (opts.json) {
        const doc: RestorePreview = { refused: true, database: conn.label, snapshot: rec, current: { sizeBytes: f.sizeBytes, tables: f.tables, rowsEstimate: f.rowsEstimate, schemas: f.schemas } };
        out.printJson({ ...doc, error: errorJson(err) });
      } else {
        out.log(`restore would replace everything in database ${f.name} (${conn.label}):`);
        out.log(`  now      ${formatBytes(f.sizeBytes)}, ${f.tables} tables (~${f.rowsEstimate.toLocaleString("en-US")} rows), schemas ${f.schemas.join(", ") || "(none)"}`);
        out.log(`  with     ${rec.id} of ${rec.sourceKey}, taken ${rec.createdAt} (${formatBytes(rec.size ?? 0)}${rec.label ? `, "${rec.label}"` : ""})`);
        out.log(`  safety   ${opts.skipSafetySnapshot ? "none (--skip-safety-snapshot)" : "a snapshot of the current contents is taken first"}`);
      }
      throw err;
    }

    const closeSession = once(conn.close);
    const progress = createProgress(out, opts.json, "restoring");
    const human = !opts.json;
    try {
      const result = await restoreSnapshot({
        url: conn.url,
        store,
        id: opts.snapshot,
        sourceKey,
        safetySnapshot: !opts.skipSafetySnapshot,
        jobs: opts.jobs,
        tmpDir: tmpdir(),
        env: ctx.env,
        now: () => ctx.now(),
        writer: writer(),
        stale: staleOptions(ctx),
        retention,
        owners: opts.owner !== false,
        acl: opts.acl !== false,
        signal: ctx.signal,
        // The session is handed over (the restore closes it before swapping).
        session: { db: conn.db, close: closeSession },
        record: checked,
      }, (e) => {
        if (e.type === "strategy" && e.strategy === "in_place") out.log(`${paint(out, "yellow", "note:")} restoring in place in one transaction: ${e.reason}`);
        if (e.type === "safety" && e.event.type === "started" && human) out.log(`taking safety snapshot ${e.event.record.id} of ${conn.label}…`);
        if (e.type === "safety" && e.event.type === "stale") logStale(out, e.event.fixed);
        if (e.type === "safety-done") {
          progress.done();
          out.log(`safety snapshot: ${e.record.id} (${formatBytes(e.record.size ?? 0)}) — restore it with --snapshot ${e.record.id} to undo`);
        }
        if (e.type === "phase") {
          progress.done();
          if (e.phase === "download" || e.phase === "restore") progress.phase(e.phase === "download" ? "downloading" : "restoring", e.total);
          else if (human) out.log(e.phase === "owner" ? "handing objects to the owner…" : e.phase === "swap" ? "swapping databases…" : "dropping the replaced database…");
        }
        if (e.type === "progress") progress.update(e.bytes);
        if (e.type === "warning") out.log(`${paint(out, "yellow", "warning:")} ${e.message}`);
      });
      progress.done();
      if (opts.json) return void out.printJson(result);
      const how = result.strategy === "swap" ? `swapped in a fresh copy${result.terminated ? `, ended ${result.terminated} session${result.terminated === 1 ? "" : "s"}` : ""}` : "in place, one transaction";
      out.print(`${paint(out, "green", "restored")} ${result.snapshot} into ${result.target} (${how}${result.jobs > 1 ? `, ${result.jobs} jobs` : ""}) in ${formatDuration(result.durationMs)}`);
      for (const n of result.notRestored) out.print(`${paint(out, "yellow", "note:")} ${n.message}`);
      if (result.safetySnapshot) out.print(`safety snapshot: ${result.safetySnapshot}`);
    } finally {
      progress.done();
      await closeSession();
    }
  },
});

/** A close that runs once however often it is called. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | null = null;
  return () => (p ??= fn());
}
