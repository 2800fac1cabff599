/** The inspect plugin: `eve db schema` and `eve db status` (read-only catalog inspection). */
import { definePlugin } from "../../core/plugin.ts";
import schema from "./commands/schema.ts";
import status from "./commands/status.ts";
import { schemaOp } from "./ops/schema.ts";
import { statusOp } from "./ops/status.ts";

export const inspectPlugin = definePlugin({
  name: "inspect",
  commands: [schema, status],
  operations: [schemaOp, statusOp],
});
