import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { close, connect } from "../../../core/db/index.ts";
import { inspectRls } from "../../../plugins/rls/inspect.ts";
import { RlsReport } from "../../../plugins/rls/schema.ts";
import { freshDatabase, withSql } from "../../helpers/db.ts";
import { createRole, dropRoles, type TestRole } from "../../helpers/roles.ts";

let url: string;
let owner: TestRole;
let app: TestRole;

async function inspectAs(u: string) {
  const db = connect(u);
  try {
    return await inspectRls(db, "test");
  } finally {
    await close(db);
  }
}

const keyed = (r: RlsReport) => r.findings.map((f) => `${f.rule} ${f.severity} ${f.object}`).sort();

beforeAll(async () => {
  url = await freshDatabase("rls_inspect");
  owner = await createRole("rls_owner");
  app = await createRole("rls_app");
  const o = owner.name;
  const a = app.name;
  await withSql(url, (sql) =>
    sql.unsafe(`
      create schema s;
      grant usage on schema s to "${a}";
      create table s.clean (id int, tenant text);
      alter table s.clean owner to "${o}";
      alter table s.clean enable row level security;
      alter table s.clean force row level security;
      create policy clean_sel on s.clean as restrictive for select to "${a}" using (tenant = current_setting('app.t', true));
      create policy clean_ins on s.clean as restrictive for insert to "${a}" with check (tenant = current_setting('app.t', true));
      create policy clean_all on s.clean to "${a}", "${o}" using (tenant is not null) with check (tenant <> '');

      create table s.norls (id int);
      create policy p1 on s.norls for select using (true);

      create table s.nopol (id int);
      alter table s.nopol enable row level security;

      create table s.mine (id int);
      alter table s.mine owner to "${a}";
      alter table s.mine enable row level security;
      create policy mine_sel on s.mine for select using (true);

      create table s.openw (id int);
      alter table s.openw enable row level security;
      create policy w_all on s.openw for update using (true);
      create policy w_ins on s.openw for insert to "${a}" with check (true);
      create policy w_upd2 on s.openw for update to "${a}" using (id > 0);
      create policy w_del on s.openw for delete using (id < 0);

      create view s.v_bad as select * from s.clean;
      create view s.v_ok with (security_invoker = true) as select * from s.clean;
      create view s.v_plain as select * from s.norls;
      create view s.v_nested as select * from s.v_ok;
      create view s.v_med as select * from s.clean;
      alter view s.v_med owner to "${a}";

      create function s.bad_definer() returns int language sql security definer as 'select 1';
      create function s.good_definer() returns int language sql security definer set search_path = pg_catalog as 'select 1';
      create function s.invoker() returns int language sql as 'select 1';
    `),
  );
});

afterAll(() => dropRoles([url]));

