/**
 * Owners and privileges of a restore. Before anything changes, the archive's
 * table of contents (`pg_restore --list`) says who owns what, and its ACL
 * entries alone (`pg_restore -L <ACL entries> -f -`, nothing but the GRANT /
 * REVOKE / ALTER DEFAULT PRIVILEGES lines pg_dump writes, one per line) say
 * which roles are granted what. Roles the target server lacks refuse the
 * restore with the two ways out (create them, or --no-owner / --no-acl); a
 * role that may not act as those owners (not a member, PG16+: without SET)
 * refuses too. A non-superuser restore runs in two passes, schemas and their
 * grants first, because ALTER … OWNER TO needs the new owner to hold CREATE on
 * the schema, and pg_restore applies every grant only at the end.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Db } from "../../core/db/index.ts";
import { EveError, ExitCode } from "../../core/errors.ts";
import type { Store } from "../../core/store/types.ts";
import type { SnapshotRecord } from "./schema.ts";
import { pumpVerified } from "./streams.ts";
import { cleanStderr, spawnTool, toolFailed, type PgTool } from "./tools.ts";

/** One line of `pg_restore --list`. */
export interface TocEntry {
  line: string;
  desc: string;
  /** Owner field ("" when the entry has none). */
  owner: string;
}

export interface Archive {
  toc: TocEntry[];
  /** Roles owning objects (ACL entries excluded). */
  owners: string[];
  /** ACL and DEFAULT ACL entries. */
  aclEntries: number;
  /** Roles named by the grants (grantees, FOR ROLE, SET SESSION AUTHORIZATION); PUBLIC excluded. */
  aclRoles: string[];
  /** Roles the restoring role must act as to apply the grants (FOR ROLE of default privileges). */
  aclActors: string[];
  /** Grants made by someone other than the owner (pg_dump writes SET SESSION AUTHORIZATION: superuser only). */
  grantors: string[];
}

/** How the restore treats owners and grants. */
export interface Preserve {
  owners: boolean;
  acl: boolean;
}

const KNOWN_DESCS = [
  "DEFAULT ACL", "TABLE DATA", "SEQUENCE SET", "SEQUENCE OWNED BY", "FK CONSTRAINT", "CHECK CONSTRAINT", "MATERIALIZED VIEW DATA",
  "MATERIALIZED VIEW", "LARGE OBJECT", "ROW SECURITY", "EVENT TRIGGER", "FOREIGN TABLE", "FOREIGN DATA WRAPPER", "FOREIGN SERVER",
  "USER MAPPING", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
  "OPERATOR CLASS", "OPERATOR FAMILY", "PROCEDURAL LANGUAGE", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "SHELL TYPE",
  "INDEX ATTACH", "TABLE ATTACH", "ACCESS METHOD", "ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE PROPERTIES",
];

/** Parse `pg_restore --list` output; `spaced` are role names containing spaces (the owner field is the rest of the line). */
export function parseToc(text: string, spaced: string[] = []): TocEntry[] {
  const out: TocEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^\d+; \d+ \d+ (.*)$/.exec(line);
    if (!m) continue;
    const rest = m[1]!;
    const desc = KNOWN_DESCS.find((d) => rest.startsWith(d + " ")) ?? rest.split(" ")[0]!;
    const long = spaced.filter((r) => rest.endsWith(" " + r)).sort((a, b) => b.length - a.length)[0];
    const owner = long ?? rest.slice(rest.lastIndexOf(" ") + 1);
    out.push({ line, desc, owner });
  }
  return out;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replaceAll('""', '"') : s);

/** Roles named by pg_dump's ACL statements (one statement per line). */
export function parseAclSql(sql: string): { roles: string[]; actors: string[]; grantors: string[] } {
  const roles = new Set<string>();
  const actors = new Set<string>();
  const grantors = new Set<string>();
  for (const raw of sql.split("\n")) {
    const line = raw.trim();
    let m = new RegExp(`^SET SESSION AUTHORIZATION (${IDENT});$`).exec(line);
    if (m) {
      grantors.add(unquote(m[1]!));
      continue;
    }
    if (!/^(GRANT|REVOKE|ALTER DEFAULT PRIVILEGES) /.test(line)) continue;
    m = new RegExp(`^ALTER DEFAULT PRIVILEGES FOR ROLE (${IDENT}) `).exec(line);
    if (m) actors.add(unquote(m[1]!));
    m = new RegExp(` (?:TO|FROM) (${IDENT})(?: WITH GRANT OPTION)?;$`).exec(line);
    if (m && m[1] !== "PUBLIC") roles.add(unquote(m[1]!));
  }
  for (const a of [...actors, ...grantors]) roles.add(a);
  return { roles: [...roles].sort(), actors: [...actors].sort(), grantors: [...grantors].sort() };
}

