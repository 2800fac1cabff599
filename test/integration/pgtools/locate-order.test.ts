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