describe("eve db rls engine", () => {
  test("lists tables, views and policies with readable commands, modes, roles and expressions", async () => {
    const r = RlsReport.parse(await inspectAs(url));
    const clean = r.relations.find((x) => x.name === "clean")!;
    expect(clean).toMatchObject({ schema: "s", kind: "table", owner: owner.name, rlsEnabled: true, rlsForced: true, securityInvoker: null });
    expect(clean.policies).toEqual([
      { name: "clean_all", command: "ALL", mode: "PERMISSIVE", roles: [app.name, owner.name].sort(), using: "(tenant IS NOT NULL)", withCheck: "(tenant <> ''::text)" },
      { name: "clean_ins", command: "INSERT", mode: "RESTRICTIVE", roles: [app.name], using: null, withCheck: "(tenant = current_setting('app.t'::text, true))" },
      { name: "clean_sel", command: "SELECT", mode: "RESTRICTIVE", roles: [app.name], using: "(tenant = current_setting('app.t'::text, true))", withCheck: null },
    ]);
    const openw = r.relations.find((x) => x.name === "openw")!;
    expect(openw.policies.map((p) => [p.name, p.command, p.roles])).toEqual([
      ["w_all", "UPDATE", ["public"]],
      ["w_del", "DELETE", ["public"]],
      ["w_ins", "INSERT", [app.name]],
      ["w_upd2", "UPDATE", [app.name]],
    ]);
    const views = Object.fromEntries(r.relations.filter((x) => x.kind === "view").map((v) => [v.name, [v.securityInvoker, v.readsRlsTables]]));
    expect(views).toEqual({
      v_bad: [false, ["s.clean"]],
      v_med: [false, ["s.clean"]],
      v_nested: [false, ["s.clean"]],
      v_ok: [true, ["s.clean"]],
      v_plain: [false, []],
    });
    expect(r.summary).toMatchObject({ tables: 5, views: 5, rlsEnabled: 4, policies: 9 });
    expect(r.role).toEqual({ name: "postgres", superuser: true, bypassRls: true });
  });

  test("findings as the application role: each rule once, with severity, and no false positives", async () => {
    const r = await inspectAs(app.urlFor(url));
    expect(r.role).toEqual({ name: app.name, superuser: false, bypassRls: false });
    expect(keyed(r)).toEqual(
      [
        "policies-without-rls high s.norls",
        "rls-without-policy low s.nopol",
        "owner-without-force medium s.mine",
        "permissive-true-write high s.openw",
        "permissive-true-write medium s.openw",
        "multiple-permissive low s.openw",
        "view-without-security-invoker high s.v_bad",
        "view-without-security-invoker high s.v_nested",
        "view-without-security-invoker medium s.v_med",
        "definer-without-search-path medium s.bad_definer()",
      ].sort(),
    );
    const multi = r.findings.find((f) => f.rule === "multiple-permissive")!;
    expect(multi.policies).toEqual(["w_all", "w_upd2"]);
    expect(multi.message).toContain("UPDATE");
    const trueWrites = r.findings.filter((f) => f.rule === "permissive-true-write").map((f) => [f.policies, f.severity]);
    expect(trueWrites.sort()).toEqual([[["w_all"], "high"], [["w_ins"], "medium"]]);
    for (const f of r.findings) {
      expect(f.fix.length).toBeGreaterThan(10);
      expect(f.fix).not.toContain("\n");
    }
    expect(r.findings.find((f) => f.object === "s.norls")!.fix).toBe("ALTER TABLE s.norls ENABLE ROW LEVEL SECURITY;");
    expect(r.findings.find((f) => f.object === "s.v_bad")!.fix).toBe("ALTER VIEW s.v_bad SET (security_invoker = true);");
  });

  test("as a superuser: an info finding instead of owner-without-force", async () => {
    const r = await inspectAs(url);
    const rules = keyed(r);
    expect(rules).toContain("role-bypasses-rls info postgres");
    expect(rules.some((k) => k.startsWith("owner-without-force"))).toBe(false);
    expect(r.summary.findings).toEqual({ high: 4, medium: 3, low: 2, info: 1 });
  });

  test("fixing the findings clears them", async () => {
    await withSql(url, (sql) =>
      sql.unsafe(`
        alter table s.norls enable row level security;
        create policy nopol_sel on s.nopol for select using (id > 0);
        alter table s.mine force row level security;
        drop policy w_all on s.openw;
        alter policy w_ins on s.openw with check (id > 0);
        alter view s.v_bad set (security_invoker = true);
        alter view s.v_nested set (security_invoker = true);
        alter view s.v_med set (security_invoker = on);
        alter view s.v_plain set (security_invoker = true);
        alter function s.bad_definer() set search_path = pg_catalog, pg_temp;
      `),
    );
    const r = await inspectAs(app.urlFor(url));
    // s.norls now has RLS (so v_plain had to become invoker too); its one policy is USING (true)
    // for SELECT only: not a write, no finding.
    expect(keyed(r)).toEqual([]);
  });
});
