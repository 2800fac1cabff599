/**
 * The snapshot operations run as core/op-command.ts runs them locally (a real
 * database, a real file store; no connection at all for the store-only verbs,
 * whose `db` throws on use), and what they produce survives the wire: the
 * result and every event as JSON through the op's zod schemas (same text
 * after), and every error through errorToJson / errorFromJson with its code,
 * exit code, hint and details (a refusal's preview) intact.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import process from "node:process";
import { errorToJson, type Operation } from "../../../core/operation.ts";
import { openStore } from "../../../core/store/index.ts";
import type { Store } from "../../../core/store/types.ts";
import { dumpKey, recordKey } from "../../../plugins/snapshot/catalog.ts";
import { withSnapshotPrefetch } from "../../../plugins/snapshot/commands/common.ts";
import { deleteOp } from "../../../plugins/snapshot/ops/delete.ts";
import { pruneOp } from "../../../plugins/snapshot/ops/prune.ts";
import { restoreOp } from "../../../plugins/snapshot/ops/restore.ts";
import { showOp } from "../../../plugins/snapshot/ops/show.ts";
import { snapshotOp } from "../../../plugins/snapshot/ops/snapshot.ts";
import { snapshotsOp } from "../../../plugins/snapshot/ops/snapshots.ts";
import { verifyOp } from "../../../plugins/snapshot/ops/verify.ts";
import { DeletePreview, RestorePreview, type SnapshotRecord } from "../../../plugins/snapshot/schema.ts";
import { sourceKeyOf, sourceLabelOf } from "../../../plugins/snapshot/snapshot.ts";
import { dropDatabases, freshDatabase, withSql } from "../../helpers/db.ts";
import { errorOverTheWire, overTheWire, runOp as run, type OpRun } from "../../helpers/op-run.ts";
import { fileStore } from "./fixture.ts";

/** Run `op` with `raw` on `url`, or on no connection at all (connects: false), with `store` lent. */
function runOp<I, R, E>(op: Operation<I, R, E>, store: Store, raw: unknown, url?: string): Promise<OpRun<R, E>> {
  if (op.connects === false) expect(url).toBeUndefined();
  return run(op, url, raw, { store, label: url ? sourceLabelOf(url) : "", toolEnv: { ...process.env } });
}

/** An S3 store on a loopback port where nothing listens. */
async function unreachableStore(): Promise<Store> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return openStore("s3://eve-backups/ops", {
    EVE_S3_ENDPOINT: `http://127.0.0.1:${port}`,
    EVE_S3_FORCE_PATH_STYLE: "1",
    AWS_ACCESS_KEY_ID: "AKIAEVETESTKEY",
    AWS_SECRET_ACCESS_KEY: "ops-test-secret",
    AWS_REGION: "us-east-1",
  });
}

let url: string;
let other: string;
let store: Store;
let first: SnapshotRecord;

beforeAll(async () => {
  url = await freshDatabase("snap_ops");
  other = await freshDatabase("snap_ops_other");
  store = fileStore().store;
  await withSql(url, (sql) => sql.unsafe("create table items (id int primary key, name text); insert into items select g, 'item ' || g from generate_series(1, 300) g"));
});

afterAll(async () => {
  await dropDatabases([url, other]);
});

describe("db.snapshot", () => {
  test("result and events survive the wire; a bad retention is a usage error that does too", async () => {
    const run = await runOp(snapshotOp, store, { label: "ops", retention: "7d" }, url);
    const { result, events } = overTheWire(snapshotOp, run);
    expect(result).toMatchObject({ status: "completed", label: "ops", retention: "7d", trigger: "manual", verified: true, sourceKey: sourceKeyOf(url) });
    const started = events.find((e) => e.type === "started");
    expect(started).toMatchObject({ type: "started", store: store.url, record: { id: result.id, status: "in_progress" } });
    first = result;

    const bad = await runOp(snapshotOp, store, { retention: "forever" }, url);
    const err = errorOverTheWire(bad.error);
    expect([err.code, err.exitCode]).toEqual(["E_USAGE", 2]);
    expect(err.message).toBe('invalid retention "forever"');
  });
});

