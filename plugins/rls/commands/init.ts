import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseDuration, resolveMigrationsDir, urlOption, waitOptions } from "../../../core/config.ts";
import { openDirect } from "../../../core/db/open.ts";
import { UsageError } from "../../../core/errors.ts";
import { formatDuration } from "../../../core/io.ts";
import { createMigrationFile, sha256 } from "../../../core/migrations/files.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { applyScaffold } from "../apply.ts";
import { CONTEXT_HELP, renderScaffold } from "../scaffold.ts";
import type { RlsInitResult } from "../schema.ts";

interface Opts {
  url?: string;
  withGroups?: boolean;
  out?: string;
  migration?: boolean;
  path?: string;
  force?: boolean;
  wait?: boolean;
  waitTimeout?: number | string;
  json?: boolean;
}

export default defineCommand<Opts>({
  path: ["db", "rls", "init"],
  summary: "create or refresh the RLS scaffolding (schema app), idempotently",
  description:
    "Creates, in schema app: current_user_id() and current_group_ids() (from the transaction-local\n" +
    "settings app.user_id and app.group_ids, a JSON array) and has_group(id). With --with-groups also\n" +
    "app.groups, app.group_members(group_id, user_id, role), the SECURITY DEFINER user_group_ids()\n" +
    "(settings ∪ memberships, fixed search_path) and enable_group_rls(table, column = 'group_id'),\n" +
    "which enables and forces RLS, creates SELECT/INSERT/UPDATE/DELETE policies and indexes the column.\n" +
    "Ids are text. Running it again changes nothing.\n" +
    "Applies to --url/DATABASE_URL in one transaction; --out FILE writes the SQL instead (- for stdout);\n" +
    "--migration writes it as a new timestamped migration (YYYYMMDDHHmmss_rls_scaffolding.sql).\n\n" +
    CONTEXT_HELP.join("\n"),
  options: [
    { flags: "--with-groups", description: "also create the group tables, user_group_ids() and enable_group_rls()" },
    urlOption,
    { flags: "--out <file>", description: "write the SQL to FILE (- for stdout) instead of applying it" },
    { flags: "--migration", description: "write the SQL as a new migration file instead of applying it" },
    { flags: "--path <dir>", description: "migrations directory for --migration (default: $MIGRATIONS_DIR or db/migrations)" },
    { flags: "--force", description: "with --out: overwrite a file that holds different content" },
    ...waitOptions,
  ],
  examples: [
    "eve db rls init --with-groups --url postgres://owner:…@localhost:5432/myapp",
    "eve db rls init --with-groups --migration --path db/migrations",
    "eve db rls init --with-groups --out db/rls.sql",
  ],
  async run(ctx, opts) {
    const withGroups = !!opts.withGroups;
    if (opts.out !== undefined && opts.migration) throw new UsageError("--out and --migration both write a file: choose one");
    if ((opts.out !== undefined || opts.migration) && opts.url) {
      throw new UsageError("--url applies the scaffolding; --out/--migration write it to a file: choose one");
    }
    if (opts.path !== undefined && !opts.migration) throw new UsageError("--path is only used with --migration");
    const sql = renderScaffold({ withGroups });
    let result: RlsInitResult;
    if (opts.out === "-") {
      if (opts.json) throw new UsageError("--out - prints the SQL on stdout: drop --json");
      ctx.out.stdout.write(sql);
      return;
    } else if (opts.out !== undefined) {
      const path = resolve(ctx.cwd, opts.out);
      const existing = await readFile(path, "utf8").catch(() => null);
      if (existing !== null && existing !== sql && !opts.force) {
        throw new UsageError(`${path} exists with different content; not overwriting`, { hint: "pass --force to replace it" });
      }
      if (existing !== sql) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, sql);
      }
      result = { mode: "file", path, withGroups, changed: existing !== sql, sha256: sha256(sql) };
    } else if (opts.migration) {
      const dir = resolve(ctx.cwd, resolveMigrationsDir(opts.path, ctx.env));
      const path = await createMigrationFile(dir, "rls scaffolding", ctx.now());
      await appendFile(path, sql);
      result = { mode: "migration", path, withGroups, changed: true, sha256: sha256(await readFile(path)) };
    } else {
      if (!opts.url && !ctx.env.DATABASE_URL) {
        throw new UsageError("no database given", {
          hint: "pass --url postgres://… (or set DATABASE_URL) to apply it, or --out FILE / --migration to write it",
        });
      }
      const conn = await openDirect(ctx, { url: opts.url, wait: opts.wait, waitTimeout: waitMs(opts.waitTimeout) }, {
        applicationName: "eve rls init",
        onNotice: (n) => (n.severity === "WARNING" ? ctx.out.log(`warning: ${n.message}`) : undefined),
      });
      try {
        result = await applyScaffold(conn.db, { withGroups, database: conn.label });
      } finally {
        await conn.close();
      }
    }
    if (opts.json) return void ctx.out.printJson(result);
    ctx.out.print(describe(result));
  },
});

function describe(r: RlsInitResult): string {
  if (r.mode === "file") return r.changed ? `wrote the RLS scaffolding to ${r.path}` : `${r.path} is already up to date`;
  if (r.mode === "migration") return `wrote migration ${r.path}\nrun eve db migrate to apply it`;
  if (!r.changed) return `RLS scaffolding already up to date on ${r.database} (nothing changed)`;
  const lines = [`RLS scaffolding${r.withGroups ? " (with groups)" : ""} applied to ${r.database} in ${formatDuration(r.durationMs)}`];
  for (const o of r.created) lines.push(`  + ${o}`);
  for (const o of r.updated) lines.push(`  ~ ${o}`);
  return lines.join("\n");
}

/** --wait-timeout: commander leaves the default ("60s") unparsed. */
function waitMs(v: unknown): number {
  return typeof v === "number" ? v : parseDuration(String(v ?? "60s"), "--wait-timeout");
}
