/**
 * Fault injection: damaged objects, a restore that fails halfway, a pg_dump
 * that fails, eve killed with SIGKILL mid-upload, the S3 server dying
 * mid-upload. Every case must leave the target database exactly as it was
 * and the catalog truthful.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { close, connect } from "../../../core/db/index.ts";
import { openStore } from "../../../core/store/index.ts";
import type { Store } from "../../../core/store/types.ts";
import { dumpKey, listRecords, readRecord } from "../../../plugins/snapshot/catalog.ts";
import { restoreSnapshot } from "../../../plugins/snapshot/restore.ts";
import { SnapshotRecord } from "../../../plugins/snapshot/schema.ts";
import { createSnapshot, sourceKeyOf } from "../../../plugins/snapshot/snapshot.ts";
import { verifySnapshot } from "../../../plugins/snapshot/verify.ts";
import { runEve } from "../../helpers/cli.ts";
import { adminUrl, freshDatabase, withSql } from "../../helpers/db.ts";
import { startS3, type S3Server } from "../../helpers/s3.ts";
import { createRole, databasesLike, dropRoles, engineBase, fileStore, fingerprint, nameOf, ownedDatabase, rowSums, seed, type Role } from "./fixture.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let owner: Role;
let reader: Role;
let s3: S3Server;
const dbs: string[] = [];

async function snap(url: string, store: Store): Promise<SnapshotRecord> {
  const db = connect(url);
  try {
    return await createSnapshot(db, { url, store, trigger: "manual", retention: null, ...engineBase() });
  } finally {
    await close(db);
  }
}

async function seededDb(prefix: string): Promise<string> {
  const url = await ownedDatabase(owner, prefix);
  dbs.push(url);
  await seed(url, owner, reader);
  return url;
}

const restoreOpts = (url: string, store: Store, id: string, extra: Record<string, unknown> = {}) => ({
  url,
  store,
  id,
  safetySnapshot: false,
  tmpDir: tmpdir(),
  ...engineBase(),
  ...extra,
});

const superuserUrl = async (url: string) => {
  const u = new URL(url);
  const a = new URL(await adminUrl());
  u.username = a.username;
  u.password = a.password;
  return u.toString();
};

beforeAll(async () => {
  owner = await createRole("snapf_owner");
  reader = await createRole("snapf_reader");
  s3 = await startS3();
});

afterAll(async () => {
  await s3?.stop();
  await dropRoles(dbs);
});

describe("damaged objects", () => {
  test("a bit flip: verify fails, restore refuses in both strategies, the target is unchanged", async () => {
    const src = await seededDb("snapf_flip");
    const { store, dir } = fileStore();
    const rec = await snap(src, store);
    const path = join(dir, rec.key);
    const bytes = readFileSync(path);
    const at = Math.floor(bytes.length * 0.6);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(path, bytes);

    const v = await verifySnapshot({ store, record: rec, env: engineBase().env });
    expect(v.ok).toBe(false);
    expect(v.size).toBe(rec.size!);
    expect(v.sha256).not.toBe(rec.sha256);
    expect(v.problems.join("\n")).toContain("sha256");

    await withSql(src, (sql) => sql`update app.orders set note = 'changed after the snapshot'`);
    const before = await fingerprint(src);
    // Swap (superuser): the scratch database is dropped, nothing swapped.
    const swap = restoreSnapshot(restoreOpts(src, store, rec.id, { safetySnapshot: true }));
    await expect(swap).rejects.toMatchObject({ code: "E_CHECKSUM", exitCode: 5 });
    await expect(swap).rejects.toThrow(/is unchanged/);
    expect(await fingerprint(src)).toEqual(before);
    expect(await databasesLike(nameOf(src) + "_eve_")).toEqual([]);
    // In place (the owner has no CREATEDB): psql never sees the end of its input, the transaction rolls back.
    const inPlace = restoreSnapshot(restoreOpts(owner.urlFor(src), store, rec.id));
    await expect(inPlace).rejects.toMatchObject({ code: "E_CHECKSUM" });
    expect(await fingerprint(src)).toEqual(before);
    // An empty target (restored into directly, one pg_restore transaction): it stays empty.
    const empty = await freshDatabase("snapf_flip_empty");
    const direct = restoreSnapshot(restoreOpts(empty, store, rec.id, { sourceKey: rec.sourceKey }));
    await expect(direct).rejects.toMatchObject({ code: "E_CHECKSUM" });
    expect(await withSql(empty, async (sql) => (await sql`select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`)[0]!.n)).toBe(0);
  });

  test("a truncated object: verify fails on size and blocks, restore refuses before touching anything", async () => {
    const src = await seededDb("snapf_trunc");
    const { store, dir } = fileStore();
    const rec = await snap(src, store);
    truncateSync(join(dir, rec.key), Math.floor(rec.size! / 2));
    const v = await verifySnapshot({ store, record: rec, env: engineBase().env });
    expect(v.ok).toBe(false);
    expect(v.blocksOk).toBe(false);
    expect(v.problems[0]).toContain("size");
    const before = await fingerprint(src);
    await expect(restoreSnapshot(restoreOpts(src, store, rec.id, { safetySnapshot: true }))).rejects.toMatchObject({ code: "E_CHECKSUM" });
    expect(await fingerprint(src)).toEqual(before);
    // Refused before the safety snapshot: only the one snapshot exists.
    expect((await listRecords(store)).map((r) => r.id)).toEqual([rec.id]);
  });

  test("a failed or in-progress snapshot is refused", async () => {
    const src = await seededDb("snapf_status");
    const { store } = fileStore();
    const rec = await snap(src, store);
    await store.putText(`snapshots/${rec.id}.json`, JSON.stringify({ ...rec, status: "failed", error: "test" }));
    await expect(restoreSnapshot(restoreOpts(src, store, rec.id))).rejects.toMatchObject({ code: "E_NOT_RESTORABLE" });
  });
});

describe("pg_restore failing halfway", () => {
  // A CHECK constraint calls a function that reads a table without schema
  // qualification: fine in the source, but pg_restore runs with an empty
  // search_path, so loading the data fails after other tables were restored.
  async function fragileSnapshot(store: Store): Promise<{ rec: SnapshotRecord; src: string }> {
    const src = await ownedDatabase(owner, "snapf_fragile");
    dbs.push(src);
    await withSql(owner.urlFor(src), (sql) =>
      sql.unsafe(`
        create table aaa_first (id int primary key); insert into aaa_first select generate_series(1, 1000);
        create table codes (code text primary key); insert into codes values ('a'), ('b');
        create function valid_code(c text) returns boolean language sql stable as 'select exists (select 1 from codes where code = c)';
        create table items (id int, code text check (valid_code(code))); insert into items values (1, 'a'), (2, 'b');
      `),
    );
    return { rec: await snap(src, store), src };
  }

  test("swap: the scratch database is dropped, the target keeps its rows; the safety snapshot exists", async () => {
    const { store } = fileStore();
    const { rec, src } = await fragileSnapshot(store);
    const target = await seededDb("snapf_target");
    const before = await fingerprint(target);
    const err = await restoreSnapshot(restoreOpts(target, store, rec.id, { sourceKey: sourceKeyOf(src), safetySnapshot: true })).then(
      () => null,
      (e) => e,
    );
    expect(err).toMatchObject({ code: "E_RESTORE", exitCode: 4 });
    expect(err.message).toContain("is unchanged");
    expect(err.message).toContain('relation "codes" does not exist');
    expect(await fingerprint(target)).toEqual(before);
    expect(await databasesLike(nameOf(target) + "_eve_")).toEqual([]);
    const safety = (await listRecords(store)).find((r) => r.trigger === "pre_restore");
    expect(safety?.status).toBe("completed");
    expect(safety?.sourceKey).toBe(sourceKeyOf(target));
  });

  test("in place: one transaction, rolled back; row checksums equal to before", async () => {
    const { store } = fileStore();
    const { rec, src } = await fragileSnapshot(store);
    const target = await seededDb("snapf_target_ip");
    const before = await fingerprint(target);
    const err = await restoreSnapshot(restoreOpts(owner.urlFor(target), store, rec.id, { sourceKey: sourceKeyOf(src) })).then(
      () => null,
      (e) => e,
    );
    expect(err).toMatchObject({ code: "E_RESTORE" });
    expect(err.message).toContain('relation "codes" does not exist');
    expect(await rowSums(target)).toEqual(before.rows);
    expect(await fingerprint(target)).toEqual(before);
  });
});

describe("failing dumps", () => {
  test("pg_dump fails (permission denied): record failed with its stderr, no object, exit code 4", async () => {
    const src = await seededDb("snapf_denied");
    const { store, dir } = fileStore();
    const db = connect(reader.urlFor(src));
    const err = await createSnapshot(db, { url: reader.urlFor(src), store, trigger: "manual", retention: null, ...engineBase() }).then(
      () => null,
      (e) => e,
    );
    await close(db);
    expect(err).toMatchObject({ code: "E_DUMP", exitCode: 4 });
    expect(err.message).toContain("permission denied");
    expect(err.message).not.toContain(reader.password);
    const [rec] = await listRecords(store);
    expect(rec!.status).toBe("failed");
    expect(rec!.error).toContain("permission denied");
    expect(await store.head(rec!.key)).toBeNull();
    expect(readdirSync(join(dir, "snapshots")).filter((f) => f.startsWith("."))).toEqual([]);
  });
});

/** Hold pg_dump just after the table data: large objects are read last, and pg_largeobject is locked. */
async function holdLargeObjects(url: string) {
  const su = await superuserUrl(url);
  const sql = postgres(su, { max: 1, onnotice: () => {} });
  const tx = await sql.reserve();
  await tx`begin`;
  await tx`lock table pg_largeobject in access exclusive mode`;
  return {
    /** Resolves once pg_dump waits for the lock (all table data written to its stdout). */
    async dumpBlocked(): Promise<void> {
      for (let i = 0; i < 400; i++) {
        const [r] = await withSql(su, (s) => s`
          select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where not l.granted and a.application_name = 'pg_dump' and a.datname = current_database()`);
        if (r!.n > 0) return;
        await sleep(50);
      }
      throw new Error("pg_dump never blocked");
    },
    async release() {
      await tx`commit`.catch(() => {});
      tx.release();
      await sql.end();
    },
  };
}

