/** Catalog pieces: ids, stale detection, retention planning and pruning against real snapshots. */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { close, connect } from "../../../core/db/index.ts";
import { bufferWriter, createOutput } from "../../../core/io.ts";
import { checkId, idTime, listRecords, newSnapshotId, readRecord, staleReason } from "../../../plugins/snapshot/catalog.ts";
import { createProgress } from "../../../plugins/snapshot/progress.ts";
import { planPrune, prune } from "../../../plugins/snapshot/prune.ts";
import { PruneResult, SnapshotRecord } from "../../../plugins/snapshot/schema.ts";
import { createSnapshot } from "../../../plugins/snapshot/snapshot.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { engineBase, fileStore } from "./fixture.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function record(over: Partial<SnapshotRecord>): SnapshotRecord {
  const now = new Date().toISOString();
  return SnapshotRecord.parse({
    id: newSnapshotId(new Date()),
    format: 1,
    database: "app",
    source: "u@h:5432/app",
    sourceKey: "h:5432/app",
    serverVersion: "15",
    pgDumpVersion: "15",
    trigger: "manual",
    status: "completed",
    label: null,
    key: "snapshots/x.dump",
    size: 1,
    sha256: "0".repeat(64),
    databaseSize: 1,
    retention: "1d",
    expiresAt: now,
    createdAt: now,
    completedAt: now,
    updatedAt: now,
    bytes: 1,
    verified: true,
    durationMs: 1,
    error: null,
    writer: { host: "here", pid: 1 },
    ...over,
  });
}

describe("ids", () => {
  test("sortable, unique, time-encoded, validated", () => {
    const t = new Date("2025-03-04T05:06:07.089Z");
    const ids = Array.from({ length: 500 }, () => newSnapshotId(t));
    expect(new Set(ids).size).toBe(500);
    expect([...ids].sort()).toEqual(ids); // monotonic within one millisecond
    expect(idTime(ids[0]!).toISOString()).toBe(t.toISOString());
    const later = newSnapshotId(new Date(t.getTime() + 1));
    expect(later > ids[499]!).toBe(true);
    expect(checkId(` ${later} `)).toBe(later);
    expect(() => checkId("snap_123")).toThrow(/not a snapshot id/);
    expect(() => checkId("../../etc/passwd")).toThrow(/not a snapshot id/);
  });
});

describe("stale records", () => {
  const now = new Date();
  const o = { host: "here", isAlive: (pid: number) => pid === 42, now, staleAfterMs: 60_000 };
  test("a dead pid on this host is stale at once; a live one is not; elsewhere only the heartbeat counts", () => {
    expect(staleReason(record({ status: "in_progress", writer: { host: "here", pid: 7 } }), o)).toContain("is gone");
    expect(staleReason(record({ status: "in_progress", writer: { host: "here", pid: 42 } }), o)).toBeNull();
    expect(staleReason(record({ status: "in_progress", writer: { host: "other", pid: 7 } }), o)).toBeNull();
    const old = new Date(now.getTime() - 120_000).toISOString();
    expect(staleReason(record({ status: "in_progress", writer: { host: "other", pid: 7 }, updatedAt: old }), o)).toContain("no heartbeat");
    expect(staleReason(record({ status: "completed", writer: { host: "here", pid: 7 } }), o)).toBeNull();
  });
});

describe("retention", () => {
  test("planPrune: expired go, except the newest completed per database unless all", () => {
    const now = new Date();
    const past = new Date(now.getTime() - 1000).toISOString();
    const future = new Date(now.getTime() + 86_400_000).toISOString();
    const a1 = record({ expiresAt: past });
    const a2 = record({ expiresAt: past });
    const a3 = record({ expiresAt: past, status: "failed" });
    const b1 = record({ sourceKey: "h:5432/b", expiresAt: future });
    const b0 = record({ sourceKey: "h:5432/b", expiresAt: null });
    const running = record({ status: "in_progress", expiresAt: past });
    const recs = [a1, a2, a3, b1, b0, running];
    const plan = planPrune(recs, now);
    expect(plan.remove.map((r) => r.id).sort()).toEqual([a1.id, a3.id].sort());
    expect(plan.kept).toEqual([{ id: a2.id, reason: expect.stringContaining("newest completed") }]);
    expect(planPrune(recs, now, true).remove.map((r) => r.id).sort()).toEqual([a1.id, a2.id, a3.id].sort());
  });

  test("prune deletes expired snapshots (dump and record), keeps the newest completed one, --dry-run deletes nothing", async () => {
    const url = await freshDatabase("snap_prune");
    await withSql(url, (sql) => sql`create table t as select generate_series(1, 100) as x`);
    const { store, dir } = fileStore();
    const db = connect(url);
    const make = (ms: number) => createSnapshot(db, { url, store, trigger: "scheduled", retention: { text: `${ms}ms`, ms }, ...engineBase() });
    const short1 = await make(300);
    const short2 = await make(300);
    const long = await make(86_400_000);
    await close(db);
    expect(long.expiresAt! > short2.expiresAt!).toBe(true);
    await sleep(400);

    const dry = PruneResult.parse(await prune({ store, now: new Date(), dryRun: true, stale: { ...engineBase().stale, now: new Date() } }));
    expect(dry.deleted.map((d) => d.id).sort()).toEqual([short1.id, short2.id].sort());
    expect((await listRecords(store)).length).toBe(3);

    const res = await prune({ store, now: new Date(), stale: { ...engineBase().stale, now: new Date() } });
    // long is the newest completed, but not expired: both short ones go.
    expect(res.deleted.map((d) => d.id).sort()).toEqual([short1.id, short2.id].sort());
    expect((await listRecords(store)).map((r) => r.id)).toEqual([long.id]);
    expect(readdirSync(join(dir, "snapshots")).sort()).toEqual([`${long.id}.dump`, `${long.id}.json`]);

    // Expired newest completed: kept without --all, deleted with it.
    const expired = { ...(await readRecord(store, long.id)), expiresAt: new Date(Date.now() - 1).toISOString() };
    await store.putText(`snapshots/${long.id}.json`, JSON.stringify(expired));
    const kept = await prune({ store, now: new Date(), stale: { ...engineBase().stale, now: new Date() } });
    expect(kept.deleted).toEqual([]);
    expect(kept.kept.map((k) => k.id)).toEqual([long.id]);
    const all = await prune({ store, now: new Date(), all: true, stale: { ...engineBase().stale, now: new Date() } });
    expect(all.deleted.map((d) => d.id)).toEqual([long.id]);
    expect(readdirSync(join(dir, "snapshots"))).toEqual([]);
  });
});

describe("progress", () => {
  test("draws bytes, rate, elapsed and a bar on a TTY; silent otherwise", () => {
    const tty = bufferWriter();
    (tty as { isTTY?: boolean }).isTTY = true;
    let t = 0;
    const out = createOutput(bufferWriter(), tty, {});
    const p = createProgress(out, false, "restoring", 4 * 1024 * 1024, () => t);
    t = 2000;
    p.update(2 * 1024 * 1024);
    p.done();
    expect(tty.text()).toBe("\r\x1b[2Krestoring [############............] 50% 2.0 MiB / 4.0 MiB  1.0 MiB/s  2.0s\r\x1b[2K");
    const pipe = bufferWriter();
    const quiet = createProgress(createOutput(bufferWriter(), pipe, {}), false, "x");
    quiet.update(1);
    quiet.done();
    const json = createProgress(out, true, "x");
    json.update(5);
    expect(pipe.text()).toBe("");
  });
});
