/** The sql plugin: `eve db sql`. */
import { definePlugin } from "../../core/plugin.ts";
import sql from "./commands/sql.ts";

export const sqlPlugin = definePlugin({
  name: "sql",
  groups: { db: "operate a Postgres database (direct --url mode)" },
  commands: [sql],
});
