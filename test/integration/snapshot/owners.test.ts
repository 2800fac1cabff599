/**
 * Issue 7 §2: a restore brings owners and privileges back as they were.
 * A fixture with objects owned by three non-superuser roles, grants (schema
 * USAGE, table SELECT, column-level SELECT, sequence USAGE, function EXECUTE
 * revoked from PUBLIC and granted to one role, a large object owned by a
 * non-owner and granted), default privileges, RLS policies and a database
 * grant; after a snapshot and a restore (swap and in place, file store and
 * s3rver) the schema-only dump WITH owners and ACLs, the rows, sequences and
 * large objects (owner, ACL, bytes) and the database's owner and ACL equal the
 * source's, and the reader role still reads. Roles the target lacks, or the
 * restoring role may not act as, refuse before anything changes; --no-owner
 * / --no-acl restore and say what was left out.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { connect, close } from "../../../core/db/index.ts";
import { openStore } from "../../../core/store/index.ts";
import type { Store } from "../../../core/store/types.ts";
import { restoreSnapshot } from "../../../plugins/snapshot/restore.ts";
import { RestoreResult, SnapshotRecord } from "../../../plugins/snapshot/schema.ts";
import { createSnapshot } from "../../../plugins/snapshot/snapshot.ts";
import { adminUrl, freshDatabase, withSql } from "../../helpers/db.ts";
import { startS3, type S3Server } from "../../helpers/s3.ts";
import { createRole, databasesLike, dropRoles, engineBase, fileStore, fingerprint, nameOf, ownedDatabase, type Fingerprint, type Role } from "./fixture.ts";

let owner: Role; // owns the database; no CREATEDB (in place)
let creator: Role; // owns a database, has CREATEDB (swap as a non-superuser)
let app: Role;
let audit: Role;
let reader: Role;
let s3: S3Server;
const dbs: string[] = [];

const q = (r: Role) => `"${r.name}"`;

/** Objects owned by `dbOwner`, app and audit, with grants of every kind. */
async function seedOwners(url: string, dbOwner: Role): Promise<void> {
  const su = await adminUrl();
  const db = nameOf(url);
  await withSql(withDb(su, db), (sql) =>
    sql.unsafe(`
      grant create on database "${db}" to ${q(audit)};
      grant connect on database "${db}" to ${q(reader)};
      create schema app authorization ${q(dbOwner)};
      grant usage, create on schema app to ${q(app)};
      grant usage on schema app to ${q(reader)};
      create schema audit authorization ${q(audit)};
      grant usage on schema audit to ${q(reader)}, ${q(app)};
      grant create on schema public to ${q(app)};

      set role ${q(dbOwner)};
      create table app.accounts (id serial primary key, name text not null, secret text, tenant int not null);
      grant select (id, name, tenant) on app.accounts to ${q(reader)};
      grant references on app.accounts to ${q(app)};
      alter table app.accounts enable row level security;
      create policy tenant_one on app.accounts for select to ${q(reader)} using (tenant = 1);
      alter default privileges in schema app grant select on tables to ${q(reader)};
      alter default privileges revoke execute on functions from public;
      insert into app.accounts (name, secret, tenant) select 'acct' || g, md5(g::text), 1 + g % 2 from generate_series(1, 50) g;
      reset role;

      set role ${q(app)};
      create sequence app.ticket start 500;
      grant usage on sequence app.ticket to ${q(reader)};
      create table app.orders (id bigint generated always as identity primary key, account int not null references app.accounts(id),
                               ticket int not null default nextval('app.ticket'), amount numeric(10,2) not null);
      grant select, insert on app.orders to ${q(reader)};
      create function app.order_count() returns bigint language sql security definer as 'select count(*) from app.orders';
      revoke execute on function app.order_count() from public;
      grant execute on function app.order_count() to ${q(reader)};
      create table public.notes (k text primary key, body text);
      insert into app.orders (account, amount) select 1 + g % 50, g * 1.5 from generate_series(1, 200) g;
      insert into public.notes select 'n' || g, repeat('x', g) from generate_series(1, 20) g;
      select lo_from_bytea(0, convert_to('a large object owned by app', 'UTF8'));
      reset role;
      do $$ begin execute format('grant select on large object %s to ${q(reader)}', (select max(oid) from pg_largeobject_metadata)); end $$;

      set role ${q(audit)};
      create table audit.log (at timestamptz not null default '2025-01-01', what text);
      grant select on audit.log to ${q(reader)};
      grant insert on audit.log to ${q(app)};
      alter default privileges in schema audit grant insert on tables to ${q(app)};
      alter table audit.log enable row level security;
      create policy app_writes on audit.log for insert to ${q(app)} with check (what is not null);
      create policy reader_reads on audit.log for select to ${q(reader)} using (true);
      insert into audit.log (what) select 'event ' || g from generate_series(1, 30) g;
      reset role;
    `),
  );
}

