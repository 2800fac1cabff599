/**
 * Preloaded by bun test (bunfig.toml). The shared cluster is started lazily by
 * test/helpers/db.ts and stopped at the end of the run.
 */
import { afterAll } from "bun:test";
import { testCluster } from "./db.ts";

afterAll(async () => {
  (await testCluster())?.stop();
});
