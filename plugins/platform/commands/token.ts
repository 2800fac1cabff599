/** `eve token create|list|revoke`: control-plane tokens (admin, or a project's owner for its project). */
import { apiRequest } from "../../../core/http/client.ts";
import { parseDuration } from "../../../core/config.ts";
import { UsageError } from "../../../core/errors.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { enc, printList, remoteOf, remoteOptions, type Flags } from "./common.ts";

type CreateOpts = Flags & { name?: string; admin?: boolean; role?: string; expires?: string };

export const tokenCreate = defineCommand<CreateOpts>({
  path: ["token", "create"],
  summary: "create a token (printed once on stdout; stored only hashed)",
  description:
    "An admin token (--admin) can do everything; a project token has one role on one project: read\n" +
    "(inspect, read-only SQL), write (migrate, SQL --write, deploy), owner (wipe, reset, tokens of the\n" +
    "project). An admin creates any token; a project owner creates tokens for its project.",
  options: [
    { flags: "--name <name>", description: "what the token is for (shown in lists)" },
    { flags: "--admin", description: "an admin token" },
    { flags: "--role <role>", description: "project role", choices: ["read", "write", "owner"], default: "read" },
    // Checked here (the flag's name in the message); sent as written, the server computes the expiry.
    { flags: "--expires <duration>", description: "expire after this long (e.g. 30d, 12h); default never", parse: (v) => (parseDuration(v, "--expires"), v) },
    { flags: "--json", description: "print the token record (with the token) as JSON" },
    ...remoteOptions,
  ],
  examples: ["eve token create --name ci --project shop --role write --expires 90d", "eve token create --name ops --admin"],
  async run(ctx, opts) {
    if (!opts.name) throw new UsageError("--name is required", { hint: "e.g. --name ci" });
    const remote = await remoteOf(ctx, opts, !opts.admin);
    const body = opts.admin ? { name: opts.name, admin: true, ...(opts.expires ? { expires_in: opts.expires } : {}) } : { name: opts.name, project: remote.project!, role: opts.role ?? "read", ...(opts.expires ? { expires_in: opts.expires } : {}) };
    const rec = await apiRequest<Record<string, unknown>>(remote, "POST", "/tokens", body, { signal: ctx.signal });
    if (opts.json) return void ctx.out.printJson(rec);
    ctx.out.log(`created ${rec.admin ? "admin token" : `${String(rec.role)} token for project ${remote.project}`} ${String(rec.id)} (${String(rec.name)})${rec.expires_at ? `, expires ${String(rec.expires_at)}` : ""}; it is shown once:`);
    ctx.out.print(String(rec.token));
  },
});

export const tokenList = defineCommand<Flags & { limit?: string; cursor?: string }>({
  path: ["token", "list"],
  summary: "list tokens (never their values)",
  options: [{ flags: "--limit <n>", description: "page size (1-200)" }, { flags: "--cursor <c>", description: "next page (from next_cursor)" }, { flags: "--json", description: "JSON {items, next_cursor}" }, ...remoteOptions],
  async run(ctx, opts) {
    const remote = await remoteOf(ctx, opts, false);
    const q = new URLSearchParams({ ...(opts.project ?? remote.project ? { project: (opts.project ?? remote.project)! } : {}), ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.cursor ? { cursor: opts.cursor } : {}) });
    const body = await apiRequest<{ items: Array<Record<string, unknown>>; next_cursor: string | null }>(remote, "GET", `/tokens${q.size ? `?${q}` : ""}`, undefined, { signal: ctx.signal });
    printList(ctx, opts.json, body, [["ID", "id"], ["NAME", "name"], ["PREFIX", "prefix"], ["ADMIN", "admin"], ["PROJECT", "project_id"], ["ROLE", "role"], ["EXPIRES", "expires_at"], ["LAST USED", "last_used_at"], ["REVOKED", "revoked_at"]], "no tokens");
    if (!opts.json && body.next_cursor) ctx.out.log(`more: --cursor ${body.next_cursor}`);
  },
});

export const tokenRevoke = defineCommand<Flags>({
  path: ["token", "revoke"],
  summary: "revoke a token (it stops working at once)",
  args: [{ name: "<id>", description: "token id (tok_…)" }],
  options: [{ flags: "--json", description: "print the revoked record as JSON" }, ...remoteOptions],
  async run(ctx, opts, args) {
    const remote = await remoteOf(ctx, opts, false);
    const rec = await apiRequest<Record<string, unknown>>(remote, "DELETE", `/tokens/${enc(args[0]!)}`, undefined, { signal: ctx.signal });
    if (opts.json) return void ctx.out.printJson(rec);
    ctx.out.print(`revoked ${String(rec.id)} (${String(rec.name)})`);
  },
});
