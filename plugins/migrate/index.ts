/** The migrate plugin: `eve db new`, `eve db migrate`, `eve db migrations`, `eve db wipe`, `eve db reset`. */
import { definePlugin } from "../../core/plugin.ts";
import migrate from "./commands/migrate.ts";
import migrations from "./commands/migrations.ts";
import newCommand from "./commands/new.ts";
import reset from "./commands/reset.ts";
import wipe from "./commands/wipe.ts";
import { migrateOp } from "./ops/migrate.ts";
import { migrationsOp } from "./ops/migrations.ts";
import { resetOp } from "./ops/reset.ts";
import { wipeOp } from "./ops/wipe.ts";

export const migratePlugin = definePlugin({
  name: "migrate",
  groups: { db: "operate a Postgres database (--url, or --env through the control plane)" },
  commands: [newCommand, migrate, migrations, wipe, reset],
  operations: [migrateOp, migrationsOp, wipeOp, resetOp],
});
