/** The migrate plugin: `eve db new`, `eve db migrate`, `eve db migrations`. */
import { definePlugin } from "../../core/plugin.ts";
import migrate from "./commands/migrate.ts";
import migrations from "./commands/migrations.ts";
import newCommand from "./commands/new.ts";

export const migratePlugin = definePlugin({
  name: "migrate",
  groups: { db: "operate a Postgres database (direct --url mode)" },
  commands: [newCommand, migrate, migrations],
});
