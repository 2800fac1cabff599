/**
 * `eve project create|list`, `eve env deploy|list|render`: projects, their
 * environments, and the manifest that declares their managed databases.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { apiRequest } from "../../../core/http/client.ts";
import { UsageError } from "../../../core/errors.ts";
import { formatDuration, paint } from "../../../core/io.ts";
import { findInvalidUtf8 } from "../../../core/migrations/files.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { enc, printList, projectOf, remoteOf, remoteOptions, type Flags } from "./common.ts";

export const projectCreate = defineCommand<Flags>({
  path: ["project", "create"],
  summary: "create a project (admin)",
  args: [{ name: "<name>", description: "lowercase letters, digits and '-', starting with a letter" }],
  options: [{ flags: "--json", description: "JSON" }, ...remoteOptions],
  async run(ctx, opts, args) {
    const remote = await remoteOf(ctx, opts, false);
    const p = await apiRequest<Record<string, unknown>>(remote, "POST", "/projects", { name: args[0] }, { signal: ctx.signal });
    if (opts.json) return void ctx.out.printJson(p);
    ctx.out.print(`created project ${String(p.name)} (${String(p.id)})`);
  },
});

export const projectList = defineCommand<Flags>({
  path: ["project", "list"],
  summary: "list projects",
  options: [{ flags: "--json", description: "JSON {items, next_cursor}" }, ...remoteOptions],
  async run(ctx, opts) {
    const remote = await remoteOf(ctx, opts, false);
    printList(ctx, opts.json, await apiRequest(remote, "GET", "/projects", undefined, { signal: ctx.signal }), [["ID", "id"], ["NAME", "name"], ["CREATED", "created_at"]], "no projects");
  },
});

type DeployOpts = Flags & { env?: string; manifest?: string };

interface DeployResult {
  project: string;
  environment: string;
  services: Array<{ service: string; tenant_id: string; action: string; status: string; class: string; instance_id: string; drift_fixed: Array<{ object: string; setting: string; expected: string | null; found: string | null }> }>;
  removed: string[];
  duration_ms: number;
}

export const envDeploy = defineCommand<DeployOpts>({
  path: ["env", "deploy"],
  summary: "deploy the manifest to an environment: provision or reconcile its managed databases",
  description:
    "Sends .eve/manifest.yaml (or --manifest) to the control plane, which validates it (every error with\n" +
    "its YAML path and line; nothing changes on an error), merges environments.<env>.overrides, and\n" +
    "reconciles each x-eve.role: managed_db service: provisioned on first deploy, class and extension\n" +
    "changes applied, limits and grants re-asserted (drift shown). A service removed from the manifest\n" +
    "is reported, never dropped. Re-running converges (a deploy killed midway resumes).",
  options: [
    { flags: "--env <name>", description: "environment name (created on first deploy)" },
    { flags: "--manifest <path>", description: "manifest file", default: ".eve/manifest.yaml" },
    { flags: "--json", description: "JSON result" },
    ...remoteOptions,
  ],
  examples: ["eve env deploy --env staging", "eve env deploy --env production --manifest deploy/manifest.yaml --project shop"],
  async run(ctx, opts) {
    if (!opts.env) throw new UsageError("--env is required", { hint: "e.g. --env staging" });
    const path = opts.manifest ?? ".eve/manifest.yaml";
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(resolve(ctx.cwd, path)));
    } catch (e) {
      throw new UsageError(`cannot read the manifest ${path}: ${(e as { code?: string }).code ?? (e as Error).message}`, { hint: "pass --manifest PATH" });
    }
    const bad = findInvalidUtf8(bytes);
    if (bad) {
      throw new UsageError(`the manifest ${path} is not valid UTF-8: line ${bad.line}, byte offset ${bad.offset}`, {
        hint: "a manifest is YAML text; save it as UTF-8 (nothing was sent)",
      });
    }
    const text = new TextDecoder().decode(bytes);
    const { remote, project } = await projectOf(ctx, opts);
    const source = path.split(/[\\/]/).pop()!;
    const r = await apiRequest<DeployResult>(remote, "POST", `/projects/${enc(project)}/envs/${enc(opts.env)}/deploy`, { manifest: text, source }, { signal: ctx.signal });
    if (opts.json) return void ctx.out.printJson(r);
    for (const s of r.services) {
      const mark = s.action === "unchanged" ? paint(ctx.out, "dim", "=") : paint(ctx.out, "green", "✓");
      ctx.out.print(`  ${mark} ${s.service}  ${s.action} (${s.class}, ${s.status}) ${s.tenant_id}`);
      for (const d of s.drift_fixed) ctx.out.print(`      drift fixed: ${d.object} ${d.setting} was ${d.found ?? "unset"}, now ${d.expected ?? "unset"}`);
    }
    for (const name of r.removed) ctx.out.log(`${paint(ctx.out, "yellow", "warning:")} ${name} is no longer in the manifest; its database is kept (remove it with eve db destroy --env ${r.environment})`);
    ctx.out.print(`deployed ${r.project}/${r.environment}: ${r.services.length} managed database${r.services.length === 1 ? "" : "s"} in ${formatDuration(r.duration_ms)}`);
  },
});

export const envList = defineCommand<Flags>({
  path: ["env", "list"],
  summary: "list a project's environments and their databases",
  options: [{ flags: "--json", description: "JSON" }, ...remoteOptions],
  async run(ctx, opts) {
    const { remote, project } = await projectOf(ctx, opts);
    const body = await apiRequest<{ items: Array<Record<string, unknown> & { databases: Array<{ service: string; status: string; class: string }> }> }>(remote, "GET", `/projects/${enc(project)}/envs`, undefined, { signal: ctx.signal });
    if (opts.json) return void ctx.out.printJson(body);
    const items = body.items.map((e) => ({ ...e, dbs: e.databases.map((d) => `${d.service} (${d.class}, ${d.status})`).join(", ") || "-" }));
    printList(ctx, false, { items }, [["ENV", "name"], ["DEPLOYED", "deployed_at"], ["DATABASES", "dbs"]], `no environments in ${project}`);
  },
});

export const envRender = defineCommand<Flags & { env?: string; showSecrets?: boolean }>({
  path: ["env", "render"],
  summary: "print the environment's services with ${managed.*} values filled in",
  options: [
    { flags: "--env <name>", description: "environment name" },
    { flags: "--show-secrets", description: "print passwords (needs a write token); otherwise ********" },
    { flags: "--json", description: "JSON" },
    ...remoteOptions,
  ],
  async run(ctx, opts) {
    if (!opts.env) throw new UsageError("--env is required");
    const { remote, project } = await projectOf(ctx, opts);
    const r = await apiRequest<{ services: unknown; notice?: string }>(remote, "GET", `/projects/${enc(project)}/envs/${enc(opts.env)}/render${opts.showSecrets ? "?show_secrets=true" : ""}`, undefined, { signal: ctx.signal });
    if (r.notice) ctx.out.log(r.notice);
    if (opts.json) return void ctx.out.printJson(r);
    const { stringify } = await import("yaml");
    ctx.out.print(stringify({ services: r.services }).trimEnd());
  },
});
