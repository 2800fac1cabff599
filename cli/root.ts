/**
 * Builds the argument parser (commander) from the plugin list: every command
 * spec becomes a leaf, intermediate words become groups, and the help topics
 * "exit-codes" and "environment" are added. Parsing only; running is main.ts.
 */
import { Command, CommanderError, Option } from "commander";
import { environmentHelp } from "../core/config.ts";
import { EveError, ExitCode, exitCodeHelp, UsageError } from "../core/errors.ts";
import type { CommandSpec, Context, Plugin } from "../core/plugin.ts";

export interface Invocation {
  spec: CommandSpec;
  opts: Record<string, unknown>;
  args: string[];
}

export interface RootInfo {
  version: string;
  write: (s: string) => void;
  writeErr: (s: string) => void;
  columns?: number;
}

export const helpTopics: Record<string, { summary: string; text: () => string }> = {
  "exit-codes": {
    summary: "exit codes and what they mean",
    text: () =>
      "eve exit codes:\n\n" +
      exitCodeHelp.map(([code, what]) => `  ${String(code).padStart(3)}  ${what}`).join("\n") +
      "\n",
  },
  environment: {
    summary: "environment variables eve reads",
    text: () =>
      "Environment variables (a flag always wins over its variable):\n\n" +
      environmentHelp.map(([name, what]) => `  ${name.padEnd(Math.max(...environmentHelp.map(([n]) => n.length)))}  ${what}`).join("\n") +
      "\n",
  },
};

/**
 * Build the program. `onRun` receives the chosen command; the promise returned
 * by parseAsync resolves after it ran.
 */
export function buildProgram(
  plugins: Plugin[],
  info: RootInfo,
  onRun: (inv: Invocation) => Promise<void>,
): Command {
  const program = new Command("eve");
  configure(program, info);
  program
    .description("Postgres operations: migrations, SQL, schema, RLS, snapshots and restore; direct (--url) or through the eve control plane (--env)")
    .version(info.version, "-v, --version", "print version and commit")
    .option("--debug", "print stack traces and internal detail on errors")
    // A group's options belong to it alone: `eve db rls init --check` is an unknown
    // option for `init`, not a silently accepted flag of `rls`.
    .enablePositionalOptions()
    .addHelpText("after", "\nRun `eve help exit-codes` and `eve help environment` for the reference tables.");

  const groups = new Map<string, Command>([["", program]]);
  const groupHelp = Object.assign({}, ...plugins.map((p) => p.groups ?? {})) as Record<string, string>;
  const groupFor = (words: string[]): Command => {
    const key = words.join(" ");
    const found = groups.get(key);
    if (found) return found;
    const parent = groupFor(words.slice(0, -1));
    const cmd = parent.command(words[words.length - 1]!).description(groupHelp[key] ?? "");
    configure(cmd, info);
    groups.set(key, cmd);
    return cmd;
  };

  for (const plugin of plugins) {
    for (const spec of plugin.commands) {
      const words = spec.path;
      const leafName = words[words.length - 1]!;
      const parentWords = words.slice(0, -1);
      const key = words.join(" ");
      // A path can be both a command and a group (`db snapshot` and `db snapshot show`).
      let cmd = groups.get(key);
      if (!cmd) {
        cmd = groupFor(parentWords).command(leafName);
        configure(cmd, info);
        groups.set(key, cmd);
      }
      cmd.description(spec.summary + (spec.description ? "\n\n" + spec.description : ""));
      cmd.summary(spec.summary);
      for (const a of spec.args ?? []) cmd.argument(a.name, a.description);
      for (const o of spec.options ?? []) {
        const opt = new Option(o.flags, o.description);
        // Defaults go through the same parser as given values ("60s" → 60000), shown raw in help.
        if (o.default !== undefined) opt.default(o.parse ? o.parse(String(o.default)) : o.default, String(o.default));
        if (o.choices) opt.choices(o.choices);
        if (o.parse) opt.argParser((v: string) => o.parse!(v));
        if (o.repeatable) opt.argParser((v: string, prev: unknown) => [...((prev as string[] | undefined) ?? []), v]);
        cmd.addOption(opt);
      }
      if (!(spec.options ?? []).some((o) => o.flags.startsWith("--json"))) {
        cmd.option("--json", "print one JSON document on stdout (logs go to stderr)");
      }
      cmd.option("--debug", "print stack traces and internal detail on errors");
      if (spec.examples?.length) {
        cmd.addHelpText("after", "\nExamples:\n" + spec.examples.map((e) => "  " + e).join("\n"));
      }
      cmd.action(async (...params: unknown[]) => {
        const self = params[params.length - 1] as Command;
        const positional = self.processedArgs.flatMap((a: unknown) =>
          a === undefined ? [] : Array.isArray(a) ? a.map(String) : [String(a)],
        );
        await onRun({ spec, opts: self.optsWithGlobals(), args: positional });
      });
    }
  }

  // Help: `eve help`, `eve help <command words…>`, `eve help <topic>`.
  program.helpCommand(false);
  program
    .command("help")
    .description("show help for a command or a topic (exit-codes, environment)")
    .argument("[words...]", "command words or topic")
    .action((words: string[]) => {
      const topic = helpTopics[words.join(" ")];
      if (topic) return info.write(topic.text());
      let cmd: Command = program;
      for (const w of words) {
        const next = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
        if (!next) {
          throw new UsageError(`unknown help topic or command "${words.join(" ")}"`, {
            hint: `topics: ${Object.keys(helpTopics).join(", ")}; or run eve --help`,
          });
        }
        cmd = next;
      }
      info.write(cmd.helpInformation());
    });
  return program;
}

function configure(cmd: Command, info: RootInfo): void {
  cmd
    .exitOverride()
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .configureOutput({
      writeOut: info.write,
      writeErr: info.writeErr,
      getOutHelpWidth: () => Math.min(info.columns ?? 100, 120),
      getErrHelpWidth: () => Math.min(info.columns ?? 100, 120),
      outputError: () => {}, // main.ts prints errors in one format
    });
  // Groups without an action print their help and exit 0 (`eve db`), like gh.
}

/** Map a commander error to an EveError (or `null` for help/version exits). */
export function fromCommanderError(e: CommanderError): EveError | null {
  if (
    e.code === "commander.helpDisplayed" ||
    e.code === "commander.version" ||
    e.code === "commander.help" ||
    e.code === "commander.executeSubCommandAsync"
  ) {
    return null;
  }
  const message = e.message.replace(/^error:\s*/i, "").split("\n")[0]!;
  const suggestion = /\(Did you mean (.+)\?\)/.exec(e.message)?.[1];
  return new UsageError(message, { hint: suggestion ? `did you mean ${suggestion}?` : "run with --help for usage" });
}

export { CommanderError };
export type { Context };
export const usageExit = ExitCode.usage;
