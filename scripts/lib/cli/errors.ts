/**
 * The exit codes every webfleet command uses, and the one error type that carries one.
 *
 * A CI job can tell "refused, nothing changed" (2) from "failed" (1) from "look at it now" (3).
 */

export const EXIT = {
  /** Done: what was asked happened (or, in a dry run, would happen with no blocker). */
  ok: 0,
  /** Failed: a build, a deployment or a check did not succeed; a release rolled back to the previous revision. */
  failed: 1,
  /** Refused before anything changed: bad input, a missing tool or credential, a held lock, a blocker in a dry run. */
  refused: 2,
  /** Needs attention: a rollback failed or was not confirmed, or work was left running in AWS. */
  needsAttention: 3,
  /** Interrupted (Ctrl-C, SIGTERM). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Exit codes and their meaning, for every command's --help. */
export const EXIT_MEANINGS: Readonly<Record<ExitCode, string>> = {
  0: "done",
  1: "failed",
  2: "refused, nothing changed (bad input, missing tool or credentials, a blocker)",
  3: "needs attention (something was left running or half done: the message says what)",
  130: "interrupted",
};

/**
 * A problem for the user, printed as one `error: <message>` line (no stack trace), with the exit
 * code to use. The default is "refused, nothing changed": a check before anything happened.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.refused,
    /** Work that goes on in AWS without us (a release keeps its lock for it): a deployment id. */
    readonly leftRunning?: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Bad input: names the option, the value it got and what is valid. Exit 2. */
export function invalid(option: string, value: unknown, valid: string): CliError {
  const shown = typeof value === "string" ? `'${value}'` : JSON.stringify(value);
  return new CliError(`${option} ${shown}: ${valid}`, EXIT.refused);
}