describe("db.snapshots", () => {
  test("filters by database, status and limit inside the operation, with no connection", async () => {
    const second = overTheWire(snapshotOp, await runOp(snapshotOp, store, { verify: false }, url)).result;
    const all = overTheWire(snapshotsOp, await runOp(snapshotsOp, store, {})).result;
    expect(all.snapshots.map((s) => s.id)).toEqual([second.id, first.id]);
    expect(all).toMatchObject({ store: store.url, database: null, staleFixed: [] });
    const one = overTheWire(snapshotsOp, await runOp(snapshotsOp, store, { database: sourceKeyOf(url), limit: 1 })).result;
    expect(one.snapshots.map((s) => s.id)).toEqual([second.id]);
    expect(overTheWire(snapshotsOp, await runOp(snapshotsOp, store, { status: "failed" })).result.snapshots).toEqual([]);
    expect(overTheWire(snapshotsOp, await runOp(snapshotsOp, store, { database: sourceKeyOf(other) })).result.snapshots).toEqual([]);
  });

  test("an unreadable record is an event; an unreachable store an error, both over the wire", async () => {
    const s = fileStore().store;
    await s.putText(recordKey("snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC"), "{ not json");
    const { events } = overTheWire(snapshotsOp, await runOp(snapshotsOp, s, {}));
    expect(events).toEqual([{ type: "unreadable", key: recordKey("snap_01JD3Q6K8W2N9V4Z7XG5T1B0RC"), message: expect.stringContaining("is unreadable") }]);
    const down = await runOp(snapshotsOp, await unreachableStore(), {});
    const err = errorOverTheWire(down.error);
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain("ECONNREFUSED");
    expect(JSON.stringify(errorToJson(down.error))).not.toContain("ops-test-secret");
  });
});

describe("db.snapshot.show", () => {
  test("the record and its store; unknown and malformed ids as errors", async () => {
    const { result } = overTheWire(showOp, await runOp(showOp, store, { id: first.id }));
    expect(result).toEqual({ store: store.url, snapshot: first });
    const missing = errorOverTheWire((await runOp(showOp, store, { id: "snap_00000000000000000000000000" })).error);
    expect([missing.code, missing.exitCode]).toEqual(["E_NOT_FOUND", 1]);
    const malformed = errorOverTheWire((await runOp(showOp, store, { id: "../../etc/passwd" })).error);
    expect([malformed.code, malformed.exitCode]).toEqual(["E_USAGE", 2]);
  });
});

describe("db.snapshot.verify", () => {
  test("ok with its events; a truncated object is a result with problems, not an error", async () => {
    const { result, events } = overTheWire(verifyOp, await runOp(verifyOp, store, { id: first.id }));
    expect(result).toMatchObject({ id: first.id, ok: true, blocksOk: true, problems: [], size: first.size! });
    expect(events[0]).toEqual({ type: "started", record: first });
    expect(events.filter((e) => e.type === "progress").length).toBeGreaterThan(0);

    const s = fileStore().store;
    const rec = overTheWire(snapshotOp, await runOp(snapshotOp, s, {}, url)).result;
    const bytes = new Uint8Array(await new Response(await s.get(rec.key)).arrayBuffer());
    await s.put(rec.key, new Response(bytes.subarray(0, bytes.length - 50)).body!);
    const bad = overTheWire(verifyOp, await runOp(verifyOp, s, { id: rec.id })).result;
    expect(bad).toMatchObject({ ok: false, blocksOk: false, size: bytes.length - 50 });
    const missing = errorOverTheWire((await runOp(verifyOp, s, { id: "snap_00000000000000000000000000" })).error);
    expect(missing.code).toBe("E_NOT_FOUND");
  });
});

describe("db.snapshot.delete", () => {
  test("without force: a refusal whose preview survives the wire, nothing deleted; with force: deleted", async () => {
    const doomed = overTheWire(snapshotOp, await runOp(snapshotOp, store, { verify: false }, url)).result;
    const refused = await runOp(deleteOp, store, { id: doomed.id });
    const err = errorOverTheWire(refused.error);
    expect([err.code, err.exitCode, err.hint]).toEqual(["E_REFUSED", 1, "pass --force to delete it"]);
    expect(err.message).toStartWith(`refusing to delete snapshot ${doomed.id} of ${doomed.sourceKey} (completed, `);
    expect(DeletePreview.parse(err.details?.preview)).toEqual({ id: doomed.id, store: store.url, deleted: false, snapshot: doomed });
    expect(await store.head(dumpKey(doomed.id))).not.toBeNull();

    const { result } = overTheWire(deleteOp, await runOp(deleteOp, store, { id: doomed.id, force: true }));
    expect(result).toEqual({ id: doomed.id, store: store.url, deleted: true, snapshot: doomed });
    expect(await store.head(dumpKey(doomed.id))).toBeNull();
    expect(await store.getText(recordKey(doomed.id))).toBeNull();
  });

  test("a snapshot still being written by a live process is never deleted", async () => {
    const s = fileStore().store;
    const rec = overTheWire(snapshotOp, await runOp(snapshotOp, s, { verify: false }, url)).result;
    await s.putText(recordKey(rec.id), JSON.stringify({ ...rec, status: "in_progress", writer: { host: rec.writer.host, pid: process.pid } }));
    const err = errorOverTheWire((await runOp(deleteOp, s, { id: rec.id, force: true })).error);
    expect(err.code).toBe("E_IN_PROGRESS");
    expect(await s.head(rec.key)).not.toBeNull();
  });
});

