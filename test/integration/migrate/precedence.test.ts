/**
 * The DATABASE_URL and migrations-directory precedence lives in one place
 * (core/config.ts); the optional directory reader of `migrations`/`status`
 * follows it: flag, then the variable (empty = unset), then the default.
 */
import { describe, expect, test } from "bun:test";
import { givenDbUrl, migrationsDirChoice, resolveDbUrl, resolveMigrationsDir } from "../../../core/config.ts";
import { readOptionalMigrationDir } from "../../../core/migrations/files.ts";
import { tempDir, writeFiles } from "../../helpers/fs.ts";

describe("precedence", () => {
  test("database URL: --url, then DATABASE_URL (empty is unset); none is a usage error", () => {
    expect(givenDbUrl("postgres://a/x", { DATABASE_URL: "postgres://b/y" })).toBe("postgres://a/x");
    expect(givenDbUrl(undefined, { DATABASE_URL: "postgres://b/y" })).toBe("postgres://b/y");
    expect(givenDbUrl(undefined, { DATABASE_URL: "" })).toBeUndefined();
    expect(() => resolveDbUrl(undefined, { DATABASE_URL: "" })).toThrow("no database given");
  });

  test("migrations directory: --path, then MIGRATIONS_DIR (empty is unset), then db/migrations (not explicit)", () => {
    expect(migrationsDirChoice("p", { MIGRATIONS_DIR: "m" })).toEqual({ directory: "p", explicit: true });
    expect(migrationsDirChoice(undefined, { MIGRATIONS_DIR: "m" })).toEqual({ directory: "m", explicit: true });
    expect(migrationsDirChoice(undefined, { MIGRATIONS_DIR: "" })).toEqual({ directory: "db/migrations", explicit: false });
    expect(resolveMigrationsDir(undefined, {})).toBe("db/migrations");
  });

  test("the optional reader: the default directory only when present, a chosen one must exist", async () => {
    const cwd = tempDir();
    expect(await readOptionalMigrationDir(undefined, { MIGRATIONS_DIR: "" }, cwd)).toBeNull();
    await expect(readOptionalMigrationDir(undefined, { MIGRATIONS_DIR: "gone" }, cwd)).rejects.toThrow("migrations directory not found");
    writeFiles(`${cwd}/db/migrations`, { "20260101000001_a.sql": "select 1;" });
    const found = await readOptionalMigrationDir(undefined, {}, cwd);
    expect([found!.directory, found!.files.map((f) => f.name)]).toEqual(["db/migrations", ["20260101000001_a.sql"]]);
  });
});
