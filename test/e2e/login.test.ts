/**
 * eve login and the one precedence of remote settings: flag → variable →
 * profile, against a real eve server; the credentials file is 0600 in a 0700
 * directory and the token never appears in output.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runEve } from "../helpers/cli.ts";
import { tempDir } from "../helpers/fs.ts";
import { newPlatform, randomToken, startServer, type EveServer, type Platform } from "../helpers/eve-server.ts";

let platform: Platform;
let server: EveServer;

beforeAll(async () => {
  platform = await newPlatform();
  server = await startServer(platform);
}, 120_000);
afterAll(async () => {
  await server?.stop("SIGTERM");
});

test("login stores a 0600 profile that later commands use; flags beat variables beat the profile", async () => {
  const home = tempDir("eve-login-");
  const env = { XDG_CONFIG_HOME: home, HOME: home, EVE_API_URL: undefined, EVE_TOKEN: undefined, EVE_PROJECT: undefined, EVE_PROFILE: undefined };
  const eve = (args: string[], extra: Record<string, string | undefined> = {}) => runEve(args, { env: { ...env, ...extra } });

  const bad = await eve(["login", "--api", server.url, "--token", randomToken()]);
  expect(bad.code).toBe(3);
  expect(() => statSync(join(home, "eve/credentials.json"))).toThrow();

  const ok = await eve(["login", "--api", server.url, "--token", platform.adminToken, "--project", "shop"]);
  expect(ok.code).toBe(0);
  expect(ok.stdout + ok.stderr).not.toContain(platform.adminToken);
  const file = join(home, "eve/credentials.json");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(home, "eve")).mode & 0o777).toBe(0o700);
  expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ current: "default", profiles: { default: { api: server.url, project: "shop" } } });

  expect((await eve(["project", "create", "shop"])).code).toBe(0);
  const listed = await eve(["project", "list", "--json"]);
  expect(JSON.parse(listed.stdout).items.map((p: { name: string }) => p.name)).toEqual(["shop"]);

  // EVE_TOKEN beats the profile (a wrong one fails: exit 3), and --token beats EVE_TOKEN.
  const wrong = await eve(["project", "list"], { EVE_TOKEN: randomToken() });
  expect(wrong.code).toBe(3);
  expect(wrong.stderr).not.toMatch(/eve_pat_[0-9A-Za-z]{40}/);
  expect((await eve(["project", "list", "--token", platform.adminToken], { EVE_TOKEN: randomToken() })).code).toBe(0);

  const missing = await eve(["project", "list", "--profile", "nope"]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/no profile "nope"/);
  const unreachable = await eve(["project", "list", "--api", "http://127.0.0.1:1"]);
  expect(unreachable.code).toBe(3);
  expect(unreachable.stderr).toMatch(/cannot reach the control plane at http:\/\/127\.0\.0\.1:1/);

  // Bad input found in review: a manifest that is not text, and a bad --expires, each one line naming what to fix.
  const app = tempDir("eve-badmanifest-");
  writeFileSync(join(app, "bin.yaml"), new Uint8Array([0x73, 0x3a, 0x20, 0xff, 0xfe, 0x00, 0x01]));
  const binary = await eve(["env", "deploy", "--env", "dev", "--project", "shop", "--manifest", join(app, "bin.yaml")]);
  expect([binary.code, binary.stderr.split("\n")[0]]).toEqual([2, `error: the manifest ${join(app, "bin.yaml")} is not valid UTF-8: line 1, byte offset 3`]);
  const expiry = await eve(["token", "create", "--name", "x", "--project", "shop", "--expires", "10x"]);
  expect([expiry.code, expiry.stderr.split("\n")[0]]).toEqual([2, 'error: --expires must be a duration like 30s, 5m, 2h or 7d (got "10x")']);

  expect((await eve(["logout"])).code).toBe(0);
  const none = await eve(["project", "list"]);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/no control plane configured/);
}, 120_000);
