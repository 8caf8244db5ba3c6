/**
 * How long an in-place rollout takes, from what decides it: fleet size and batch size (the
 * strategy), the target group's deregistration delay and health check (interval × healthy
 * threshold), and the appspec's hook timeouts.
 *
 * Pure arithmetic, so the README table and the tests use exactly what `release` prints.
 *
 * Per batch, each instance of the batch runs, in parallel with the others of its batch:
 *   BeforeBlockTraffic → BlockTraffic (ALB deregistration: the deregistration delay)
 *   → AfterBlockTraffic → ApplicationStop → DownloadBundle → BeforeInstall → Install
 *   → AfterInstall → ApplicationStart → ValidateService → BeforeAllowTraffic
 *   → AllowTraffic (registration: health check interval × healthy threshold) → AfterAllowTraffic
 * Batches run one after the other, so duration ≈ start + batches × per-batch time.
 */
import type { PublishedTimings } from "../../../modules/names";
import { formatDuration } from "../cli/duration";
import { DEFAULT_SCRIPT_TIMEOUT_SECONDS, SCRIPT_LIFECYCLE_EVENTS } from "../revision/appspec";

export { DEFAULT_SCRIPT_TIMEOUT_SECONDS };

/** What a hook script usually takes (copy files, restart Apache, curl localhost): an assumption, shown as such. */
export const TYPICAL_SCRIPT_SECONDS = 5;
/** Per batch: the agent picks up each of the 13 lifecycle events, downloads and unpacks the bundle. */
export const AGENT_SECONDS_PER_BATCH = 15;
/** Once per deployment: Created → InProgress, the agent's first poll. */
export const START_SECONDS = 15;

/** The appspec's `hooks`: event → scripts, each with its `timeout` in seconds. */
export type HookScripts = Readonly<Record<string, readonly { readonly timeout?: number }[] | undefined>>;

export interface HookTime {
  /** Number of scripts that run per instance. */
  readonly scripts: number;
  /** Every script runs to its timeout (a script that hangs is killed only then). */
  readonly worstSeconds: number;
  /** Every script takes {@link TYPICAL_SCRIPT_SECONDS} (or its timeout, if shorter). */
  readonly typicalSeconds: number;
  /** Per event with scripts, in lifecycle order. */
  readonly byEvent: readonly { readonly event: string; readonly scripts: number; readonly worstSeconds: number }[];
}

/**
 * Hook time per instance, over the events that run scripts in an in-place deployment with
 * traffic control. BeforeBlockTraffic, AfterBlockTraffic and ApplicationStop run the scripts
 * of the revision being replaced; the new revision's stand in for them (the same app, usually
 * the same scripts).
 */
export function hookTime(hooks: HookScripts): HookTime {
  let scripts = 0;
  let worst = 0;
  let typical = 0;
  const byEvent: { event: string; scripts: number; worstSeconds: number }[] = [];
  for (const event of SCRIPT_LIFECYCLE_EVENTS) {
    const list = hooks[event] ?? [];
    if (list.length === 0) continue;
    let eventWorst = 0;
    for (const script of list) {
      const timeout = script.timeout ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS;
      eventWorst += timeout;
      typical += Math.min(timeout, TYPICAL_SCRIPT_SECONDS);
    }
    scripts += list.length;
    worst += eventWorst;
    byEvent.push({ event, scripts: list.length, worstSeconds: eventWorst });
  }
  return { scripts, worstSeconds: worst, typicalSeconds: typical, byEvent };
}

export interface EstimateInput {
  /** Instances in the deployment group (InService in the live color's ASG). */
  readonly fleetSize: number;
  /** Instances deployed to at once (from the strategy). */
  readonly batchSize: number;
  readonly timings: Pick<PublishedTimings, "deregistrationDelaySeconds" | "healthCheckIntervalSeconds" | "healthyThresholdCount">;
  /** @default - hooks unknown (a GitHub revision): no hook time counted, and the estimate says so */
  readonly hooks?: HookTime;
}

