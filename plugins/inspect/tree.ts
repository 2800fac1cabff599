/**
 * A tiny tree printer for human output: nodes with children, drawn with
 * box characters, plus a helper that aligns the cells of sibling lines.
 */
import { displayWidth } from "../../core/io.ts";

export interface TreeNode {
  text: string;
  children?: TreeNode[];
}

/** Render nodes below a root line (not drawn) as an indented tree. */
export function renderTree(nodes: TreeNode[], prefix = ""): string[] {
  const lines: string[] = [];
  nodes.forEach((n, i) => lines.push(...renderNode(n, i === nodes.length - 1, prefix)));
  return lines;
}

/** One node and its subtree; `last` draws it as the final sibling. */
export function renderNode(n: TreeNode, last: boolean, prefix = ""): string[] {
  const lines = [prefix + (last ? "└─ " : "├─ ") + n.text];
  if (n.children?.length) lines.push(...renderTree(n.children, prefix + (last ? "   " : "│  ")));
  return lines;
}

/** Pad every cell but the last so the columns line up; empty trailing cells are dropped. */
export function alignCells(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(c))));
  return rows.map((r) => {
    const cells = [...r];
    while (cells.length && !cells[cells.length - 1]) cells.pop();
    return cells.map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - displayWidth(c)))).join("  ");
  });
}

/** Collapse whitespace and cut to `max` characters with an ellipsis. */
export function oneLine(text: string, max = 100): string {
  const s = text.replace(/\s+/g, " ").trim();
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

/** A group node, or nothing when it has no children. */
export function group(title: string, children: TreeNode[]): TreeNode[] {
  return children.length ? [{ text: title, children }] : [];
}

/** Leaves from aligned rows. */
export function leaves(rows: string[][]): TreeNode[] {
  return alignCells(rows).map((text) => ({ text }));
}
