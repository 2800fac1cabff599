/**
 * The manifest: the spec's examples parse; every kind of mistake is an
 * E_MANIFEST error naming the YAML path and line (an override's own line when
 * the value came from it), all reported at once; hostile input (huge text,
 * alias bombs, self-referencing aliases, odd service names) is refused
 * quickly; overrides deep-merge; `${managed.…}` references are checked,
 * escaped and rendered with passwords hidden unless asked.
 */
import { describe, expect, test } from "bun:test";
import { EveError, ExitCode } from "../../../core/errors.ts";
import {
  findInterpolations,
  managedServices,
  MAX_MANIFEST_BYTES,
  parseManifest,
  renderManifest,
  resolveEnvironment,
  type ManifestIssue,
} from "../../../plugins/platform/manifest.ts";
import { TIERS } from "../../../plugins/platform/tiers.ts";

/** The spec's "Referencing managed values" example. */
const REFERENCING = `services:
  db:
    x-eve:
      role: managed_db
      managed: { class: db.p1, engine: postgres, engine_version: "16" }
  api:
    build: { context: ./apps/api }
    ports: [3000]
    environment:
      DATABASE_URL: \${managed.db.url}
    depends_on:
      db:
        condition: service_healthy
`;

/** The spec's "Automatic snapshots" example. */
const SNAPSHOTS = `services:
  db:
    x-eve:
      role: managed_db
      managed:
        class: db.p2
        engine: postgres
        engine_version: "16"
        backup:
          schedule: "0 2 * * *"      # cron, UTC
          retention: 30d
          snapshot_on_delete: true
          snapshot_on_reset: true

environments:
  production:
    overrides:
      services:
        db:
          x-eve:
            managed:
              backup:
                schedule: "0 */6 * * *"
                retention: 90d
`;

/** A managed service `db` with `body` as the lines under `managed:` (8 spaces of indent). */
function managed(body: string, extra = ""): string {
  return `services:\n  db:\n    x-eve:\n      role: managed_db\n      managed:\n${body
    .trim()
    .split("\n")
    .map((l) => `        ${l}`)
    .join("\n")}\n${extra}`;
}

/** The E_MANIFEST error parseManifest throws for `text`. */
function manifestError(text: string): EveError {
  try {
    parseManifest(text);
  } catch (e) {
    expect(e).toBeInstanceOf(EveError);
    return e as EveError;
  }
  throw new Error("parseManifest accepted the manifest");
}

function issues(e: EveError): ManifestIssue[] {
  return (e.details?.errors ?? []) as ManifestIssue[];
}

/** The single issue of a failing manifest. */
function onlyIssue(text: string): ManifestIssue {
  const e = manifestError(text);
  expect(e.code).toBe("E_MANIFEST");
  expect(issues(e)).toHaveLength(1);
  return issues(e)[0]!;
}

/** The 1-based line of the first line of `text` containing `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  expect(i).toBeGreaterThanOrEqual(0);
  return i + 1;
}

describe("the spec's examples", () => {
  test("referencing managed values: one managed service, one reference", () => {
    const m = parseManifest(REFERENCING);
    const r = resolveEnvironment(m, "staging");
    expect(managedServices(r)).toEqual([
      {
        service: "db",
        class: "db.p1",
        engine: "postgres",
        engineVersion: "16",
        extensions: [],
        backup: { schedule: false, retention: "7d", snapshotOnDelete: false, snapshotOnReset: false },
      },
    ]);
    const refs = findInterpolations(r);
    expect(refs).toEqual([
      { service: "db", field: "url", text: "${managed.db.url}", path: "services.api.environment.DATABASE_URL", line: 10, column: 21 },
    ]);
  });

  test("automatic snapshots: production's override deep-merges the backup block, other environments keep the top level", () => {
    const m = parseManifest(SNAPSHOTS);
    expect(m.environments).toEqual(["production"]);
    const prod = managedServices(resolveEnvironment(m, "production"))[0]!;
    expect(prod.backup).toEqual({ schedule: "0 */6 * * *", retention: "90d", snapshotOnDelete: true, snapshotOnReset: true });
    expect(prod.class).toBe("db.p2");
    expect(prod.engineVersion).toBe("16");
    const staging = managedServices(resolveEnvironment(m, "staging"))[0]!;
    expect(staging.backup).toEqual({ schedule: "0 2 * * *", retention: "30d", snapshotOnDelete: true, snapshotOnReset: true });
  });
});

