/**
 * Every webfleet command is built from the same parts: a {@link CommandSpec} (its options, with
 * defaults and help, examples and exit codes), commander to parse them, one error type
 * ({@link CliError}) with its exit code, one interrupt handler ({@link Interrupts}) and one exit
 * path. A new command is one small file in scripts/ that exports its spec and calls
 * {@link runCommand}.
 *
 * - `--help` / `-h` on every command: usage, every option with its default, examples, exit codes.
 * - Unknown options, missing values and bad values: one `error:` line, exit 2, no stack trace.
 * - stdout carries results (JSON with `--json`), stderr carries progress.
 * - A stack trace only with `--debug`, or for an error that is a bug.
 */
import { Command, CommanderError, Option } from "commander";
import { explainAwsError } from "../aws/errors";
import { CliError, EXIT, EXIT_MEANINGS, type ExitCode } from "./errors";
import { Interrupt, Interrupts, type SignalSource } from "./interrupts";

// ---------------------------------------------------------------------------------------
// Options

export interface OptionSpec<T> {
  readonly kind: "flag" | "negated" | "value" | "list";
  readonly help: string;
  /** The placeholder in `--name <valueName>`. */
  readonly valueName?: string;
  readonly required?: boolean;
  readonly defaultValue?: T;
  /** The default as behaviour, for --help ("the idle color"). */
  readonly defaultText?: string;
  /** Turns the raw text into the value; throws a CliError that names the option, the value and what is valid. */
  readonly parse?: (raw: string, flag: string) => T;
  readonly short?: string;
  /** A phantom for the value's type. */
  readonly __type?: T;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec<unknown>>>;
export type OptionValues<S extends OptionSpecs> = { -readonly [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

interface Described {
  readonly defaultText?: string;
}

function integerParser(o: { min?: number; max?: number }) {
  return (raw: string, flag: string): number => {
    const n = Number(raw);
    const range =
      o.min !== undefined && o.max !== undefined ? `from ${o.min} to ${o.max}` : o.min !== undefined ? `>= ${o.min}` : o.max !== undefined ? `<= ${o.max}` : "";
    if (!/^-?\d+$/.test(raw) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
      throw new CliError(`${flag} '${raw}': must be a whole number${range ? ` ${range}` : ""}`);
    }
    return n;
  };
}

/** Builders of {@link OptionSpec}s; the option's name is its key in the command's `options`, in kebab case. */
export const option = {
  /** `--name`: false unless given. */
  flag(help: string, o: { short?: string } = {}): OptionSpec<boolean> {
    return { kind: "flag", help, defaultValue: false, short: o.short };
  },
  /** `--no-name`: true unless `--no-name` is given. */
  negated(help: string): OptionSpec<boolean> {
    return { kind: "negated", help, defaultValue: true };
  },
  /** `--name <value>`, optional. */
  string(valueName: string, help: string, o: Described & { parse?: (raw: string, flag: string) => string } = {}): OptionSpec<string | undefined> {
    return { kind: "value", valueName, help, defaultText: o.defaultText, parse: o.parse };
  },
  /** `--name <value>`, required. */
  required(valueName: string, help: string, o: { parse?: (raw: string, flag: string) => string } = {}): OptionSpec<string> {
    return { kind: "value", valueName, help, required: true, parse: o.parse };
  },
  /** `--name <a|b>`: one of `choices`. */
  choice<C extends string>(choices: readonly C[], help: string, o: Described = {}): OptionSpec<C | undefined> {
    return {
      kind: "value",
      valueName: choices.join("|"),
      help,
      defaultText: o.defaultText,
      parse: (raw, flag) => {
        if ((choices as readonly string[]).includes(raw)) return raw as C;
        throw new CliError(`${flag} '${raw}': must be one of ${choices.join(", ")}`);
      },
    };
  },
  /** `--name <n>`: a whole number, in range. */
  integer: ((valueName: string, help: string, o: Described & { min?: number; max?: number; default?: number } = {}) => ({
    kind: "value",
    valueName,
    help,
    defaultValue: o.default,
    defaultText: o.defaultText,
    parse: integerParser(o),
  })) as {
    (valueName: string, help: string, o: Described & { min?: number; max?: number; default: number }): OptionSpec<number>;
    (valueName: string, help: string, o?: Described & { min?: number; max?: number }): OptionSpec<number | undefined>;
  },
  /** `--name <value>` turned into a T by `parse`. */
  custom<T>(valueName: string, help: string, parse: (raw: string, flag: string) => T, o: Described = {}): OptionSpec<T | undefined> {
    return { kind: "value", valueName, help, parse, defaultText: o.defaultText };
  },
  /** `--name a,b --name c`: a list, `[a, b, c]`. */
  list(valueName: string, help: string, o: Described = {}): OptionSpec<string[]> {
    return { kind: "list", valueName, help, defaultValue: [], defaultText: o.defaultText ?? "none" };
  },
  /** `--env <name>`: the environment, config/<name>.yaml (required). */
  env(): OptionSpec<string> {
    return { kind: "value", valueName: "name", help: "the environment: config/<name>.yaml", required: true };
  },
  /** `--json`: the result as JSON on stdout. */
  json(): OptionSpec<boolean> {
    return {
      kind: "flag",
      help: "print the result as JSON on stdout (progress stays on stderr; use `npm run -s` so npm prints no banner)",
      defaultValue: false,
    };
  },
  /** `--dry-run`: plan and pre-flight check; change nothing. */
  dryRun(what = "change nothing"): OptionSpec<boolean> {
    return {
      kind: "flag",
      help: `pre-flight check: show the plan and every blocker a real run would hit, ${what}; exits 2 when there is a blocker`,
      defaultValue: false,
    };
  },
};

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** A value that looks like an option: `--env --dry-run` gave --env no value. */
const LOOKS_LIKE_OPTION = /^-(-?[A-Za-z])/;

// ---------------------------------------------------------------------------------------
// Commands

/** What a command returns: its exit code, and its result as JSON (with --json) or lines. */
export interface Report {
  readonly exitCode?: number;
  /** Printed as JSON on stdout when the command was run with --json. */
  readonly json?: unknown;
  /** Printed on stdout otherwise (the human form of the result). */
  readonly lines?: readonly string[];
}

export interface CommandContext {
  /** A progress line, on stderr. */
  log(line: string): void;
  /** Result text, on stdout. */
  out(text: string): void;
  /** The streams themselves, for code that writes text as it comes (progress → stderr, results → stdout). */
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly interrupts: Interrupts;
  readonly debug: boolean;
  /** stdin and stderr are a terminal (a person can answer a prompt). */
  readonly interactive: boolean;
  readonly env: NodeJS.ProcessEnv;
}

export interface CommandSpec<S extends OptionSpecs> {
  /** The npm script: `npm run <name> -- ...`. */
  readonly name: string;
  /** One line: what it does. */
  readonly summary: string;
  /** More paragraphs for --help. */
  readonly description?: string;
  readonly options: S;
  /** One optional positional argument. */
  readonly argument?: { readonly name: string; readonly help: string };
  /** Command lines with `npm run`, for --help. */
  readonly examples: readonly string[];
  /** What the exit codes mean for this command (the defaults fill the rest). */
  readonly exitCodes?: Partial<Record<ExitCode, string>>;
  /** The exit code for an error nobody expected. @default 1 */
  readonly unexpectedExitCode?: ExitCode;
  run(input: { readonly options: OptionValues<S>; readonly args: readonly string[] }, ctx: CommandContext): Promise<number | void | Report>;
}

/** Declares a command; the identity, for type inference. */
export function defineCommand<S extends OptionSpecs>(spec: CommandSpec<S>): CommandSpec<S> {
  return spec;
}

/** The --help text of a command. */
export function helpText(spec: CommandHelp): string {
  let text = "";
  const program = buildProgram(spec, (s) => (text += s));
  program.outputHelp();
  return text;
}

/** The parts of a command that its parser and --help need. */
type CommandHelp = Pick<CommandSpec<OptionSpecs>, "name" | "summary" | "description" | "options" | "argument" | "examples" | "exitCodes">;

function buildProgram(spec: CommandHelp, write: (s: string) => void): Command {
  const program = new Command(`npm run ${spec.name} --`)
    .description([spec.summary, spec.description].filter(Boolean).join("\n\n"))
    .exitOverride()
    .showSuggestionAfterError()
    .allowExcessArguments(false)
    .helpOption("-h, --help", "show this help")
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => undefined })
    .configureHelp({ helpWidth: 100, showGlobalOptions: false });
  if (spec.argument) program.argument(`[${spec.argument.name}]`, spec.argument.help);
  const given = new Map<string, string>();
  for (const [key, o] of Object.entries(spec.options)) {
    const name = kebab(key);
    const long = o.kind === "negated" ? `--no-${name}` : `--${name}`;
    const short = o.short ? `-${o.short}, ` : "";
    const flags = o.kind === "flag" || o.kind === "negated" ? `${short}${long}` : `${short}${long} <${o.valueName ?? "value"}>`;
    // commander prints "(default: …)" itself for an option with a default value.
    const commanderShowsDefault = o.kind === "list" || (o.kind === "value" && o.defaultValue !== undefined);
    const withDefault =
      o.defaultText !== undefined && !commanderShowsDefault ? `${o.help} (default: ${o.defaultText})` : o.required ? `${o.help} (required)` : o.help;
    const opt = new Option(flags, withDefault);
    opt.attributeName = () => key;
    if (o.kind === "value" || o.kind === "list") {
      opt.argParser((raw: string, previous: unknown) => {
        if (LOOKS_LIKE_OPTION.test(raw)) throw new CliError(`${long} needs a value (got the option ${raw}): ${o.help}`);
        if (o.kind !== "list" && given.has(long)) throw new CliError(`${long} is given twice ('${given.get(long)}' and '${raw}'); give it once`);
        given.set(long, raw);
        if (o.kind === "list") {
          const items = raw
            .split(",")
            .map((v) => v.trim())
            .filter(Boolean);
          return [...((previous as string[] | undefined) ?? []), ...items];
        }
        return o.parse ? o.parse(raw, long) : raw;
      });
    }
    if (o.kind === "list") opt.default([], o.defaultText);
    else if (o.kind !== "negated" && o.kind !== "flag" && o.defaultValue !== undefined) opt.default(o.defaultValue, o.defaultText);
    program.addOption(opt);
  }
  program.option("--debug", "print stack traces of errors (for reporting a bug)");
  const codes = { ...EXIT_MEANINGS, ...spec.exitCodes };
  program.addHelpText(
    "after",
    [
      "",
      "Examples:",
      ...spec.examples.map((e) => `  ${e}`),
      "",
      "Exit codes:",
      ...Object.entries(codes).map(([code, meaning]) => `  ${code.padStart(3)}  ${meaning}`),
    ].join("\n"),
  );
  return program;
}

export interface CommandIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly env?: NodeJS.ProcessEnv;
  readonly interactive?: boolean;
  /** Signals (tests pass a fake). @default process */
  readonly signals?: SignalSource;
  /** How an interrupt ends the process. @default process.exit */
  readonly exit?: (code: number) => void;
}