const isAcl = (e: TocEntry) => e.desc === "ACL" || e.desc === "DEFAULT ACL";

/**
 * Run pg_restore `args` on the archive (from `file`, or streamed from the
 * store: pg_restore stops reading once it has what it needs, e.g. the table
 * of contents), returning its stdout.
 */
async function onArchive(
  pgRestore: PgTool,
  args: string[],
  src: { store: Store; rec: SnapshotRecord; file?: string | null },
  env: Record<string, string | undefined>,
  signal?: AbortSignal,
): Promise<string> {
  const proc = spawnTool(pgRestore.path, src.file ? [...args, src.file] : args, { env, stdin: src.file ? "ignore" : "pipe", signal });
  const text = new Response(proc.stdout).text();
  let feeding: Promise<unknown> = Promise.resolve();
  if (!src.file) {
    const body = await src.store.get(src.rec.key, { signal });
    // pg_restore exiting early breaks the pipe: that is expected, its exit status decides.
    feeding = pumpVerified(body, proc.stdin!, null, undefined, proc.exited).catch(() => {});
  }
  const [out, x] = await Promise.all([text, proc.exited]);
  await feeding;
  if (!x.ok) throw toolFailed("E_RESTORE", "pg_restore", x.code, cleanStderr(x.stderr, []), "the archive could not be read");
  return out;
}