describe("managed service fields", () => {
  test("tier defaults fill in what backup leaves out; schedule: false turns protection off", () => {
    const text = managed(`class: db.p3\nengine: postgres\nbackup: { schedule: false, snapshot_on_delete: false }`);
    const [s] = managedServices(resolveEnvironment(parseManifest(text), "prod"));
    expect(s!.backup).toEqual({ schedule: false, retention: TIERS["db.p3"].backup.retention, snapshotOnDelete: false, snapshotOnReset: true });
    expect(s!.engineVersion).toBeNull();
  });

  test("a numeric engine_version becomes a string; extensions from the allowlist pass", () => {
    const text = managed(`class: db.p1\nengine: postgres\nengine_version: 16\nextensions: [pgcrypto, citext, vector]`);
    const [s] = managedServices(resolveEnvironment(parseManifest(text), "dev"));
    expect(s!.engineVersion).toBe("16");
    expect(s!.extensions).toEqual(["pgcrypto", "citext", "vector"]);
  });

  test("unknown class: path, line and column of the value", () => {
    const text = managed(`class: db.p9\nengine: postgres`);
    const i = onlyIssue(text);
    expect(i).toEqual({ path: "services.db.x-eve.managed.class", line: 6, column: 16, message: 'unknown class "db.p9" (expected db.p1, db.p2 or db.p3)' });
    expect(manifestError(text).message).toBe(`manifest.yaml:6:16: services.db.x-eve.managed.class: unknown class "db.p9" (expected db.p1, db.p2 or db.p3)`);
    expect(manifestError(text).exitCode).toBe(ExitCode.usage);
    expect(manifestError(text).httpStatus).toBe(400);
  });

  test("unknown engine", () => {
    const i = onlyIssue(managed(`class: db.p1\nengine: mysql`));
    expect(i.path).toBe("services.db.x-eve.managed.engine");
    expect(i.line).toBe(7);
    expect(i.message).toContain('unknown engine "mysql"');
  });

  test("missing class and engine are both named", () => {
    const e = manifestError(managed(`engine_version: "16"`));
    expect(issues(e).map((i) => i.path).sort()).toEqual(["services.db.x-eve.managed.class", "services.db.x-eve.managed.engine"]);
    expect(issues(e)[0]!.message).toContain("is required");
  });

  test.each([["16.2"], ['"16.2"'], ['"latest"'], ["9"], ['"016"'], ["true"]])("bad engine_version %s", (v) => {
    const i = onlyIssue(managed(`class: db.p1\nengine: postgres\nengine_version: ${v}`));
    expect(i.path).toBe("services.db.x-eve.managed.engine_version");
    expect(i.line).toBe(8);
    expect(i.message).toContain('engine_version must be a major version such as "16"');
  });

  test("an extension outside the allowlist is named at its list item", () => {
    const text = managed(`class: db.p1\nengine: postgres\nextensions:\n  - pgcrypto\n  - pg_stat_statements`);
    const i = onlyIssue(text);
    expect(i.path).toBe("services.db.x-eve.managed.extensions[1]");
    expect(i.line).toBe(lineOf(text, "pg_stat_statements"));
    expect(i.message).toContain('extension "pg_stat_statements" is not allowed');
  });

  test("a duplicate extension", () => {
    const i = onlyIssue(managed(`class: db.p1\nengine: postgres\nextensions: [citext, pgcrypto, citext]`));
    expect(i.path).toBe("services.db.x-eve.managed.extensions[2]");
    expect(i.message).toBe('extension "citext" is listed twice');
  });

  test("a typo'd key (clas:) is an error at the key, with a suggestion", () => {
    const text = managed(`clas: db.p1\nengine: postgres`);
    const e = manifestError(text);
    const typo = issues(e).find((i) => i.path === "services.db.x-eve.managed.clas")!;
    expect(typo.line).toBe(6);
    expect(typo.column).toBe(9);
    expect(typo.message).toContain('unknown key "clas" (did you mean class?)');
    // The class it meant to give is missing, and says so.
    expect(issues(e).some((i) => i.path === "services.db.x-eve.managed.class" && i.message.includes("required"))).toBe(true);
  });

  test("a typo inside backup and bad backup values", () => {
    const text = managed(`class: db.p2\nengine: postgres\nbackup:\n  schedul: "0 2 * * *"\n  retention: 30x\n  snapshot_on_reset: "yes"`);
    const e = manifestError(text);
    const byPath = Object.fromEntries(issues(e).map((i) => [i.path, i]));
    expect(byPath["services.db.x-eve.managed.backup.schedul"]!.message).toContain("did you mean schedule?");
    expect(byPath["services.db.x-eve.managed.backup.retention"]!.line).toBe(lineOf(text, "retention"));
    expect(byPath["services.db.x-eve.managed.backup.snapshot_on_reset"]!.message).toContain("true or false");
    expect(e.message.startsWith("3 errors in manifest.yaml, the first: manifest.yaml:")).toBe(true);
    expect(e.context).toHaveLength(3);
  });

  test.each([['"61 2 * * *"'], ['"0 2 * *"'], ['"* * * * * *"'], ["true"], ['"every day"']])("schedule %s is refused", (v) => {
    const i = onlyIssue(managed(`class: db.p2\nengine: postgres\nbackup: { schedule: ${v} }`));
    expect(i.path).toBe("services.db.x-eve.managed.backup.schedule");
  });

  test("x-eve.managed on a service that is not managed_db is an error (a role typo must not pass)", () => {
    const i = onlyIssue(`services:\n  db:\n    x-eve:\n      role: managed-db\n      managed: { class: db.p1, engine: postgres }\n`);
    expect(i.path).toBe("services.db.x-eve.managed");
    expect(i.line).toBe(5);
  });

  test("other services are free-form", () => {
    const m = parseManifest(`services:\n  web:\n    anything: [1, {deep: true}]\n    x-eve: { role: job, files: [{source: a, target: b}] }\n`);
    expect(managedServices(resolveEnvironment(m, "dev"))).toEqual([]);
  });
});

