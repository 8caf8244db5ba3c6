/**
 * Polling AWS while a deployment runs: throttling doubles the interval (up to a ceiling), a
 * quiet cycle halves it again, and only a run of transient errors gives up watching (the
 * deployment goes on in AWS).
 */
import type { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { CliError, EXIT } from "../../cli/errors";
import { errorName, isThrottling, isTransient } from "../../aws/errors";
import { formatDuration } from "../../cli/duration";
import { leftRunningMessage } from "./interrupt";
import { say, type Clock, type Interrupts, type Output, type Prompt } from "../runtime";

export interface WatchDeps {
  readonly codedeploy: CodeDeployClient;
  readonly clock: Clock;
  readonly out: Output;
  readonly region: string;
  readonly interrupts?: Interrupts;
  /** Present only when stdin and stdout are a terminal. */
  readonly prompt?: Prompt;
  readonly poll?: Partial<PollPolicy>;
}

export interface PollPolicy {
  /** Between polls when all is well. */
  readonly intervalMs: number;
  /** Ceiling of the backoff on throttling. */
  readonly maxIntervalMs: number;
  /** Transient errors in a row before giving up watching (the deployment goes on). */
  readonly maxConsecutiveErrors: number;
  /** How long to wait for CodeDeploy to report the automatic rollback of a failed deployment. */
  readonly rollbackAppearMs: number;
}

export const DEFAULT_POLL: PollPolicy = { intervalMs: 5_000, maxIntervalMs: 60_000, maxConsecutiveErrors: 10, rollbackAppearMs: 120_000 };

/**
 * Polls with backoff: throttling doubles the interval (up to a ceiling); each poll cycle
 * without an error halves it again, down to the normal interval.
 */
export class Poller {
  private intervalMs: number;
  private errors = 0;
  private failedThisCycle = false;

  constructor(
    private readonly deps: WatchDeps,
    private readonly policy: PollPolicy,
    private readonly deploymentId: string,
  ) {
    this.intervalMs = policy.intervalMs;
  }

  /** How long to wait before the next cycle; ends the current cycle. */
  nextWaitMs(): number {
    if (!this.failedThisCycle) this.intervalMs = Math.max(this.policy.intervalMs, Math.floor(this.intervalMs / 2));
    this.failedThisCycle = false;
    return this.intervalMs;
  }

  /** The call's result, or undefined after a transient error (throttling, 5xx, network). */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await fn();
      this.errors = 0;
      return result;
    } catch (e) {
      if (!isTransient(e)) throw e;
      this.errors++;
      this.failedThisCycle = true;
      if (isThrottling(e)) this.intervalMs = Math.min(this.policy.maxIntervalMs, this.intervalMs * 2);
      if (this.errors >= this.policy.maxConsecutiveErrors) {
        throw new CliError(
          `lost contact with CodeDeploy (${this.errors} ${what} errors in a row, last: ${errorName(e)}): the deployment goes on without us.\n` +
            leftRunningMessage(this.deploymentId, this.deps.region),
          EXIT.needsAttention,
          this.deploymentId,
        );
      }
      say(this.deps.out, `  (${what}: ${errorName(e) || "error"}; next poll in ${formatDuration(this.intervalMs / 1000)})`);
      return undefined;
    }
  }
}