/** Read who owns what and who is granted what in the snapshot (before anything changes). */
export async function readArchive(
  db: Db,
  pgRestore: PgTool,
  src: { store: Store; rec: SnapshotRecord; file?: string | null },
  env: Record<string, string | undefined>,
  needGrants: boolean,
  tmpDir: string,
  signal?: AbortSignal,
): Promise<Archive> {
  const [list, spacedRows] = await Promise.all([
    onArchive(pgRestore, ["--list"], src, env, signal),
    db`select rolname from pg_roles where strpos(rolname, ' ') > 0`,
  ]);
  const toc = parseToc(list, spacedRows.map((r) => r.rolname as string));
  const owners = [...new Set(toc.filter((e) => !isAcl(e) && e.owner).map((e) => e.owner))].sort();
  const acl = toc.filter(isAcl);
  let grants = { roles: [] as string[], actors: [] as string[], grantors: [] as string[] };
  if (needGrants && acl.length) {
    const dir = await mkdtemp(join(tmpDir, "eve-acl-"));
    try {
      const listFile = join(dir, "acl.list");
      await writeFile(listFile, acl.map((e) => e.line).join("\n") + "\n", { mode: 0o600 });
      grants = parseAclSql(await onArchive(pgRestore, ["--use-list=" + listFile, "--file=-"], src, env, signal));
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }
  return { toc, owners, aclEntries: acl.length, aclRoles: grants.roles, aclActors: grants.actors, grantors: grants.grantors };
}

const list = (xs: string[]) => xs.map((x) => (/^[a-z_][a-z0-9_$]*$/.test(x) ? x : JSON.stringify(x))).join(", ");

/**
 * Refuse, before anything changes, a restore whose owners or grants cannot be
 * applied on the target: roles it lacks, or roles the restoring role may not
 * act as. Returns whether the restoring role is a superuser.
 */
export async function checkRoles(db: Db, a: Archive, keep: Preserve, target: string): Promise<{ superuser: boolean }> {
  const needed = [...new Set([...(keep.owners ? a.owners : []), ...(keep.acl ? a.aclRoles : [])])];
  const [me] = await db<{ name: string; superuser: boolean; v: number }[]>`
    select current_user as name, rolsuper as superuser, current_setting('server_version_num')::int as v
    from pg_roles where rolname = current_user`;
  const present = new Set(
    (await db`select rolname from pg_roles where rolname in (select jsonb_array_elements_text(${JSON.stringify(needed)}::text::jsonb))`).map((r) => r.rolname as string),
  );
  const missing = needed.filter((r) => !present.has(r)).sort();
  if (missing.length) {
    const ways = [keep.owners && missing.some((r) => a.owners.includes(r)) ? "--no-owner" : null, keep.acl && missing.some((r) => a.aclRoles.includes(r)) ? "--no-acl" : null].filter(Boolean).join(" ");
    throw new EveError(
      "E_MISSING_ROLES",
      `the snapshot's owners or grants name role${missing.length > 1 ? "s" : ""} missing on the server of ${target}: ${list(missing)}`,
      ExitCode.error,
      {
        hint: `create ${missing.length > 1 ? "them" : "it"} first (CREATE ROLE), or pass ${ways} to restore without ${ways === "--no-owner" ? "owners" : ways === "--no-acl" ? "grants" : "owners and grants"}; nothing was changed`,
        details: { missingRoles: missing },
      },
    );
  }
  if (me!.superuser) return { superuser: true };
  if (keep.acl && a.grantors.length) {
    throw new EveError("E_RESTORE_PRIVILEGE", `the snapshot holds grants made by ${list(a.grantors)} rather than the objects' owners; only a superuser can restore those`, ExitCode.error, {
      hint: "restore as a superuser, or pass --no-acl; nothing was changed",
    });
  }
  const actAs = [...new Set([...(keep.owners ? a.owners : []), ...(keep.acl ? a.aclActors : [])])].filter((r) => r !== me!.name);
  const mode = me!.v >= 160000 ? "SET" : "MEMBER";
  const cannot = actAs.length
    ? (await db.unsafe(`select r from jsonb_array_elements_text($1::text::jsonb) r where not pg_has_role(current_user, r, '${mode}') order by 1`, [JSON.stringify(actAs)])).map((x) => x.r as string)
    : [];
  if (cannot.length) {
    const forOwners = keep.owners && cannot.some((r) => a.owners.includes(r));
    const forAcl = keep.acl && cannot.some((r) => a.aclActors.includes(r));
    const what = [forOwners ? "the owners" : null, forAcl ? "the default privileges (FOR ROLE)" : null].filter(Boolean).join(" and ");
    const flags = [forOwners ? "--no-owner" : null, forAcl ? "--no-acl" : null].filter(Boolean).join(" ");
    throw new EveError(
      "E_RESTORE_PRIVILEGE",
      `role ${me!.name} cannot restore ${what} of this snapshot: it may not act as ${list(cannot)} (needs membership${mode === "SET" ? " with SET" : ""})`,
      ExitCode.error,
      { hint: `restore as a superuser, GRANT ${cannot.length === 1 ? list(cannot) : "those roles"} TO ${list([me!.name])}, or pass ${flags}; nothing was changed` },
    );
  }
  // ALTER SCHEMA … OWNER TO needs the new owner to hold CREATE on the database.
  if (keep.owners) {
    const schemaOwners = [...new Set(a.toc.filter((e) => e.desc === "SCHEMA" && e.owner && e.owner !== me!.name).map((e) => e.owner))];
    const lacking = schemaOwners.length
      ? (await db.unsafe(`select r from jsonb_array_elements_text($1::text::jsonb) r where not has_database_privilege(r, current_database(), 'CREATE') order by 1`, [JSON.stringify(schemaOwners)])).map((x) => x.r as string)
      : [];
    if (lacking.length) {
      throw new EveError(
        "E_RESTORE_PRIVILEGE",
        `role ${me!.name} cannot give schemas to ${list(lacking)}: ${lacking.length > 1 ? "they lack" : "it lacks"} CREATE on database ${target}`,
        ExitCode.error,
        { hint: `restore as a superuser, GRANT CREATE ON DATABASE ${list([target])} TO ${list(lacking)}, or pass --no-owner; nothing was changed` },
      );
    }
  }
  return { superuser: false };
}

/**
 * In place, the target is emptied first (user schemas dropped with CASCADE,
 * which takes their objects whoever owns them; large objects unlinked one by
 * one): refuse, before anything changes, when it holds schemas or large
 * objects owned by roles the restoring role may not drop for.
 */
export async function checkEmptyable(db: Db, target: string): Promise<void> {
  const rows = await db.unsafe(`
    with owners as (
      select n.nspowner as o from pg_namespace n where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
      union select lomowner from pg_largeobject_metadata)
    select pg_get_userbyid(o) as r from owners
    where not (select rolsuper from pg_roles where rolname = current_user) and not pg_has_role(current_user, o, 'USAGE')
    order by 1`);
  if (!rows.length) return;
  const names = rows.map((x) => x.r as string);
  throw new EveError(
    "E_RESTORE_PRIVILEGE",
    `cannot empty database ${target} for an in-place restore: it holds objects owned by ${list(names)}, which the restoring role may not drop (not a member)`,
    ExitCode.error,
    { hint: `restore as a superuser, or GRANT ${names.length === 1 ? list(names) : "those roles"} TO the restoring role; nothing was changed` },
  );
}

/**
 * The pg_restore passes: one run for a superuser (or without owners), else
 * schemas and their grants first, then everything else. Each pass is the
 * lines of a --use-list file, or null for "the whole archive".
 */
export function passes(a: Archive, keep: Preserve, superuser: boolean): Array<string[] | null> {
  if (superuser || !keep.owners) return [null];
  const first = (e: TocEntry) => e.desc === "SCHEMA" || (keep.acl && e.desc === "ACL" && /^\d+; \d+ \d+ ACL - SCHEMA /.test(e.line));
  const one = a.toc.filter(first).map((e) => e.line);
  if (!one.length) return [null];
  return [one, a.toc.filter((e) => !first(e)).map((e) => e.line)];
}

/** Entries pg_restore gives an owner (ALTER … OWNER TO); the others (data, constraints, ACLs) follow their object. */
const OWNED = new Set([
  "AGGREGATE", "COLLATION", "CONVERSION", "DOMAIN", "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "FOREIGN TABLE", "FUNCTION",
  "BLOB", "LARGE OBJECT", "MATERIALIZED VIEW", "OPERATOR", "OPERATOR CLASS", "OPERATOR FAMILY", "PROCEDURE", "PROCEDURAL LANGUAGE",
  "PUBLICATION", "SCHEMA", "SEQUENCE", "STATISTICS", "SUBSCRIPTION", "TABLE", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
  "TYPE", "VIEW", "EVENT TRIGGER",
]);

/** What a restore with --no-owner / --no-acl leaves out, as result entries. */
export function notRestored(a: Archive, keep: Preserve, newOwner: string): Array<{ what: "owners" | "privileges"; reason: string; count: number; message: string }> {
  const out: Array<{ what: "owners" | "privileges"; reason: string; count: number; message: string }> = [];
  if (!keep.owners) {
    const moved = a.toc.filter((e) => OWNED.has(e.desc) && e.owner && e.owner !== newOwner);
    const from = [...new Set(moved.map((e) => e.owner))].sort();
    out.push({
      what: "owners",
      reason: "--no-owner",
      count: moved.length,
      message: `owners not restored (--no-owner): ${moved.length} object${moved.length === 1 ? "" : "s"}${from.length ? ` owned by ${list(from)} in the snapshot` : ""} now owned by ${list([newOwner])}`,
    });
  }
  if (!keep.acl) {
    out.push({
      what: "privileges",
      reason: "--no-acl",
      count: a.aclEntries,
      message: `privileges not restored (--no-acl): ${a.aclEntries} grant entr${a.aclEntries === 1 ? "y" : "ies"} (GRANT/REVOKE, default privileges) skipped; objects carry their owner's default privileges only`,
    });
  }
  return out;
}

/** pg_restore flags for owners and grants. */
export function preserveFlags(keep: Preserve): string[] {
  return [...(keep.owners ? [] : ["--no-owner"]), ...(keep.acl ? [] : ["--no-acl"])];
}

/** Write the --use-list file of a pass into `dir`; null (the whole archive) needs none. */
export async function listFile(dir: string, pass: string[] | null, n: number): Promise<string[]> {
  if (!pass) return [];
  const path = join(dir, `pass${n}.list`);
  await writeFile(path, pass.join("\n") + "\n", { mode: 0o600 });
  return ["--use-list=" + path];
}
