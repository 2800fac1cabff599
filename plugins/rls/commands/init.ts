/**
 * `eve db rls init`: with --out or --migration, writes the scaffolding SQL to
 * a local file (no database involved); otherwise runs db.rls.init
 * (plugins/rls/ops/init.ts) on --url/DATABASE_URL or, with --env, on the
 * environment's database through the control plane.
 */
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { givenDbUrl, resolveMigrationsDir } from "../../../core/config.ts";
import { UsageError } from "../../../core/errors.ts";
import { formatDuration } from "../../../core/io.ts";
import { createMigrationFile, sha256 } from "../../../core/migrations/files.ts";
import { defineOpCommand, type OpFlags } from "../../../core/op-command.ts";
import { defineCommand, type Context } from "../../../core/plugin.ts";
import { rlsInitOp, type RlsInitEvent, type RlsInitInput } from "../ops/init.ts";
import { CONTEXT_HELP, renderScaffold } from "../scaffold.ts";
import type { RlsInitApplied, RlsInitResult } from "../schema.ts";

type Opts = OpFlags<RlsInitInput, { out?: string; migration?: boolean; path?: string; force?: boolean }>;

const apply = defineOpCommand<RlsInitInput, RlsInitApplied, RlsInitEvent, Opts>({
  op: rlsInitOp,
  path: ["db", "rls", "init"],
  summary: rlsInitOp.summary,
  description:
    "Creates, in schema app: current_user_id() and current_group_ids() (from the transaction-local\n" +
    "settings app.user_id and app.group_ids, a JSON array) and has_group(id). With --with-groups also\n" +
    "app.groups, app.group_members(group_id, user_id, role), the SECURITY DEFINER user_group_ids()\n" +
    "(settings ∪ memberships, fixed search_path) and enable_group_rls(table, column = 'group_id'),\n" +
    "which enables and forces RLS, creates SELECT/INSERT/UPDATE/DELETE policies and indexes the column.\n" +
    "Ids are text. Running it again changes nothing.\n" +
    "Applies to --url/DATABASE_URL (or, with --env, the environment's database) in one transaction;\n" +
    "--out FILE writes the SQL instead (- for stdout);\n" +
    "--migration writes it as a new timestamped migration (YYYYMMDDHHmmss_rls_scaffolding.sql).\n\n" +
    CONTEXT_HELP.join("\n"),
  options: [
    { flags: "--with-groups", description: "also create the group tables, user_group_ids() and enable_group_rls()" },
    { flags: "--out <file>", description: "write the SQL to FILE (- for stdout) instead of applying it" },
    { flags: "--migration", description: "write the SQL as a new migration file instead of applying it" },
    { flags: "--path <dir>", description: "migrations directory for --migration (default: $MIGRATIONS_DIR or db/migrations)" },
    { flags: "--force", description: "with --out: overwrite a file that holds different content" },
  ],
  examples: [
    "eve db rls init --with-groups --url postgres://owner:…@localhost:5432/myapp",
    "eve db rls init --with-groups --migration --path db/migrations",
    "eve db rls init --with-groups --out db/rls.sql",
    "eve db rls init --with-groups --env staging",
  ],
  input(ctx, opts) {
    if (opts.env === undefined && givenDbUrl(opts.url, ctx.env) === undefined) {
      throw new UsageError("no database given", {
        hint: "pass --url postgres://… (or set DATABASE_URL) to apply it, or --out FILE / --migration to write it",
      });
    }
    return { withGroups: !!opts.withGroups };
  },
  event(ctx, e) {
    ctx.out.log(`warning: ${e.message}`);
  },
  result: (ctx, r, opts) => print(ctx, r, opts),
});

export default defineCommand<Opts>({
  ...apply,
  async run(ctx, opts, args) {
    if (opts.out !== undefined && opts.migration) throw new UsageError("--out and --migration both write a file: choose one");
    const writes = opts.out !== undefined || opts.migration;
    if (writes && opts.url) throw new UsageError("--url applies the scaffolding; --out/--migration write it to a file: choose one");
    if (writes && opts.env !== undefined) throw new UsageError("--env applies the scaffolding; --out/--migration write it to a file: choose one");
    if (opts.path !== undefined && !opts.migration) throw new UsageError("--path is only used with --migration");
    return writes ? writeScaffold(ctx, opts) : apply.run(ctx, opts, args);
  },
});

/** --out / --migration: the SQL goes to a local file (or stdout); no database is opened. */
async function writeScaffold(ctx: Context, opts: Opts): Promise<void> {
  const withGroups = !!opts.withGroups;
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
  } else {
    const dir = resolve(ctx.cwd, resolveMigrationsDir(opts.path, ctx.env));
    const path = await createMigrationFile(dir, "rls scaffolding", ctx.now());
    await appendFile(path, sql);
    result = { mode: "migration", path, withGroups, changed: true, sha256: sha256(await readFile(path)) };
  }
  print(ctx, result, opts);
}

function print(ctx: Context, r: RlsInitResult, opts: Opts): void {
  if (opts.json) ctx.out.printJson(r);
  else ctx.out.print(describe(r));
}

function describe(r: RlsInitResult): string {
  if (r.mode === "file") return r.changed ? `wrote the RLS scaffolding to ${r.path}` : `${r.path} is already up to date`;
  if (r.mode === "migration") return `wrote migration ${r.path}\nrun eve db migrate to apply it`;
  if (!r.changed) return `RLS scaffolding already up to date on ${r.database} (nothing changed)`;
  const lines = [`RLS scaffolding${r.withGroups ? " (with groups)" : ""} applied to ${r.database} in ${formatDuration(r.durationMs)}`];
  for (const o of r.created) lines.push(`  + ${o}`);
  for (const o of r.updated) lines.push(`  ~ ${o}`);
  return lines.join("\n");
}
