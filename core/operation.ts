/**
 * Operations: every database verb defined once. An operation is a zod input,
 * a zod result, a zod event and `run(deps, input, emit)`. It never prints,
 * never reads argv or the process environment, never exits and never knows
 * how it was reached: the CLI runs it locally against --url (core/op-command.ts)
 * or sends its input to the control plane, whose route (core/http/routes.ts)
 * runs the same `run` against a tenant and streams `emit` back. Errors cross
 * the wire as data (errorToJson / errorFromJson), SQLSTATE and position kept.
 */
import type { z } from "zod";
import type { ConnectOptions, Db, Notice } from "./db/index.ts";
import type { WipeOptions, WipeResult } from "./db/recreate.ts";
import { EveError, ExitCode, type ExitCode as ExitCodeValue } from "./errors.ts";
import type { Store } from "./store/types.ts";

/** What a caller must be allowed to run an operation on a tenant (project token role). */
export type Access = "read" | "write" | "owner";

/** What the outside world lends an operation. */
export interface OpDeps {
  /** The target database, connected and answering (a pool of `connection().max ?? 1`). */
  db: Db;
  /** The target's URL, password included: for pg_dump/pg_restore and scratch databases; never printed. */
  url: string;
  /** The target as printed: user@host:port/db. */
  label: string;
  /** direct: the CLI against --url/DATABASE_URL; managed: the control plane against a tenant. */
  mode: "direct" | "managed";
  /** Server NOTICE/WARNING messages of `db` go to the handler set here (default: dropped). */
  onNotice(handler: (n: Notice) => void): void;
  /** Snapshot store (operations that declare `store: true`). */
  store?: Store;
  /** Environment for locating and running client tools (PATH, EVE_PG_BIN, PG*); never read for config. */
  toolEnv: Record<string, string | undefined>;
  /**
   * Managed mode only: how this target is emptied (wipe, reset). The control
   * plane wipes a tenant's schemas as the platform and re-provisions its grants
   * and extensions after. Absent in direct mode: operations call
   * core/db/recreate.ts wipeDatabase(deps.url, …) themselves.
   */
  wipeDatabase?(opts: WipeOptions): Promise<WipeResult>;
  /**
   * Managed mode only: install an extension in the target as the platform
   * (the tenant may not create extensions). Refuses names outside the allowlist.
   */
  installExtension?(name: string): Promise<void>;
  /** Managed mode only: where migrate's adoption creates its scratch shadow database (the instance's admin URL). */
  shadowUrl?: string;
  now(): Date;
  /** Aborted on Ctrl-C / SIGTERM (CLI) or when the client goes away / the server stops. */
  signal: AbortSignal;
}

export interface Operation<I = any, R = any, E = any> {
  /** Dotted name, e.g. "db.migrate"; the route is derived from it (core/http/routes.ts). */
  name: string;
  summary: string;
  /** The role a project token needs to run it through the control plane. */
  access: Access | ((input: I) => Access);
  input: z.ZodType<I>;
  result: z.ZodType<R>;
  event: z.ZodType<E>;
  /** Session options for the target connection (application name, read-only, pinned settings). */
  connection?(input: I): Omit<ConnectOptions, "onNotice" | "connectTimeout">;
  /** Needs a snapshot store in deps. */
  store?: boolean;
  /**
   * false: works on the store alone (list, show, delete a snapshot): no target
   * connection is opened, `deps.db` throws if used and `deps.url`/`label` are "".
   */
  connects?: boolean;
  /**
   * `emit` may return a promise while the consumer is behind (a slow stdout,
   * a slow HTTP client): an operation that streams much (sql rows) awaits it;
   * others may ignore it.
   */
  run(deps: OpDeps, input: I, emit: Emit<E>): Promise<R>;
}

/** An operation's event sink; a promise means "wait before emitting more". */
export type Emit<E> = (e: E) => void | Promise<void>;

/** Typed identity helper. */
export function defineOperation<I, R, E>(op: Operation<I, R, E>): Operation<I, R, E> {
  return op;
}

export type InputOf<O> = O extends Operation<infer I, any, any> ? I : never;
export type ResultOf<O> = O extends Operation<any, infer R, any> ? R : never;
export type EventOf<O> = O extends Operation<any, any, infer E> ? E : never;

/**
 * Whether the control plane serves an operation (its route exists and the
 * command has --env). Snapshot-store operations come with the jobs and
 * scheduler: the platform's own store and a worker run them.
 */
export function servedRemotely(op: Operation): boolean {
  return !op.store;
}

/** The role an input needs. */
export function accessOf<I>(op: Operation<I>, input: I): Access {
  return typeof op.access === "function" ? op.access(input) : op.access;
}

/** An error as data: what crosses the wire and what --json prints. */
export interface ErrorJson {
  code: string;
  message: string;
  exitCode: number;
  hint?: string;
  /** Extra human lines (a source excerpt). */
  context?: string[];
  /** Structured details: SQLSTATE, position, a refusal's preview… */
  details?: Record<string, unknown>;
}

/** Any thrown value as data; unknown errors keep only their message. */
export function errorToJson(e: unknown): ErrorJson {
  if (e instanceof EveError) {
    return {
      code: e.code,
      message: e.message,
      exitCode: e.exitCode,
      ...(e.hint ? { hint: e.hint } : {}),
      ...(e.context?.length ? { context: e.context } : {}),
      ...(e.details ? { details: e.details } : {}),
    };
  }
  return { code: "E_INTERNAL", message: e instanceof Error ? e.message : String(e), exitCode: ExitCode.error };
}

/** The EveError an ErrorJson stands for (same code, exit code, hint, context and details). */
export function errorFromJson(j: ErrorJson): EveError {
  const exit = Object.values(ExitCode).includes(j.exitCode as ExitCodeValue) ? (j.exitCode as ExitCodeValue) : ExitCode.error;
  return new EveError(j.code, j.message, exit, { hint: j.hint, context: j.context, details: j.details });
}
