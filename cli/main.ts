#!/usr/bin/env bun
/**
 * The only entry point and the only place that exits. Builds the Context from
 * the runtime, dispatches to a command, and maps errors to exit codes.
 */
import { CommanderError } from "commander";
import { redactDeep, redactText, secretsIn, secretValues } from "../core/db/url.ts";
import { errorJson, EveError, ExitCode, InterruptedError, isEveError, OutputClosedError } from "../core/errors.ts";
import { createOutput, paint } from "../core/io.ts";
import type { Context } from "../core/plugin.ts";
import * as rt from "../core/runtime/index.ts";
import { buildProgram, fromCommanderError } from "./root.ts";
import { pluginsFor } from "./registry.ts";
import { versionLine } from "./version.ts";

/** How long SIGTERM waits for the cancelled work to end before eve exits anyway (exit 143). */
const TERM_GRACE_MS = 2500;

async function main(): Promise<number> {
  const argv = rt.argv();
  const env = rt.env();
  // A first guess for errors raised while parsing; the parsed options replace it
  // (so `--sql "--json"` is a value, not the flag).
  let debug = argv.includes("--debug");
  let json = argv.includes("--json");
  let wroteStdout = false;
  const stdout = {
    isTTY: rt.stdout.isTTY,
    columns: rt.stdout.columns,
    write: (c: string | Uint8Array) => ((wroteStdout = true), rt.stdout.write(c)),
    once: (e: "drain", cb: () => void) => rt.stdout.once?.(e, cb),
  };
  const out = createOutput(stdout, rt.stderr, { json, env });
  const abort = new AbortController();
  let interrupts = 0;
  let terminated = false;
  let termGraceMs = TERM_GRACE_MS;
  const onInt = () => {
    interrupts++;
    if (interrupts > 1) rt.exit(ExitCode.interrupted);
    abort.abort(new InterruptedError());
  };
  // SIGTERM: the same graceful abort (cancel on the server, roll back), but eve
  // exits even if the work does not end within the grace period.
  const onTerm = () => {
    terminated = true;
    onInt();
    rt.exitLater(termGraceMs, ExitCode.terminated);
  };
  const offInt = rt.onSignal("SIGINT", onInt);
  const offTerm = rt.onSignal("SIGTERM", onTerm);
  const offClosed = rt.onStdoutClosed(() => abort.abort(new OutputClosedError()));

  const ctx: Context = {
    env,
    cwd: rt.cwd(),
    out,
    debug,
    signal: abort.signal,
    now: () => new Date(),
    version: versionLine(),
    readStdin: rt.readStdin,
    collectGarbage: rt.collectGarbage,
  };
  // Values that must never be printed: passwords in URLs given by flag or env.
  const secrets = collectSecrets(argv, env);

  let code: number = ExitCode.ok;
  const program = buildProgram(
    await pluginsFor(argv),
    {
      version: ctx.version,
      write: (s) => void rt.stdout.write(s),
      writeErr: (s) => void rt.stderr.write(s),
      columns: rt.stdout.columns,
    },
    async ({ spec, opts, args }) => {
      json = out.json = opts.json === true;
      debug = ctx.debug = opts.debug === true;
      termGraceMs = spec.termGraceMs ?? TERM_GRACE_MS;
      const result = await spec.run(ctx, opts, args);
      if (typeof result === "number") code = result;
    },
  );

  try {
    if (argv.length === 0) {
      rt.stdout.write(program.helpInformation());
      return ExitCode.ok;
    }
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    let err: unknown = e;
    if (e instanceof CommanderError) {
      const mapped = fromCommanderError(e);
      if (!mapped) return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      err = mapped;
    }
    if (abort.signal.aborted && !isEveError(err)) err = abort.signal.reason instanceof OutputClosedError ? abort.signal.reason : new InterruptedError();
    if (err instanceof OutputClosedError) return ExitCode.ok;
    code = report(err, { debug, out, secrets });
    // --json promises one JSON document on stdout, failures included.
    if (json && !wroteStdout && isEveError(err)) out.printJson({ error: redactDeep(errorJson(err), secrets) });
  } finally {
    offInt();
    offTerm();
    offClosed();
  }
  // A graceful stop after SIGTERM still reports that it was terminated.
  return terminated && code === ExitCode.interrupted ? ExitCode.terminated : code;
}

function report(err: unknown, o: { debug: boolean; out: ReturnType<typeof createOutput>; secrets: string[] }): number {
  const clean = (s: string) => redactText(s, o.secrets);
  const e: EveError = isEveError(err)
    ? err
    : new EveError("E_INTERNAL", err instanceof Error ? err.message : String(err), ExitCode.error, { cause: err });
  o.out.log(paint(o.out, "red", "error: ") + clean(e.message));
  for (const line of e.context ?? []) o.out.log(clean(line));
  if (e.hint) o.out.log(paint(o.out, "dim", "hint: ") + clean(e.hint));
  if (o.debug) {
    const stack = (e.cause instanceof Error ? e.cause.stack : undefined) ?? e.stack;
    if (stack) o.out.log(clean(stack));
  }
  return e.exitCode;
}

/** Values that must never be printed: passwords in flags and variables, in every form. */
function collectSecrets(argv: string[], env: Record<string, string | undefined>): string[] {
  return [
    ...secretsIn([...argv, env.DATABASE_URL, env.EVE_SNAPSHOT_STORE]),
    ...secretsIn([env.EVE_DATABASE_URL]),
    ...secretValues(["PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "EVE_TOKEN", "EVE_MASTER_KEY", "EVE_ADMIN_TOKEN"].map((k) => env[k])),
  ];
}

await rt.exitAfterFlush(await main());
