/**
 * Keyset pagination for platform lists: newest first (ids sort by creation),
 * `limit` 1..200 (default 50), and an opaque base64url cursor holding the
 * last id of the previous page. Lists answer `{items, next_cursor}`.
 */
import { UsageError } from "../../core/errors.ts";
import { isId, type IdPrefix } from "./ids.ts";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

/** What a caller asks for (query-string values may arrive as text). */
export interface PageRequest {
  limit?: number | string | null;
  cursor?: string | null;
}

/** A page of a list. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Validated bounds: fetch `limit + 1` rows with id < `before` (when set), newest first. */
export interface PageBounds {
  limit: number;
  before: string | null;
}

/** The opaque cursor for a page ending at `id`. */
export function encodeCursor(id: string): string {
  return btoa(id).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeCursor(cursor: string, prefix: IdPrefix): string {
  let id = "";
  try {
    if (/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) id = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    /* reported below */
  }
  if (!isId(prefix, id)) {
    throw new UsageError("invalid cursor", { hint: "pass the next_cursor of the previous page unchanged, or omit it for the first page" });
  }
  return id;
}

/** Validate `limit` and `cursor` (E_USAGE naming the rule). */
export function pageBounds(req: PageRequest, prefix: IdPrefix): PageBounds {
  let limit = DEFAULT_LIMIT;
  if (req.limit !== undefined && req.limit !== null && req.limit !== "") {
    const n = typeof req.limit === "number" ? req.limit : /^\d{1,4}$/.test(req.limit) ? Number(req.limit) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
      throw new UsageError(`limit must be a whole number from 1 to ${MAX_LIMIT}`, { hint: `omit it for ${DEFAULT_LIMIT}` });
    }
    limit = n;
  }
  const before = req.cursor ? decodeCursor(req.cursor, prefix) : null;
  return { limit, before };
}

/** Turn `limit + 1` fetched rows into a page with the cursor of its last item when more follow. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const more = rows.length > limit;
  return { items, next_cursor: more && items.length ? encodeCursor(items[items.length - 1]!.id) : null };
}