describe("service names", () => {
  test("names that differ only by - and _ are duplicates", () => {
    const text = `services:\n  my-db:\n    image: a\n  my_db:\n    image: b\n`;
    const i = onlyIssue(text);
    expect(i).toMatchObject({ path: "services.my_db", line: 4, column: 3 });
    expect(i.message).toContain('duplicate service names "my-db" and "my_db"');
  });

  test("names that differ only by case are duplicates (and upper case is not a valid name)", () => {
    const e = manifestError(`services:\n  api:\n    image: a\n  API:\n    image: b\n`);
    const msgs = issues(e).map((i) => i.message);
    expect(msgs.some((m) => m.includes('duplicate service names "api" and "API"'))).toBe(true);
    expect(msgs.some((m) => m.includes('invalid service name "API"'))).toBe(true);
  });

  test("the same key twice is a YAML error with its line", () => {
    const i = onlyIssue(`services:\n  db:\n    image: a\n  db:\n    image: b\n`);
    expect(i).toMatchObject({ line: 4, column: 3 });
    expect(i.message).toContain("duplicate key");
  });

  test.each([["../etc"], ["a/b"], ["a'; DROP TABLE x; --"], ['x"y'], ["db;"], ["1db"], ["a".repeat(64)], ["café"], ["a b"], [""]])(
    "service name %j is refused with its line",
    (name) => {
      const text = `services:\n  ok:\n    image: a\n  ${JSON.stringify(name)}:\n    image: b\n`;
      const i = onlyIssue(text);
      expect(i.line).toBe(4);
      expect(i.message).toContain("invalid service name");
      expect(i.path.startsWith("services")).toBe(true);
    },
  );
});

