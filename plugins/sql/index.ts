/** The sql plugin: `eve db sql`. */
import { definePlugin } from "../../core/plugin.ts";
import sql from "./commands/sql.ts";
import { sqlOp } from "./ops/sql.ts";

export const sqlPlugin = definePlugin({
  name: "sql",
  groups: { db: "operate a Postgres database (--url, or --env through the control plane)" },
  commands: [sql],
  operations: [sqlOp],
});
