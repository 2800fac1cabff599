/**
 * A real S3-protocol server for tests and benches: s3rver (npm) in a child
 * process (same runtime as the caller) on a free loopback port, storing into
 * a temp directory, with one bucket created at start. stop() kills it hard
 * (SIGKILL: the server is simply gone, like a crashed or unreachable S3) and
 * removes the directory; start it again on the same port with restart().
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort } from "./pg.ts";

export interface S3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  bucket: string;
  port: number;
  /** Where s3rver keeps buckets and objects. */
  dir: string;
  /** Variables that point eve's S3 store at this server (pass as the store env). */
  env: Record<string, string>;
  /** s3://bucket/prefix for this server. */
  storeUrl(prefix?: string): string;
  /** Kill the server (SIGKILL) without removing its data; restart() brings it back. */
  kill(): Promise<void>;
  /** Start it again on the same port and directory. */
  restart(): Promise<void>;
  /** Kill the server and remove its directory. */
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

function launch(dir: string, port: number, bucket: string): Promise<ChildProcess> {
  const bin = require.resolve("s3rver/bin/s3rver.js");
  const child = spawn(process.execPath, [bin, "-d", dir, "-a", "127.0.0.1", "-p", String(port), "--silent", "--configure-bucket", bucket], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`s3rver did not start within 15s: ${out}`));
    }, 15_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (/S3rver listening on/.test(out)) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}) before listening: ${out}`));
    });
  });
}

function killHard(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/**
 * Start s3rver with one bucket.
 * @example const s3 = await startS3(); const store = openStore(s3.storeUrl("t"), s3.env); … await s3.stop();
 */
export async function startS3(opts: { bucket?: string } = {}): Promise<S3Server> {
  const bucket = opts.bucket ?? "eve-test";
  const dir = mkdtempSync(join(tmpdir(), "eve-s3-"));
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(dir, port, bucket);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    port,
    dir,
    env: {
      // s3rver's built-in credentials.
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
      EVE_S3_ENDPOINT: endpoint,
      EVE_S3_FORCE_PATH_STYLE: "1",
    },
    storeUrl: (prefix = "") => `s3://${bucket}${prefix ? "/" + prefix : ""}`,
    async kill() {
      await killHard(child);
      child = undefined;
    },
    async restart() {
      await killHard(child);
      child = await launch(dir, port, bucket);
    },
    async stop() {
      await killHard(child);
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
