/**
 * Plugin and command types. A command is data: its help comes from these
 * fields, cli/root.ts mounts it on the argument parser, and `run` receives
 * parsed options plus a Context (never argv, process.env or console).
 */
import type { Output } from "./io.ts";
import type { Operation } from "./operation.ts";

/** Everything a command may touch of the outside world. */
export interface Context {
  /** Environment variables (a snapshot, never process.env itself). */
  env: Record<string, string | undefined>;
  cwd: string;
  out: Output;
  /** --debug: print stacks and internal detail. */
  debug: boolean;
  /** Aborted on Ctrl-C/SIGTERM. */
  signal: AbortSignal;
  now(): Date;
  /** Version string of this build. */
  version: string;
  /** All of standard input as text (`--file -`); absent where there is none. */
  readStdin?(): Promise<string>;
  /** Ask the runtime for a garbage collection (long streams, every few MB). */
  collectGarbage?(): void;
}

export interface OptionSpec {
  /** Commander flag syntax, e.g. "--path <dir>", "--force", "--no-verify". */
  flags: string;
  description: string;
  /** Default shown in help and applied when neither flag nor env is given. */
  default?: string | boolean | number;
  /** Restrict a value option to these choices. */
  choices?: string[];
  /** Parse the raw string (numbers, durations); throw UsageError on bad input. */
  parse?: (value: string) => unknown;
  /** Repeatable: values collect into an array. */
  repeatable?: boolean;
}

export interface ArgSpec {
  /** "<name>" (required), "[name]" (optional) or "[name...]" (variadic). */
  name: string;
  description: string;
}

export interface CommandSpec<O = Record<string, unknown>> {
  /** Words after `eve`, e.g. ["db", "migrate"]. */
  path: string[];
  summary: string;
  /** Longer help shown after the summary. */
  description?: string;
  args?: ArgSpec[];
  options?: OptionSpec[];
  /** Extra text after the options in help (examples). */
  examples?: string[];
  /** After SIGTERM, how long the command may take to stop before eve exits anyway (default 2.5 s; a server drains longer). */
  termGraceMs?: number;
  run(ctx: Context, opts: O, args: string[]): Promise<number | void>;
}

export interface Plugin {
  name: string;
  /** The plugin's operations: `eve server` mounts each as a tenant route. */
  operations?: Operation[];
  /** Group help for intermediate words, e.g. { "db": "…" , "db snapshot": "…" } */
  groups?: Record<string, string>;
  commands: CommandSpec<any>[];
}

/** Typed identity helpers for inference. */
export function defineCommand<O>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}
export function definePlugin(p: Plugin): Plugin {
  return p;
}