describe("overrides", () => {
  test("maps merge key by key, lists and scalars replace", () => {
    const text = `services:
  db:
    x-eve:
      role: managed_db
      managed:
        class: db.p1
        engine: postgres
        extensions: [pgcrypto, citext]
  api:
    command: [serve, --port, "3000"]
    environment: { A: "1", B: "2" }
environments:
  prod:
    overrides:
      services:
        db:
          x-eve:
            managed:
              class: db.p3
              extensions: [hstore]
        api:
          command: [serve]
          environment: { B: "3" }
`;
    const m = parseManifest(text);
    const prod = resolveEnvironment(m, "prod");
    expect(managedServices(prod)[0]).toMatchObject({ class: "db.p3", engine: "postgres", extensions: ["hstore"] });
    expect(prod.services.api).toEqual({ command: ["serve"], environment: { A: "1", B: "3" } });
    // The top level is not changed by resolving an environment.
    expect(resolveEnvironment(m, "dev").services.api).toEqual({ command: ["serve", "--port", "3000"], environment: { A: "1", B: "2" } });
  });

  test("an error introduced by an override is reported at the override's line and path", () => {
    const text = SNAPSHOTS.replace('schedule: "0 */6 * * *"', 'schedule: "0 */6 * *"');
    const i = onlyIssue(text);
    expect(i.path).toBe("environments.production.overrides.services.db.x-eve.managed.backup.schedule");
    expect(i.line).toBe(lineOf(text, '"0 */6 * *"'));
    expect(i.line).toBeGreaterThan(20);
  });

  test("an override's bad class and the top level's bad retention are reported together", () => {
    const text = SNAPSHOTS.replace("retention: 30d", "retention: forever").replace("retention: 90d", "retention: 90d\n              class: db.p7");
    const e = manifestError(text);
    const paths = issues(e).map((i) => i.path);
    expect(paths).toContain("services.db.x-eve.managed.backup.retention");
    expect(paths).toContain("environments.production.overrides.services.db.x-eve.managed.class");
    expect(issues(e).find((i) => i.path.endsWith(".class"))!.line).toBe(lineOf(text, "db.p7"));
  });

  test("an override creating a duplicate service name", () => {
    const text = `${REFERENCING}environments:\n  prod:\n    overrides:\n      services:\n        DB:\n          image: x\n`;
    const e = manifestError(text);
    expect(issues(e).every((i) => i.path === 'environments.prod.overrides.services.DB' || i.path.startsWith("environments.prod"))).toBe(true);
    expect(issues(e).some((i) => i.message.includes("duplicate service names"))).toBe(true);
    expect(issues(e)[0]!.line).toBe(lineOf(text, "DB:"));
  });

  test("bad environment names are refused in the manifest and by resolveEnvironment", () => {
    const i = onlyIssue(`${REFERENCING}environments:\n  Prod_1:\n    overrides: {}\n`);
    expect(i.message).toContain('invalid environment name "Prod_1"');
    const m = parseManifest(REFERENCING);
    for (const bad of ["Prod", "../x", "a;b", "", "-x", "a".repeat(64)]) {
      expect(() => resolveEnvironment(m, bad)).toThrow(expect.objectContaining({ code: "E_USAGE" }) as unknown as Error);
    }
    expect(resolveEnvironment(m, "feature-42").environment).toBe("feature-42");
  });

  test("overrides may not contain environments", () => {
    const i = onlyIssue(`${REFERENCING}environments:\n  prod:\n    overrides:\n      environments: {}\n`);
    expect(i.path).toBe("environments.prod.overrides.environments");
  });
});

describe("interpolation", () => {
  test("an unknown service, a non-managed service, an unknown field and a malformed reference: all reported with path and line", () => {
    const text = REFERENCING.replace(
      "DATABASE_URL: ${managed.db.url}",
      "DATABASE_URL: ${managed.dbx.url}\n      B: ${managed.api.url}\n      C: x-${managed.db.uri}\n      D: ${managed.db}\n      E: ${managed.db.url",
    );
    const e = manifestError(text);
    const got = issues(e).map((i) => [i.path, i.line, i.message]);
    expect(got).toEqual([
      ["services.api.environment.DATABASE_URL", 10, 'unknown service "dbx" in "${managed.dbx.url}" (managed services: db)'],
      ["services.api.environment.B", 11, 'service "api" in "${managed.api.url}" is not a managed database (x-eve.role: managed_db)'],
      ["services.api.environment.C", 12, 'unknown field "uri" in "${managed.db.uri}" (expected url, host, port, database, user, password, readonly_url)'],
      ["services.api.environment.D", 13, 'malformed reference "${managed.db}": use ${managed.<service>.<field>}'],
      ["services.api.environment.E", 14, 'unterminated reference "${managed.db.url": close it with }'],
    ]);
  });

  test("references in lists and nested maps are found", () => {
    const text = REFERENCING.replace("ports: [3000]", 'ports: [3000]\n    command: ["migrate", "--url", "${managed.db.readonly_url}"]');
    const refs = findInterpolations(resolveEnvironment(parseManifest(text), "dev"));
    expect(refs.map((r) => [r.path, r.field, r.line])).toEqual([
      ["services.api.command[2]", "readonly_url", 9],
      ["services.api.environment.DATABASE_URL", "url", 11],
    ]);
  });

  test("$${…} is a literal ${…}; other ${…} forms are untouched", () => {
    const text = REFERENCING.replace("DATABASE_URL: ${managed.db.url}", () => 'DATABASE_URL: ${managed.db.url}\n      DOC: "use $${managed.db.url} or $${managed.nope.x}"\n      S: ${secret.API_KEY}');
    const r = resolveEnvironment(parseManifest(text), "dev");
    expect(findInterpolations(r).map((x) => x.path)).toEqual(["services.api.environment.DATABASE_URL"]);
    const out = renderManifest(r, { db: values() }, { showSecrets: true });
    const env = (out.services.api as { environment: Record<string, string> }).environment;
    expect(env.DOC).toBe("use ${managed.db.url} or ${managed.nope.x}");
    expect(env.S).toBe("${secret.API_KEY}");
    expect(env.DATABASE_URL).toBe(values().url);
  });
});

