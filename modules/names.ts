/**
 * Names shared by the stack (which creates these things) and the scripts (which find them).
 *
 * Pure: no cdktf or provider import, so a script can load it in milliseconds.
 * Change a name here and both sides move together.
 */

export const PROJECT = "webfleet";

/** The two twin fleets. The listener forwards to both by weight; the idle one has the idle role's capacity (usually 0). */
export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

export function otherColor(color: Color): Color {
  return color === "blue" ? "green" : "blue";
}

/** The color that serves traffic when an environment is first deployed (Terraform variable `initial_live_color`). */
export const INITIAL_LIVE_COLOR: Color = "blue";

/**
 * The two roles the colors take in turn: the live one serves traffic, the idle one waits for the
 * next blue/green or canary release. Capacity is configured by role; Terraform gives each color
 * the min/max of its role, reading the live color from SSM.
 */
export const ROLES = ["live", "idle"] as const;
export type Role = (typeof ROLES)[number];

/** A fleet's size: min <= desired <= max. */
export interface FleetCapacity {
  readonly min: number;
  readonly desired: number;
  readonly max: number;
}

/** The Terraform stack of an environment: `cdktf deploy webfleet-dev`. */
export function stackName(env: string): string {
  return `${PROJECT}-${env}`;
}

/** The stack that creates the shared Terraform state bucket (run once per account). */
export const BOOTSTRAP_STACK = `${PROJECT}-state-bootstrap`;

/**
 * The stack of the GitHub Actions roles (config/github/ci.yaml): `cdktf deploy webfleet-ci`. It
 * is also the stack an environment named `ci` would get, so that name is refused beside it.
 */
export const CI_STACK = stackName("ci");

/** What a workflow may do in AWS, one IAM role each: plan (read-only), release, deploy (deploy and nightly). */
export const CI_ROLE_KINDS = ["plan", "release", "deploy"] as const;
export type CiRoleKind = (typeof CI_ROLE_KINDS)[number];

/**
 * IAM path of the CI roles and policies. An environment's deploy role may change the roles named
 * `webfleet-<env>-*` at path `/` (Terraform manages them); the CI roles live elsewhere, so no
 * environment's role can widen its own rights.
 */
export const CI_IAM_PATH = `/${PROJECT}-ci/`;

/** `webfleet-ci-plan`, `webfleet-ci-<env>-release`, `webfleet-ci-<env>-deploy`. */
export function ciRoleName(kind: CiRoleKind, env?: string): string {
  return kind === "plan" ? `${PROJECT}-ci-plan` : `${PROJECT}-ci-${env}-${kind}`;
}

/**
 * Longest session of each role, in seconds: the workflows ask for exactly this
 * (`role-duration-seconds`). A deploy builds an AMI, applies the stack and waits for the instance
 * refresh; a release watches its deployment to the end.
 */
export const CI_SESSION_SECONDS: Readonly<Record<CiRoleKind, number>> = { plan: 3600, release: 7200, deploy: 10800 };

/**
 * The GitHub Actions variables the workflows read (never secrets: ARNs and a region are not
 * secret). `npx cdktf deploy webfleet-ci` prints their values; the region and the plan role are
 * repository variables, the release and deploy roles are variables of each GitHub environment
 * (an environment's value wins over the repository's).
 */
export const CI_VARIABLES = {
  region: "WEBFLEET_AWS_REGION",
  planRoleArn: "WEBFLEET_PLAN_ROLE_ARN",
  releaseRoleArn: "WEBFLEET_RELEASE_ROLE_ARN",
  deployRoleArn: "WEBFLEET_DEPLOY_ROLE_ARN",
} as const;

/** Prefix of every AWS name the environment owns (ALB, ASGs, roles, configs, ...). */
export function resourcePrefix(env: string): string {
  return `${PROJECT}-${env}`;
}

/**
 * Name prefix of the environment's revision bucket (which also holds the release lock); Terraform
 * appends a unique suffix of 26 hex digits (bucket names are global).
 */
