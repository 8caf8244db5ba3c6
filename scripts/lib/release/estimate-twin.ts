/**
 * How long a blue/green or canary release takes on the twin fleets, and how long its rollback
 * takes. Pure arithmetic from the fleet size, the revision's hooks, the target group's timings
 * and the named constants below, so the README table, `--dry-run` and the tests agree.
 *
 *   scale-up    the idle color launches the live color's size, all at once: each instance boots
 *               the baked AMI (nothing installed at boot), and CodeDeploy's launch hook deploys
 *               the color's last successful revision to it (Pending:Wait until that ends),
 *               then it registers with its target group (AllowTraffic)
 *   deploy      the new revision to the idle color, all at once (it takes no traffic yet):
 *               BlockTraffic + hooks + AllowTraffic, one batch; skipped when the idle color's
 *               last successful deployment already is the revision (--same-revision, when AWS
 *               says so; a preview without AWS counts it)
 *   smoke-test  the revision's pages through the keyed color route
 *   traffic     one ModifyListener call (+ the SSM record): every canary step is one
 *   bake        the new color's alarms watched, between canary steps and after the last
 *   scale-down  the old color drains (deregistration delay) and terminates
 *
 * Time to full traffic ends with the last weight switch; the bake after it is not counted
 * there. A rollback before the old color is scaled down is one weight switch.
 */
import type { PublishedTimings } from "../../../modules/names";
import { formatDuration } from "../cli/duration";
import { AGENT_SECONDS_PER_BATCH, START_SECONDS, type HookTime } from "./estimate";

/**
 * EC2 launch to a running agent, for a baked Amazon Linux 2023 image that installs nothing at
 * boot: pending → running (typically 15-30 s), the kernel and systemd to multi-user (about
 * 20 s), httpd, php-fpm and the CodeDeploy agent started. An assumption, shown as such in the
 * estimate; AWS publishes no figure. Measure yours with `npm run status -- --watch` during a
 * release and change it here.
 */
export const BOOT_SECONDS = 90;
/** The worst boot we plan for (a slow capacity pool, a large instance type). */
export const BOOT_WORST_SECONDS = 240;
/** The Auto Scaling group launches instances in parallel; each one more adds this much (API pacing). */
export const LAUNCH_STAGGER_SECONDS = 1;
/** GET of each page through the load balancer, with the color route. */
export const SMOKE_SECONDS = 5;
/** ModifyListener (one call; the ALB applies new weights within seconds) and the SSM record. */
export const SWITCH_SECONDS = 3;

export interface TwinEstimateInput {
  readonly fleetSize: number;
  readonly timings: Pick<PublishedTimings, "deregistrationDelaySeconds" | "healthCheckIntervalSeconds" | "healthyThresholdCount">;
  /** @default - hooks unknown (a GitHub revision): no hook time counted */
  readonly hooks?: HookTime;
  /** Traffic percentages on the new color, in order: [100] for blue/green, [10, 50, 100] for a canary. */
  readonly percentages: readonly number[];
  /** The bake after each switch, seconds. */
  readonly bakeSeconds: number;
  /** The idle color's last successful deployment already is the revision: no explicit deployment. */
  readonly sameRevision?: boolean;
}

export interface TwinEstimate {
  readonly kind: "twin";
  readonly fleetSize: number;
  readonly scaleUpSeconds: readonly [typical: number, worst: number];
  readonly deploySeconds: readonly [typical: number, worst: number];
  readonly smokeSeconds: number;
  readonly switches: number;
  readonly bakeSeconds: number;
  readonly scaleDownSeconds: number;
  /** From the start until every request goes to the new color. */
  readonly fullTrafficSeconds: number;
  readonly fullTrafficWorstSeconds: number;
  /** The whole release: full traffic, the last bake, and the old color scaled down. */
  readonly typicalSeconds: number;
  readonly worstSeconds: number;
  /** From the decision to all traffic on the previous color. */
  readonly rollbackSeconds: number;
  readonly hooks?: HookTime;
}

