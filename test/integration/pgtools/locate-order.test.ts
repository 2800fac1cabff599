import { expect, test } from "bun:test";
import { realpathSync } from "node:fs";
import { basename } from "node:path";
import { candidatePaths } from "../../../core/pgtools/index.ts";

test("Debian's pg_wrapper on PATH is tried after the real binaries it dispatches to", () => {
  const found = candidatePaths("pg_dump", { PATH: "/usr/bin:/bin" });
  const reals = found.map((c) => basename(realpathSync(c.path)));
  // On this machine /usr/bin/pg_dump is the wrapper; a real pg_dump must come first.
  if (reals.includes("pg_wrapper")) {
    expect(reals[0]).toBe("pg_dump");
    expect(reals[reals.length - 1]).toBe("pg_wrapper");
  }
  expect(found[0]!.path).toMatch(/\/pg_dump$/);
  expect(reals[0]).toBe("pg_dump");
});

test("a pg_wrapper is probed only when no real binary will do (each probe is a Perl start-up)", async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, chmodSync, symlinkSync, readFileSync, existsSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { findPgTool } = await import("../../../core/pgtools/index.ts");
  const tmp = mkdtempSync(join(tmpdir(), "eve-wrapper-"));
  try {
    const count = join(tmp, "probes");
    const wdir = join(tmp, "share");
    mkdirSync(wdir);
    writeFileSync(join(wdir, "pg_wrapper"), `#!/bin/sh\necho x >> ${count}\necho "pg_dump (PostgreSQL) 17.2"\n`);
    chmodSync(join(wdir, "pg_wrapper"), 0o755);
    const bin = join(tmp, "bin");
    mkdirSync(bin);
    symlinkSync(join(wdir, "pg_wrapper"), join(bin, "pg_dump"));
    const real = join(tmp, "real");
    mkdirSync(real);
    writeFileSync(join(real, "pg_dump"), `#!/bin/sh\necho "pg_dump (PostgreSQL) 15.4"\n`);
    chmodSync(join(real, "pg_dump"), 0o755);
    const env = { PATH: [bin, real].join(":") };
    // Probe results are cached per path; these paths are new to this process.
    const t = await findPgTool("pg_dump", { env, minMajor: 15 });
    expect(t.path).toBe(join(real, "pg_dump"));
    expect(existsSync(count)).toBe(false);
    // A 17 server: the real 15 will not do, so the wrapper is probed and chosen.
    const w = await findPgTool("pg_dump", { env, minMajor: 17 });
    expect(w.path).toBe(join(bin, "pg_dump"));
    expect(readFileSync(count, "utf8").trim().split("\n").length).toBe(1);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
