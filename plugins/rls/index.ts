/** The rls plugin: `eve db rls` (inspect policies, findings) and `eve db rls init` (scaffolding). */
import { definePlugin } from "../../core/plugin.ts";
import init from "./commands/init.ts";
import rls from "./commands/rls.ts";

export const rlsPlugin = definePlugin({
  name: "rls",
  commands: [rls, init],
});
