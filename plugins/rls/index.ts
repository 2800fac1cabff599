/** The rls plugin: `eve db rls` (inspect policies, findings) and `eve db rls init` (scaffolding). */
import { definePlugin } from "../../core/plugin.ts";
import init from "./commands/init.ts";
import rls from "./commands/rls.ts";
import { rlsInitOp } from "./ops/init.ts";
import { rlsOp } from "./ops/rls.ts";

export const rlsPlugin = definePlugin({
  name: "rls",
  commands: [rls, init],
  operations: [rlsOp, rlsInitOp],
});
