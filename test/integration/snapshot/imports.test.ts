/**
 * No import cycles in the snapshot plugin and the store layer (type-only
 * imports count: they tie the modules together just the same), and neither
 * reaches outside its boundary (core never imports a plugin; the snapshot
 * plugin no other plugin). Read from the sources, as madge would.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { repoRoot } from "../../helpers/cli.ts";

const ROOTS = ["plugins/snapshot", "core/store"];

function sources(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

/** Relative specifiers of every import / export … from / dynamic import in a file, resolved to repo paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(repoRoot, file), "utf8");
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s+["']([^"']+)["']/g)].map(
    (m) => m[1] ?? m[2] ?? m[3]!,
  );
  return specs.filter((s) => s.startsWith(".")).map((s) => relative(repoRoot, resolve(repoRoot, dirname(file), s)));
}

/** Every cycle through the files of `graph`, each as a path that ends where it starts. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (!graph.has(g)) continue;
      if (state.get(g) === "open") found.push([...stack.slice(stack.indexOf(g)), g]);
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

const graph = new Map(ROOTS.flatMap(sources).map((f) => [f, importsOf(f)]));

describe("imports", () => {
  test("the reader sees the imports (a known edge of each kind is found)", () => {
    expect(graph.get("plugins/snapshot/restore.ts")).toContain("plugins/snapshot/restore-swap.ts");
    expect(graph.get("plugins/snapshot/restore-swap.ts")).toContain("plugins/snapshot/restore-options.ts"); // import type
    expect(graph.get("core/store/index.ts")).toContain("core/store/types.ts"); // export type … from
    expect(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]))).toEqual([["a", "b", "c", "a"]]);
  });

  test("no cycles in plugins/snapshot and core/store", () => {
    expect(cycles(graph)).toEqual([]);
  });

  test("core/store imports no plugin; the snapshot plugin no other plugin", () => {
    const crossing = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => (f.startsWith("core/") && d.startsWith("plugins/")) || (f.startsWith("plugins/snapshot/") && d.startsWith("plugins/") && !d.startsWith("plugins/snapshot/"))).map((d) => `${f} → ${d}`),
    );
    expect(crossing).toEqual([]);
  });
});
