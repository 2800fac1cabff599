/**
 * Throwaway Postgres clusters for tests, benchmarks and the README demo.
 * initdb refuses to run as root, so as root the cluster belongs to the
 * `postgres` OS user. Password auth (scram-sha-256), a free loopback port, a
 * temp directory, stopped (and removed) by stop().
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export interface Cluster {
  /** Superuser URL to the `postgres` database. */
  url: string;
  port: number;
  password: string;
  dir: string;
  binDir: string;
  stop(): void;
}

/** Directory holding initdb/pg_ctl: EVE_PG_BIN, else the newest /usr/lib/postgresql/N/bin. */
export function pgBinDir(): string {
  if (process.env.EVE_PG_BIN) return process.env.EVE_PG_BIN;
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => +b - +a) : [];
  for (const v of versions) if (existsSync(join(base, v, "bin", "initdb"))) return join(base, v, "bin");
  throw new Error("no Postgres server binaries found: install postgresql (apt-get install postgresql) or set EVE_PG_BIN");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

function asPostgres(cmd: string, args: string[], opts: { input?: string } = {}): void {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: "utf8", input: opts.input });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
}

/** Start a fresh cluster. Options tuned for speed (no fsync): tests and benches only. */
export async function startCluster(opts: { settings?: Record<string, string> } = {}): Promise<Cluster> {
  const binDir = pgBinDir();
  const dir = mkdtempSync(join(tmpdir(), "eve-pg-"));
  const data = join(dir, "data");
  const password = "pw" + Math.random().toString(36).slice(2, 12);
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, password + "\n");
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  asPostgres(join(binDir, "initdb"), ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
  const port = await freePort();
  const settings = {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: dir,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "200",
    ...opts.settings,
  };
  const o = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" ");
  asPostgres(join(binDir, "pg_ctl"), ["-D", data, "-o", o, "-l", join(dir, "log"), "-w", "-t", "60", "start"]);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      asPostgres(join(binDir, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, port, password, dir, binDir, stop };
}
