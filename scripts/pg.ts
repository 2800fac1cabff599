/**
 * Start a throwaway Postgres cluster (the test harness) and keep it running
 * until Ctrl-C. Prints the superuser URL on stdout.
 *   bun scripts/pg.ts
 */
import process from "node:process";
import { startCluster } from "../test/helpers/pg.ts";

const c = await startCluster();
console.log(c.url);
const stop = () => {
  c.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
setInterval(() => {}, 1 << 30);
