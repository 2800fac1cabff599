/**
 * An S3 store that cannot be reached: every snapshot command fails with exit 4
 * ("failed") and one line naming the endpoint, without credentials.
 */
import { describe, expect, test } from "bun:test";
import net from "node:net";
import { runEve } from "../helpers/cli.ts";
import { freshDatabase } from "../helpers/db.ts";
import { tempDir } from "../helpers/fs.ts";

/** A port on 127.0.0.1 where nothing listens. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("an unreachable S3 store: exit 4 naming the endpoint", () => {
  test("snapshot, snapshots, snapshot show/verify/download, snapshots prune, restore", async () => {
    const url = await freshDatabase("e2e_s3down");
    const endpoint = `http://127.0.0.1:${await deadPort()}`;
    const env = {
      EVE_SNAPSHOT_STORE: "s3://eve-backups/prod",
      EVE_S3_ENDPOINT: endpoint,
      EVE_S3_FORCE_PATH_STYLE: "1",
      AWS_ACCESS_KEY_ID: "AKIAEVETESTKEY",
      AWS_SECRET_ACCESS_KEY: "very-secret-key-value",
      AWS_REGION: "us-east-1",
    };
    const id = "snap_01JZZZZZZZZZZZZZZZZZZZZZZZ";
    const out = tempDir();
    const runs: Record<string, string[]> = {
      snapshot: ["db", "snapshot", "--url", url],
      snapshots: ["db", "snapshots"],
      show: ["db", "snapshot", "show", id],
      verify: ["db", "snapshot", "verify", id],
      download: ["db", "snapshot", "download", id, "--output", `${out}/x.dump`],
      prune: ["db", "snapshots", "prune"],
      restore: ["db", "restore", "--url", url, "--snapshot", id, "--force", "--skip-safety-snapshot"],
    };
    const results = await Promise.all(Object.entries(runs).map(async ([name, args]) => ({ name, r: await runEve(args, { env, timeoutMs: 60_000 }) })));
    for (const { name, r } of results) {
      const where = `${name}: ${r.stderr}`;
      expect(r.code, where).toBe(4);
      const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
      expect(errors, where).toHaveLength(1);
      expect(errors[0], where).toContain(`cannot reach ${endpoint} (ECONNREFUSED)`);
      expect(r.stderr + r.stdout, where).not.toContain("very-secret-key-value");
      expect(r.stderr + r.stdout, where).not.toContain(new URL(url).password);
    }
  }, 120_000);
});
