/**
 * Deno smoke test (run by CI: `deno test -A test/deno/smoke.ts`): the same
 * sources, untranspiled, apply the example migrations with `eve db migrate --url`.
 */
import { execFileSync } from "node:child_process";
import { startCluster } from "../helpers/pg.ts";

declare const Deno: { test(name: string, fn: () => Promise<void>): void; execPath(): string };

Deno.test("eve db migrate --url under Deno", async () => {
  const cluster = await startCluster();
  try {
    const run = (...args: string[]) =>
      execFileSync(Deno.execPath(), ["run", "-A", "cli/main.ts", "db", ...args], { encoding: "utf8", env: { NO_COLOR: "1", PATH: "/usr/bin:/bin" } });
    const out = run("migrate", "--url", cluster.url, "--path", "examples/migrations");
    if (!out.includes("applied 4 migrations")) throw new Error(`unexpected output: ${out}`);
    const list = JSON.parse(run("migrations", "--url", cluster.url, "--path", "examples/migrations", "--json"));
    if (list.summary.applied !== 4 || list.summary.pending !== 0) throw new Error(`unexpected summary: ${JSON.stringify(list.summary)}`);
  } finally {
    cluster.stop();
  }
});
