/**
 * The snapshot plugin: `eve db snapshot` (create, show, delete, verify,
 * download), `eve db snapshots` (list, prune) and `eve db restore`.
 */
import { definePlugin } from "../../core/plugin.ts";
import deleteCommand from "./commands/delete.ts";
import download from "./commands/download.ts";
import prune from "./commands/prune.ts";
import restore from "./commands/restore.ts";
import show from "./commands/show.ts";
import snapshot from "./commands/snapshot.ts";
import snapshots from "./commands/snapshots.ts";
import verify from "./commands/verify.ts";
import { deleteOp } from "./ops/delete.ts";
import { pruneOp } from "./ops/prune.ts";
import { restoreOp } from "./ops/restore.ts";
import { showOp } from "./ops/show.ts";
import { snapshotOp } from "./ops/snapshot.ts";
import { snapshotsOp } from "./ops/snapshots.ts";
import { verifyOp } from "./ops/verify.ts";

export const snapshotPlugin = definePlugin({
  name: "snapshot",
  groups: {
    "db snapshot": "take a snapshot; show, verify, download or delete one",
    "db snapshots": "list snapshots; prune expired ones",
  },
  commands: [snapshot, show, verify, download, deleteCommand, snapshots, prune, restore],
  // Not served by the control plane yet (servedRemotely: store operations come with the scheduler).
  operations: [snapshotOp, snapshotsOp, showOp, deleteOp, verifyOp, pruneOp, restoreOp],
});
