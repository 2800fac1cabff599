/** Temp directories and migration folders for tests. */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(prefix = "eve-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Write files (name → content) into `dir` (created if missing); returns dir. */
export function writeFiles(dir: string, files: Record<string, string | Uint8Array>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
