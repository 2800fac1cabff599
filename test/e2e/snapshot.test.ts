/**
 * `eve db snapshot`, `eve db snapshots`, `eve db restore` as a user runs them:
 * exit codes, stdout (results only) and stderr (logs), human and --json.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeleteResult, DownloadResult, PruneResult, RestorePreview, RestoreResult, SnapshotListResult, SnapshotRecord, VerifyResult } from "../../plugins/snapshot/schema.ts";
import { runEve } from "../helpers/cli.ts";
import { freshDatabase, withSql } from "../helpers/db.ts";
import { tempDir } from "../helpers/fs.ts";

let url: string;
let store: string;
let password: string;
let key: string; // host:port/db

const eve = (args: string[], env: Record<string, string | undefined> = {}) => runEve(args, { env });
const rows = (u = url) => withSql(u, async (sql) => Number((await sql`select count(*)::int as n from items`)[0]!.n));

function noSecrets(r: { stdout: string; stderr: string }) {
  expect(r.stdout).not.toContain(password);
  expect(r.stderr).not.toContain(password);
}

beforeAll(async () => {
  url = await freshDatabase("e2e_snap");
  const u = new URL(url);
  password = decodeURIComponent(u.password);
  key = `${u.hostname}:${u.port}${u.pathname}`;
  store = tempDir("eve-e2e-snap-");
  await withSql(url, (sql) => sql.unsafe("create table items (id int primary key, name text); insert into items select g, 'item ' || g from generate_series(1, 500) g"));
});

describe("eve db snapshot", () => {
  test("human: the id alone on stdout, progress-free logs on stderr (not a TTY)", async () => {
    const r = await eve(["db", "snapshot", "--url", url, "--store", store, "--label", "first one"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^snap_[0-9A-Z]{26}\n$/);
    const id = r.stdout.trim();
    expect(r.stderr).toContain(`snapshot ${id} of postgres@${key} → file://${store}`);
    expect(r.stderr).toMatch(/completed \d+\.\d KiB in \d+(ms|\.\ds) \(.*\/s\), verified, sha256 [0-9a-f]{16}…, expires \d{4}-\d\d-\d\d/);
    expect(r.stderr).not.toContain("\r");
    noSecrets(r);
  });

  test("--json: one record document; --no-verify is recorded", async () => {
    const r = await eve(["db", "snapshot", "--store", store, "--json", "--no-verify", "--retention", "7d"], { DATABASE_URL: url });
    expect(r.code).toBe(0);
    const rec = SnapshotRecord.parse(JSON.parse(r.stdout));
    expect(rec).toMatchObject({ status: "completed", verified: false, retention: "7d", trigger: "manual", database: new URL(url).pathname.slice(1), sourceKey: key });
    expect(Date.parse(rec.expiresAt!) - Date.parse(rec.createdAt)).toBe(7 * 86_400_000);
    expect(r.stderr).toBe("");
    noSecrets(r);
  });

  test("usage errors exit 2 (retention, missing URL, bad store)", async () => {
    const bad = await eve(["db", "snapshot", "--url", url, "--store", store, "--retention", "forever"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: invalid retention "forever"');
    const noUrl = await eve(["db", "snapshot", "--store", store]);
    expect(noUrl.code).toBe(2);
    const badStore = await eve(["db", "snapshot", "--url", url, "--store", "ftp://x"]);
    expect(badStore.code).toBe(2);
    expect(badStore.stderr).toContain('unsupported scheme "ftp:"');
  });
});

describe("eve db snapshots, show, verify, download, delete", () => {
  let id: string;
  beforeAll(async () => {
    const r = await eve(["db", "snapshot", "--url", url, "--store", store, "--label", "listed"]);
    id = r.stdout.trim();
  });

  test("list: table (human), document (--json), filters", async () => {
    const r = await eve(["db", "snapshots", "--url", url, "--store", store]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID +STATUS +TRIGGER +DATABASE +SIZE +CREATED +EXPIRES +LABEL$/);
    expect(lines[2]).toContain(id); // newest first
    expect(lines[2]).toContain("completed");
    expect(lines[2]).toContain("listed");
    const j = await eve(["db", "snapshots", "--url", url, "--store", store, "--json", "--limit", "2"]);
    const doc = SnapshotListResult.parse(JSON.parse(j.stdout));
    expect(doc.database).toBe(key);
    expect(doc.snapshots.map((s) => s.id)[0]).toBe(id);
    expect(doc.snapshots).toHaveLength(2);
    const none = await eve(["db", "snapshots", "--url", url, "--store", store, "--status", "failed"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain(`no snapshots of ${key} with status failed`);
    const other = await eve(["db", "snapshots", "--store", store, "--json"], { DATABASE_URL: url.replace(/\/[^/]+$/, "/elsewhere") });
    expect(SnapshotListResult.parse(JSON.parse(other.stdout)).snapshots).toEqual([]);
    const all = await eve(["db", "snapshots", "--store", store, "--json", "--all"], { DATABASE_URL: url.replace(/\/[^/]+$/, "/elsewhere") });
    expect(SnapshotListResult.parse(JSON.parse(all.stdout)).snapshots.length).toBeGreaterThanOrEqual(3);
    const bad = await eve(["db", "snapshots", "--store", store, "--status", "weird"]);
    expect(bad.code).toBe(2);
  });

  test("show: key/value lines; --json record; unknown and malformed ids", async () => {
    const r = await eve(["db", "snapshot", "show", id, "--store", store]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`snapshot ${id} in file://${store}`);
    expect(r.stdout).toMatch(/ {2}status {5}completed\n/);
    expect(r.stdout).toMatch(/ {2}verified {3}yes, every block read back while uploading\n/);
    expect(r.stdout).toMatch(/ {2}label {6}listed\n/);
    const j = await eve(["db", "snapshot", "show", id, "--store", store, "--json"]);
    expect(SnapshotRecord.parse(JSON.parse(j.stdout)).id).toBe(id);
    const missing = await eve(["db", "snapshot", "show", "snap_00000000000000000000000000", "--store", store]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error: snapshot snap_00000000000000000000000000 not found in");
    const malformed = await eve(["db", "snapshot", "show", "nope", "--store", store, "--json"]);
    expect(malformed.code).toBe(2);
    expect(JSON.parse(malformed.stdout).error.code).toBe("E_USAGE");
  });

  test("verify: ok (exit 0); a damaged object fails with exit 5, human and --json", async () => {
    const ok = await eve(["db", "snapshot", "verify", id, "--store", store]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^ok ${id}: .* sha256 matches, every block readable`));
    const j = await eve(["db", "snapshot", "verify", id, "--store", store, "--json"]);
    expect(VerifyResult.parse(JSON.parse(j.stdout))).toMatchObject({ ok: true, blocksOk: true, problems: [] });

    const r = await eve(["db", "snapshot", "--url", url, "--store", store]);
    const bad = r.stdout.trim();
    const path = join(store, "snapshots", `${bad}.dump`);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    const v = await eve(["db", "snapshot", "verify", bad, "--store", store]);
    expect(v.code).toBe(5);
    expect(v.stdout).toContain(`FAILED ${bad}:`);
    expect(v.stdout).toContain(`  - size is ${bytes.length - 100} bytes, the record says ${bytes.length}`);
    expect(v.stdout).toContain("  - pg_restore could not read every block");
    expect(v.stderr).toContain(`error: snapshot ${bad} failed verification`);
    const vj = await eve(["db", "snapshot", "verify", bad, "--store", store, "--json"]);
    expect(vj.code).toBe(5);
    expect(VerifyResult.parse(JSON.parse(vj.stdout))).toMatchObject({ ok: false, blocksOk: false });
    // Restore refuses it (exit 5) and says the target is unchanged.
    const rs = await eve(["db", "restore", "--url", url, "--store", store, "--snapshot", bad, "--force"]);
    expect(rs.code).toBe(5);
    expect(rs.stderr).toContain("does not match its record");
    await eve(["db", "snapshot", "delete", bad, "--store", store, "--force"]);
  });

  test("download: writes the file (sha256-checked), refuses to overwrite without --force", async () => {
    const dir = tempDir("eve-e2e-dl-");
    const out = join(dir, "backup.dump");
    const r = await eve(["db", "snapshot", "download", id, "--store", store, "--output", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^downloaded ${id} to ${out} \\(.*, sha256 [0-9a-f]{16}… verified`));
    expect(r.stderr).toContain("pg_restore --clean --if-exists -d postgres://…");
    expect(r.stderr).toContain("(add --no-owner --no-acl where the roles differ)");
    const shown = SnapshotRecord.parse(JSON.parse((await eve(["db", "snapshot", "show", id, "--store", store, "--json"])).stdout));
    expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(shown.sha256!);
    const again = await eve(["db", "snapshot", "download", id, "--store", store, "--output", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists");
    const j = await eve(["db", "snapshot", "download", id, "--store", store, "-o", out, "--force", "--json"]);
    expect(DownloadResult.parse(JSON.parse(j.stdout)).sha256).toBe(shown.sha256!);
    const missing = await eve(["db", "snapshot", "download", id, "--store", store]);
    expect(missing.code).toBe(2);
  });

  test("delete: refuses without --force (exit 1), then deletes dump and record", async () => {
    const r = await eve(["db", "snapshot", "--url", url, "--store", store]);
    const doomed = r.stdout.trim();
    const no = await eve(["db", "snapshot", "delete", doomed, "--store", store]);
    expect(no.code).toBe(1);
    expect(no.stderr).toContain(`error: refusing to delete snapshot ${doomed} of ${key}`);
    const noj = await eve(["db", "snapshot", "delete", doomed, "--store", store, "--json"]);
    expect(JSON.parse(noj.stdout)).toMatchObject({ id: doomed, deleted: false, error: { code: "E_REFUSED" } });
    expect(existsSync(join(store, "snapshots", `${doomed}.dump`))).toBe(true);
    const yes = await eve(["db", "snapshot", "delete", doomed, "--store", store, "--force", "--json"]);
    expect(yes.code).toBe(0);
    expect(DeleteResult.parse(JSON.parse(yes.stdout))).toEqual({ id: doomed, store: `file://${store}`, deleted: true });
    expect(existsSync(join(store, "snapshots", `${doomed}.dump`))).toBe(false);
    expect(existsSync(join(store, "snapshots", `${doomed}.json`))).toBe(false);
  });
});

describe("eve db restore", () => {
  let id: string;
  beforeAll(async () => {
    id = (await eve(["db", "snapshot", "--url", url, "--store", store])).stdout.trim();
  });

  test("without --force: says what would be replaced, exit 1, nothing changes", async () => {
    await withSql(url, (sql) => sql`delete from items where id > 100`);
    const r = await eve(["db", "restore", "--url", url, "--store", store, "--snapshot", id]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`restore would replace everything in database ${key.split("/")[1]} (postgres@${key}):`);
    expect(r.stderr).toContain(`  with     ${id} of ${key}`);
    expect(r.stderr).toContain("  safety   a snapshot of the current contents is taken first");
    expect(r.stderr).toContain("error: refusing to restore");
    const j = await eve(["db", "restore", "--url", url, "--store", store, "--snapshot", id, "--json"]);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout);
    expect(RestorePreview.parse(doc).current.tables).toBe(1);
    expect(doc.error.code).toBe("E_REFUSED");
    expect(await rows()).toBe(100);
    noSecrets(r);
  });

  test("--force (human): safety snapshot id printed, data back, swap", async () => {
    const r = await eve(["db", "restore", "--url", url, "--store", store, "--snapshot", id, "--force"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^restored ${id} into postgres@${key} \\(swapped in a fresh copy\\) in .*\\nsafety snapshot: (snap_\\w{26})\\n$`));
    expect(r.stderr).toMatch(/taking safety snapshot snap_\w{26} of /);
    expect(r.stderr).toContain("swapping databases…");
    expect(await rows()).toBe(500);
    noSecrets(r);
    // The safety snapshot holds the 100-row state: restoring it undoes the restore.
    const safety = /safety snapshot: (snap_\w{26})/.exec(r.stdout)![1]!;
    const undo = await eve(["db", "restore", "--url", url, "--store", store, "--snapshot", safety, "--force", "--skip-safety-snapshot", "--json"]);
    expect(undo.code).toBe(0);
    const res = RestoreResult.parse(JSON.parse(undo.stdout));
    expect(res).toMatchObject({ snapshot: safety, strategy: "swap", safetySnapshot: null, leftover: null });
    expect(await rows()).toBe(100);
  });

  test("--jobs and --source-url (json); a snapshot of another database needs --source-url", async () => {
    const other = await freshDatabase("e2e_snap_other");
    const cross = await eve(["db", "restore", "--url", other, "--store", store, "--snapshot", id, "--force"]);
    expect(cross.code).toBe(1);
    expect(cross.stderr).toContain(`was taken from ${key}; restoring it into`);
    expect(cross.stderr).toContain("hint: confirm the cross-database restore with --source-url");
    const r = await eve(["db", "restore", "--url", other, "--store", store, "--snapshot", id, "--force", "--jobs", "2", "--source-url", url, "--json"]);
    expect(r.code).toBe(0);
    expect(RestoreResult.parse(JSON.parse(r.stdout))).toMatchObject({ jobs: 2, strategy: "swap" });
    expect(await rows(other)).toBe(500);
    const noSnap = await eve(["db", "restore", "--url", other, "--store", store, "--force"]);
    expect(noSnap.code).toBe(2);
  });

  test("a role missing on the target: refused naming it (exit 1, nothing changed); --no-owner --no-acl restores and says what was left out", async () => {
    const role = `e2e_gone_${Math.random().toString(36).slice(2, 8)}`;
    const src = await freshDatabase("e2e_snap_roles");
    await withSql(src, (sql) =>
      sql.unsafe(`create role ${role}; create table items (id int primary key, name text); insert into items select g, 'x' from generate_series(1, 7) g;
                  alter table items owner to ${role}; create table open (x int); grant select on open to ${role}`),
    );
    const snapId = (await eve(["db", "snapshot", "--url", src, "--store", store])).stdout.trim();
    await withSql(src, (sql) => sql.unsafe(`reassign owned by ${role} to postgres; drop owned by ${role}; drop role ${role}`));
    const dst = await freshDatabase("e2e_snap_roles_dst");
    await withSql(dst, (sql) => sql`create table keep_me (x int)`);
    const args = ["db", "restore", "--url", dst, "--store", store, "--snapshot", snapId, "--source-url", src, "--force", "--skip-safety-snapshot"];
    const no = await eve(args);
    expect(no.code).toBe(1);
    expect(no.stdout).toBe("");
    expect(no.stderr).toContain(`the snapshot's owners or grants name role missing on the server of ${new URL(dst).pathname.slice(1)}: ${role}`);
    expect(no.stderr).toContain("hint: create it first (CREATE ROLE), or pass --no-owner --no-acl to restore without owners and grants; nothing was changed");
    const noj = await eve([...args, "--json"]);
    expect(noj.code).toBe(1);
    expect(JSON.parse(noj.stdout).error).toMatchObject({ code: "E_MISSING_ROLES" });
    expect(await withSql(dst, async (sql) => (await sql`select count(*)::int as n from keep_me`)[0]!.n)).toBe(0);

    const ok = await eve([...args, "--no-owner", "--no-acl"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("note: owners not restored (--no-owner): 1 object owned by " + role + " in the snapshot now owned by postgres\n");
    expect(ok.stdout).toContain("note: privileges not restored (--no-acl): 1 grant entry (GRANT/REVOKE, default privileges) skipped");
    expect(await rows(dst)).toBe(7);
    const j = await eve([...args, "--no-owner", "--no-acl", "--json"]);
    expect(j.code).toBe(0);
    const res = RestoreResult.parse(JSON.parse(j.stdout));
    expect(res.notRestored.map((n) => [n.what, n.reason, n.count])).toEqual([["owners", "--no-owner", 1], ["privileges", "--no-acl", 1]]);
  });

  test("prune: --dry-run and --json", async () => {
    const s = tempDir("eve-e2e-prune-");
    const a = (await eve(["db", "snapshot", "--url", url, "--store", s, "--retention", "1s", "--no-verify"])).stdout.trim();
    const b = (await eve(["db", "snapshot", "--url", url, "--store", s, "--retention", "1s", "--no-verify"])).stdout.trim();
    await new Promise((r) => setTimeout(r, 1100));
    const dry = await eve(["db", "snapshots", "prune", "--store", s, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would delete ${a} (${key}, completed, expired`);
    expect(dry.stdout).toContain(`kept ${b}: newest completed snapshot of ${key}`);
    expect(dry.stdout).toContain("would delete 1 expired snapshot from");
    const j = await eve(["db", "snapshots", "prune", "--store", s, "--json", "--all"]);
    const doc = PruneResult.parse(JSON.parse(j.stdout));
    expect(doc.deleted.map((d) => d.id).sort()).toEqual([a, b].sort());
    expect(SnapshotListResult.parse(JSON.parse((await eve(["db", "snapshots", "--store", s, "--json"])).stdout)).snapshots).toEqual([]);
  });
});
