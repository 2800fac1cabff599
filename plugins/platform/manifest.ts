/**
 * The manifest (`.eve/manifest.yaml`): parsed, validated, resolved per
 * environment and rendered. The CLI sends the text; the server parses it on
 * `eve env deploy` and `eve env render`. parseManifest checks the top level
 * AND every declared environment's merged view (overrides deep-merged over the
 * top level: maps key by key, lists and scalars replaced), and reports every
 * problem at once with its YAML path and line — an override's own line when the
 * bad value came from it. Nothing here touches a database.
 */
import { EveError, ExitCode, UsageError } from "../../core/errors.ts";
import { mapStrings, MASK, maskUrlPassword, scanReferences, substitute, type ManagedField } from "./manifest-interpolate.ts";
import { checkView, isManaged, managedSchema } from "./manifest-schema.ts";
import { isRecord, Locations, manifestError, readYaml, show, ViewLocator, type ManifestIssue, type RawIssue } from "./manifest-yaml.ts";
import { TIERS, type Engine, type TierBackup, type TierName } from "./tiers.ts";

export { MANAGED_FIELDS, type ManagedField } from "./manifest-interpolate.ts";
export { MAX_MANIFEST_BYTES, type ManifestIssue } from "./manifest-yaml.ts";

/** An environment name: part of resource names. */
export const ENV_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** A parsed, valid manifest. */
export interface Manifest {
  /** The name errors are reported against, e.g. manifest.yaml. */
  source: string;
  /** The top level without `environments`. */
  data: Record<string, unknown>;
  /** The environments that declare overrides or settings, in file order. */
  environments: string[];
}

/** The manifest as one environment sees it: the top level with that environment's overrides merged in. */
export interface ResolvedManifest {
  source: string;
  environment: string;
  /** The merged top level (without `environments`). */
  data: Record<string, unknown>;
  /** `data.services`, never absent. */
  services: Record<string, Record<string, unknown>>;
}

/** A managed database service, tier defaults filled in. */
export interface ManagedService {
  service: string;
  class: TierName;
  engine: Engine;
  engineVersion: string | null;
  extensions: string[];
  backup: TierBackup;
}

/** A `${managed.<service>.<field>}` reference and where it is written. */
export interface ManagedReference {
  service: string;
  field: ManagedField;
  /** The reference as written. */
  text: string;
  /** The YAML path of the string holding it. */
  path: string;
  line: number;
  column: number;
}

/** The services of an environment with references substituted. */
export interface RenderedManifest {
  environment: string;
  services: Record<string, unknown>;
  /** Whether passwords were replaced by ******** (render without showSecrets). */
  secretsHidden: boolean;
  /** A line the CLI prints when secrets were hidden. */
  notice?: string;
}

interface Internals {
  locations: Locations;
  overrides: Map<string, Record<string, unknown>>;
}

const manifests = new WeakMap<Manifest, Internals>();
const locators = new WeakMap<ResolvedManifest, ViewLocator>();

/** Maps merged key by key; anything else in `over` replaces. Never mutates either side. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (!isRecord(base) || !isRecord(over)) return over;
  const keys = [...new Set([...Object.keys(base), ...Object.keys(over)])];
  return Object.fromEntries(keys.map((k) => [k, Object.hasOwn(over, k) ? (Object.hasOwn(base, k) ? deepMerge(base[k], over[k]) : over[k]) : base[k]]));
}

/** The merged view of one environment (null: the top level alone), and its problems located. */
function view(manifest: Manifest, env: string | null): { data: Record<string, unknown>; locator: ViewLocator; issues: ManifestIssue[] } {
  const { locations, overrides } = manifests.get(manifest)!;
  const over = env === null ? undefined : overrides.get(env);
  const data = (over ? deepMerge(manifest.data, over) : manifest.data) as Record<string, unknown>;
  const locator = new ViewLocator(locations, over ? env : null);
  const raw: RawIssue[] = checkView(data);
  if (isRecord(data.services)) raw.push(...scanReferences(data.services).issues);
  return { data, locator, issues: raw.map((r) => locator.issue(r)) };
}

/** Problems of the `environments` map itself; fills `overrides`. */
function checkEnvironments(envs: unknown, overrides: Map<string, Record<string, unknown>>): RawIssue[] {
  if (envs === undefined || envs === null) return [];
  if (!isRecord(envs)) return [{ path: ["environments"], message: `environments must be a map of environment names, not ${show(envs)}` }];
  const issues: RawIssue[] = [];
  for (const [name, env] of Object.entries(envs)) {
    const path = ["environments", name];
    if (!ENV_NAME.test(name)) issues.push({ path, at: "key", message: `invalid environment name ${show(name)}: use a lowercase letter then lowercase letters, digits or - (at most 63)` });
    if (env === null) continue;
    if (!isRecord(env)) {
      issues.push({ path, message: `an environment must be a map, not ${show(env)}` });
      continue;
    }
    const over = env.overrides;
    if (over === undefined || over === null) continue;
    if (!isRecord(over)) issues.push({ path: [...path, "overrides"], message: `overrides must be a map merged over the top level, not ${show(over)}` });
    else if (Object.hasOwn(over, "environments")) issues.push({ path: [...path, "overrides", "environments"], at: "key", message: "overrides cannot contain environments" });
    else overrides.set(name, over);
  }
  return issues;
}

