import { describe, expect, test } from "bun:test";
import { readMigrationDir, createMigrationFile, formatVersion, nextVersion, normalizeDescription, validateNames, sha256 } from "../../core/migrations/files.ts";
import { plan, type HistoryRow } from "../../core/migrations/plan.ts";
import { tempDir, writeFiles } from "../helpers/fs.ts";
import { readdirSync, readFileSync } from "node:fs";

describe("migration file names", () => {
  test("valid names pass, bad ones and duplicate versions are all reported", () => {
    expect(validateNames(["20260101000000_a.sql", "20260101000001_b_2.sql"])).toEqual([]);
    const problems = validateNames(["2026_a.sql", "20260101000000_A.sql", "20260101000002_x.sql", "20260101000002_y.sql", "20260101000003_a-b.sql"]);
    expect(problems).toHaveLength(4);
    expect(problems.join("\n")).toContain("2026_a.sql");
    expect(problems.join("\n")).toContain("20260101000000_A.sql");
    expect(problems.join("\n")).toContain("20260101000003_a-b.sql");
    expect(problems.join("\n")).toContain("version 20260101000002 is used by 2 files");
  });

  test("descriptions normalise to [a-z0-9_]", () => {
    expect(normalizeDescription("Create Users table")).toBe("create_users_table");
    expect(normalizeDescription("  add-index: ÉMAIL!! ")).toBe("add_index_email");
    expect(normalizeDescription("!!!")).toBe("");
  });

  test("versions are UTC and bump past existing ones", () => {
    const d = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(formatVersion(d)).toBe("20260102030405");
    expect(nextVersion(d, [])).toBe("20260102030405");
    expect(nextVersion(d, ["20260102030405"])).toBe("20260102030406");
    expect(nextVersion(d, ["20991231235959"])).toBe("21000101000000");
    expect(nextVersion(d, ["20200101000000"])).toBe("20260102030405");
  });

  test("createMigrationFile never overwrites and never reuses a version", async () => {
    const dir = tempDir();
    const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const a = await createMigrationFile(`${dir}/db/migrations`, "first one", now);
    const b = await createMigrationFile(`${dir}/db/migrations`, "first one", now);
    expect(a).toEndWith("20260102030405_first_one.sql");
    expect(b).toEndWith("20260102030406_first_one.sql");
    expect(readdirSync(`${dir}/db/migrations`)).toHaveLength(2);
    expect(readFileSync(a, "utf8")).toContain("-- 20260102030405_first_one.sql");
    await expect(createMigrationFile(dir, "!!!", now)).rejects.toThrow("has no letters or digits");
  });

  test("readMigrationDir sorts, hashes bytes, and lists every bad name at once", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000002_b.sql": "select 2;\n",
      "20260101000001_a.sql": "-- eve:no-transaction\nselect 1;\n",
      "README.md": "not a migration",
    });
    const files = await readMigrationDir(dir);
    expect(files.map((f) => f.name)).toEqual(["20260101000001_a.sql", "20260101000002_b.sql"]);
    expect(files[1]!.checksum).toBe(sha256("select 2;\n"));
    expect(files[0]!.noTransactionDirective).toBe(true);
    expect(files[1]!.noTransactionDirective).toBe(false);
    writeFiles(dir, { "bad.sql": "", "20260101000003_Bad.sql": "" });
    const err = await readMigrationDir(dir).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("2 invalid migration file names");
    expect(err.message).toContain("bad.sql");
    expect(err.message).toContain("20260101000003_Bad.sql");
    const missing = await readMigrationDir(`${dir}/nope`).catch((e) => e);
    expect(missing.message).toContain("migrations directory not found");
    const file = await readMigrationDir(`${dir}/20260101000001_a.sql`).catch((e) => e);
    expect(file.message).toContain("is a file, not a directory");
    expect(file.exitCode).toBe(2);
  });
});

describe("plan", () => {
  const row = (name: string, checksum: string): HistoryRow => ({ name, checksum, applied_at: new Date(), kind: null, duration_ms: null, details: null });

  test("applied, pending, missing, out of order, drift and line-ending-only changes", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_a.sql": "select 1;\r\nselect 2;\r\n",
      "20260101000002_b.sql": "select 'changed';\n",
      "20260101000003_c.sql": "select 3;\n",
      "20260101000005_e.sql": "select 5;\n",
    });
    const files = await readMigrationDir(dir);
    const p = plan(files, [
      row("20260101000001_a.sql", sha256("\uFEFFselect 1;\nselect 2;\n")),
      row("20260101000002_b.sql", sha256("select 'original';\n")),
      row("20260101000004_d.sql", "x"),
      row("20260101000005_e", sha256("select 5;\n")),
    ]);
    expect(p.applied.map((a) => a.file.name)).toEqual(["20260101000001_a.sql", "20260101000002_b.sql", "20260101000005_e.sql"]);
    expect(p.lineEndingOnly.map((d) => d.name)).toEqual(["20260101000001_a.sql"]);
    expect(p.drifted).toEqual([{ name: "20260101000002_b.sql", storedChecksum: sha256("select 'original';\n"), fileChecksum: sha256("select 'changed';\n") }]);
    expect(p.pending.map((f) => f.name)).toEqual(["20260101000003_c.sql"]);
    expect(p.outOfOrder.map((f) => f.name)).toEqual(["20260101000003_c.sql"]);
    expect(p.missing.map((r) => r.name)).toEqual(["20260101000004_d.sql"]);
  });
});