/** Provisioned values with a password full of URL-special characters. */
function values(): Record<string, string> {
  return {
    url: "postgres://tenant_a1:pa%40ss:w0rd@10.0.0.5:5432/db_7f3a?sslmode=require",
    host: "10.0.0.5",
    port: "5432",
    database: "db_7f3a",
    user: "tenant_a1",
    password: "pa%40ss:w0rd",
    readonly_url: "postgres://tenant_ro:r3ad0nly@10.0.0.5:5432/db_7f3a",
  };
}

describe("render", () => {
  const text = REFERENCING.replace(
    "DATABASE_URL: ${managed.db.url}",
    "DATABASE_URL: ${managed.db.url}\n      PGPASSWORD: ${managed.db.password}\n      RO: ${managed.db.readonly_url}\n      CONN: host=${managed.db.host} port=${managed.db.port} user=${managed.db.user} dbname=${managed.db.database}",
  );

  test("hides passwords unless asked, and says so", () => {
    const r = resolveEnvironment(parseManifest(text), "staging");
    const hidden = renderManifest(r, { db: values() });
    const dump = JSON.stringify(hidden);
    for (const secret of ["pa%40ss:w0rd", "pa@ss", "w0rd", "r3ad0nly"]) expect(dump).not.toContain(secret);
    const env = (hidden.services.api as { environment: Record<string, string> }).environment;
    expect(env.DATABASE_URL).toBe("postgres://tenant_a1:********@10.0.0.5:5432/db_7f3a?sslmode=require");
    expect(env.PGPASSWORD).toBe("********");
    expect(env.RO).toBe("postgres://tenant_ro:********@10.0.0.5:5432/db_7f3a");
    expect(env.CONN).toBe("host=10.0.0.5 port=5432 user=tenant_a1 dbname=db_7f3a");
    expect(hidden.secretsHidden).toBe(true);
    expect(hidden.notice).toContain("--show-secrets");

    const shown = renderManifest(r, { db: values() }, { showSecrets: true });
    const env2 = (shown.services.api as { environment: Record<string, string> }).environment;
    expect(env2.DATABASE_URL).toBe(values().url);
    expect(env2.PGPASSWORD).toBe(values().password);
    expect(shown.secretsHidden).toBe(false);
    expect(shown.notice).toBeUndefined();
  });

  test("never mutates the resolved manifest or the values", () => {
    const r = resolveEnvironment(parseManifest(text), "staging");
    const before = JSON.stringify(r);
    const vals = { db: values() };
    const valsBefore = JSON.stringify(vals);
    renderManifest(r, vals, { showSecrets: true });
    renderManifest(r, vals);
    expect(JSON.stringify(r)).toBe(before);
    expect(JSON.stringify(vals)).toBe(valsBefore);
  });

  test("a referenced value not provisioned yet is an error naming it", () => {
    const r = resolveEnvironment(parseManifest(text), "staging");
    const { password: _omit, ...partial } = values();
    expect(() => renderManifest(r, { db: partial })).toThrow(expect.objectContaining({ code: "E_MANAGED_NOT_PROVISIONED" }) as unknown as Error);
    expect(() => renderManifest(r, {})).toThrow(/managed\.db\.url/);
  });
});