/**
 * Parse and validate manifest text: YAML syntax, limits, the top level and
 * every declared environment's merged view, `${managed.…}` references.
 * Throws E_MANIFEST (exit 2, HTTP 400) listing every problem, or
 * E_MANIFEST_TOO_LARGE above 1 MiB.
 */
export function parseManifest(text: string, opts: { source?: string } = {}): Manifest {
  const source = opts.source ?? "manifest.yaml";
  const { data, locations } = readYaml(text, source);
  const top = new ViewLocator(locations, null);
  if (!isRecord(data)) throw manifestError(source, checkView(data).map((r) => top.issue(r)));
  const overrides = new Map<string, Record<string, unknown>>();
  const envIssues = checkEnvironments(data.environments, overrides).map((r) => top.issue(r));
  const rest = Object.fromEntries(Object.entries(data).filter(([k]) => k !== "environments"));
  const manifest: Manifest = { source, data: rest, environments: isRecord(data.environments) ? Object.keys(data.environments) : [] };
  manifests.set(manifest, { locations, overrides });
  const issues = [...envIssues, ...[null, ...overrides.keys()].flatMap((env) => view(manifest, env).issues)];
  if (issues.length) throw manifestError(source, issues);
  return manifest;
}

/**
 * The manifest as environment `env` sees it. An environment the manifest does
 * not declare is the top level alone; a malformed name is E_USAGE.
 */
export function resolveEnvironment(manifest: Manifest, env: string): ResolvedManifest {
  if (!ENV_NAME.test(env)) {
    throw new UsageError(`invalid environment name ${show(env)}`, { hint: "use a lowercase letter then lowercase letters, digits or - (at most 63 characters)" });
  }
  if (!manifests.has(manifest)) throw new EveError("E_MANIFEST", "not a manifest returned by parseManifest", ExitCode.error);
  const { data, locator, issues } = view(manifest, env);
  if (issues.length) throw manifestError(manifest.source, issues);
  const services = (isRecord(data.services) ? data.services : {}) as Record<string, Record<string, unknown>>;
  const resolved: ResolvedManifest = { source: manifest.source, environment: env, data, services };
  locators.set(resolved, locator);
  return resolved;
}

/** The managed_db services of an environment, in manifest order, tier defaults filled in. */
export function managedServices(resolved: ResolvedManifest): ManagedService[] {
  return Object.entries(resolved.services)
    .filter(([, spec]) => isManaged(spec))
    .map(([service, spec]) => {
      const m = managedSchema.parse((spec["x-eve"] as Record<string, unknown>).managed);
      const d = TIERS[m.class].backup;
      return {
        service,
        class: m.class,
        engine: m.engine,
        engineVersion: m.engine_version ?? null,
        extensions: m.extensions ?? [],
        backup: {
          schedule: m.backup?.schedule ?? d.schedule,
          retention: m.backup?.retention ?? d.retention,
          snapshotOnDelete: m.backup?.snapshot_on_delete ?? d.snapshotOnDelete,
          snapshotOnReset: m.backup?.snapshot_on_reset ?? d.snapshotOnReset,
        },
      };
    });
}

/** Every `${managed.…}` reference of an environment with its path and line; a bad one throws E_MANIFEST (all listed). */
export function findInterpolations(resolved: ResolvedManifest): ManagedReference[] {
  const locator = locators.get(resolved) ?? new ViewLocator(new Locations(), null);
  const { refs, issues } = scanReferences(resolved.services);
  if (issues.length) throw manifestError(resolved.source, issues.map((r) => locator.issue(r)));
  return refs.map((r) => {
    const { path, line, column } = locator.issue({ path: r.path, message: "" });
    return { service: r.service, field: r.field, text: r.text, path, line, column };
  });
}

/**
 * The services of an environment with every reference replaced by the
 * provisioned `values`. Unless showSecrets, `password` and the password inside
 * `url`/`readonly_url` become ********. A referenced value that is missing
 * (not provisioned yet) is E_MANAGED_NOT_PROVISIONED. Never mutates its inputs.
 */
export function renderManifest(
  resolved: ResolvedManifest,
  values: Record<string, Record<string, string>>,
  opts: { showSecrets?: boolean } = {},
): RenderedManifest {
  const reveal = opts.showSecrets === true;
  const missing = new Set<string>();
  for (const r of findInterpolations(resolved)) {
    if (typeof values[r.service]?.[r.field] !== "string") missing.add(`${r.service}.${r.field}`);
  }
  if (missing.size) {
    throw new EveError("E_MANAGED_NOT_PROVISIONED", `no value yet for ${[...missing].map((m) => `managed.${m}`).join(", ")} in environment ${resolved.environment}`, ExitCode.failed, {
      hint: `deploy the environment first (eve env deploy --env ${resolved.environment}), then check eve db status --env ${resolved.environment}`,
      details: { missing: [...missing] },
    });
  }
  const value = (service: string, field: ManagedField): string => {
    const v = values[service]![field]!;
    if (reveal) return v;
    if (field === "password") return MASK;
    return field === "url" || field === "readonly_url" ? maskUrlPassword(v) : v;
  };
  const services = mapStrings(resolved.services, (s) => substitute(s, value)) as Record<string, unknown>;
  return {
    environment: resolved.environment,
    services,
    secretsHidden: !reveal,
    ...(reveal ? {} : { notice: `passwords are shown as ${MASK}; pass --show-secrets to see them` }),
  };
}