/** `--help` was asked for: the text to print on stdout. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("help requested");
    this.name = "HelpRequested";
  }
}

/**
 * Commander's message in one line: "unknown option '--evn'\n(Did you mean --env?)" becomes
 * "unknown option '--evn' (did you mean --env?)", and its count of arguments names the argument.
 */
export function commanderMessage(e: CommanderError, stray: readonly string[] = []): string {
  if (e.code === "commander.excessArguments") {
    return `unexpected argument${stray.length === 1 ? "" : "s"}${stray.length ? ` ${stray.map((a) => `'${a}'`).join(", ")}` : ""}: this command takes options only`;
  }
  return e.message
    .replace(/^error: /, "")
    .replace(/\s*\n\s*\(Did you mean/g, " (did you mean")
    .replace(/\s*\n\s*/g, " ")
    .replace(/\.$/, "")
    .trim();
}

/**
 * Parses `argv` against a command's options: the values, typed, and the positional arguments.
 * Throws a {@link CliError} (exit 2) for an unknown option, a missing or bad value, or a missing
 * required option, and {@link HelpRequested} for --help.
 */
export function parseArgv<S extends OptionSpecs>(
  spec: Omit<CommandHelp, "options"> & { readonly options: S },
  argv: readonly string[],
): { options: OptionValues<S>; args: string[] } {
  for (const arg of argv) {
    const m = /^(--[^=]+)=(.*)$/.exec(arg);
    const flag =
      m && Object.entries(spec.options).find(([key, o]) => (o.kind === "flag" ? `--${kebab(key)}` : o.kind === "negated" ? `--no-${kebab(key)}` : "") === m[1]);
    if (m && flag) throw new CliError(`${m[1]} takes no value (got '${m[2]}'); run \`npm run ${spec.name} -- --help\` for the options`);
  }
  let output = "";
  const program = buildProgram(spec as CommandHelp, (s) => (output += s));
  try {
    program.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") throw new HelpRequested(output);
      throw new CliError(`${commanderMessage(e, program.args)}; run \`npm run ${spec.name} -- --help\` for the options`);
    }
    throw e;
  }
  const parsed = program.opts() as Record<string, unknown>;
  const missing = Object.entries(spec.options).filter(([key, o]) => o.required && parsed[key] === undefined);
  if (missing.length > 0) {
    const [key, o] = missing[0];
    throw new CliError(
      `--${kebab(key)} is required: ${o.help}${key === "env" ? " (for example --env dev)" : ""}; run \`npm run ${spec.name} -- --help\` for the options`,
    );
  }
  for (const [key, o] of Object.entries(spec.options)) {
    if (parsed[key] === undefined && (o.kind === "flag" || o.kind === "negated")) parsed[key] = o.defaultValue;
  }
  delete parsed.debug;
  return { options: parsed as OptionValues<S>, args: program.args };
}

