import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { entryOf, filesFromEntries, readMigrationDir } from "../../../core/migrations/files.ts";

test("files sent as {name, sql} get the same checksums and directive as the files on disk (BOM, CRLF)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "eve-entries-"));
  try {
    writeFileSync(join(dir, "20260101000000_a.sql"), "\uFEFFcreate table a (id int);\r\n");
    writeFileSync(join(dir, "20260101000001_b.sql"), "-- eve:no-transaction\ncreate index concurrently i on a (id);\n");
    writeFileSync(join(dir, "20260101000002_c.sql"), "select 'é';\n");
    const disk = await readMigrationDir(dir);
    const sent = filesFromEntries(disk.map(entryOf).reverse(), "request");
    expect(sent.map((f) => [f.name, f.checksum, f.normalizedChecksum, f.text, f.noTransactionDirective])).toEqual(
      disk.map((f) => [f.name, f.checksum, f.normalizedChecksum, f.text, f.noTransactionDirective]),
    );
    expect(readFileSync(join(dir, "20260101000000_a.sql"))[0]).toBe(0xef);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad names, duplicate versions, traversal and lone surrogates are refused before anything runs", () => {
  const err = (entries: { name: string; sql: string }[]) => {
    try {
      filesFromEntries(entries, "request");
    } catch (e) {
      return e as { code: string; message: string };
    }
    throw new Error("accepted");
  };
  expect(err([{ name: "../../etc/passwd", sql: "" }]).message).toBe("1 invalid migration file name in request:");
  expect(err([{ name: "20260101000000_a.sql", sql: "" }, { name: "20260101000000_b.sql", sql: "" }]).message).toBe(
    "1 duplicate version (2 files) in request:",
  );
  expect(err([{ name: "20260101000000_a.sql'; drop table x; --.sql", sql: "" }]).code).toBe("E_USAGE");
  expect(err([{ name: "20260101000000_a.sql", sql: "select '\uD800'" }]).message).toBe("20260101000000_a.sql is not valid Unicode text (a lone surrogate)");
});