export interface DurationEstimate {
  readonly kind: "in-place";
  readonly fleetSize: number;
  readonly batchSize: number;
  readonly batches: number;
  /** BlockTraffic: the ALB keeps a deregistering target for the deregistration delay. */
  readonly blockTrafficSeconds: number;
  /** AllowTraffic: a registered target needs `healthyThreshold` passing checks, `interval` apart. */
  readonly allowTrafficSeconds: number;
  readonly agentSeconds: number;
  readonly hooks?: HookTime;
  readonly perBatchTypicalSeconds: number;
  readonly perBatchWorstSeconds: number;
  readonly typicalSeconds: number;
  readonly worstSeconds: number;
}

export function estimateDuration(input: EstimateInput): DurationEstimate {
  const { fleetSize, batchSize, timings } = input;
  if (!Number.isInteger(fleetSize) || fleetSize < 1) throw new Error(`fleetSize (${fleetSize}) must be a whole number >= 1`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > fleetSize) {
    throw new Error(`batchSize (${batchSize}) must be a whole number from 1 to fleetSize (${fleetSize})`);
  }
  const batches = Math.ceil(fleetSize / batchSize);
  const blockTrafficSeconds = timings.deregistrationDelaySeconds;
  const allowTrafficSeconds = timings.healthCheckIntervalSeconds * timings.healthyThresholdCount;
  const fixed = blockTrafficSeconds + allowTrafficSeconds + AGENT_SECONDS_PER_BATCH;
  const perBatchTypicalSeconds = fixed + (input.hooks?.typicalSeconds ?? 0);
  const perBatchWorstSeconds = fixed + (input.hooks?.worstSeconds ?? 0);
  return {
    kind: "in-place",
    fleetSize,
    batchSize,
    batches,
    blockTrafficSeconds,
    allowTrafficSeconds,
    agentSeconds: AGENT_SECONDS_PER_BATCH,
    hooks: input.hooks,
    perBatchTypicalSeconds,
    perBatchWorstSeconds,
    typicalSeconds: START_SECONDS + batches * perBatchTypicalSeconds,
    worstSeconds: START_SECONDS + batches * perBatchWorstSeconds,
  };
}

/** The lines `release` prints before it starts. */
export function formatEstimate(e: DurationEstimate, timings: EstimateInput["timings"]): string[] {
  const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
  const hooks = e.hooks
    ? e.hooks.scripts === 0
      ? "no hook scripts"
      : `hooks (${plural(e.hooks.scripts, "script")}) ≈ ${formatDuration(e.hooks.typicalSeconds)} typical, ${formatDuration(e.hooks.worstSeconds)} if every one runs to its timeout`
    : "hooks: unknown (GitHub revision, not counted)";
  return [
    `estimate: ${plural(e.fleetSize, "instance")}, ${e.batchSize} at a time → ${plural(e.batches, "batch", "batches")}`,
    `  each batch: BlockTraffic ${formatDuration(e.blockTrafficSeconds)} (deregistration delay)` +
      ` + AllowTraffic ${formatDuration(e.allowTrafficSeconds)} (health check ${timings.healthCheckIntervalSeconds} s × ${timings.healthyThresholdCount})` +
      ` + agent ≈ ${formatDuration(e.agentSeconds)}`,
    `  + ${hooks}`,
    `  typical ≈ ${formatDuration(e.typicalSeconds)} · worst case ≈ ${formatDuration(e.worstSeconds)}`,
  ];
}

/**
 * How long `release` watches before it gives up: past the worst case, CodeDeploy itself would
 * have failed every hook, so only something stuck (an agent that is not running, an instance
 * that never turns healthy) is still going. 25 % margin, at least 10 minutes; a GitHub
 * revision (hooks unknown) gets one default script timeout more.
 */
export function defaultTimeoutMinutes(e: DurationEstimate): number {
  const worst = e.worstSeconds + (e.hooks ? 0 : DEFAULT_SCRIPT_TIMEOUT_SECONDS);
  return Math.max(10, Math.ceil((worst * 1.25) / 60));
}
