/**
 * Round trips through the snapshot engine against real Postgres and a real
 * S3 server (s3rver): snapshot, damage the database, restore, and compare the
 * schema-only dump, row checksums, sequences and large objects with before.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { openStore } from "../../../core/store/index.ts";
import { readRecord } from "../../../plugins/snapshot/catalog.ts";
import { downloadSnapshot } from "../../../plugins/snapshot/download.ts";
import { restoreSnapshot } from "../../../plugins/snapshot/restore.ts";
import { RestoreResult, SnapshotRecord } from "../../../plugins/snapshot/schema.ts";
import { createSnapshot, sourceKeyOf } from "../../../plugins/snapshot/snapshot.ts";
import { connect, close } from "../../../core/db/index.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { tempDir } from "../../helpers/fs.ts";
import { startS3, type S3Server } from "../../helpers/s3.ts";
import { createRole, databasesLike, dropRoles, engineBase, fileStore, fingerprint, nameOf, ownedDatabase, seed, type Fingerprint, type Role } from "./fixture.ts";

let owner: Role;
let reader: Role;
let s3: S3Server;
let src: string; // superuser URL of the seeded database
let before: Fingerprint;
const dbs: string[] = [];

/** A newly seeded database (owned by `owner`) and its fingerprint. */
async function seeded(prefix = "snap_src", bulk = false): Promise<{ url: string; fp: Fingerprint }> {
  const url = await ownedDatabase(owner, prefix);
  dbs.push(url);
  await seed(url, owner, reader);
  if (bulk) {
    // ~6.4 MB of random bytes: the dump does not compress below the 5 MiB part size.
    await withSql(owner.urlFor(url), (sql) =>
      sql.unsafe(`create table app.bulk as
        select g % 100 as k, decode(string_agg(md5(g::text || random()::text), ''), 'hex') as b
        from generate_series(1, 400000) g group by g % 100`),
    );
  }
  return { url, fp: await fingerprint(url) };
}

async function snap(url: string, store: ReturnType<typeof fileStore>["store"], extra: Record<string, unknown> = {}) {
  const db = connect(url);
  try {
    return SnapshotRecord.parse(await createSnapshot(db, { url, store, trigger: "manual", retention: { text: "7d", ms: 7 * 86_400_000 }, ...engineBase(), ...extra }));
  } finally {
    await close(db);
  }
}

async function damage(url: string): Promise<void> {
  await withSql(url, (sql) =>
    sql.unsafe(`
      drop view app.user_totals;
      update app.orders set amount = amount + 1 where id % 5 = 0;
      delete from public.plain where k like 'k1%';
      alter table public.plain add column extra int;
      drop policy tenant_read on app.users;
      select lo_unlink(min(oid)) from pg_largeobject_metadata;
      select setval('app.ticket_seq', 99999);
      create table app.stray (x int);
    `),
  );
}

beforeAll(async () => {
  owner = await createRole("snap_owner");
  reader = await createRole("snap_reader");
  s3 = await startS3();
  ({ url: src, fp: before } = await seeded());
});

afterAll(async () => {
  await s3?.stop();
  await dropRoles(dbs);
});

