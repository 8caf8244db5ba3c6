/**
 * Exit codes of `npm run release` and the error that carries one.
 *
 * A CI job can tell "refused, nothing changed" from "failed, rolled back" from "look at it now".
 */

export const EXIT = {
  /** The revision is live on every instance of the deployment group. */
  released: 0,
  /** The deployment failed, timed out or was stopped, and the rollback to the previous revision succeeded. */
  rolledBack: 1,
  /** Refused before anything changed: bad flag, invalid revision, not deployed, lock held, no credentials. */
  refused: 2,
  /** The deployment failed and no rollback could be confirmed, or it was left running after a timeout: look at it. */
  needsAttention: 3,
  /** Interrupted (Ctrl-C / SIGTERM) and the deployment was left running. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error whose message is meant for the user as is (no stack trace), with the exit code to use. */
export class ReleaseError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.refused,
    /** The deployment that goes on without us (the release keeps its lock for it). */
    readonly leftRunning?: string,
  ) {
    super(message);
    this.name = "ReleaseError";
  }
}

/** The `name` of an AWS SDK v3 error (or any Error), for matching without importing every class. */
export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e === "object" && e !== null && "name" in e ? String((e as { name: unknown }).name) : "";
}

/** Throttling, as the SDK reports it: the error's name, or its `$retryable.throttling` flag. */
export function isThrottling(e: unknown): boolean {
  const name = errorName(e);
  if (["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "ThrottledException"].includes(name)) return true;
  const retryable = (e as { $retryable?: { throttling?: boolean } } | null)?.$retryable;
  return retryable?.throttling === true;
}

/** A transient failure worth polling again: throttling, a 5xx, or a network error. */
export function isTransient(e: unknown): boolean {
  if (isThrottling(e)) return true;
  const status = (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  const code = (e as { code?: string } | null)?.code;
  return ["ECONNRESET", "ETIMEDOUT", "EAI_AGAIN", "ECONNREFUSED", "EPIPE"].includes(code ?? "") || errorName(e) === "TimeoutError";
}