/** A database whose dump is ~10 MB of incompressible table data, then one large object. */
async function bulkDb(prefix: string): Promise<string> {
  const url = await ownedDatabase(owner, prefix);
  dbs.push(url);
  await withSql(owner.urlFor(url), (sql) =>
    sql.unsafe(`
      create table bulk as select g % 200 as k, decode(string_agg(md5(g::text || random()::text), ''), 'hex') as b
        from generate_series(1, 640000) g group by g % 200;
      select lo_from_bytea(0, 'the last thing pg_dump reads');
    `),
  );
  return url;
}

const waitFor = async (what: string, fn: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe("interrupted uploads", () => {
  test("kill -9 of eve mid-upload (file store): no completed record; the next run marks it failed and removes the partial file", async () => {
    const src = await bulkDb("snapf_kill");
    const { dir } = fileStore();
    const lock = await holdLargeObjects(src);
    const snapDir = join(dir, "snapshots");
    const partials = () => {
      try {
        return readdirSync(snapDir).filter((f) => f.startsWith(".snap_") && f.includes(".partial-"));
      } catch {
        return [];
      }
    };
    const run = runEve(["db", "snapshot", "--url", src, "--store", dir]);
    try {
      await lock.dumpBlocked();
      // eve drained what pg_dump wrote: the partial file holds the table data.
      await waitFor("partial data", () => partials().some((f) => statSync(join(snapDir, f)).size > 5_000_000));
      run.kill("SIGKILL");
      const r = await run;
      expect(r.code).toBe(137);
    } finally {
      await lock.release();
    }
    const store = openStore(dir, {});
    const [rec] = await listRecords(store);
    expect(rec!.status).toBe("in_progress");
    expect(await store.head(dumpKey(rec!.id))).toBeNull();
    expect(partials()).toHaveLength(1);

    const list = await runEve(["db", "snapshots", "--store", dir, "--all", "--json"]);
    expect(list.code).toBe(0);
    const doc = JSON.parse(list.stdout);
    expect(doc.staleFixed).toEqual([{ id: rec!.id, reason: expect.stringContaining("is gone") }]);
    expect(doc.snapshots[0].status).toBe("failed");
    expect(doc.snapshots[0].error).toContain("interrupted");
    expect(partials()).toEqual([]);
    expect((await readRecord(store, rec!.id)).status).toBe("failed");
  });

  test("kill -9 of eve mid-upload (S3 multipart): no object, and the next snapshot marks the record failed", async () => {
    const src = await bulkDb("snapf_kill_s3");
    const url = s3.storeUrl("kill");
    const store = openStore(url, s3.env);
    const lock = await holdLargeObjects(src);
    const run = runEve(["db", "snapshot", "--url", src, "--store", url], { env: s3.env });
    try {
      await lock.dumpBlocked();
      await waitFor("the in-progress record", async () => (await listRecords(store)).length === 1);
      await sleep(1000); // let the first 8 MiB part go out
      run.kill("SIGKILL");
      await run;
    } finally {
      await lock.release();
    }
    const [rec] = await listRecords(store);
    expect(rec!.status).toBe("in_progress");
    expect(await store.head(rec!.key)).toBeNull();
    // The next snapshot run sweeps it.
    const next = await runEve(["db", "snapshot", "--url", src, "--store", url, "--json"], { env: s3.env });
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(`marked failed: ${rec!.id}`);
    const swept = await readRecord(store, rec!.id);
    expect(swept.status).toBe("failed");
    expect(await store.head(rec!.key)).toBeNull();
    expect(JSON.parse(next.stdout).status).toBe("completed");
  });

  test("the S3 server dies mid-upload: the snapshot fails with a clear error and exit code; nothing completed is left", async () => {
    const src = await bulkDb("snapf_s3down");
    const url = s3.storeUrl("down");
    const store = openStore(url, s3.env);
    const lock = await holdLargeObjects(src);
    const run = runEve(["db", "snapshot", "--url", src, "--store", url], { env: s3.env });
    let r;
    try {
      await lock.dumpBlocked();
      await waitFor("the in-progress record", async () => (await listRecords(store)).length === 1);
      await s3.kill();
    } finally {
      await lock.release();
    }
    try {
      r = await run;
    } finally {
      await s3.restart();
    }
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error: snapshot snap_\w+ failed: S3 .*cannot reach http:\/\/127\.0\.0\.1/);
    expect(r.stderr).toContain("hint:");
    expect(r.stdout).toBe("");
    // The record could not be updated while S3 was down; the next listing marks it failed (its writer is gone).
    const list = await runEve(["db", "snapshots", "--store", url, "--all", "--json"], { env: s3.env });
    const doc = JSON.parse(list.stdout);
    expect(doc.snapshots).toHaveLength(1);
    expect(doc.snapshots[0].status).toBe("failed");
    expect(await store.head(doc.snapshots[0].key)).toBeNull();
  });
});
