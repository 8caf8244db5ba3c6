/**
 * Plumbing shared by the zx commands (ami, deploy, and any later one): argument parsing,
 * the process runner the commands receive (zx's `$` in production, a fake in tests),
 * prerequisite checks whose messages say what to do, interrupts, and `main()`.
 *
 * Nothing here knows about Packer, Terraform or webfleet's names.
 */
import { parseArgs } from "node:util";
import { $, quote, which } from "zx";
import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";

/** A problem the user can fix: printed as `error: <message>` without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** Where progress lines go. Commands write progress to stderr so that stdout stays machine-readable. */
export type Log = (line: string) => void;

// ---------------------------------------------------------------------------------------
// Arguments

/** One option of a command: `--name value` (string) or `--flag` (boolean). */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** Value placeholder and one-line help, for the usage text. */
  readonly help: string;
  readonly valueName?: string;
  readonly multiple?: boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export type ParsedOptions<S extends OptionSpecs> = {
  -readonly [K in keyof S]?: S[K]["type"] extends "boolean" ? boolean : S[K]["multiple"] extends true ? string[] : string;
};

/** `Usage: npm run ami -- [options]` followed by one line per option. */
export function usage(command: string, summary: string, specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const left = spec.type === "string" ? `--${name} <${spec.valueName ?? "value"}>` : `--${name}`;
    return `  ${left.padEnd(30)} ${spec.help}`;
  });
  return [`Usage: ${command} [options]`, "", summary, "", "Options:", ...rows, `  ${"--help".padEnd(30)} show this help`].join("\n");
}

/**
 * Parses `argv` strictly: an unknown option, a missing value or a stray positional is a
 * {@link UserError} that names it. `--help` returns `{ help: true }`.
 */
export function parseOptions<S extends OptionSpecs>(argv: readonly string[], specs: S): ParsedOptions<S> & { help?: boolean } {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = { help: { type: "boolean" } };
  for (const [name, spec] of Object.entries(specs)) options[name] = spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type };
  try {
    const { values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
    return values as ParsedOptions<S> & { help?: boolean };
  } catch (e) {
    const err = e as Error & { code?: string };
    if (typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS")) {
      const first = err.message.split(/\.\s/)[0].replace(/\.$/, "");
      throw new UserError(`${first}; run with --help for the options`, 2);
    }
    throw e;
  }
}

