/**
 * A command that runs an operation: flags → input, then either locally
 * (--url / DATABASE_URL: connect, op.run) or remotely (--env: the control
 * plane runs the same operation on the tenant and streams its events back),
 * and the same renderers for events, the result and errors in both modes,
 * so the output cannot tell them apart.
 */
import { urlOption, waitOptions } from "./config.ts";
import { openDirect } from "./db/open.ts";
import type { Db, Notice } from "./db/index.ts";
import { EveError, UsageError } from "./errors.ts";
import { runRemote, tenantOpPath } from "./http/client.ts";
import { servedRemotely, type Emit, type Operation, type OpDeps } from "./operation.ts";
import { defineCommand, type CommandSpec, type Context, type OptionSpec } from "./plugin.ts";
import { remoteOptions, resolveRemote, type Remote, type RemoteFlags } from "./remote.ts";
import type { Store } from "./store/types.ts";

/** Flags every operation command has, besides its own. */
export interface TargetFlags extends RemoteFlags {
  url?: string;
  env?: string;
  wait?: boolean;
  waitTimeout?: number;
  json?: boolean;
}

/** The flags of an operation command: the input's fields (commander camel-cases --dry-run to dryRun), the target flags, and extras. */
export type OpFlags<I, X = unknown> = Partial<I> & TargetFlags & X;

export interface OpCommandSpec<I, R, E, O> extends Omit<CommandSpec<O>, "run" | "options"> {
  op: Operation<I, R, E>;
  /** The command's own options; --url, --wait, --env and the remote flags are added. */
  options?: OptionSpec[];
  /** Flags and arguments → input (reading local files here); a UsageError for bad flags. */
  input(ctx: Context, opts: O, args: string[]): I | Promise<I>;
  /** The snapshot store for local runs of operations that need one. */
  store?(ctx: Context, opts: O): Store;
  /** Called once the input is known, before connecting (warnings). */
  before?(ctx: Context, input: I, opts: O): void;
  /** Render one event as it happens. */
  event?(ctx: Context, e: E, opts: O, input: I): void | Promise<void>;
  /** Render the result; a number is the exit code (a thrown CheckError also works). */
  result(ctx: Context, r: R, opts: O, input: I): void | number | Promise<void | number>;
  /**
   * --env only: called before the operation is sent (e.g. status reads the
   * tenant's managed state first). Returning a value ends the command there
   * without running the operation (a tenant that is not ready); the value is the exit code.
   */
  remotePrelude?(ctx: Context, remote: Remote & { env: string }, opts: O): Promise<number | void>;
  /** Render a failed run (partial output) before the error is reported; it is rethrown after. */
  failure?(ctx: Context, e: unknown, opts: O, input: I): void | Promise<void>;
}

export const envOption: OptionSpec = { flags: "--env <name>", description: "run through the control plane on this environment's database" };

/** Build the CommandSpec of an operation command. */
export function defineOpCommand<I, R, E, O extends TargetFlags = OpFlags<I>>(spec: OpCommandSpec<I, R, E, O>): CommandSpec<O> {
  const { op, input: toInput, store, before, event, result, failure, remotePrelude, options = [], ...rest } = spec;
  return defineCommand<O>({
    ...rest,
    // --env and the remote flags where the control plane serves the operation; --wait where a connection is opened.
    options: [
      urlOption,
      ...(servedRemotely(op) ? [envOption] : []),
      ...options,
      ...(op.connects === false ? [] : waitOptions),
      ...(servedRemotely(op) ? remoteOptions : []),
    ],
    async run(ctx, opts, args) {
      if (opts.env !== undefined && opts.url !== undefined) throw new UsageError("give --url or --env, not both");
      const raw = await toInput(ctx, opts, args);
      const parsed = op.input.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new UsageError(`invalid input for ${op.name}: ${issue.path.join(".") || "input"}: ${issue.message}`);
      }
      const input = parsed.data;
      before?.(ctx, input, opts);
      const emit = (e: E) => event?.(ctx, e, opts, input);
      let r: R;
      try {
        if (opts.env !== undefined) {
          const target = await resolveRemote(opts, ctx.env, { needProject: true });
          const stop = await remotePrelude?.(ctx, { ...target, env: opts.env }, opts);
          if (typeof stop === "number") return stop;
          r = await runRemote<R, E>(target, tenantOpPath(target.project!, opts.env, op.name), input, emit, { signal: ctx.signal });
        } else {
          r = await local(ctx, opts, op, input, emit, store);
        }
      } catch (e) {
        await failure?.(ctx, e, opts, input);
        throw e;
      }
      const code = await result(ctx, r, opts, input);
      return typeof code === "number" ? code : undefined;
    },
  });
}

async function local<I, R, E, O extends TargetFlags>(
  ctx: Context,
  opts: O,
  op: Operation<I, R, E>,
  input: I,
  emit: Emit<E>,
  store: ((ctx: Context, opts: O) => Store) | undefined,
): Promise<R> {
  let onNotice: (n: Notice) => void = () => {};
  const st = op.store && store ? store(ctx, opts) : undefined;
  const conn =
    op.connects === false
      ? { db: noConnection(op.name), url: "", label: "", close: async () => {} }
      : await openDirect(ctx, opts, { ...op.connection?.(input), onNotice: (n) => onNotice(n) });
  try {
    const deps: OpDeps = {
      db: conn.db,
      url: conn.url,
      label: conn.label,
      mode: "direct",
      onNotice: (h) => void (onNotice = h),
      ...(st ? { store: st } : {}),
      toolEnv: ctx.env,
      now: () => ctx.now(),
      signal: ctx.signal,
    };
    return await op.run(deps, input, emit);
  } finally {
    await conn.close();
  }
}

/** The `db` of an operation that declared `connects: false`: any use is a bug, reported as one. */
export function noConnection(name: string): Db {
  const fail = () => {
    throw new EveError("E_INTERNAL", `operation ${name} declared connects: false but used the database`);
  };
  return new Proxy(fail, { get: fail, apply: fail }) as unknown as Db;
}
