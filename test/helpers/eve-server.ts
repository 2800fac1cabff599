/**
 * A real `eve server` process (the compiled binary when EVE_E2E_BIN is set,
 * else `bun cli/main.ts`) on a loopback port picked by the OS, and the pieces
 * a test needs around it: the platform database, the master key, an admin
 * token given through EVE_ADMIN_TOKEN, and a CLI runner pointed at it with a
 * private credentials directory.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { eveCommand, repoRoot, runEve, type RunResult } from "./cli.ts";
import { freshDatabase } from "./db.ts";
import { tempDir } from "./fs.ts";

export interface EveServer {
  url: string;
  pid: number;
  stderr(): string;
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Platform {
  databaseUrl: string;
  masterKey: string;
  adminToken: string;
  env: Record<string, string>;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A token of the eve_pat_ shape (for EVE_ADMIN_TOKEN). */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(40));
  return "eve_pat_" + [...bytes].map((b) => BASE62[b % 62]).join("");
}

/** A fresh platform database and the server settings for it. */
export async function newPlatform(): Promise<Platform> {
  const databaseUrl = await freshDatabase("platform");
  const masterKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  const adminToken = randomToken();
  return { databaseUrl, masterKey, adminToken, env: { EVE_DATABASE_URL: databaseUrl, EVE_MASTER_KEY: masterKey, EVE_ADMIN_TOKEN: adminToken } };
}

/** Start a server on the platform; resolves once it printed its URL. */
export async function startServer(p: Platform, extraEnv: Record<string, string> = {}): Promise<EveServer> {
  const [cmd, ...pre] = eveCommand();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...p.env, ...extraEnv })) if (v !== undefined && k !== "DATABASE_URL") env[k] = v;
  const child = spawn(cmd!, [...pre, "server", "--listen", "127.0.0.1:0"], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("close", (code, signal) => res({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`eve server did not start in 60 s:\n${err}`)), 60_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^(http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`eve server exited (${e.code ?? e.signal}) before listening:\n${err}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    stderr: () => err,
    async stop(signal = "SIGTERM") {
      child.kill(signal);
      return exited;
    },
  };
}

/** Run the CLI against a server, with its own credentials directory (nothing from the developer's). */
export function cliFor(server: { url: string }, token: string, extra: Record<string, string> = {}) {
  const config = tempDir("eve-cfg-");
  const env = { XDG_CONFIG_HOME: config, HOME: config, EVE_API_URL: server.url, EVE_TOKEN: token, ...extra };
  return (args: string[], o: { cwd?: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> =>
    runEve(args, { ...o, env: { ...env, ...o.env } });
}