/** Parses `argv`, runs the command, prints errors; returns the exit code (never throws). */
export async function executeCommand<S extends OptionSpecs>(spec: CommandSpec<S>, argv: readonly string[], io: CommandIo): Promise<number> {
  const log = (line: string) => void io.stderr.write(`${line}\n`);
  const debug = argv.includes("--debug");
  let options: OptionValues<S>;
  let args: string[];
  try {
    ({ options, args } = parseArgv(spec, argv));
  } catch (e) {
    if (e instanceof HelpRequested) {
      io.stdout.write(e.text);
      return EXIT.ok;
    }
    return report(e);
  }

  const interrupts = new Interrupts({ source: io.signals, exit: io.exit, log });
  const ctx: CommandContext = {
    log,
    out: (text) => void io.stdout.write(text),
    stdout: io.stdout,
    stderr: io.stderr,
    interrupts,
    debug,
    interactive: io.interactive ?? false,
    env: io.env ?? process.env,
  };
  try {
    const result = await spec.run({ options, args }, ctx);
    if (typeof result === "number") return result;
    if (result === undefined) return EXIT.ok;
    const json = (options as Record<string, unknown>).json === true;
    if (json && result.json !== undefined) io.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
    else if (result.lines && result.lines.length > 0) io.stdout.write(`${result.lines.join("\n")}\n`);
    return result.exitCode ?? EXIT.ok;
  } catch (e) {
    return report(interrupts.interrupted && !(e instanceof CliError) ? interrupts.signal.reason : e);
  } finally {
    await interrupts.runCleanups();
    interrupts.dispose();
  }

  function report(e: unknown): number {
    const known = e instanceof CliError ? e : explainAwsError(e);
    if (known) {
      io.stderr.write(`error: ${known.message}\n`);
      if (debug && known.stack) io.stderr.write(`${known.stack}\n`);
      return known instanceof Interrupt ? EXIT.interrupted : known.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(`error: ${err.name}: ${err.message}\n`);
    io.stderr.write(debug ? `${err.stack}\n` : "(unexpected: run again with --debug for the stack trace, and report it)\n");
    return spec.unexpectedExitCode ?? EXIT.failed;
  }
}

/** Runs the command in this process and exits with its code, once stdout has drained. */
export function runCommand<S extends OptionSpecs>(spec: CommandSpec<S>): void {
  void executeCommand(spec, process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
  }).then((code) => {
    process.stdout.write("", () => process.exit(code));
  });
}
