/**
 * `eve help environment` lists every environment variable eve reads: each
 * `env.NAME` / `env["NAME"]` in the shipped code must appear in the table.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runEve, repoRoot } from "../helpers/cli.ts";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("every variable read in cli/, core/ and plugins/ is documented", async () => {
  const read = new Set<string>();
  for (const file of ["cli", "core", "plugins"].flatMap((d) => sources(join(repoRoot, d)))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\benv(?:\?)?\.([A-Z][A-Z0-9_]+)\b|\benv\[\s*"([A-Z][A-Z0-9_]+)"\s*\]/g)) read.add(m[1] ?? m[2]!);
  }
  // Sanity: the scan finds the well-known ones.
  for (const v of ["DATABASE_URL", "MIGRATIONS_DIR", "PGCONNECT_TIMEOUT", "EVE_PG_BIN", "AWS_REGION", "NO_COLOR"]) expect(read).toContain(v);
  const r = await runEve(["help", "environment"]);
  expect(r.code).toBe(0);
  const listed = r.stdout;
  const missing = [...read].filter((v) => !new RegExp(`\\b${v}\\b`).test(listed));
  expect(missing).toEqual([]);
  // Names are aligned in one column.
  const rows = listed.split("\n").filter((l) => l.startsWith("  "));
  const column = new Set(rows.map((l) => /^ {2}\S.*?\s{2,}(?=\S)/.exec(l)![0].length));
  expect(column.size).toBe(1);
});

test("eve help exit-codes documents 130 (Ctrl-C) and 143 (SIGTERM, with the grace period)", async () => {
  const r = await runEve(["help", "exit-codes"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/\n {2}130 {2}interrupted \(Ctrl-C\): work in progress was cancelled on the server and rolled back/);
  expect(r.stdout).toMatch(/\n {2}143 {2}terminated \(SIGTERM\): .*2\.5 s after the signal, eve exits anyway/);
  expect(r.stdout).toMatch(/\n {4}4 {2}.*the snapshot store failed or is unreachable/);
  const wipe = await runEve(["db", "wipe", "--help"]);
  expect(wipe.stdout).toContain("--lock-timeout <duration>");
  const reset = await runEve(["db", "reset", "--help"]);
  expect(reset.stdout).toContain("--lock-timeout <duration>");
});
