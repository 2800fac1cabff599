/**
 * The class table: the values the spec and the issue fix, the allowlist's
 * deliberate gaps, and the markdown table rendered from the same data.
 */
import { expect, test } from "bun:test";
import { EXTENSION_ALLOWLIST, isTier, renderTierTable, SUPPORTED_ENGINES, TIER_NAMES, TIERS } from "../../../plugins/platform/tiers.ts";

test("the three classes with their limits and backup defaults", () => {
  expect(Object.keys(TIERS)).toEqual(["db.p1", "db.p2", "db.p3"]);
  expect(TIERS["db.p1"]).toEqual({
    label: "Starter",
    connectionLimit: 25,
    statementTimeoutMs: 30_000,
    idleInTransactionTimeoutMs: 60_000,
    storageGb: 10,
    backup: { schedule: false, retention: "7d", snapshotOnDelete: false, snapshotOnReset: false },
  });
  expect(TIERS["db.p2"]).toMatchObject({ label: "Standard", connectionLimit: 100, statementTimeoutMs: 60_000, idleInTransactionTimeoutMs: 120_000, storageGb: 50 });
  expect(TIERS["db.p2"].backup).toEqual({ schedule: "0 2 * * *", retention: "30d", snapshotOnDelete: true, snapshotOnReset: true });
  expect(TIERS["db.p3"]).toMatchObject({ label: "Performance", connectionLimit: 200, statementTimeoutMs: 120_000, idleInTransactionTimeoutMs: 300_000, storageGb: 200 });
  expect(TIERS["db.p3"].backup).toEqual({ schedule: "0 2 * * *", retention: "90d", snapshotOnDelete: true, snapshotOnReset: true });
});

test("isTier accepts exactly the class names", () => {
  for (const t of TIER_NAMES) expect(isTier(t)).toBe(true);
  for (const t of ["db.p4", "DB.P1", "db.p1 ", "", "p1", null, 1, "toString", "__proto__"]) expect(isTier(t)).toBe(false);
});

test("the extension allowlist has the safe contrib extensions, not pg_stat_statements", () => {
  for (const e of ["pgcrypto", "uuid-ossp", "citext", "pg_trgm", "tsm_system_rows", "vector"]) expect(EXTENSION_ALLOWLIST).toContain(e);
  for (const e of ["pg_stat_statements", "plpython3u", "dblink", "postgres_fdw", "file_fdw", "adminpack"]) expect(EXTENSION_ALLOWLIST).not.toContain(e);
  expect(new Set(EXTENSION_ALLOWLIST).size).toBe(EXTENSION_ALLOWLIST.length);
  expect(SUPPORTED_ENGINES).toEqual(["postgres"]);
});

test("the markdown table is rendered from the data", () => {
  const md = renderTierTable();
  const lines = md.trimEnd().split("\n");
  expect(lines).toHaveLength(2 + TIER_NAMES.length);
  expect(lines[1]).toMatch(/^\|( --- \|)+$/);
  expect(lines[2]).toBe("| `db.p1` | Starter | 25 | 30 s | 1 min | 10 GB | off (opt-in) | 7d | off | off |");
  expect(lines[3]).toBe("| `db.p2` | Standard | 100 | 1 min | 2 min | 50 GB | `0 2 * * *` | 30d | on | on |");
  expect(lines[4]).toBe("| `db.p3` | Performance | 200 | 2 min | 5 min | 200 GB | `0 2 * * *` | 90d | on | on |");
  const cells = lines.map((l) => l.split("|").length);
  expect(new Set(cells).size).toBe(1);
});
