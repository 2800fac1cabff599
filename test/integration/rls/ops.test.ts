/**
 * The db.rls and db.rls.init operations on a real database: results and
 * events survive JSON and the op's zod schemas (same text after), server
 * WARNINGs come out as events, and errors survive errorToJson/errorFromJson.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { close, connect } from "../../../core/db/index.ts";
import { rlsInitOp } from "../../../plugins/rls/ops/init.ts";
import { rlsOp } from "../../../plugins/rls/ops/rls.ts";
import { inspectRls } from "../../../plugins/rls/inspect.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { errorOverTheWire, overTheWire, runOp, withCatalogLocked } from "../inspect/op-harness.ts";

let url: string;

beforeAll(async () => {
  url = await freshDatabase("rls_ops");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table notes (id int, owner text);
      create policy notes_owner on notes for select using (owner = current_user);
      create view recent as select * from notes;
    `),
  );
});

describe("db.rls", () => {
  test("the report crosses the wire unchanged and equals inspectRls", async () => {
    const run = await runOp(rlsOp, url, {}, "me@host:5432/db");
    const { result, events } = overTheWire(rlsOp, run);
    expect(events).toEqual([]);
    expect(result.database).toBe("me@host:5432/db");
    expect(result.findings.map((f) => f.rule)).toContain("policies-without-rls");
    const db = connect(url, { max: 1 });
    try {
      expect(result).toEqual(await inspectRls(db, "me@host:5432/db"));
    } finally {
      await close(db);
    }
    expect(rlsOp.access).toBe("read");
    expect(rlsOp.input.parse({})).toEqual({});
  });

  test("a catalog query that fails: SQLSTATE and details, over the wire", async () => {
    const u = await freshDatabase("rls_ops_locked");
    const run = await withCatalogLocked(u, "pg_policy", () =>
      runOp({ ...rlsOp, connection: () => ({ startupParameters: { lock_timeout: "200ms" } }) }, u, {}),
    );
    const back = errorOverTheWire(run.error);
    expect(back.code).toBe("E_SQL");
    expect(back.exitCode).toBe(4);
    expect(back.details?.sqlstate).toBe("55P03");
  });
});

describe("db.rls.init", () => {
  test("applies, then a rerun changes nothing; both results cross the wire", async () => {
    const u = await freshDatabase("rls_ops_init");
    const first = overTheWire(rlsInitOp, await runOp(rlsInitOp, u, { withGroups: true }, "me@host:5432/db")).result;
    expect(first).toMatchObject({ mode: "database", database: "me@host:5432/db", withGroups: true, changed: true, updated: [] });
    expect(first.created).toContain("function app.enable_group_rls(tbl regclass, col name)");
    const again = overTheWire(rlsInitOp, await runOp(rlsInitOp, u, { withGroups: true })).result;
    expect(again).toMatchObject({ changed: false, created: [], updated: [] });
    expect(rlsInitOp.access).toBe("write");
    expect(rlsInitOp.input.parse({})).toEqual({ withGroups: false });
  });

  test("server WARNINGs raised while applying come out as warning events", async () => {
    const u = await freshDatabase("rls_ops_warn");
    await withSql(u, (sql) =>
      sql.unsafe(`
        create function warn_ddl() returns event_trigger language plpgsql as
          $$ begin raise warning 'ddl seen: %', tg_tag; end $$;
        create event trigger warn_ddl on ddl_command_end execute function warn_ddl();
      `),
    );
    const run = await runOp(rlsInitOp, u, { withGroups: false });
    const { events } = overTheWire(rlsInitOp, run);
    expect(events.length).toBeGreaterThan(0);
    expect(events).toContainEqual({ type: "warning", message: "ddl seen: CREATE FUNCTION" });
    expect(events.every((e) => e.type === "warning" && e.message.startsWith("ddl seen: "))).toBe(true);
  });

  test("without groups on a database that has them: the refusal and its hint, over the wire", async () => {
    const u = await freshDatabase("rls_ops_refuse");
    overTheWire(rlsInitOp, await runOp(rlsInitOp, u, { withGroups: true }));
    const run = await runOp(rlsInitOp, u, { withGroups: false });
    const back = errorOverTheWire(run.error);
    expect(back.exitCode).toBe(2);
    expect(back.message).toContain("pass --with-groups");
    expect(back.hint).toContain("nothing was changed");
  });
});
