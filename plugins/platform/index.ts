/**
 * The platform plugin: the control plane's client commands (login, tokens,
 * instances, projects, environments) and, under server/, the control plane
 * itself (mounted by cli/serve.ts).
 */
import { definePlugin } from "../../core/plugin.ts";
import { instancesAdd, instancesDrain, instancesList, instancesShow } from "./commands/instances.ts";
import { login, logout } from "./commands/login.ts";
import { envDeploy, envList, envRender, projectCreate, projectList } from "./commands/project-env.ts";
import { tokenCreate, tokenList, tokenRevoke } from "./commands/token.ts";

export const platformPlugin = definePlugin({
  name: "platform",
  groups: {
    token: "control-plane tokens",
    admin: "platform administration",
    "admin instances": "Postgres instances that host tenants",
    project: "projects",
    env: "environments: deploy the manifest, list, render",
  },
  commands: [login, logout, tokenCreate, tokenList, tokenRevoke, instancesAdd, instancesList, instancesShow, instancesDrain, projectCreate, projectList, envDeploy, envList, envRender],
});
