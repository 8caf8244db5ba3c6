/**
 * A bounded retry around one AWS call that changes something (a deregistration, a batch
 * delete). The SDK's standard retry (clients.ts) already absorbs throttling within a call; this
 * covers what it does not: a call that is refused for a moment because of AWS's own eventual
 * consistency (a snapshot still "in use" by the AMI deregistered a second ago), and a run of
 * throttling longer than the SDK's attempts. Reads are not wrapped: they are paged by the SDK's
 * paginators and retried by the SDK.
 */
import { isTransient } from "./errors";

export interface RetryPolicy {
  /** Calls in all, the first included. */
  readonly attempts: number;
  /** The wait after the first failure; it doubles after each one. */
  readonly firstDelayMs: number;
}

/** Five calls over about fifteen seconds: 1 + 2 + 4 + 8 s of waiting. */
export const CHANGE_RETRY: RetryPolicy = { attempts: 5, firstDelayMs: 1_000 };

export interface RetryOptions {
  readonly sleep: (ms: number) => Promise<void>;
  /** Whether an error is worth another call. @default - a transient one (throttling, 5xx, network) */
  readonly retryable?: (e: unknown) => boolean;
  readonly policy?: RetryPolicy;
}

/** `call()`'s result; its last error once the attempts are spent or the error is not retryable. */
export async function retrying<T>(call: () => Promise<T>, o: RetryOptions): Promise<T> {
  const policy = o.policy ?? CHANGE_RETRY;
  const retryable = o.retryable ?? isTransient;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= policy.attempts || !retryable(e)) throw e;
      await o.sleep(policy.firstDelayMs * 2 ** (attempt - 1));
    }
  }
}
