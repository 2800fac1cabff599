import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  candidatePaths,
  chooseClient,
  findPgTool,
  majorFromVersionNum,
  parsePgVersion,
  runTool,
  spawnTool,
  type PgToolCandidate,
} from "../../../core/pgtools/index.ts";

const tmp = mkdtempSync(join(tmpdir(), "eve-pgtools-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake pg_dump script printing `version` for --version. */
function fakeTool(dir: string, name: string, versionLine: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\necho "${versionLine}"\n`);
  chmodSync(p, 0o755);
  return p;
}

const v = (s: string) => parsePgVersion(s);
const cand = (path: string, version: string | null, source: PgToolCandidate["source"] = "PATH", error?: string): PgToolCandidate => ({
  path,
  source,
  version: version === null ? null : v(version),
  ...(error ? { error } : {}),
});

describe("versions (pure)", () => {
  test("parsePgVersion", () => {
    expect(v("pg_dump (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)")).toEqual({ major: 15, minor: 8, text: "15.8" });
    expect(v("pg_restore (PostgreSQL) 17.2")).toEqual({ major: 17, minor: 2, text: "17.2" });
    expect(v("psql (PostgreSQL) 18beta1")).toEqual({ major: 18, minor: 0, text: "18beta1" });
    expect(v("pg_dump (PostgreSQL) 9.6.24")).toEqual({ major: 9.6, minor: 24, text: "9.6.24" });
    expect(v("16.4 (Ubuntu 16.4-1.pgdg22.04+1)")).toEqual({ major: 16, minor: 4, text: "16.4" });
    expect(v("15devel")).toEqual({ major: 15, minor: 0, text: "15devel" });
    expect(v("command not found")).toBeNull();
    expect(v("")).toBeNull();
  });

  test("majorFromVersionNum", () => {
    expect(majorFromVersionNum(150008)).toBe(15);
    expect(majorFromVersionNum("170002")).toBe(17);
    expect(majorFromVersionNum(90624)).toBe(9.6);
    expect(() => majorFromVersionNum("x")).toThrow();
  });
});

describe("chooseClient (pure)", () => {
  const list = [
    cand("/usr/bin/pg_dump", "15.8"),
    cand("/usr/lib/postgresql/16/bin/pg_dump", "16.4", "system"),
    cand("/usr/lib/postgresql/14/bin/pg_dump", "14.1", "system"),
  ];

  test("the first candidate (search order) at least as new as the server", () => {
    expect(chooseClient("pg_dump", list, 15).path).toBe("/usr/bin/pg_dump");
    expect(chooseClient("pg_dump", list, 14).path).toBe("/usr/bin/pg_dump");
    const t = chooseClient("pg_dump", list, 16);
    expect(t).toEqual({ name: "pg_dump", path: "/usr/lib/postgresql/16/bin/pg_dump", source: "system", version: v("16.4")! });
    expect(chooseClient("pg_dump", list).path).toBe("/usr/bin/pg_dump");
    expect(chooseClient("pg_dump", [cand("/x/pg_dump", "9.6.24")], 9.6).version.text).toBe("9.6.24");
  });

  test("too old: E_PG_CLIENT listing what was found, with a hint", () => {
    let err: any;
    try {
      chooseClient("pg_dump", list, 17);
    } catch (e) {
      err = e;
    }
    expect(err.code).toBe("E_PG_CLIENT");
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe(
      "pg_dump 17 or newer is needed for a PostgreSQL 17 server; found: /usr/bin/pg_dump (15.8), /usr/lib/postgresql/16/bin/pg_dump (16.4), /usr/lib/postgresql/14/bin/pg_dump (14.1)",
    );
    expect(err.hint).toContain("postgresql-client-17");
    expect(err.hint).toContain("EVE_PG_BIN");
    expect(err.details.found).toHaveLength(3);
  });

  test("nothing found, unusable candidates, and a custom reason", () => {
    expect(() => chooseClient("pg_restore", [], 15, { searched: "EVE_PG_BIN (/opt/pg)" })).toThrow(
      "pg_restore not found (looked in EVE_PG_BIN (/opt/pg))",
    );
    expect(() => chooseClient("pg_dump", [cand("/bad/pg_dump", null, "PATH", "EACCES")], 15)).toThrow(
      "no usable pg_dump; found: /bad/pg_dump (unusable: EACCES)",
    );
    expect(() => chooseClient("pg_restore", [cand("/usr/bin/pg_restore", "15.8")], 16, { why: "to read an archive written by pg_dump 16" })).toThrow(
      "pg_restore 16 or newer is needed to read an archive written by pg_dump 16; found: /usr/bin/pg_restore (15.8)",
    );
  });
});

describe("locating the installed tools", () => {
  test("finds pg_dump, pg_restore and psql 15 here", async () => {
    const env = { PATH: process.env.PATH };
    for (const tool of ["pg_dump", "pg_restore", "psql"] as const) {
      const t = await findPgTool(tool, { env, minMajor: 15 });
      expect(t.name).toBe(tool);
      expect(t.version.major).toBeGreaterThanOrEqual(15);
      expect(t.path.endsWith("/" + tool)).toBe(true);
    }
    // Without PATH, the well-known directory still finds it.
    const sys = await findPgTool("pg_dump", { env: {}, minMajor: 15 });
    expect(sys.source).toBe("system");
    expect(sys.path).toMatch(/^\/usr\/lib\/postgresql\/\d+\/bin\/pg_dump$/);
    const err = await findPgTool("pg_dump", { env: {}, minMajor: 99 }).catch((e) => e);
    expect(err.code).toBe("E_PG_CLIENT");
    expect(err.message).toMatch(/^pg_dump 99 or newer is needed for a PostgreSQL 99 server; found: \/usr\/lib\/postgresql\/\d+\/bin\/pg_dump \(\d+\.\d+\)/);
  });

  test("EVE_PG_BIN is the only place looked at when set; PATH order is kept", async () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    fakeTool(a, "pg_dump", "pg_dump (PostgreSQL) 14.3");
    fakeTool(b, "pg_dump", "pg_dump (PostgreSQL) 16.1");
    fakeTool(join(tmp, "c"), "pg_dump", "garbage");
    const only = await findPgTool("pg_dump", { env: { EVE_PG_BIN: b, PATH: a } });
    expect([only.path, only.source, only.version.text]).toEqual([join(b, "pg_dump"), "EVE_PG_BIN", "16.1"]);
    const err = await findPgTool("pg_dump", { env: { EVE_PG_BIN: a }, minMajor: 15 }).catch((e) => e);
    expect(err.message).toBe(`pg_dump 15 or newer is needed for a PostgreSQL 15 server; found: ${join(a, "pg_dump")} (14.3)`);
    const missing = await findPgTool("pg_restore", { env: { EVE_PG_BIN: a } }).catch((e) => e);
    expect(missing.message).toBe(`pg_restore not found (looked in EVE_PG_BIN (${a}))`);

    const paths = candidatePaths("pg_dump", { PATH: [join(tmp, "c"), a, b, a].join(":") }).filter((c) => c.source === "PATH");
    expect(paths.map((c) => c.path)).toEqual([join(tmp, "c", "pg_dump"), join(a, "pg_dump"), join(b, "pg_dump")]);
    // PATH order wins among new-enough candidates; unparsable ones are skipped.
    const t = await findPgTool("pg_dump", { env: { PATH: [join(tmp, "c"), a, b].join(":") }, minMajor: 14 });
    expect(t.path).toBe(join(a, "pg_dump"));
  });
});

describe("spawnTool / runTool", () => {
  test("stdout as a web stream, stdin as a writable, exit status and stderr", async () => {
    const p = spawnTool("/bin/sh", ["-c", "cat; echo oops >&2; exit 3"], { stdin: "pipe" });
    const w = p.stdin!.getWriter();
    const payload = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const writing = (async () => {
      await w.write(payload);
      await w.close();
    })();
    const out = new Uint8Array(await new Response(p.stdout).arrayBuffer());
    await writing;
    const exit = await p.exited;
    expect(out).toEqual(payload);
    expect(exit).toEqual({ code: 3, signal: null, stderr: "oops", aborted: false, ok: false });
  });

  test("runTool runs the real pg_dump --version", async () => {
    const t = await findPgTool("pg_dump", { env: { PATH: process.env.PATH } });
    const r = await runTool(t.path, ["--version"]);
    expect(r.ok).toBe(true);
    expect(parsePgVersion(r.stdout)?.text).toBe(t.version.text);
    const withInput = await runTool("/bin/sh", ["-c", "tr a-z A-Z"], { input: "hello" });
    expect(withInput.stdout).toBe("HELLO");
  });

  test("stderr is capped, keeping its start and its end", async () => {
    const r = await runTool("/bin/sh", ["-c", "echo FIRST >&2; head -c 300000 /dev/zero | tr '\\0' x >&2; echo >&2; echo LAST >&2"], {
      stderrLimit: 1000,
    });
    expect(r.stderr.startsWith("FIRST")).toBe(true);
    expect(r.stderr.endsWith("LAST")).toBe(true);
    expect(r.stderr).toContain("bytes of output omitted");
    expect(r.stderr.length).toBeLessThan(1100);
  });

  test("the cap cuts only at line ends: a line split by it (a secret in it) is dropped whole", async () => {
    // Lines of "password=<secret>" around both cut points: no fragment of a
    // secret may survive, since a fragment is too short to be redacted later.
    const script = "for i in $(seq 1 200); do echo \"password=S3cretValue$i-abcdefghijklmnop\" >&2; done";
    const r = await runTool("/bin/sh", ["-c", script], { stderrLimit: 1000 });
    expect(r.stderr).toContain("bytes of output omitted");
    for (const line of r.stderr.split("\n")) {
      if (line.includes("omitted")) continue;
      expect(line).toMatch(/^password=S3cretValue\d+-abcdefghijklmnop$/);
    }
  });

  test("abort kills the process; the stream ends and exited says aborted", async () => {
    const ac = new AbortController();
    const p = spawnTool("/usr/bin/yes", [], { signal: ac.signal });
    const reader = p.stdout.getReader();
    await reader.read();
    ac.abort();
    for (;;) if ((await reader.read()).done) break;
    const exit = await p.exited;
    expect(exit.aborted).toBe(true);
    expect(exit.ok).toBe(false);
    expect(exit.signal).toBe("SIGTERM");
  });

  test("a missing executable rejects exited with E_PG_SPAWN", async () => {
    const p = spawnTool(join(tmp, "no-such-tool"), []);
    const err = await p.exited.catch((e) => e);
    expect(err.code).toBe("E_PG_SPAWN");
    expect(err.message).toContain("ENOENT");
    const streamErr = await new Response(p.stdout).arrayBuffer().then(
      () => null,
      (e) => e,
    );
    // Either an empty stream or the same spawn error, never a hang.
    expect(streamErr === null || streamErr.code === "E_PG_SPAWN").toBe(true);
  });
});
