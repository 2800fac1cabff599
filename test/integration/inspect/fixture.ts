/** Shared by the inspect tests: a fresh database loaded with test/fixtures/inspect/schema.sql. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freshDatabase, withSql } from "../../helpers/db.ts";

export const fixtureSql = readFileSync(join(import.meta.dir, "../../fixtures/inspect/schema.sql"), "utf8");

/** Create a database holding every object kind the schema inspector reports. */
export async function fixtureDatabase(prefix = "inspect"): Promise<string> {
  const url = await freshDatabase(prefix);
  await withSql(url, (sql) => sql.unsafe(fixtureSql));
  return url;
}
