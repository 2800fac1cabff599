/**
 * The plugins embedded in the binary, in help order. This list is the
 * definition of what ships: no discovery, no registration by side effect.
 * `eve server` mounts the operations of every plugin listed here.
 */
import type { Plugin } from "../core/plugin.ts";
import { inspectPlugin } from "../plugins/inspect/index.ts";
import { migratePlugin } from "../plugins/migrate/index.ts";
import { platformPlugin } from "../plugins/platform/index.ts";
import { rlsPlugin } from "../plugins/rls/index.ts";
import { snapshotPlugin } from "../plugins/snapshot/index.ts";
import { sqlPlugin } from "../plugins/sql/index.ts";
import { serverPlugin } from "./serve.ts";

const databasePlugins: Plugin[] = [migratePlugin, inspectPlugin, rlsPlugin, snapshotPlugin, sqlPlugin];

export const plugins: Plugin[] = [...databasePlugins, platformPlugin, serverPlugin(() => databasePlugins.flatMap((p) => p.operations ?? []))];
