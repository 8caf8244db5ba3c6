/**
 * Names shared by the stack (which creates these things) and the scripts (which find them).
 *
 * Pure: no cdktf or provider import, so a script can load it in milliseconds.
 * Change a name here and both sides move together.
 */

export const PROJECT = "webfleet";

/** The two twin fleets. The listener forwards to both by weight; the idle one has capacity 0. */
export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

export function otherColor(color: Color): Color {
  return color === "blue" ? "green" : "blue";
}

/** The color that serves traffic when an environment is first deployed: blue, unless only green has instances. */
export function initialLiveColor(capacity: Readonly<Record<Color, { readonly desired: number }>>): Color {
  return capacity.blue.desired > 0 ? "blue" : "green";
}

/** The Terraform stack of an environment: `cdktf deploy webfleet-dev`. */
export function stackName(env: string): string {
  return `${PROJECT}-${env}`;
}

/** The stack that creates the shared Terraform state bucket (run once per account). */
export const BOOTSTRAP_STACK = `${PROJECT}-state-bootstrap`;

/** Prefix of every AWS name the environment owns (ALB, ASGs, roles, configs, ...). */
export function resourcePrefix(env: string): string {
  return `${PROJECT}-${env}`;
}

/**
 * The SSM parameters that hold release-time state. Terraform creates them once (with
 * `ignore_changes` on the value) and reads them; the scripts change them and then run
 * `cdktf deploy`, so whoever deploys next gets the live state.
 */
export function releaseParameters(env: string) {
  const root = `/${PROJECT}/${env}`;
  return {
    root,
    /** AMI id (or `resolve:ssm:<public parameter>`) of a color's launch template. */
    ami: (color: Color) => `${root}/ami/${color}`,
    /** Listener weight (0-100) of a color's target group. */
    weight: (color: Color) => `${root}/weight/${color}`,
    /** The color that serves production traffic now. */
    liveColor: `${root}/live-color`,
    /** JSON {@link PublishedStack}: what the scripts need to know about the deployed stack. */
    stack: `${root}/stack`,
    /**
     * Random key (made once by Terraform) that a request must carry, with the color header,
     * to reach one color only: smoke tests of the idle fleet, not for the public.
     */
    smokeTestKey: `${root}/smoke-test-key`,
    /** Present while a release runs; created with Overwrite=false, so a second release is refused. */
    releaseLock: `${root}/release-lock`,
    /**
     * Where the holder of the release lock is mirrored while a release (or a nightly rollout,
     * or a teardown) holds it: one parameter, `${root}/lock/holder`, whose value is the holder's
     * JSON ({ id, user, host, startedAt, ... }). The stack's plan reads the folder with
     * aws_ssm_parameters_by_path (an empty list when nobody holds the lock, so the read never
     * fails) and refuses to plan while it is held by anyone but the run whose id is passed in
     * the Terraform variable {@link LOCK_ID_VARIABLE}.
     */
    lockFolder: `${root}/lock/`,
    lockHolder: `${root}/lock/holder`,
  } as const;
}

/**
 * The Terraform variable through which the lock's own holder (a nightly rollout, a teardown)
 * passes the plan-time lock check: `TF_VAR_release_lock_id=<lock id> cdktf deploy ...`.
 */
export const LOCK_ID_VARIABLE = "release_lock_id";

/**
 * What the deployed stack publishes about itself (SSM parameter `releaseParameters(env).stack`,
 * written by Terraform on every deploy). Scripts read it instead of a file on one person's disk.
 */
export interface PublishedStack {
  readonly environment: string;
  readonly region: string;
  readonly applicationName: string;
  readonly revisionBucket: string;
  readonly siteUrl: string;
  /** The listener that carries the site's traffic: a release switches its weights (ModifyListener). */
  readonly listenerArn: string;
  readonly alarmTopicArn: string;
  /** Each color's alarms: a release watches the new color's while it bakes. */
  readonly alarmNames: Readonly<Record<Color, readonly string[]>>;
  readonly fleets: Record<Color, PublishedFleet>;
  /** Strategy key (`all-at-once`, `min-healthy=75%`, ...) → CodeDeploy deployment config name. */
  readonly deploymentConfigs: Record<string, string>;
  /** Strategy key used when `release` is given none. */
  readonly defaultStrategy: string;
  readonly timings: PublishedTimings;
}

export interface PublishedFleet {
  readonly autoScalingGroupName: string;
  readonly deploymentGroupName: string;
  readonly targetGroupArn: string;
  readonly launchTemplateId: string;
}

export interface PublishedTimings {
  readonly deregistrationDelaySeconds: number;
  readonly healthCheckIntervalSeconds: number;
  readonly healthyThresholdCount: number;
  readonly healthCheckGracePeriodSeconds: number;
}

/**
 * The health check every tool agrees on: the target groups probe it, the AMI serves it outside
 * the web root (Packer's `health_path` variable), its image check calls it. Change it here.
 */
export const HEALTH_CHECK = {
  /** Answered by the AMI through Apache without any application deployed. */
  path: "/health",
  intervalSeconds: 10,
  /** Consecutive successes before a target is healthy (and failures before it is not). */
  healthyThresholdCount: 2,
  /** Seconds after launch before ELB health checks can mark an instance unhealthy. */
  gracePeriodSeconds: 120,
} as const;

/** CodeDeploy's fileExistsBehavior values (its API, and the appspec's `file_exists_behavior`). */
export const FILE_EXISTS_BEHAVIORS = ["DISALLOW", "OVERWRITE", "RETAIN"] as const;
export type FileExistsBehavior = (typeof FILE_EXISTS_BEHAVIORS)[number];

/** Strategy keys of CodeDeploy's predefined EC2/on-premises configs. */
export const PREDEFINED_STRATEGIES: Readonly<Record<string, string>> = {
  "all-at-once": "CodeDeployDefault.AllAtOnce",
  "half-at-a-time": "CodeDeployDefault.HalfAtATime",
  "one-at-a-time": "CodeDeployDefault.OneAtATime",
};

/** A custom minimum-healthy-hosts value: `75%` (fleet percent) or `2` (host count). */
export type MinimumHealthyHosts = { readonly type: "FLEET_PERCENT" | "HOST_COUNT"; readonly value: number };

/** `min-healthy=75%` / `min-healthy=2`: the strategy key users type. */
export function minHealthyStrategyKey(m: MinimumHealthyHosts): string {
  return `min-healthy=${m.value}${m.type === "FLEET_PERCENT" ? "%" : ""}`;
}

/** The CodeDeploy deployment config the stack creates for a custom minimum-healthy-hosts value. */
export function minHealthyConfigName(env: string, m: MinimumHealthyHosts): string {
  return `${resourcePrefix(env)}-min-healthy-${m.value}-${m.type === "FLEET_PERCENT" ? "percent" : "hosts"}`;
}
