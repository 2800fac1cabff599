/**
 * Deno smoke test (run by CI: `deno test -A test/deno/smoke.ts`): the same
 * sources, untranspiled, apply the example migrations with `eve db migrate --url`,
 * and run `eve server` (Deno.serve) that provisions a tenant migrated with --env.
 */
import { execFileSync } from "node:child_process";
import { startCluster } from "../helpers/pg.ts";

declare const Deno: {
  test(name: string, fn: () => Promise<void>): void;
  execPath(): string;
  cwd(): string;
  makeTempDirSync(): string;
  writeTextFileSync(path: string, text: string): void;
};

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

Deno.test("eve server under Deno (Deno.serve): deploy a tenant and migrate it with --env", async () => {
  const { spawn } = await import("node:child_process");
  const cluster = await startCluster();
  let server: ReturnType<typeof spawn> | undefined;
  try {
    const base = { NO_COLOR: "1", PATH: "/usr/bin:/bin", HOME: "/tmp" };
    execFileSync(Deno.execPath(), ["run", "-A", "cli/main.ts", "db", "sql", "--write", "--url", cluster.url, "--sql", "create database platform"], { env: base });
    const bytes = crypto.getRandomValues(new Uint8Array(40));
    const token = "eve_pat_" + [...bytes].map((b) => "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[b % 62]).join("");
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    server = spawn(Deno.execPath(), ["run", "-A", "cli/main.ts", "server", "--listen", "127.0.0.1:0"], {
      env: { ...base, EVE_DATABASE_URL: cluster.url.replace(/\/postgres$/, "/platform"), EVE_MASTER_KEY: key, EVE_ADMIN_TOKEN: token },
      stdio: ["ignore", "pipe", "ignore"],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("eve server under Deno did not start")), 60_000);
      server!.stdout!.on("data", (d: Uint8Array) => {
        out += new TextDecoder().decode(d);
        const m = /^(http:\/\/\S+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const ready = await (await fetch(url + "/readyz")).json();
    if (!ready.ready) throw new Error(`not ready: ${JSON.stringify(ready)}`);
    const cliEnv = { ...base, EVE_API_URL: url, EVE_TOKEN: token, EVE_PROJECT: "shop", XDG_CONFIG_HOME: "/tmp/eve-deno-cfg" };
    const eve = (...args: string[]) => execFileSync(Deno.execPath(), ["run", "-A", "cli/main.ts", ...args], { encoding: "utf8", env: cliEnv, cwd: Deno.cwd() });
    eve("admin", "instances", "add", "--admin-url", cluster.url, "--engine-version", /postgresql\/(\d+)/.exec(cluster.binDir)?.[1] ?? "15");
    eve("project", "create", "shop");
    const dir = Deno.makeTempDirSync();
    Deno.writeTextFileSync(`${dir}/manifest.yaml`, "services:\n  db:\n    x-eve:\n      role: managed_db\n      managed: {class: db.p1, engine: postgres}\n");
    const deployed = eve("env", "deploy", "--env", "dev", "--manifest", `${dir}/manifest.yaml`);
    if (!deployed.includes("provisioned")) throw new Error(`unexpected deploy output: ${deployed}`);
    const out = eve("db", "migrate", "--env", "dev", "--path", "examples/migrations");
    if (!out.includes("applied 4 migrations")) throw new Error(`unexpected output: ${out}`);
  } finally {
    server?.kill("SIGTERM");
    cluster.stop();
  }
});
