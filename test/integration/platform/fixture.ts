/** A fresh platform database for the platform tests: a new database, the eve_platform schema migrated by our engine. */
import { close, connect, type Db } from "../../../core/db/index.ts";
import type { MigrationFile } from "../../../core/migrations/files.ts";
import { ensurePlatformSchema } from "../../../plugins/platform/migrations.ts";
import { migrate } from "../../../plugins/migrate/runner.ts";
import { dropDatabases, freshDatabase } from "../../helpers/db.ts";

/** The `migrate` argument of ensurePlatformSchema: our engine. */
export const runMigrate = (db: Db, files: MigrationFile[]) => migrate(db, files, { database: "platform", directory: "platform" });

export interface PlatformDb {
  url: string;
  db: Db;
  done(): Promise<void>;
}

/** A migrated platform database with a pool of `max` connections. */
export async function platformDb(max = 4): Promise<PlatformDb> {
  const url = await freshDatabase("plat");
  const db = connect(url, { max });
  await ensurePlatformSchema(db, runMigrate);
  return {
    url,
    db,
    async done() {
      await close(db);
      await dropDatabases([url]);
    },
  };
}