function withDb(base: string, db: string): string {
  const u = new URL(base);
  u.pathname = "/" + db;
  return u.toString();
}

async function seeded(prefix: string, dbOwner: Role): Promise<{ url: string; fp: Fingerprint }> {
  const url = await ownedDatabase(dbOwner, prefix);
  dbs.push(url);
  await seedOwners(url, dbOwner);
  return { url, fp: await fingerprint(url) };
}

async function snap(url: string, store: Store): Promise<SnapshotRecord> {
  const db = connect(url);
  try {
    return SnapshotRecord.parse(await createSnapshot(db, { url, store, trigger: "manual", retention: null, ...engineBase() }));
  } finally {
    await close(db);
  }
}

/** Damage owners, grants and contents, so a restore that dropped them cannot pass. */
async function damage(url: string): Promise<void> {
  await withSql(url, (sql) =>
    sql.unsafe(`
      revoke all on schema app from ${q(reader)};
      revoke select on app.orders from ${q(reader)};
      alter table audit.log owner to ${q(owner)};
      grant execute on function app.order_count() to public;
      alter default privileges in schema app revoke select on tables from ${q(reader)};
      drop policy tenant_one on app.accounts;
      delete from app.orders where id % 3 = 0;
      create table app.stray (x int);
      alter table app.stray owner to ${q(app)};
    `),
  );
}

/** Run `fn` while `member` is a member of `roles`. */
async function asMemberOf<T>(member: Role, roles: Role[], fn: () => Promise<T>): Promise<T> {
  const names = roles.map(q).join(", ");
  await withSql(await adminUrl(), (sql) => sql.unsafe(`grant ${names} to ${q(member)}`));
  try {
    return await fn();
  } finally {
    await withSql(await adminUrl(), (sql) => sql.unsafe(`revoke ${names} from ${q(member)}`));
  }
}

/** What the reader role can see, connected as itself. */
async function readerView(url: string): Promise<Record<string, unknown>> {
  return withSql(reader.urlFor(url), async (sql) => {
    const [a] = await sql`select count(*)::int as n from app.accounts`; // RLS: tenant 1 only
    const [o] = await sql`select count(*)::int as n from app.orders`;
    const [f] = await sql`select app.order_count()::int as n`;
    const [l] = await sql`select count(*)::int as n from audit.log`;
    const [lo] = await sql`select convert_from(lo_get(max(oid)), 'UTF8') as t from pg_largeobject_metadata`;
    const secret = await sql`select secret from app.accounts limit 1`.then(() => "readable", (e: { code?: string }) => e.code);
    return { accounts: a!.n, orders: o!.n, count: f!.n, log: l!.n, lo: lo!.t, secret };
  });
}

beforeAll(async () => {
  owner = await createRole("own_owner");
  creator = await createRole("own_creator", "createdb");
  app = await createRole("own_app");
  audit = await createRole("own_audit");
  reader = await createRole("own_reader");
  s3 = await startS3();
});

afterAll(async () => {
  await s3?.stop();
  await dropRoles(dbs);
});

const stores = (): Array<[string, () => Store]> => [
  ["file store", () => fileStore().store],
  ["s3rver", () => openStore(s3.storeUrl("own" + Math.random().toString(36).slice(2, 8)), s3.env)],
];