export function estimateTwin(input: TwinEstimateInput): TwinEstimate {
  const { fleetSize, timings, hooks } = input;
  if (!Number.isInteger(fleetSize) || fleetSize < 1) throw new Error(`fleetSize (${fleetSize}) must be a whole number >= 1`);
  const allow = timings.healthCheckIntervalSeconds * timings.healthyThresholdCount;
  const block = timings.deregistrationDelaySeconds;
  const hookTypical = hooks?.typicalSeconds ?? 0;
  const hookWorst = hooks?.worstSeconds ?? 0;
  // The launch deployment: CodeDeploy's own start, the agent, the hooks, then AllowTraffic.
  const launch = (boot: number, hook: number) => boot + (fleetSize - 1) * LAUNCH_STAGGER_SECONDS + START_SECONDS + AGENT_SECONDS_PER_BATCH + hook + allow;
  const scaleUp: [number, number] = [launch(BOOT_SECONDS, hookTypical), launch(BOOT_WORST_SECONDS, hookWorst)];
  const deployOnce = (hook: number) => START_SECONDS + block + AGENT_SECONDS_PER_BATCH + hook + allow;
  const deploy: [number, number] = input.sameRevision ? [0, 0] : [deployOnce(hookTypical), deployOnce(hookWorst)];
  const switches = input.percentages.length;
  const bakesBeforeFull = (switches - 1) * input.bakeSeconds;
  const fullTraffic = scaleUp[0] + deploy[0] + SMOKE_SECONDS + switches * SWITCH_SECONDS + bakesBeforeFull;
  const fullTrafficWorst = scaleUp[1] + deploy[1] + SMOKE_SECONDS + switches * SWITCH_SECONDS + bakesBeforeFull;
  const scaleDown = block + 15;
  return {
    kind: "twin",
    fleetSize,
    scaleUpSeconds: scaleUp,
    deploySeconds: deploy,
    smokeSeconds: SMOKE_SECONDS,
    switches,
    bakeSeconds: input.bakeSeconds,
    scaleDownSeconds: scaleDown,
    fullTrafficSeconds: fullTraffic,
    fullTrafficWorstSeconds: fullTrafficWorst,
    typicalSeconds: fullTraffic + input.bakeSeconds + scaleDown,
    worstSeconds: fullTrafficWorst + input.bakeSeconds + scaleDown,
    rollbackSeconds: SWITCH_SECONDS,
    hooks,
  };
}

/** The lines `release` prints before a blue/green or canary release. */
export function formatTwinEstimate(e: TwinEstimate): string[] {
  const range = ([t, w]: readonly [number, number]) => (t === w ? formatDuration(t) : `${formatDuration(t)} (worst ${formatDuration(w)})`);
  return [
    `estimate: ${e.fleetSize} instance${e.fleetSize === 1 ? "" : "s"} on the idle color, then ${e.switches} weight switch${e.switches === 1 ? "" : "es"}`,
    `  scale-up ${range(e.scaleUpSeconds)} (boot ≈ ${formatDuration(BOOT_SECONDS)}, an assumption; the launch deployment with the hooks; AllowTraffic)`,
    `  deploy ${e.deploySeconds[0] === 0 ? "skipped (the idle color runs the revision)" : range(e.deploySeconds)} · smoke test ≈ ${formatDuration(e.smokeSeconds)}` +
      ` · each switch ≈ ${formatDuration(SWITCH_SECONDS)} · bake ${formatDuration(e.bakeSeconds)} per step`,
    `  full traffic on the new revision ≈ ${formatDuration(e.fullTrafficSeconds)} (worst ${formatDuration(e.fullTrafficWorstSeconds)}); whole release ≈ ${formatDuration(e.typicalSeconds)}`,
    `  rollback while the old color is up: one weight switch, ≈ ${formatDuration(e.rollbackSeconds)}`,
  ];
}