describe("db.snapshots.prune", () => {
  test("dry run and deletion over the wire; an unreachable store as an error", async () => {
    const s = fileStore().store;
    const a = overTheWire(snapshotOp, await runOp(snapshotOp, s, { retention: "1s", verify: false }, url)).result;
    const b = overTheWire(snapshotOp, await runOp(snapshotOp, s, { retention: "1s", verify: false }, url)).result;
    await new Promise((r) => setTimeout(r, 1100));
    const dry = overTheWire(pruneOp, await runOp(pruneOp, s, { dryRun: true })).result;
    expect(dry.deleted.map((d) => d.id)).toEqual([a.id]);
    expect(dry.kept.map((k) => k.id)).toEqual([b.id]);
    const { result, events } = overTheWire(pruneOp, await runOp(pruneOp, s, { database: sourceKeyOf(url), all: true }));
    expect(result.deleted.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
    expect(events.map((e) => e.type)).toEqual(["deleted", "deleted"]);
    const err = errorOverTheWire((await runOp(pruneOp, await unreachableStore(), {})).error);
    expect(err.exitCode).toBe(4);
  });
});

describe("db.restore", () => {
  test("without force: the preview of what would be replaced survives the wire, nothing changes", async () => {
    await withSql(url, (sql) => sql`delete from items where id > 100`);
    const err = errorOverTheWire((await runOp(restoreOp, store, { snapshot: first.id }, url)).error);
    expect([err.code, err.exitCode]).toEqual(["E_REFUSED", 1]);
    const preview = RestorePreview.parse(err.details?.preview);
    expect(preview).toMatchObject({ refused: true, database: sourceLabelOf(url), snapshot: first, current: { tables: 1, schemas: ["public"] } });
    expect(err.details?.name).toBe(new URL(url).pathname.slice(1));
    expect(await withSql(url, async (sql) => (await sql`select count(*)::int as n from items`)[0]!.n)).toBe(100);
  });

  test("with force: result and events (the safety snapshot's among them) survive the wire", async () => {
    const { result, events } = overTheWire(restoreOp, await runOp(restoreOp, store, { snapshot: first.id, force: true }, url));
    expect(result).toMatchObject({ snapshot: first.id, strategy: "swap", terminated: 0, leftover: null });
    expect(result.safetySnapshot).toMatch(/^snap_/);
    const types = events.map((e) => e.type);
    expect(types).toContain("snapshot");
    expect(types).toContain("safety-done");
    expect(types).toContain("phase");
    expect(events.find((e) => e.type === "safety" && e.event.type === "started")).toBeDefined();
    expect(await withSql(url, async (sql) => (await sql`select count(*)::int as n from items`)[0]!.n)).toBe(300);
  });

  test("a snapshot of another database without its source: an error over the wire, before any change", async () => {
    const err = errorOverTheWire((await runOp(restoreOp, store, { snapshot: first.id, force: true }, other)).error);
    expect(err.code).toBe("E_SOURCE_MISMATCH");
    expect(err.hint).toContain("--source-url");
  });
});

describe("restore's early reads (withSnapshotPrefetch)", () => {
  test("the record and the dump's size are read once up front, then from the store again", async () => {
    const reads: string[] = [];
    const counting = new Proxy(store, {
      get(target, prop) {
        if (prop === "getText" || prop === "head") return (key: string) => (reads.push(`${prop} ${key}`), (target[prop] as (k: string) => Promise<unknown>)(key));
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const early = withSnapshotPrefetch(counting, first.id);
    expect(reads.sort()).toEqual([`getText ${recordKey(first.id)}`, `head ${dumpKey(first.id)}`].sort());
    expect(JSON.parse((await early.getText(recordKey(first.id)))!)).toEqual(first);
    expect((await early.head(dumpKey(first.id)))?.size).toBe(first.size!);
    expect(reads).toHaveLength(2);
    await early.getText(recordKey(first.id));
    expect(reads).toHaveLength(3);
    expect(early.url).toBe(store.url);
    expect(withSnapshotPrefetch(counting, "nope")).toBe(counting);
  });
});
