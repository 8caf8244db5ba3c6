/**
 * Riding out a run of AWS errors while watching something AWS does on its own (an instance
 * refresh, a cancelled deployment). One poll that fails after the SDK's own retries (clients.ts:
 * half a minute of throttling or a network blip) must not end the watch while AWS carries on:
 * like the release's watchers (release/codedeploy/poller.ts, release/steps/wait.ts), transient
 * errors are counted in a row and only a long run of them gives up; an error that is not
 * transient (access denied, a bad request) is the caller's at once. Those two keep their own
 * counters, tied to CodeDeploy and to the release's runtime; this is the same rule for any loop.
 */
import { errorName, isTransient } from "./errors";

/** Transient errors in a row before a watch gives up: the release's watchers' default. */
export const MAX_CONSECUTIVE_ERRORS = 10;

export class ErrorRun {
  private count = 0;
  private last: unknown;

  constructor(readonly max: number = MAX_CONSECUTIVE_ERRORS) {}

  /**
   * `call()`'s result, or undefined after a transient error (look again next time). An error
   * that is not transient is thrown as it is; check {@link exhausted} after an undefined.
   */
  async attempt<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await call();
      this.count = 0;
      return result;
    } catch (e) {
      if (!isTransient(e)) throw e;
      this.count++;
      this.last = e;
      return undefined;
    }
  }

  /** The run is too long to ride out: give up watching. */
  get exhausted(): boolean {
    return this.count >= this.max;
  }

  /** `3 AWS errors in a row, last: ThrottlingException (Rate exceeded)` */
  describe(): string {
    const name = errorName(this.last) || "error";
    const message = this.last instanceof Error && this.last.message && this.last.message !== name ? ` (${this.last.message})` : "";
    return `${this.count} AWS error${this.count === 1 ? "" : "s"} in a row, last: ${name}${message}`;
  }
}
