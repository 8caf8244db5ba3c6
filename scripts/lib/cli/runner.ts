/**
 * Running programs. Commands receive a {@link Runner} instead of calling zx directly, so tests hand
 * in a fake that records the calls and answers as Packer or cdktf would.
 */
import { $, quote, which } from "zx";
import { Interrupt } from "./interrupts";

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
        if (!(options.signal?.reason instanceof Interrupt) || options.signal.reason.forwardToChild) void child.kill("SIGINT").catch(() => undefined);
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
