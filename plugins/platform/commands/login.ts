/**
 * `eve login`: check a token against a control plane and store it as a
 * profile (0600 file; core/remote.ts). `eve logout` removes a profile.
 */
import { apiRequest } from "../../../core/http/client.ts";
import { UsageError } from "../../../core/errors.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { credentialsPath, normalizeApiUrl, readCredentials, writeCredentials } from "../../../core/remote.ts";

interface LoginOpts {
  api?: string;
  token?: string;
  profile?: string;
  project?: string;
  json?: boolean;
}

export const login = defineCommand<LoginOpts>({
  path: ["login"],
  summary: "store control-plane credentials (API URL, token, default project) as a profile",
  description:
    "Checks the token against the API (GET /whoami), then writes the profile to the credentials file\n" +
    "($XDG_CONFIG_HOME/eve/credentials.json, else ~/.config/eve/credentials.json; mode 0600) and makes it\n" +
    "the current one. The token may come from --token or EVE_TOKEN; it is never printed.\n" +
    "Precedence for every remote command: --api/--token/--project, then EVE_API_URL/EVE_TOKEN/EVE_PROJECT,\n" +
    "then the profile (--profile, else EVE_PROFILE, else the current one).",
  options: [
    { flags: "--api <url>", description: "control-plane URL, e.g. http://127.0.0.1:8080 (default: $EVE_API_URL)" },
    { flags: "--token <token>", description: "the token (default: $EVE_TOKEN)" },
    { flags: "--profile <name>", description: "profile name", default: "default" },
    { flags: "--project <project>", description: "default project for --env commands" },
    { flags: "--json", description: "print the result as JSON" },
  ],
  examples: ["eve login --api http://127.0.0.1:8080 --token eve_pat_… --project shop", "EVE_TOKEN=eve_pat_… eve login --api https://eve.example.com --profile prod"],
  async run(ctx, opts) {
    const apiText = opts.api ?? ctx.env.EVE_API_URL;
    const token = opts.token ?? ctx.env.EVE_TOKEN;
    if (!apiText) throw new UsageError("no API URL", { hint: "pass --api http://HOST:PORT or set EVE_API_URL" });
    if (!token) throw new UsageError("no token", { hint: "pass --token eve_pat_… or set EVE_TOKEN" });
    const profile = opts.profile ?? "default";
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(profile)) throw new UsageError("--profile must be 1-64 letters, digits, '.', '_' or '-'");
    const api = normalizeApiUrl(apiText, opts.api ? "--api" : "EVE_API_URL");
    const me = await apiRequest<Record<string, unknown>>({ api, token, project: null, profile }, "GET", "/whoami", undefined, { signal: ctx.signal });
    const file = await readCredentials(ctx.env);
    file.profiles[profile] = { api, token, ...(opts.project ?? file.profiles[profile]?.project ? { project: opts.project ?? file.profiles[profile]?.project } : {}) };
    file.current = profile;
    const path = await writeCredentials(ctx.env, file);
    const who = me.admin ? "an admin token" : `a ${String(me.role)} token of project ${String(me.project_id)}`;
    if (opts.json) return void ctx.out.printJson({ profile, api, path, token: me });
    ctx.out.print(`logged in to ${api} with ${who} (${String(me.name)}); profile "${profile}" saved in ${path}`);
  },
});

export const logout = defineCommand<{ profile?: string }>({
  path: ["logout"],
  summary: "remove a stored profile (its token stays valid: revoke it with eve token revoke)",
  options: [{ flags: "--profile <name>", description: "profile to remove (default: the current one)" }],
  async run(ctx, opts) {
    const file = await readCredentials(ctx.env);
    const name = opts.profile ?? file.current ?? "default";
    if (!file.profiles[name]) throw new UsageError(`no profile "${name}" in ${credentialsPath(ctx.env)}`);
    delete file.profiles[name];
    if (file.current === name) delete file.current;
    await writeCredentials(ctx.env, file);
    ctx.out.print(`removed profile "${name}"`);
  },
});