describe("malformed and hostile input", () => {
  test("a YAML syntax error names line and column", () => {
    const text = `services:\n  db:\n    image: [a, b\n  api:\n    image: c\n`;
    const e = manifestError(text);
    expect(e.code).toBe("E_MANIFEST");
    expect(e.message).toMatch(/^manifest\.yaml:\d+:\d+: /);
    expect(issues(e)[0]!.line).toBeGreaterThanOrEqual(3);
  });

  test("the source name is used in messages", () => {
    expect(() => parseManifest("a: [", { source: ".eve/manifest.yaml" })).toThrow(/^\.eve\/manifest\.yaml:1:\d+: /);
  });

  test("an empty manifest, a list at the top level, services that is not a map", () => {
    expect(onlyIssue("").message).toContain("empty");
    expect(onlyIssue("- a\n- b\n").message).toContain("expected a map at the top level");
    expect(onlyIssue("services: [db]\n").path).toBe("services");
  });

  test("more than 1 MiB is refused before parsing", () => {
    const text = `services:\n  web:\n    note: "${"x".repeat(MAX_MANIFEST_BYTES)}"\n`;
    const t0 = performance.now();
    try {
      parseManifest(text);
      throw new Error("accepted");
    } catch (e) {
      expect((e as EveError).code).toBe("E_MANIFEST_TOO_LARGE");
      expect((e as EveError).exitCode).toBe(ExitCode.usage);
      expect((e as EveError).message).not.toContain("xxxx");
    }
    expect(performance.now() - t0).toBeLessThan(1000);
    // Exactly at the limit is still read (and here valid).
    const pad = MAX_MANIFEST_BYTES - `services:\n  web:\n    note: ""\n`.length;
    expect(parseManifest(`services:\n  web:\n    note: "${"y".repeat(pad)}"\n`).data.services).toBeDefined();
  });

  test("a billion-laughs alias bomb is refused quickly", () => {
    const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (const [prev, cur] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"], ["f", "g"], ["g", "h"], ["h", "i"]]) {
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    const text = `services:\n  web:\n    x-bomb:\n${levels.map((l) => `      ${l}`).join("\n")}\n`;
    const t0 = performance.now();
    const e = manifestError(text);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(e.code).toBe("E_MANIFEST");
    expect(e.message).toContain("aliases expand");
  });

  test("an alias inside the node it names is refused", () => {
    const e = manifestError(`services:\n  web:\n    loop: &l { again: *l }\n`);
    expect(e.message).toContain("refers to a node that contains it");
    expect(issues(e)[0]!.line).toBe(3);
  });

  test("deep nesting is refused, not a stack overflow", () => {
    const e = manifestError(`services:\n  web:\n    x: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    expect(e.code).toBe("E_MANIFEST");
  });

  test("a useful alias within limits works", () => {
    const text = `x-env: &env { LOG: debug }\nservices:\n  api:\n    environment: *env\n  worker:\n    environment: *env\n`;
    const r = resolveEnvironment(parseManifest(text), "dev");
    expect(r.services.worker).toEqual({ environment: { LOG: "debug" } });
  });

  test("YAML 1.1 tags are not interpreted (core schema): values stay plain data", () => {
    const r = resolveEnvironment(parseManifest(`%YAML 1.1\n---\nservices:\n  web:\n    on: yes\n    blob: !!binary aGVsbG8=\n`), "dev");
    expect(r.services.web).toEqual({ on: "yes", blob: "aGVsbG8=" });
  });

  test("__proto__ keys are plain data, never a prototype", () => {
    const r = resolveEnvironment(parseManifest(`services:\n  web:\n    __proto__: { polluted: true }\nenvironments:\n  dev:\n    overrides:\n      services:\n        web:\n          __proto__: { more: true }\n`), "dev");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(r.services.web)).toBe(Object.prototype);
    expect(Object.keys(r.services.web!)).toEqual(["__proto__"]);
  });

  test("many errors: all counted, the list capped", () => {
    const services = Array.from({ length: 80 }, (_, i) => `  "Bad${i}":\n    image: x`).join("\n");
    const e = manifestError(`services:\n${services}\n`);
    expect(e.message).toMatch(/^80 errors in manifest\.yaml, the first: manifest\.yaml:2:3: /);
    expect(e.context!.at(-1)).toBe("… and 30 more");
  });
});

test("a password pasted into a checked field never shows in the error", () => {
  const e = manifestError(managed(`class: db.p1\nengine: postgres\nengine_version: "postgres://app:Sup3rSecret@db:5432/x"`));
  expect(JSON.stringify({ m: e.message, c: e.context, d: e.details })).not.toContain("Sup3rSecret");
  expect(e.message).toContain("engine_version");
});
