/**
 * The TLS side of issue 7 §3: a real Postgres with SSL (sslmode=require works
 * through eve's guarded socket; verify-full with an untrusted certificate is
 * exit 3), and endpoints that complete the TLS handshake and then are not
 * Postgres (the plaintext is invisible to the guard: at most two connections).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import tls from "node:tls";
import { runEve } from "../helpers/cli.ts";
import { fakeEndpoint, type FakeEndpoint } from "../helpers/fake-endpoint.ts";
import { startCluster, type Cluster } from "../helpers/pg.ts";

let dir: string;
let key: Buffer;
let cert: Buffer;
let cluster: Cluster;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "eve-tls-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "server.key"), "-out", join(dir, "server.crt"), "-days", "2", "-subj", "/CN=127.0.0.1"], { stdio: "ignore" });
  key = readFileSync(join(dir, "server.key"));
  cert = readFileSync(join(dir, "server.crt"));
  if (typeof process.getuid === "function" && process.getuid() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    for (const f of ["server.key", "server.crt"]) chownSync(join(dir, f), uid, -1);
  }
  chmodSync(join(dir, "server.key"), 0o600);
  chmodSync(dir, 0o755);
  cluster = await startCluster({ settings: { ssl: "on", ssl_cert_file: join(dir, "server.crt"), ssl_key_file: join(dir, "server.key") } });
}, 120_000);

afterAll(() => cluster?.stop());

const withSsl = (mode: string) => {
  const u = new URL(cluster.url);
  u.searchParams.set("sslmode", mode);
  return u.toString();
};

describe("a real Postgres with SSL", () => {
  test("sslmode=require and prefer use TLS; disable does not", async () => {
    for (const [mode, expected] of [["require", "t"], ["prefer", "t"], ["disable", "f"]] as const) {
      const r = await runEve(["db", "sql", "--url", withSsl(mode), "--sql", "select ssl from pg_stat_ssl where pid = pg_backend_pid()", "--csv"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`ssl\n${expected}\n`);
    }
  });

  test("verify-full with a certificate this system does not trust: exit 3, one line saying so, no retry loop with --wait", async () => {
    const r = await runEve(["db", "status", "--url", withSsl("verify-full")]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^error: cannot connect to postgres@127\.0\.0\.1:\d+\/postgres: the server's certificate was not accepted: self[- ]signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)\n/);
    const started = performance.now();
    const w = await runEve(["db", "status", "--wait", "--wait-timeout", "30s", "--url", withSsl("verify-full")]);
    expect(w.code).toBe(3);
    expect((performance.now() - started) / 1000).toBeLessThan(15); // not retried for 30 s
  });
});

/** A server that answers the SSL request with 'S', completes the handshake, then does `after`. */
async function tlsFake(after: (t: tls.TLSSocket) => void): Promise<FakeEndpoint> {
  return fakeEndpoint((c) => {
    c.once("data", () => {
      c.write("S");
      const t = new tls.TLSSocket(c, { isServer: true, key, cert });
      t.on("error", () => {});
      t.on("secure", () => after(t));
    });
  });
}

describe("an endpoint that speaks TLS but is not Postgres behind it", () => {
  for (const [kind, after] of [
    ["closes right after the handshake", (t: tls.TLSSocket) => t.destroy()],
    ["answers HTTP inside TLS and closes", (t: tls.TLSSocket) => t.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")],
  ] as const) {
    test(kind, async () => {
      const f = await tlsFake(after);
      const started = performance.now();
      const r = await runEve(["db", "status", "--url", `postgres://eve:pw@127.0.0.1:${f.port}/app?sslmode=require&connect_timeout=3`], { timeoutMs: 30_000 });
      const seconds = (performance.now() - started) / 1000;
      await Bun.sleep(300);
      const accepted = f.accepted();
      await f.close();
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain("the server closed the connection during the Postgres startup after the SSL handshake");
      expect(accepted).toBeLessThanOrEqual(2);
      expect(seconds).toBeLessThan(3 + 10);
    });
  }
});
