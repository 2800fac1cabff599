/** The inspect plugin: `eve db schema` and `eve db status` (read-only catalog inspection). */
import { definePlugin } from "../../core/plugin.ts";
import schema from "./commands/schema.ts";
import status from "./commands/status.ts";

export const inspectPlugin = definePlugin({
  name: "inspect",
  commands: [schema, status],
});
