/** `eve db new`: create an empty migration file (local only: it writes a file). */
import { resolve } from "node:path";
import { resolveMigrationsDir } from "../../../core/config.ts";
import { defineCommand } from "../../../core/plugin.ts";
import { createMigrationFile } from "../../../core/migrations/files.ts";

export default defineCommand<{ path?: string; json?: boolean }>({
  path: ["db", "new"],
  summary: "create an empty timestamped migration file",
  description:
    "Writes db/migrations/YYYYMMDDHHmmss_<description>.sql (UTC). The description is normalised to [a-z0-9_];\n" +
    "the directory is created if missing; an existing file is never overwritten and a version already\n" +
    "used in the directory is never reused (the timestamp is bumped).",
  args: [{ name: "<description...>", description: "what the migration does, e.g. create_users_table" }],
  options: [{ flags: "--path <dir>", description: "migrations directory (default: $MIGRATIONS_DIR or db/migrations)" }],
  examples: ["eve db new create users table", "eve db new add_index --path db/custom-migrations"],
  async run(ctx, opts, args) {
    const dir = resolve(ctx.cwd, resolveMigrationsDir(opts.path, ctx.env));
    const path = await createMigrationFile(dir, args.join(" "), ctx.now());
    if (opts.json) ctx.out.printJson({ path });
    else ctx.out.print(path);
  },
});