export function revisionBucketPrefix(env: string): string {
  return `${resourcePrefix(env)}-revisions-`;
}

/**
 * What the tools keep in the revision bucket, by key: the scripts write there, and the CI roles
 * are scoped to exactly these (modules/ci-policies.ts).
 */
export const REVISION_BUCKET_KEYS = {
  /** The release lock, changed only by S3 conditional writes. */
  lock: "webfleet/release-lock.json",
  /** Revision bundles, content-addressed: `revisions/<sha256>.tgz`. */
  revisions: "revisions/",
  /** What npm run nightly keeps with each image: `images/<ami id>/packages.txt`. */
  images: "images/",
} as const;

/**
 * The SSM parameters that hold release-time state. Terraform creates them once, from the
 * {@link RELEASE_STATE_VARIABLES} (`ignore_changes` on the value), and reads them back; a release
 * records there what it set with direct AWS calls, so whoever plans next keeps the live state.
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
    /**
     * The old color a blue/green or canary release kept up (--keep-previous): JSON
     * { color, desired, since, until, strategy, revision }. Written and removed by the release
     * tooling (Terraform does not manage it).
     */
    previous: `${root}/previous-color`,
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
 * The Terraform variables that hold the values the release-state parameters are created with
 * (DESIGN.md: "their initial values are Terraform variables"). Terraform ignores later changes to
 * the parameters, so these matter once; a test starts from any release state by setting them.
 */
export const RELEASE_STATE_VARIABLES = {
  /** AMI id or `resolve:ssm:/...` of a color whose AMI comes from its parameter. */
  ami: (color: Color) => `initial_ami_${color}`,
  /** Listener weight (0-100) of a color; unset, it follows the initial live color (100 or 0). */
  weight: (color: Color) => `initial_weight_${color}`,
  liveColor: "initial_live_color",
} as const;

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
  /**
   * Capacity by role (config `capacity`). Terraform gives each group the min/max of its role and
   * never changes desired after creation: a release sets it from these values.
   */
  readonly capacity: Readonly<Record<Role, FleetCapacity>>;
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

/** With {@link SMOKE_KEY_HEADER}, routes a request to one color only (smoke tests of the idle color). */
export const COLOR_HEADER = "X-Webfleet-Color";
/** Must carry the environment's smoke-test key, so the public cannot pick a color. */
export const SMOKE_KEY_HEADER = "X-Webfleet-Smoke-Key";

/**
 * The tags every baked AMI carries (packer/webfleet.pkr.hcl writes them; prune, nightly and the
 * CI roles read them). Packer's keys are capitalized, unlike the stack's own tags.
 */
