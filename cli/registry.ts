/**
 * The plugins embedded in the binary, in help order. This list is the
 * definition of what ships: no discovery, no registration by side effect.
 * Plugins are loaded by what the command line names (its first word), so
 * `eve login` does not evaluate the database engines and `eve --version`
 * evaluates none; help and anything unknown load them all. `eve server`
 * mounts the operations of every database plugin.
 */
import type { Plugin } from "../core/plugin.ts";

const loaders = {
  async db(): Promise<Plugin[]> {
    const [migrate, inspect, rls, snapshot, sql] = await Promise.all([
      import("../plugins/migrate/index.ts"),
      import("../plugins/inspect/index.ts"),
      import("../plugins/rls/index.ts"),
      import("../plugins/snapshot/index.ts"),
      import("../plugins/sql/index.ts"),
    ]);
    return [migrate.migratePlugin, inspect.inspectPlugin, rls.rlsPlugin, snapshot.snapshotPlugin, sql.sqlPlugin];
  },
  async platform(): Promise<Plugin[]> {
    return [(await import("../plugins/platform/index.ts")).platformPlugin];
  },
  async server(): Promise<Plugin[]> {
    const [db, { serverPlugin }] = await Promise.all([loaders.db(), import("./serve.ts")]);
    return [serverPlugin(() => db.flatMap((p) => p.operations ?? []))];
  },
};
type Group = keyof typeof loaders;
const ORDER: Group[] = ["db", "platform", "server"];

/** The groups each top-level word needs. */
const byWord: Record<string, Group[]> = {
  db: ["db"],
  login: ["platform"],
  logout: ["platform"],
  token: ["platform"],
  admin: ["platform"],
  project: ["platform"],
  env: ["platform"],
  server: ["server"],
};

/** The plugins a command line needs (all of them for help, no command, or an unknown word). */
export async function pluginsFor(argv: readonly string[]): Promise<Plugin[]> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) return [];
  const first = argv.find((a) => !a.startsWith("-"));
  const groups = first !== undefined && byWord[first] ? byWord[first]! : ORDER;
  const loaded = await Promise.all(ORDER.filter((g) => groups.includes(g)).map((g) => loaders[g]()));
  return loaded.flat();
}

/** Every plugin, in help order. */
export function allPlugins(): Promise<Plugin[]> {
  return pluginsFor([]);
}
