import { describe, expect, test } from "bun:test";
import { readMigrationDir, createMigrationFile, findInvalidUtf8, formatVersion, nextVersion, normalizeDescription, validateNames, sha256 } from "../../core/migrations/files.ts";
import { plan, type HistoryRow } from "../../core/migrations/plan.ts";
import { tempDir, writeFiles } from "../helpers/fs.ts";
import { readdirSync, readFileSync } from "node:fs";

describe("migration file names", () => {
  test("valid names pass, bad ones and duplicate versions are all reported", () => {
    expect(validateNames(["20260101000000_a.sql", "20260101000001_b_2.sql"])).toEqual({ badNames: [], duplicates: [] });
    const problems = validateNames(["2026_a.sql", "20260101000000_A.sql", "20260101000002_x.sql", "20260101000002_y.sql", "20260101000003_a-b.sql"]);
    expect(problems).toEqual({
      badNames: ["2026_a.sql", "20260101000000_A.sql", "20260101000003_a-b.sql"],
      duplicates: [{ version: "20260101000002", files: ["20260101000002_x.sql", "20260101000002_y.sql"] }],
    });
  });

  test("the bad-names report counts names and duplicate groups separately, one name per line", async () => {
    const dir = writeFiles(tempDir(), {
      "2026_a.sql": "",
      "20260101000000_A.sql": "",
      "20260101000003_a-b.sql": "",
      "20260101000002_x.sql": "",
      "20260101000002_y.sql": "",
      "20260101000004_ok.sql": "",
    });
    const err = await readMigrationDir(dir).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`3 invalid migration file names and 1 duplicate version (2 files) in ${dir}:`);
    expect(err.message).not.toContain("\n");
    expect(err.context).toEqual([
      "  20260101000000_A.sql",
      "  20260101000003_a-b.sql",
      "  2026_a.sql",
      "  version 20260101000002 is used by 20260101000002_x.sql, 20260101000002_y.sql",
    ]);
    expect(err.hint).toContain("YYYYMMDDHHmmss_description.sql");
    // Singular forms, and a duplicates-only report.
    const one = await readMigrationDir(writeFiles(tempDir(), { "x.sql": "" })).catch((e) => e);
    expect(one.message).toStartWith("1 invalid migration file name in ");
    const dup = await readMigrationDir(writeFiles(tempDir(), { "20260101000002_x.sql": "", "20260101000002_y.sql": "", "20260101000002_z.sql": "" })).catch((e) => e);
    expect(dup.message).toStartWith("1 duplicate version (3 files) in ");
    expect(dup.context).toHaveLength(1);
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
    expect(err.context).toEqual(["  20260101000003_Bad.sql", "  bad.sql"]);
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

  test("running rows (partially applied no-transaction files) are neither applied nor pending", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_a.sql": "select 1;\n",
      "20260101000002_b.sql": "select 2;\n",
      "20260101000003_c.sql": "select 3;\n",
    });
    const files = await readMigrationDir(dir);
    const running = (name: string, checksum: string): HistoryRow => ({ ...row(name, checksum), kind: "running", statements_done: 1 });
    const p = plan(files, [row("20260101000001_a.sql", sha256("select 1;\n")), running("20260101000002_b.sql", sha256("select 2;\n"))]);
    expect(p.applied.map((a) => a.file.name)).toEqual(["20260101000001_a.sql"]);
    expect(p.running.map((r) => [r.file?.name, r.drift])).toEqual([["20260101000002_b.sql", undefined]]);
    expect(p.pending.map((f) => f.name)).toEqual(["20260101000003_c.sql"]);
    expect(p.drifted).toEqual([]);
    // A changed file under a running row is drift; a gone file is still a running row, not "missing".
    const changed = plan(files, [running("20260101000002_b.sql", sha256("select 'x';\n")), running("20260101000009_gone.sql", "x")]);
    expect(changed.running.map((r) => [r.row.name, !!r.file, !!r.drift])).toEqual([["20260101000002_b.sql", true, true], ["20260101000009_gone.sql", false, false]]);
    expect(changed.drifted.map((d) => d.name)).toEqual(["20260101000002_b.sql"]);
    expect(changed.missing).toEqual([]);
    // Pending files older than a started file are out of order.
    expect(changed.outOfOrder.map((f) => f.name)).toEqual(["20260101000001_a.sql"]);
  });
});

describe("UTF-8 validation of migration files", () => {
  const bytes = (...parts: Array<string | number[]>) =>
    new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));

  test("valid UTF-8 (multi-byte, 4-byte, BOM) passes", () => {
    expect(findInvalidUtf8(bytes("select 'é€😀';\n"))).toBeUndefined();
    expect(findInvalidUtf8(bytes([0xef, 0xbb, 0xbf], "select 1;"))).toBeUndefined();
    expect(findInvalidUtf8(new Uint8Array())).toBeUndefined();
  });

  test("the first invalid byte is found with its line and byte offset", () => {
    // Latin-1 é on line 3 after multi-byte text.
    expect(findInvalidUtf8(bytes("-- é\nselect 1;\nselect '", [0xe9], "';\n"))).toEqual({ offset: 24, line: 3 });
    const cases: Array<[number[], number]> = [
      [[0x80], 0], // lone continuation byte
      [[0xc0, 0xaf], 0], // overlong
      [[0xc3], 0], // truncated at end of file
      [[0xc3, 0x41], 0], // truncated before ASCII
      [[0xe2, 0x82], 0], // truncated 3-byte
      [[0xed, 0xa0, 0x80], 0], // UTF-16 surrogate
      [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
      [[0xf8, 0x88, 0x80, 0x80, 0x80], 0], // 5-byte form
      [[0xff], 0],
    ];
    for (const [bad, at] of cases) {
      expect(findInvalidUtf8(bytes("ab", bad))).toEqual({ offset: 2 + at, line: 1 });
      // The decoder agrees that each case is invalid.
      expect(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes("ab", bad))).toThrow();
    }
  });

  test("readMigrationDir rejects every invalid file at once, before anything else (exit 2)", async () => {
    const dir = writeFiles(tempDir(), {
      "20260101000001_ok.sql": "select 'é';\n",
      "20260101000002_latin1.sql": bytes("create table t (a text);\ninsert into t values ('caf", [0xe9], "');\n"),
      "20260101000003_cp1252.sql": bytes("-- ", [0x93, 0x71, 0x94], "\n"),
    });
    const err = await readMigrationDir(dir).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`2 migration files are not valid UTF-8 in ${dir}:`);
    expect(err.context).toEqual([
      "  20260101000002_latin1.sql: invalid UTF-8 byte 0xe9 at line 2, byte offset 51",
      "  20260101000003_cp1252.sql: invalid UTF-8 byte 0x93 at line 1, byte offset 3",
    ]);
    writeFiles(dir, { "20260101000003_cp1252.sql": "-- fixed\n" });
    const one = await readMigrationDir(dir).catch((e) => e);
    expect(one.message).toBe("20260101000002_latin1.sql: invalid UTF-8 byte 0xe9 at line 2, byte offset 51");
    expect(one.hint).toContain("nothing was applied");
  });
});