export const IMAGE_TAGS = {
  project: "Project",
  environment: "Environment",
  /** What the image was built from, as one hash (npm run nightly skips a build when it is unchanged). */
  buildKey: "BuildKey",
  /** The Amazon Linux 2023 release of the source AMI. */
  al2023Release: "Al2023Release",
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

// ---------------------------------------------------------------------------------------
// Strategies: the grammar users type (`--strategy`, `deployment.defaultStrategy`). The config
// checks it, the release plans with it; a new strategy is one entry in STRATEGY_FORMS here and
// one planner in scripts/lib/release/strategies/.

/** What a strategy key means. */
export type StrategySpec =
  | { readonly kind: "in-place"; readonly rule: "all-at-once" | "half-at-a-time" | "one-at-a-time" }
  | { readonly kind: "in-place"; readonly rule: "min-healthy"; readonly minimumHealthy: MinimumHealthyHosts }
  | { readonly kind: "blue-green" }
  | { readonly kind: "canary"; readonly percentages: readonly number[] };

export type StrategyKind = StrategySpec["kind"];

/** A parsed key: the canonical text and its meaning, or why the text is not a valid key of this form. */
export type ParsedStrategy = { readonly key: string; readonly spec: StrategySpec } | { readonly error: string };

export interface StrategyForm {
  /** The form as --help shows it. */
  readonly usage: string;
  /** In place: a key needs a deployment config the environment's stack creates (so messages list the environment's keys, not the form). */
  readonly inPlace: boolean;
  /** undefined: the text is not this form at all; else the parsed key, or what is wrong with it. */
  parse(text: string): ParsedStrategy | undefined;
}

/** The forms a strategy key can take, in the order --help lists them. */
export const STRATEGY_FORMS: readonly StrategyForm[] = [
  {
    usage: "all-at-once | half-at-a-time | one-at-a-time",
    inPlace: true,
    parse: (t) =>
      t in PREDEFINED_STRATEGIES ? { key: t, spec: { kind: "in-place", rule: t as "all-at-once" | "half-at-a-time" | "one-at-a-time" } } : undefined,
  },
  {
    usage: "min-healthy=<N>% | min-healthy=<N>",
    inPlace: true,
    parse: (t) => {
      const m = /^min-healthy=(.*)$/.exec(t);
      if (!m) return undefined;
      const v = /^(\d+)(%?)$/.exec(m[1]);
      if (!v) return { error: `'${t}': min-healthy takes a fleet percent (75%) or a host count (2)` };
      const minimumHealthy: MinimumHealthyHosts = { type: v[2] ? "FLEET_PERCENT" : "HOST_COUNT", value: Number(v[1]) };
      if (minimumHealthy.type === "FLEET_PERCENT" && (minimumHealthy.value < 1 || minimumHealthy.value > 99)) {
        return { error: `'${t}': a fleet percent is from 1% to 99%` };
      }
      return { key: minHealthyStrategyKey(minimumHealthy), spec: { kind: "in-place", rule: "min-healthy", minimumHealthy } };
    },
  },
  {
    usage: "blue-green",
    inPlace: false,
    parse: (t) => (t === "blue-green" ? { key: t, spec: { kind: "blue-green" } } : undefined),
  },
  {
    usage: "canary=<p1>,<p2>,...,100 (percent of traffic on the new color at each step)",
    inPlace: false,
    parse: (t) => {
      const m = /^canary(?:=(.*))?$/.exec(t);
      if (!m) return undefined;
      const list = (m[1] ?? "").split(",").map((p) => p.trim());
      const form = "give rising percentages that end at 100, such as canary=10,50,100";
      if (list.some((p) => !/^\d+$/.test(p))) return { error: `'${t}': ${form}` };
      const percentages = list.map(Number);
      if (percentages.some((p) => p < 1 || p > 100)) return { error: `'${t}': each step is a percent from 1 to 100; ${form}` };
      if (percentages.some((p, i) => i > 0 && p <= percentages[i - 1])) return { error: `'${t}': the steps must rise; ${form}` };
      if (percentages[percentages.length - 1] !== 100) return { error: `'${t}': the last step must be 100 (all traffic on the new color); ${form}` };
      if (percentages.length < 2) return { error: `'${t}': a canary needs a step below 100 first (canary=100 is blue-green); ${form}` };
      return { key: `canary=${percentages.join(",")}`, spec: { kind: "canary", percentages } };
    },
  },
];

/** Every form, for messages: "all-at-once | ... | canary=<p1>,...,100". */
export const STRATEGY_USAGE = STRATEGY_FORMS.map(shortUsage).join(" | ");

/** A form's usage without its explanation in parentheses. */
export function shortUsage(form: StrategyForm): string {
  return form.usage.replace(/ \(.*\)$/, "");
}

/** `text` parsed by the first form that recognizes it; an error naming the valid forms when none does. */
export function parseStrategy(text: string): ParsedStrategy {
  const t = text.trim();
  for (const form of STRATEGY_FORMS) {
    const parsed = form.parse(t);
    if (parsed) return parsed;
  }
  return { error: `'${text}' is not a strategy; valid: ${STRATEGY_USAGE}` };
}