describe("restore keeps owners and privileges", () => {
  test("the fixture has three owners and grants of every kind, and the reader reads", async () => {
    const { url, fp } = await seeded("own_fx", owner);
    for (const r of [owner, app, audit]) expect(fp.schema).toContain(`OWNER TO ${r.name};`);
    expect(fp.schema).toContain(`GRANT SELECT(id) ON TABLE app.accounts TO ${reader.name};`);
    expect(fp.schema).toContain(`GRANT USAGE ON SEQUENCE app.ticket TO ${reader.name};`);
    expect(fp.schema).toContain(`REVOKE ALL ON FUNCTION app.order_count() FROM PUBLIC;`);
    expect(fp.schema).toContain(`GRANT USAGE ON SCHEMA app TO ${reader.name};`);
    expect(fp.schema).toContain(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner.name} IN SCHEMA app GRANT SELECT ON TABLES  TO ${reader.name};`);
    expect(fp.schema).toContain("CREATE POLICY tenant_one ON app.accounts");
    expect(fp.largeObjects).toHaveLength(1);
    expect(fp.largeObjects[0]).toContain(` ${app.name} {`);
    expect(fp.largeObjects[0]).toContain(`${reader.name}=r/${app.name}`);
    expect(fp.databaseAcl).toContain(`${reader.name}=c/`);
    expect(await readerView(url)).toEqual({ accounts: 25, orders: 200, count: 200, log: 30, lo: "a large object owned by app", secret: "42501" });
  });

  for (const [name, makeStore] of stores()) {
    test(`${name}: swap as a superuser restores owners and grants exactly (schema dump diff empty)`, async () => {
      const { url, fp } = await seeded("own_swap", owner);
      const view = await readerView(url);
      const store = makeStore();
      const rec = await snap(url, store);
      await damage(url);
      expect((await fingerprint(url)).schema).not.toEqual(fp.schema);
      const result = RestoreResult.parse(await restoreSnapshot({ url, store, id: rec.id, safetySnapshot: false, tmpDir: tmpdir(), ...engineBase() }));
      expect(result.strategy).toBe("swap");
      expect(result.notRestored).toEqual([]);
      expect(result.reassigned).toBeNull();
      expect(await fingerprint(url)).toEqual(fp);
      expect(await readerView(url)).toEqual(view);
      expect(await databasesLike(nameOf(url) + "_eve_")).toEqual([]);
    });

    test(`${name}: in place as the database owner (a member of the other owners) restores owners and grants exactly`, async () => {
      const { url, fp } = await seeded("own_inpl", owner);
      const view = await readerView(url);
      const store = makeStore();
      const asOwner = owner.urlFor(url);
      const rec = await snap(url, store); // taken by a superuser: the owner may not read app's tables
      await damage(url);
      const result = await asMemberOf(owner, [app, audit], () =>
        restoreSnapshot({ url: asOwner, store, id: rec.id, sourceKey: rec.sourceKey, safetySnapshot: true, tmpDir: tmpdir(), ...engineBase() }),
      );
      expect(result.strategy).toBe("in_place");
      expect(result.notRestored).toEqual([]);
      expect(await fingerprint(url)).toEqual(fp);
      expect(await readerView(url)).toEqual(view);
    });
  }

  test("swap as a non-superuser with CREATEDB (schemas and their grants first) restores owners and grants exactly", async () => {
    const { url, fp } = await seeded("own_crt", creator);
    const store = fileStore().store;
    const asCreator = creator.urlFor(url);
    const rec = await snap(url, store);
    await damage(url);
    const result = await asMemberOf(creator, [app, audit], () =>
      restoreSnapshot({ url: asCreator, store, id: rec.id, safetySnapshot: false, jobs: 2, tmpDir: tmpdir(), ...engineBase() }),
    );
    expect(result.strategy).toBe("swap");
    expect(result.notRestored).toEqual([]);
    expect(await fingerprint(url)).toEqual(fp);
  });

  test("a restoring role that may not act as the owners is refused before anything changes; --no-owner restores as the database owner", async () => {
    const { url, fp } = await seeded("own_nomem", owner);
    const store = fileStore().store;
    const asOwner = owner.urlFor(url);
    const rec = await snap(url, store);
    await damage(url);
    const damaged = await fingerprint(url);
    // No safety snapshot: the owner may not read app's tables (pg_dump would fail first).
    const base = { url: asOwner, store, id: rec.id, safetySnapshot: false, tmpDir: tmpdir(), ...engineBase() };
    const err = await restoreSnapshot(base).then(() => null, (e) => e);
    expect(err).toMatchObject({ code: "E_RESTORE_PRIVILEGE", exitCode: 1 });
    expect(err.message).toContain(`may not act as ${[app.name, audit.name].sort().join(", ")}`);
    expect(err.message).toContain("is unchanged");
    expect(err.hint).toContain("--no-owner");
    expect(await fingerprint(url)).toEqual(damaged);
    expect(await databasesLike(nameOf(url) + "_eve_")).toEqual([]);

    // --no-owner alone: audit's default privileges (FOR ROLE audit) still need membership in audit.
    const err2 = await restoreSnapshot({ ...base, owners: false }).then(() => null, (e) => e);
    expect(err2).toMatchObject({ code: "E_RESTORE_PRIVILEGE" });
    expect(err2.message).toContain(`cannot restore the default privileges (FOR ROLE) of this snapshot: it may not act as ${audit.name}`);
    expect(err2.hint).toContain("--no-acl");
    expect(await fingerprint(url)).toEqual(damaged);

    // Emptying the target in place would drop app's objects (the owner is no member of app): refused too.
    await asMemberOf(owner, [audit], async () => {
      const err3 = await restoreSnapshot({ ...base, owners: false }).then(() => null, (e) => e);
      expect(err3).toMatchObject({ code: "E_RESTORE_PRIVILEGE" });
      expect(err3.message).toContain(`cannot empty database ${nameOf(url)} for an in-place restore: it holds objects owned by ${app.name}`);
      expect(await fingerprint(url)).toEqual(damaged);

      // Into an empty database of the owner, --no-owner: everything belongs to the owner, the grants stay.
      const fresh = await ownedDatabase(owner, "own_nomem_dst");
      dbs.push(fresh);
      const result = await restoreSnapshot({ ...base, url: owner.urlFor(fresh), sourceKey: rec.sourceKey, owners: false });
      expect(result.strategy).toBe("in_place");
      expect(result.notRestored.map((n) => n.what)).toEqual(["owners"]);
      expect(result.notRestored[0]!.message).toMatch(new RegExp(`^owners not restored \\(--no-owner\\): \\d+ objects owned by ${[app.name, audit.name].sort().join(", ")} in the snapshot now owned by ${owner.name}$`));
      const after = await fingerprint(fresh);
      expect(after.schema).not.toMatch(new RegExp(`OWNER TO (${app.name}|${audit.name});`));
      expect(after.schema).toContain(`GRANT SELECT,INSERT ON TABLE app.orders TO ${reader.name};`);
      expect(after.largeObjects[0]).toContain(` ${owner.name} {`);
      expect(after.rows).toEqual(fp.rows);
    });
  });

  test("roles missing on the target are named and refused before anything changes; --no-owner --no-acl restores and says what was left out", async () => {
    // Roles of our own (dropped below): one plain, one whose name needs quoting everywhere.
    const tag = Math.random().toString(36).slice(2, 8);
    const gone = `own_gone_${tag}`;
    const odd = `own "odd" role, TO x ${tag}`;
    const qi = (n: string) => `"${n.replaceAll('"', '""')}"`;
    await withSql(await adminUrl(), (sql) => sql.unsafe(`create role ${qi(gone)}; create role ${qi(odd)}`));
    const { url } = await seeded("own_gone_src", owner);
    await withSql(url, (sql) =>
      sql.unsafe(`
        create table public.${qi(`t TO ${odd}`)} (x int);
        alter table public.${qi(`t TO ${odd}`)} owner to ${qi(gone)};
        grant select on app.accounts to ${qi(odd)};
        grant select on audit.log to ${qi(gone)} with grant option;
      `),
    );
    const store = fileStore().store;
    const rec = await snap(url, store);
    // The roles go away (as on another server that never had them).
    await withSql(url, (sql) =>
      sql.unsafe(`reassign owned by ${qi(gone)} to ${q(owner)}; drop owned by ${qi(gone)}, ${qi(odd)}; drop role ${qi(gone)}; drop role ${qi(odd)}`),
    );
    const target = await freshDatabase("own_gone_dst");
    dbs.push(target);
    await withSql(target, (sql) => sql`create table keep_me (x int)`);
    const before = await fingerprint(target);
    const base = { url: target, store, id: rec.id, sourceKey: rec.sourceKey, safetySnapshot: true, tmpDir: tmpdir(), ...engineBase() };
    const err = await restoreSnapshot(base).then(() => null, (e) => e);
    expect(err).toMatchObject({ code: "E_MISSING_ROLES", exitCode: 1 });
    expect(err.message).toContain(`missing on the server of ${nameOf(target)}: ${JSON.stringify(odd)}, ${gone}`);
    expect(err.message.split("\n")).toHaveLength(1);
    expect(err.hint).toContain("--no-owner --no-acl");
    expect(err.details.missingRoles).toEqual([odd, gone]);
    expect(await fingerprint(target)).toEqual(before);
    // --no-owner alone is not enough: the grants still name them.
    await expect(restoreSnapshot({ ...base, owners: false })).rejects.toMatchObject({ code: "E_MISSING_ROLES", details: { missingRoles: [odd, gone] } });
    expect(await fingerprint(target)).toEqual(before);

    const result = await restoreSnapshot({ ...base, owners: false, acl: false });
    expect(result.notRestored.map((n) => n.what)).toEqual(["owners", "privileges"]);
    expect(result.notRestored[0]!.message).toContain(`owned by ${[app.name, audit.name, gone, owner.name].sort().join(", ")} in the snapshot now owned by postgres`);
    expect(result.notRestored[1]!.message).toMatch(/^privileges not restored \(--no-acl\): \d+ grant entries \(GRANT\/REVOKE, default privileges\) skipped/);
    expect(result.notRestored[1]!.count).toBeGreaterThan(10);
    const after = await fingerprint(target);
    expect(after.schema).not.toMatch(/^GRANT |^REVOKE |^ALTER DEFAULT PRIVILEGES/m);
    expect(after.schema).toContain(`CREATE TABLE public.${qi(`t TO ${odd}`)}`);
  });
});
