/**
 * Which control plane, token and project a remote (--env) command uses, and
 * the credentials file `eve login` writes. One precedence for each setting:
 *   flag (--api, --token, --project) → variable (EVE_API_URL, EVE_TOKEN,
 *   EVE_PROJECT) → the profile (--profile, else EVE_PROFILE, else the file's
 *   current profile) in the credentials file → error.
 * The file is $XDG_CONFIG_HOME/eve/credentials.json (else ~/.config/eve/…),
 * mode 0600 in a 0700 directory. The token is never printed.
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { EveError, ExitCode, UsageError } from "./errors.ts";
import type { OptionSpec } from "./plugin.ts";

type Env = Record<string, string | undefined>;

export interface Profile {
  api: string;
  token: string;
  project?: string;
}

export interface CredentialsFile {
  current?: string;
  profiles: Record<string, Profile>;
}

/** Where a remote command sends its requests. */
export interface Remote {
  api: string;
  token: string;
  /** The project id or name (null for admin commands that need none). */
  project: string | null;
  /** The profile used, when one was (for messages). */
  profile: string | null;
}

export interface RemoteFlags {
  api?: string;
  token?: string;
  profile?: string;
  project?: string;
}

/** The flags every remote-capable command takes (with --env on database commands). */
export const remoteOptions: OptionSpec[] = [
  { flags: "--project <project>", description: "project id or name for --env (default: $EVE_PROJECT, else the profile's)" },
  { flags: "--api <url>", description: "control-plane URL (default: $EVE_API_URL, else the profile's)" },
  { flags: "--token <token>", description: "control-plane token (default: $EVE_TOKEN, else the profile's); prefer the variable or eve login" },
  { flags: "--profile <name>", description: "credentials profile written by eve login (default: $EVE_PROFILE, else the current one)" },
];

/** The credentials file path. */
export function credentialsPath(env: Env): string {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? join(env.HOME, ".config") : env.APPDATA);
  if (!base) throw new UsageError("cannot find a configuration directory (HOME, XDG_CONFIG_HOME and APPDATA are unset)", { hint: "set HOME or XDG_CONFIG_HOME" });
  return join(base, "eve", "credentials.json");
}

export async function readCredentials(env: Env): Promise<CredentialsFile> {
  const path = credentialsPath(env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return { profiles: {} };
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as CredentialsFile;
    if (!parsed || typeof parsed !== "object" || typeof parsed.profiles !== "object") throw new Error("no profiles");
    return parsed;
  } catch {
    throw new UsageError(`${path} is not a valid credentials file`, { hint: "run eve login again, or delete the file" });
  }
}

/** Write the file atomically, 0600 (the directory 0700). */
export async function writeCredentials(env: Env, file: CredentialsFile): Promise<string> {
  const path = credentialsPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}

/** A control-plane URL: http(s), no credentials, no query; trailing slash removed. */
export function normalizeApiUrl(value: string, what = "--api"): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`${what} must be an http(s) URL such as http://127.0.0.1:8080 (got "${value.slice(0, 80)}")`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`${what} must use http or https (got ${u.protocol})`);
  if (u.username || u.password) throw new UsageError(`${what} must not hold credentials; pass the token with --token or EVE_TOKEN`);
  if (u.search || u.hash) throw new UsageError(`${what} must not have a query or fragment`);
  return u.toString().replace(/\/+$/, "");
}

/**
 * Resolve the control plane for a command. `needProject` commands (every
 * --env database command) fail without a project.
 */
export async function resolveRemote(flags: RemoteFlags, env: Env, opts: { needProject: boolean }): Promise<Remote> {
  const needFile = !(flags.api ?? env.EVE_API_URL) || !(flags.token ?? env.EVE_TOKEN) || (opts.needProject && !(flags.project ?? env.EVE_PROJECT));
  let profile: Profile | undefined;
  let profileName: string | null = null;
  if (needFile || flags.profile) {
    const file = await readCredentials(env);
    profileName = flags.profile ?? env.EVE_PROFILE ?? file.current ?? "default";
    profile = file.profiles[profileName];
    if (!profile && (flags.profile || env.EVE_PROFILE)) {
      throw new UsageError(`no profile "${profileName}" in ${credentialsPath(env)}`, {
        hint: `run eve login --api URL --token TOKEN --profile ${profileName}${Object.keys(file.profiles).length ? ` (profiles: ${Object.keys(file.profiles).join(", ")})` : ""}`,
      });
    }
    if (!profile) profileName = null;
  }
  const api = flags.api ?? env.EVE_API_URL ?? profile?.api;
  const token = flags.token ?? env.EVE_TOKEN ?? profile?.token;
  const project = flags.project ?? env.EVE_PROJECT ?? profile?.project ?? null;
  if (!api || !token) {
    throw new EveError("E_NO_CONTROL_PLANE", `no control plane configured (${!api ? "no API URL" : "no token"})`, ExitCode.usage, {
      hint: "run eve login --api URL --token TOKEN, or set EVE_API_URL and EVE_TOKEN (or pass --api and --token)",
    });
  }
  if (opts.needProject && !project) {
    throw new UsageError("no project given for --env", { hint: "pass --project NAME, set EVE_PROJECT, or store one with eve login --project NAME" });
  }
  return { api: normalizeApiUrl(api, flags.api ? "--api" : env.EVE_API_URL ? "EVE_API_URL" : "the profile's API URL"), token, project, profile: profileName };
}
