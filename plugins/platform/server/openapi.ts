/**
 * /openapi.json, generated from the same zod schemas the routes validate
 * with (z.toJSONSchema): every operation's input, result and event, and the
 * platform endpoints' bodies. Built once per server.
 */
import { z } from "zod";
import { opPath } from "../../../core/http/wire.ts";
import { accessOf, servedRemotely, type Operation } from "../../../core/operation.ts";
import { InstanceInput } from "../instances.ts";
import { TokenCreateInput } from "./routes-admin.ts";
import { DeployInput, ProjectInput } from "./routes-projects.ts";

const json = (schema: z.ZodType) => {
  try {
    return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  } catch {
    return {};
  }
};

const ErrorBody = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "request_id"],
      properties: {
        code: { type: "string", example: "E_FORBIDDEN" },
        message: { type: "string" },
        exitCode: { type: "integer" },
        hint: { type: "string" },
        details: { type: "object" },
        request_id: { type: "string" },
      },
    },
  },
};

const errors = Object.fromEntries(
  [
    ["400", "invalid input (code E_VALIDATION, E_BAD_JSON, E_USAGE)"],
    ["401", "no token, unknown, revoked or expired token"],
    ["403", "the token lacks the role or project"],
    ["404", "no such project, environment, tenant or instance"],
    ["409", "the tenant is busy (details.operation_id), not ready, or a refusal (--force)"],
    ["413", "the body is too large"],
    ["422", "the database refused it (a SQL error, a failed migration), or a manifest error"],
    ["502", "the tenant's instance cannot be reached"],
    ["503", "the server is shutting down or not ready"],
  ].map(([code, description]) => [code, { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]),
);

let cached: { ops: Operation[]; doc: unknown } | null = null;

export function openApiDocument(operations: Operation[], version: string): unknown {
  if (cached?.ops === operations) return cached.doc;
  const paths: Record<string, unknown> = {};
  const params = [
    { name: "project", in: "path", required: true, schema: { type: "string" }, description: "project id or name" },
    { name: "env", in: "path", required: true, schema: { type: "string" } },
  ];
  for (const op of operations) {
    if (!servedRemotely(op)) continue;
    const empty = op.input.safeParse({});
    const readable = empty.success && accessOf(op, empty.data) === "read";
    paths[`/projects/{project}/envs/{env}/${opPath(op.name)}`] = {
      ...(readable
        ? { get: { operationId: `${op.name}.get`, summary: `${op.summary} (default input)`, parameters: [...params, { name: "service", in: "query", required: false, schema: { type: "string" } }], responses: { "200": { description: "the result", content: { "application/json": { schema: json(op.result) } } }, ...errors } } }
        : {}),
      post: {
        operationId: op.name,
        summary: op.summary,
        description:
          `Runs ${op.name} on the environment's managed database (role needed: ${typeof op.access === "string" ? op.access : "depends on the input"}). ` +
          "With Accept: application/x-ndjson the response streams one JSON frame per line: {event} any number of times, then {result} or {error}. " +
          "Otherwise the answer is the result alone, and events are not sent (db.sql's rows are events: ask for NDJSON).",
        parameters: [...params, { name: "service", in: "query", required: false, schema: { type: "string" } }],
        requestBody: { required: true, content: { "application/json": { schema: json(op.input) } } },
        responses: {
          "200": {
            description: "the result (application/json) or the event stream (application/x-ndjson)",
            content: {
              "application/json": { schema: json(op.result) },
              "application/x-ndjson": { schema: { oneOf: [{ type: "object", properties: { event: json(op.event) } }, { type: "object", properties: { result: json(op.result) } }, { type: "object", properties: { error: ErrorBody.properties.error } }] } },
            },
          },
          ...errors,
        },
      },
    };
  }
  const simple = (summary: string, method: string, extra: Record<string, unknown> = {}) => ({ [method]: { summary, responses: { "200": { description: "OK" }, ...errors }, ...extra } });
  const body = (schema: z.ZodType) => ({ requestBody: { required: true, content: { "application/json": { schema: json(schema) } } } });
  Object.assign(paths, {
    "/healthz": simple("liveness: the process answers", "get"),
    "/readyz": simple("readiness: the platform database answers and its schema is current (503 otherwise)", "get"),
    "/admin/managed-db/instances": { ...simple("list instances {items, next_cursor}", "get"), ...simple("register an instance (its admin role and version are checked)", "post", body(InstanceInput)) },
    "/admin/managed-db/instances/{id}": simple("an instance", "get"),
    "/admin/managed-db/instances/{id}/drain": simple("stop placing new tenants on an instance", "post"),
    "/tokens": { ...simple("list tokens {items, next_cursor}", "get"), ...simple("create a token (its value is returned once)", "post", body(TokenCreateInput)) },
    "/tokens/{id}": simple("revoke a token", "delete"),
    "/projects": { ...simple("list projects", "get"), ...simple("create a project (admin)", "post", body(ProjectInput)) },
    "/projects/{project}": simple("a project", "get"),
    "/projects/{project}/envs": simple("the project's environments and their databases", "get"),
    "/projects/{project}/envs/{env}/deploy": simple("deploy a manifest: provision or reconcile its managed databases", "post", body(DeployInput)),
    "/projects/{project}/envs/{env}/render": simple("the environment's services with managed values substituted (?show_secrets=true needs write)", "get"),
    "/projects/{project}/envs/{env}/db/managed": simple("tenant status: state, class, instance, size, connections, limits and drift", "get"),
  });
  const doc = {
    openapi: "3.1.0",
    info: { title: "eve control plane", version },
    components: { schemas: { Error: ErrorBody }, securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "eve_pat_… tokens" } } },
    security: [{ bearer: [] }],
    paths,
  };
  cached = { ops: operations, doc };
  return doc;
}