describe("snapshot round trip", () => {
  test("the fixture has one of everything", () => {
    expect(Object.keys(before.rows)).toEqual(["app.mood_counts", "app.orders", "app.users", "public.plain"]);
    expect(before.largeObjects).toHaveLength(2);
    expect(before.largeObjects.every((l) => l.includes(owner.name))).toBe(true);
    expect(before.schema).toContain("CREATE POLICY tenant_read");
    expect(before.schema).toContain("CREATE TYPE app.mood AS ENUM");
    expect(before.schema).toContain(`ALTER TABLE app.users OWNER TO ${owner.name}`);
  });

  test("file store: snapshot, damage, restore (swap as superuser) gives the same database back", async () => {
    const { url: src, fp: before } = await seeded();
    const { store } = fileStore();
    const rec = await snap(src, store);
    expect(rec.status).toBe("completed");
    expect(rec.verified).toBe(true);
    expect(rec.size).toBeGreaterThan(1000);
    expect(rec.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.sourceKey).toBe(sourceKeyOf(src));
    expect((await store.head(rec.key))!.size).toBe(rec.size!);
    // The record on disk is the completed one.
    expect((await readRecord(store, rec.id)).status).toBe("completed");

    await damage(src);
    expect((await fingerprint(src)).rows).not.toEqual(before.rows);
    const events: string[] = [];
    const result = RestoreResult.parse(
      await restoreSnapshot({ url: src, store, id: rec.id, safetySnapshot: true, tmpDir: tmpdir(), ...engineBase() }, (e) => events.push(e.type)),
    );
    expect(result.strategy).toBe("swap");
    expect(result.safetySnapshot).toMatch(/^snap_/);
    expect(result.reassigned).toBeNull(); // owners restored as they were, nothing handed over
    expect(result.notRestored).toEqual([]);
    expect(result.leftover).toBeNull();
    const after = await fingerprint(src);
    expect(after).toEqual(before);
    expect(await databasesLike(nameOf(src) + "_eve_")).toEqual([]);
    // The safety snapshot holds the damaged state.
    const safety = await readRecord(store, result.safetySnapshot!);
    expect(safety.trigger).toBe("pre_restore");
    expect(safety.status).toBe("completed");
    expect(events).toContain("safety-done");
  });

  test("S3 store (s3rver, multipart): round trip, in place as the owner (no CREATEDB)", async () => {
    const { url: src, fp: before } = await seeded("snap_s3", true);
    const store = openStore(s3.storeUrl("rt"), s3.env, { partSize: 5 * 1024 * 1024 });
    const asOwner = owner.urlFor(src);
    const rec = await snap(asOwner, store);
    expect(rec.status).toBe("completed");
    expect(rec.size).toBeGreaterThan(5 * 1024 * 1024); // at least two parts
    await damage(src);
    const result = await restoreSnapshot({ url: asOwner, store, id: rec.id, safetySnapshot: false, tmpDir: tmpdir(), ...engineBase() });
    expect(result.strategy).toBe("in_place");
    expect(result.strategyReason).toContain("CREATEDB");
    expect(result.safetySnapshot).toBeNull();
    const after = await fingerprint(src);
    expect(after.rows).toEqual(before.rows);
    expect(after.sequences).toEqual(before.sequences);
    expect(after.largeObjects).toEqual(before.largeObjects);
    // Objects created after the snapshot are gone too: the database is emptied in the same transaction.
    expect(after.schema).toEqual(before.schema);
    expect(after.owner).toBe(owner.name);
  });

  test("restore across databases needs --source-url, then matches the source", async () => {
    const { store } = fileStore();
    const rec = await snap(src, store);
    const other = await ownedDatabase(owner, "snap_other");
    dbs.push(other);
    await withSql(other, (sql) => sql`create table leftover (x int)`);
    const base = { url: other, store, id: rec.id, safetySnapshot: true, tmpDir: tmpdir(), ...engineBase() };
    await expect(restoreSnapshot(base)).rejects.toMatchObject({ code: "E_SOURCE_MISMATCH" });
    await expect(restoreSnapshot({ ...base, sourceKey: "127.0.0.1:1/elsewhere" })).rejects.toMatchObject({ code: "E_SOURCE_MISMATCH" });
    const result = await restoreSnapshot({ ...base, sourceKey: sourceKeyOf(src) });
    expect(result.strategy).toBe("swap");
    const after = await fingerprint(other);
    expect(after.rows).toEqual(before.rows);
    expect(after.largeObjects.map((l) => l.split(" ").slice(1).join(" "))).toEqual(before.largeObjects.map((l) => l.split(" ").slice(1).join(" ")));
    expect(after.schema).toEqual(before.schema);
    expect(after.owner).toBe(owner.name);
  });

  test("--jobs: parallel restore from a downloaded temp file", async () => {
    const { url: src, fp: before } = await seeded();
    const { store } = fileStore();
    const rec = await snap(src, store);
    await damage(src);
    const work = tempDir("eve-jobs-");
    const result = await restoreSnapshot({ url: src, store, id: rec.id, safetySnapshot: false, jobs: 3, tmpDir: work, ...engineBase() });
    expect(result.jobs).toBe(3);
    expect(result.strategy).toBe("swap");
    expect(await fingerprint(src)).toEqual(before);
    // The temp download is gone.
    expect(execFileSync("ls", ["-A", work], { encoding: "utf8" }).trim()).toBe("");
  });

  test("scratch databases of an interrupted restore are dropped; one swap restore per target at a time", async () => {
    const { url: target, fp: before } = await seeded();
    const { store } = fileStore();
    const rec = await snap(target, store);
    const name = nameOf(target);
    const { adminUrl } = await import("../../helpers/db.ts");
    const { advisoryKey } = await import("../../../core/db/lock.ts");
    const leftover = `${name}_eve_tmp_20200101000000`;
    await withSql(await adminUrl(), (sql) => sql.unsafe(`create database "${leftover}"`));
    const base = { url: target, store, id: rec.id, safetySnapshot: false, tmpDir: tmpdir(), ...engineBase() };
    // A restore in progress (its lock held) makes a second one refuse at once, target untouched.
    await withSql(await adminUrl(), async (sql) => {
      await sql`select pg_advisory_lock(${advisoryKey(`eve:restore:${name}`)}::bigint)`;
      await expect(restoreSnapshot(base)).rejects.toMatchObject({ code: "E_RESTORE_BUSY", exitCode: 6 });
    });
    expect(await databasesLike(leftover)).toEqual([leftover]);
    const result = await restoreSnapshot(base);
    expect(result.warnings.join("\n")).toContain(`dropped ${leftover}`);
    expect(await databasesLike(leftover)).toEqual([]);
    expect(await fingerprint(target)).toEqual(before);
  });

  test("a downloaded dump restores with plain pg_restore --clean --if-exists, owners and grants included", async () => {
    const { store } = fileStore();
    const rec = await snap(src, store);
    const file = join(tempDir("eve-dl-"), "backup.dump");
    const dl = await downloadSnapshot({ store, record: rec, output: file });
    expect(dl.sha256).toBe(rec.sha256!);
    const target = await ownedDatabase(owner, "snap_plain");
    dbs.push(target);
    execFileSync("pg_restore", ["--clean", "--if-exists", "-d", target, file], { env: { ...process.env }, stdio: "pipe" });
    const after = await fingerprint(target);
    expect(after.rows).toEqual(before.rows);
    expect(after.sequences).toEqual(before.sequences);
    expect(after.schema).toEqual(before.schema);
  });

  test("restore into a new empty database owned by someone else: objects keep their owners; --no-owner gives them to that owner", async () => {
    const { store } = fileStore();
    const rec = await snap(src, store);
    const fresh = await freshDatabase("snap_fresh");
    dbs.push(fresh);
    const base = { url: fresh, store, id: rec.id, sourceKey: rec.sourceKey, safetySnapshot: true, tmpDir: tmpdir(), ...engineBase() };
    const kept = await restoreSnapshot(base);
    // Empty target: restored into directly in one transaction, no safety snapshot, no scratch database.
    expect(kept.strategy).toBe("in_place");
    expect(kept.strategyReason).toContain(`database ${nameOf(fresh)} is empty`);
    expect(kept.safetySnapshot).toBeNull();
    expect(kept.owner).toBe("postgres");
    expect(kept.notRestored).toEqual([]);
    const same = await fingerprint(fresh);
    expect(same.schema).toEqual(before.schema);
    expect(same.owner).toBe("postgres");

    const result = await restoreSnapshot({ ...base, owners: false });
    expect(result.owner).toBe("postgres");
    expect(result.reassigned).toBe(0); // restored as postgres, the owner: nothing to hand over
    expect(result.notRestored).toHaveLength(1);
    expect(result.notRestored[0]!.count).toBeGreaterThan(10);
    expect(result.notRestored[0]!.what).toBe("owners");
    expect(result.notRestored[0]!.message).toMatch(new RegExp(`^owners not restored \\(--no-owner\\): \\d+ objects owned by ${owner.name} in the snapshot now owned by postgres$`));
    const after = await fingerprint(fresh);
    expect(after.rows).toEqual(before.rows);
    expect(after.schema).toContain("ALTER TABLE app.users OWNER TO postgres");
    expect(after.schema).not.toContain(`OWNER TO ${owner.name}`);
    // The policies still name the roles they named: only ownership changed.
    expect(after.schema).toContain(`CREATE POLICY owner_all ON app.users TO ${owner.name}`);
  });
});