/** The value of a `--name a,b --name c` option as one list: `[a, b, c]`. */
export function listOption(values: readonly string[] | string | undefined): string[] {
  const all = values === undefined ? [] : typeof values === "string" ? [values] : values;
  return all
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** `value` if it is one of `allowed`, else a UserError naming the option and the valid values. */
export function oneOf<T extends string>(option: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UserError(`--${option} ${value}: must be one of ${allowed.join(", ")}`, 2);
}

// ---------------------------------------------------------------------------------------
// Running programs

export interface RunOptions {
  readonly cwd?: string;
  /** Added to (or, with `undefined`, removed from) this process's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Each complete line of the child's stdout, without the newline, as it arrives. */
  readonly onStdoutLine?: (line: string) => void;
  /** Each complete line of the child's stderr, as it arrives. */
  readonly onStderrLine?: (line: string) => void;
  /** `inherit`: the child writes to and reads from this terminal (prompts, live output); nothing is captured. */
  readonly stdio?: "pipe" | "inherit";
  /** When it aborts, the child gets SIGINT, so tools like Packer and Terraform clean up before they exit. */
  readonly signal?: AbortSignal;
}

export interface RunResult {
  /** The exit code; 127 when the program was not found, 128+n when killed by signal n. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs programs. Commands receive one instead of calling zx directly, so tests hand in a
 * fake that records the calls and answers as Packer or cdktf would.
 */
export interface Runner {
  /** The program's path on PATH, or undefined when it is not there. */
  which(program: string): Promise<string | undefined>;
  /** Runs `program args...` to the end. A non-zero exit is a result, not an exception: the caller decides. */
  run(program: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/** Splits a stream of chunks into lines; `flush()` emits a last line without newline. */
function lineSplitter(onLine: (line: string) => void) {
  let buffer = "";
  return {
    push(chunk: Buffer | string) {
      buffer += chunk.toString();
      let i: number;
      while ((i = buffer.indexOf("\n")) >= 0) {
        onLine(buffer.slice(0, i).replace(/\r$/, ""));
        buffer = buffer.slice(i + 1);
      }
    },
    flush() {
      if (buffer.length > 0) onLine(buffer.replace(/\r$/, ""));
      buffer = "";
    },
  };
}

/** The production {@link Runner}: zx's `$` (arguments are quoted by zx, never by us). */
export function zxRunner(shell: typeof $ = $): Runner {
  return {
    async which(program) {
      const found = await which(program, { nothrow: true });
      return found ?? undefined;
    },
    async run(program, args, options = {}) {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const [k, v] of Object.entries(options.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      const child = shell({
        cwd: options.cwd,
        env,
        nothrow: true,
        quiet: true,
        stdio: options.stdio === "inherit" ? "inherit" : ["inherit", "pipe", "pipe"],
      })`${program} ${args}`;
      const out = options.onStdoutLine ? lineSplitter(options.onStdoutLine) : undefined;
      const err = options.onStderrLine ? lineSplitter(options.onStderrLine) : undefined;
      if (options.stdio !== "inherit") {
        if (out) child.stdout.on("data", (d: Buffer) => out.push(d));
        if (err) child.stderr.on("data", (d: Buffer) => err.push(d));
      }
      // A Ctrl-C reaches the whole foreground process group, the child included: sending it a
      // second SIGINT would make Terraform quit at once ("Two interrupts received"). So the
      // child gets SIGINT from us only when the abort says so (SIGTERM, or a plain abort()).
      const onAbort = () => {
        if (!isInterrupt(options.signal?.reason) || options.signal.reason.forwardToChild) void child.kill("SIGINT").catch(() => undefined);
      };
      if (options.signal?.aborted) onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const result = await child;
        out?.flush();
        err?.flush();
        const exitCode = result.exitCode ?? 128 + (SIGNAL_NUMBERS[result.signal ?? ""] ?? 0);
        return { exitCode, stdout: result.stdout, stderr: result.stderr };
      } finally {
        options.signal?.removeEventListener("abort", onAbort);
      }
    },
  };
}

/** `packer build -var 'a=b c' .`: a command line as a user would type it (for messages and --dry-run). */
export function formatCommand(program: string, args: readonly string[]): string {
  return [program, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : quote(a))).join(" ");
}

// ---------------------------------------------------------------------------------------
// Prerequisites

/** A program a command needs, with the oldest version that works and how to get it. */
export interface ToolRequirement {
  readonly program: string;
  /** Arguments that print the version: `["version"]` for `packer version`. */
  readonly versionArgs: readonly string[];
  /** The oldest version that works, `major.minor.patch`. */
  readonly minimumVersion: string;
  /** What the user should do, completing "packer not found on PATH: ...". */
  readonly install: string;
  /** Why the minimum, for the too-old message ("required_plugins and imds_support"). */
  readonly why?: string;
}

export interface FoundTool {
  readonly path: string;
  readonly version: string;
}

/** The first `x.y.z` (or `x.y`) in a tool's version output, without a leading `v`. */
export function parseToolVersion(output: string): string | undefined {
  const m = /\bv?(\d+\.\d+(?:\.\d+)?)/.exec(output);
  return m?.[1];
}

/** Compares dotted versions numerically: negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split(".").map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Finds `req.program` on PATH and checks its version; a {@link UserError} that says what to do otherwise. */
export async function requireTool(runner: Runner, req: ToolRequirement): Promise<FoundTool> {
  const path = await runner.which(req.program);
  if (!path) throw new UserError(`${req.program} not found on PATH: ${req.install}`);
  const shown = formatCommand(req.program, req.versionArgs);
  const result = await runner.run(path, req.versionArgs);
  const version = result.exitCode === 0 ? parseToolVersion(result.stdout + "\n" + result.stderr) : undefined;
  if (!version) {
    const output = (result.stdout + result.stderr).trim().split("\n")[0] ?? "";
    throw new UserError(
      `could not read the version of ${req.program} (${path}) from \`${shown}\` (exit ${result.exitCode}${output ? `: ${output}` : ""}): ${req.install}`,
    );
  }
  if (compareVersions(version, req.minimumVersion) < 0) {
    throw new UserError(`${req.program} ${version} (${path}) is too old${req.why ? `: ${req.why}` : ""}; ${req.install}`);
  }
  return { path, version };
}

/**
 * Runs `check`; a {@link UserError} it throws is added to `problems` instead (for --dry-run,
 * which lists everything a real run would stop at). Returns whether the check passed.
 */
export async function collectProblem(problems: string[], check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch (e) {
    if (e instanceof UserError) {
      problems.push(e.message);
      return false;
    }
    throw e;
  }
}

export interface AwsIdentity {
  readonly account: string;
  readonly arn: string;
}

/** Asks STS who we are; a {@link UserError} that says how to get credentials when that fails. */
export async function requireAwsCredentials(sts: STSClient, region: string): Promise<AwsIdentity> {
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return { account: id.Account ?? "unknown", arn: id.Arn ?? "unknown" };
  } catch (e) {
    const err = e as Error & { name?: string };
    const how =
      "set AWS_PROFILE to a configured profile (and run `aws sso login --profile <name>` for SSO) or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then run again";
    if (err.name === "CredentialsProviderError") throw new UserError(`no AWS credentials found: ${how}`);
    if (/expired/i.test(`${err.name} ${err.message}`)) throw new UserError(`the AWS credentials have expired: ${how}`);
    throw new UserError(`could not check the AWS credentials with STS GetCallerIdentity in ${region} (${err.name}: ${err.message}): ${how}`);
  }
}

// ---------------------------------------------------------------------------------------
// Interrupts and main()

/** The reason of an abort caused by a signal to this process. */
export class Interrupt extends UserError {
  constructor(
    readonly signal: NodeJS.Signals,
    /** Whether a running child must be sent SIGINT (it did not get the signal itself). */
    readonly forwardToChild: boolean,
  ) {
    super(`interrupted by ${signal}`, 130);
    this.name = "Interrupt";
  }
}

function isInterrupt(reason: unknown): reason is Interrupt {
  return reason instanceof Interrupt;
}

/**
 * An AbortSignal that fires on the first Ctrl-C / SIGTERM. The process does not exit then:
 * the running child cleans up (Packer terminates its instance, Terraform releases its
 * lock) and the command stops on its own, publishing nothing.
 * A Ctrl-C has reached the child already; a SIGTERM is passed on to it as SIGINT.
 */
export function interruptSignal(log: Log): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      log(`${sig} received: stopping; waiting for the running step to clean up (this can take a minute)...`);
      controller.abort(new Interrupt(sig, sig !== "SIGINT"));
    }
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}

/** Runs a command's main: sets the exit code, prints a {@link UserError} as one `error:` line. */
export function runMain(main: (argv: string[]) => Promise<number | void>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e: unknown) => {
      if (e instanceof UserError || (e instanceof Error && e.name === "ConfigError")) {
        process.stderr.write(`error: ${e.message}\n`);
        process.exitCode = e instanceof UserError ? e.exitCode : 2;
      } else {
        process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
