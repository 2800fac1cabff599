/**
 * Release build: compiles cli/main.ts into self-contained executables.
 *   bun build.ts            → dist/eve (this machine)
 *   bun build.ts --all      → dist/eve-<os>-<arch>[.exe] for every release target
 * Version and commit are baked in; .env and bunfig.toml autoloading are off so
 * the binary behaves the same wherever it runs.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import process from "node:process";
import pkg from "./package.json" with { type: "json" };

const targets = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
  "darwin-x64": "bun-darwin-x64",
  "windows-x64": "bun-windows-x64",
} as const;

function commit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

async function compile(target: Bun.Build.CompileTarget | undefined, outfile: string): Promise<void> {
  const result = await Bun.build({
    // The sql plan worker is a separate entrypoint (Bun bundles workers only when listed).
    entrypoints: ["./cli/main.ts", "./plugins/sql/plan-worker.ts"],
    minify: true,
    sourcemap: "none",
    bytecode: true,
    format: "esm",
    define: {
      EVE_BUILD_VERSION: JSON.stringify(pkg.version),
      EVE_BUILD_COMMIT: JSON.stringify(commit()),
    },
    compile: {
      ...(target ? { target } : {}),
      outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build failed for ${target ?? "host"}`);
  }
  console.log(`built ${outfile}`);
}

mkdirSync("dist", { recursive: true });
if (process.argv.includes("--all")) {
  for (const [name, target] of Object.entries(targets)) {
    await compile(target as Bun.Build.CompileTarget, `dist/eve-${name}${name.startsWith("windows") ? ".exe" : ""}`);
  }
} else {
  await compile(undefined, "dist/eve");
}
