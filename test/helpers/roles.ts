/** Throwaway login roles for tests (roles are cluster-wide: names get a random suffix). */
import { adminUrl, withSql } from "./db.ts";

export interface TestRole {
  name: string;
  password: string;
  /** `url` with this role's credentials. */
  urlFor(url: string): string;
}

const suffix = Math.random().toString(36).slice(2, 8);
const created: string[] = [];

export async function createRole(base: string, attrs = ""): Promise<TestRole> {
  const name = `${base}_${suffix}`;
  const password = "pw_" + Math.random().toString(36).slice(2, 10);
  await withSql(await adminUrl(), (sql) => sql.unsafe(`create role "${name}" login password '${password}' ${attrs}`));
  created.push(name);
  return {
    name,
    password,
    urlFor(url: string) {
      const u = new URL(url);
      u.username = name;
      u.password = password;
      return u.toString();
    },
  };
}

/** Drop the roles made by this file: objects they own in `databases`, then databases they own, then the roles. */
export async function dropRoles(databases: string[]): Promise<void> {
  if (!created.length) return;
  const list = created.map((r) => `"${r}"`).join(", ");
  const admin = await adminUrl();
  for (const url of databases) {
    await withSql(url, (sql) => sql.unsafe(`drop owned by ${list} cascade`)).catch(() => {});
  }
  const owned = await withSql(admin, (sql) => sql`select datname from pg_database where pg_get_userbyid(datdba) = any(${created})`);
  for (const d of owned) await withSql(admin, (sql) => sql.unsafe(`drop database if exists "${d.datname}" with (force)`)).catch(() => {});
  await withSql(admin, (sql) => sql.unsafe(`drop role if exists ${list}`)).catch(() => {});
  created.length = 0;
}
