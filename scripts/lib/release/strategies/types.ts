/**
 * What a strategy produces: a plan of steps and an estimate. The release executes the steps and
 * knows nothing of any one strategy; a strategy knows nothing of AWS calls.
 */
import type { Color, PublishedStack, StrategyKind } from "../../../../modules/names";
import type { DurationEstimate, HookTime } from "../estimate";
import type { TwinEstimate } from "../estimate-twin";

/** What a strategy does to capacity, risk and duration: for dry runs and the README table. */
export interface StrategySummary {
  readonly capacity: string;
  readonly risk: string;
  readonly duration: string;
}

/** What a plan is made from: what is deployed, and the release's own options. */
export interface PlanInput {
  readonly env: string;
  readonly stack: PublishedStack;
  readonly liveColor: Color;
  /** Instances InService in the live color's Auto Scaling group. */
  readonly fleetSize: number;
  /** Hook time per instance, from the appspec. @default - unknown (GitHub revision) */
  readonly hooks?: HookTime;
  /** Blue/green and canary: how long to watch the new color's alarms after each switch. */
  readonly bakeSeconds?: number;
  /** Blue/green and canary: end with the old color still up for this long (`rollback` returns to it). */
  readonly keepPreviousSeconds?: number;
  /** Blue/green and canary: extra paths the smoke test asks for. */
  readonly smokePaths?: readonly string[];
  /**
   * Blue/green and canary: the idle color's last successful deployment already is the revision
   * (read from AWS for --same-revision). The deploy step is planned all the same and skipped at
   * run time when this still holds; the estimate counts no deployment.
   * @default - unknown: the estimate counts the deployment
   */
  readonly idleRunsRevision?: boolean;
  /** The idle color's largest size (its role's max_size), when known: it must fit the live fleet. */
  readonly idleMax?: number;
  /** What the old color scales down to (the idle role's desired capacity). @default 0 */
  readonly idleDesired?: number;
}

/** One CodeDeploy deployment to a color's deployment group. */
export interface DeployStep {
  readonly kind: "deploy";
  readonly color: Color;
  readonly deploymentGroupName: string;
  readonly deploymentConfigName: string;
  readonly fleetSize: number;
  readonly batchSize: number;
  /** The color takes traffic while it runs (in place), or not (the idle color). */
  readonly live: boolean;
}

/** Bring a color to `desired` instances and wait until each is InService, healthy, with no deployment running. */
export interface ScaleUpStep {
  readonly kind: "scale-up";
  readonly color: Color;
  readonly desired: number;
}

/** GET the revision's pages (and `paths`) from one color only, through the keyed color route. */
export interface SmokeTestStep {
  readonly kind: "smoke-test";
  readonly color: Color;
  readonly paths: readonly string[];
}

/** One ModifyListener call: these weights, recorded in SSM. */
export interface ShiftTrafficStep {
  readonly kind: "shift-traffic";
  readonly weights: Readonly<Record<Color, number>>;
  /** The color that serves traffic after this step (recorded as the live color when it has 100). */
  readonly to: Color;
}

/** Watch `color`'s alarms for `seconds`; an alarm rolls the release back. */
export interface BakeStep {
  readonly kind: "bake";
  readonly color: Color;
  readonly seconds: number;
}

/** Scale the old color down to its idle size (after the bake, or after --keep-previous). */
export interface ScaleDownStep {
  readonly kind: "scale-down";
  readonly color: Color;
  readonly desired: number;
}

/** End the release with the old color up; `rollback` returns to it, `release --finish` scales it down. */
export interface KeepPreviousStep {
  readonly kind: "keep-previous";
  readonly color: Color;
  readonly seconds: number;
}

export type ReleaseStep = DeployStep | ScaleUpStep | SmokeTestStep | ShiftTrafficStep | BakeStep | ScaleDownStep | KeepPreviousStep;

export interface ReleasePlan {
  readonly strategy: string;
  readonly kind: StrategyKind;
  readonly summary: StrategySummary;
  readonly steps: readonly ReleaseStep[];
  readonly estimate: DurationEstimate | TwinEstimate;
}

export interface Strategy {
  /** The key users type: `one-at-a-time`, `min-healthy=75%`, `canary=10,50,100`. */
  readonly key: string;
  readonly kind: StrategyKind;
  readonly summary: StrategySummary;
  plan(input: PlanInput): ReleasePlan;
}
