/**
 * Waiting for AWS to reach a state: poll a check until it says done, fails, or the deadline
 * passes; a Ctrl-C (queued by the interrupt handler while the release holds its lock) ends the
 * wait at once so the release can decide. Throttling and transient errors are polled again.
 */
import { errorName, isTransient } from "../../aws/errors";
import { formatDuration } from "../../cli/duration";
import { say, type Clock, type Interrupts, type Output, type Signal } from "../runtime";

export interface WaitDeps {
  readonly clock: Clock;
  readonly out: Output;
  readonly interrupts?: Interrupts;
}

/** One look at AWS: done, a failure that will not go away, or how far it is (printed when it changes). */
export type CheckResult = { readonly done: true } | { readonly failed: string } | { readonly progress: string };

export type WaitOutcome =
  | { readonly kind: "done" }
  | { readonly kind: "failed"; readonly why: string }
  | { readonly kind: "timed-out"; readonly last: string }
  | { readonly kind: "interrupted"; readonly signal: Signal };

export interface WaitOptions {
  /** What is waited for, for messages ("green: 4 instances InService and healthy"). */
  readonly what: string;
  readonly timeoutMs: number;
  /** @default 5000 */
  readonly pollMs?: number;
  /** A line even without change, this often, so a CI log shows the wait is alive. @default 60000 */
  readonly heartbeatMs?: number;
  /** Transient errors in a row before the wait fails. @default 10 */
  readonly maxErrors?: number;
}

export async function waitFor(deps: WaitDeps, check: () => Promise<CheckResult>, o: WaitOptions): Promise<WaitOutcome> {
  const started = deps.clock.now();
  const deadline = started + o.timeoutMs;
  const pollMs = o.pollMs ?? 5_000;
  const heartbeatMs = o.heartbeatMs ?? 60_000;
  let last = "";
  let lastSaid = started;
  let errors = 0;
  for (;;) {
    let result: CheckResult | undefined;
    try {
      result = await check();
      errors = 0;
    } catch (e) {
      if (!isTransient(e)) throw e;
      errors++;
      if (errors >= (o.maxErrors ?? 10)) return { kind: "failed", why: `${errors} AWS errors in a row while waiting for ${o.what} (last: ${errorName(e)})` };
    }
    if (result && "done" in result) return { kind: "done" };
    if (result && "failed" in result) return { kind: "failed", why: result.failed };
    if (result && "progress" in result && (result.progress !== last || deps.clock.now() - lastSaid >= heartbeatMs)) {
      last = result.progress;
      lastSaid = deps.clock.now();
      say(deps.out, `  [${formatDuration((deps.clock.now() - started) / 1000)}] ${result.progress}`);
    }
    if (deps.clock.now() >= deadline) return { kind: "timed-out", last };
    await Promise.race([...(deps.interrupts ? [deps.interrupts.wait()] : []), deps.clock.sleep(pollMs)]);
    const signal = deps.interrupts?.take();
    if (signal) {
      while (deps.interrupts?.take());
      return { kind: "interrupted", signal };
    }
  }
}
