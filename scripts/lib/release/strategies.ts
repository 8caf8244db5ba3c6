/**
 * Release strategies. A strategy turns what is deployed (the stack, the live color, the fleet
 * size, the revision's hooks) into a {@link ReleasePlan}: a list of steps and a duration
 * estimate. The release flow executes the steps; it knows nothing of any one strategy.
 *
 * In-place strategies (all-at-once, half-at-a-time, one-at-a-time, min-healthy=…) are one
 * CodeDeploy deployment to the live color. Blue/green and canary will be further
 * implementations of {@link Strategy} whose plans add step kinds (scale the idle color, deploy
 * to it, smoke-test it, shift weights, bake), not a rewrite of the flow.
 */
import { PREDEFINED_STRATEGIES, minHealthyStrategyKey, type Color, type MinimumHealthyHosts, type PublishedStack } from "../../../modules/names";
import { CliError } from "../cli/errors";
import { estimateDuration, type DurationEstimate, type HookTime } from "./estimate";

/** How many instances an in-place deployment takes out of service at once. */
export type InPlaceRule =
  | { readonly type: "all-at-once" }
  | { readonly type: "half-at-a-time" }
  | { readonly type: "one-at-a-time" }
  | { readonly type: "min-healthy"; readonly minimumHealthy: MinimumHealthyHosts };

/** What a strategy does to capacity, risk and duration: for `--help`, dry runs and the README table. */
export interface StrategySummary {
  readonly capacity: string;
  readonly risk: string;
  readonly duration: string;
}

export interface PlanInput {
  readonly env: string;
  readonly stack: PublishedStack;
  readonly liveColor: Color;
  /** Instances InService in the live color's Auto Scaling group. */
  readonly fleetSize: number;
  /** Hook time per instance, from the appspec. @default - unknown (GitHub revision) */
  readonly hooks?: HookTime;
}

/** One CodeDeploy deployment to a color's deployment group. */
export interface DeployStep {
  readonly kind: "deploy";
  readonly color: Color;
  readonly deploymentGroupName: string;
  readonly deploymentConfigName: string;
  readonly fleetSize: number;
  readonly batchSize: number;
}

/**
 * A step of a release. In-place plans have one `deploy`; blue/green and canary will add kinds
 * (`scale`, `smoke-test`, `shift-traffic`, `bake`) and an executor for each.
 */
export type ReleaseStep = DeployStep;

export interface ReleasePlan {
  readonly strategy: string;
  readonly kind: Strategy["kind"];
  readonly summary: StrategySummary;
  readonly steps: readonly ReleaseStep[];
  readonly estimate: DurationEstimate;
}

export interface Strategy {
  /** The key users type: `one-at-a-time`, `min-healthy=75%`. */
  readonly key: string;
  readonly kind: "in-place";
  readonly summary: StrategySummary;
  plan(input: PlanInput): ReleasePlan;
}

const STRATEGY_FORM = /^(all-at-once|half-at-a-time|one-at-a-time)$|^min-healthy=(\d+)(%?)$/;

/** `min-healthy=75%` → its rule; undefined when the text is no strategy form at all. */
export function parseStrategyKey(text: string): { key: string; rule: InPlaceRule } | undefined {
  const m = STRATEGY_FORM.exec(text.trim());
  if (!m) return undefined;
  if (m[1]) return { key: m[1], rule: { type: m[1] as "all-at-once" | "half-at-a-time" | "one-at-a-time" } };
  const minimumHealthy: MinimumHealthyHosts = { type: m[3] ? "FLEET_PERCENT" : "HOST_COUNT", value: Number(m[2]) };
  return { key: minHealthyStrategyKey(minimumHealthy), rule: { type: "min-healthy", minimumHealthy } };
}

/**
 * Instances CodeDeploy deploys to at once in a fleet of `fleetSize`. A fleet percent is rounded
 * up to whole healthy instances (9 instances at 40 % keep 4 healthy: batches of 5).
 * Throws when the rule leaves no instance to deploy to (CodeDeploy would fail the deployment).
 */
export function batchSize(rule: InPlaceRule, fleetSize: number, key = describeRuleKey(rule)): number {
  switch (rule.type) {
    case "all-at-once":
      return fleetSize;
    case "one-at-a-time":
      return 1;
    case "half-at-a-time":
      // CodeDeployDefault.HalfAtATime: up to half, rounded down (and a single instance alone).
      return Math.max(1, Math.floor(fleetSize / 2));
    case "min-healthy": {
      const { type, value } = rule.minimumHealthy;
      const keepHealthy = type === "FLEET_PERCENT" ? Math.ceil((fleetSize * value) / 100) : value;
      const batch = fleetSize - keepHealthy;
      if (batch < 1) {
        throw new CliError(
          `--strategy ${key} keeps ${keepHealthy} of ${fleetSize} instance${fleetSize === 1 ? "" : "s"} healthy, which leaves none to deploy to: ` +
            `use one-at-a-time, or scale the fleet above ${keepHealthy}`,
        );
      }
      return batch;
    }
  }
}

function describeRuleKey(rule: InPlaceRule): string {
  return rule.type === "min-healthy" ? minHealthyStrategyKey(rule.minimumHealthy) : rule.type;
}

/** What each in-place rule means for capacity, risk and duration. */
export function summarize(rule: InPlaceRule): StrategySummary {
  switch (rule.type) {
    case "all-at-once":
      return {
        capacity: "0 % while it runs: every instance leaves the load balancer at once (the site is down for a batch)",
        risk: "highest: a bad revision reaches every instance before any check",
        duration: "shortest: one batch",
      };
    case "half-at-a-time":
      return {
        capacity: "50 % (half the instances, rounded down, leave at once)",
        risk: "medium: a bad revision reaches half the fleet before the deployment fails",
        duration: "two batches",
      };
    case "one-at-a-time":
      return {
        capacity: "all but one instance",
        risk: "lowest: the first failing instance stops it (a failure on the last instance does not fail the deployment)",
        duration: "longest: one batch per instance",
      };
    case "min-healthy": {
      const { type, value } = rule.minimumHealthy;
      const kept = type === "FLEET_PERCENT" ? `${value} % of the instances (rounded up)` : `${value} instance${value === 1 ? "" : "s"}`;
      return {
        capacity: `at least ${kept} stay in service`,
        risk: "fails as soon as fewer would stay healthy; batches grow with the fleet",
        duration: "fleet size ÷ (instances not kept healthy) batches",
      };
    }
  }
}

/** An in-place strategy: one CodeDeploy deployment to the live color, in batches. */
export class InPlaceStrategy implements Strategy {
  readonly kind = "in-place" as const;
  readonly summary: StrategySummary;

  constructor(
    readonly key: string,
    readonly rule: InPlaceRule,
    /** The CodeDeploy deployment config the stack created for this key. */
    readonly deploymentConfigName: string,
  ) {
    this.summary = summarize(rule);
  }

  plan(input: PlanInput): ReleasePlan {
    const fleet = input.stack.fleets[input.liveColor];
    const size = batchSize(this.rule, input.fleetSize, this.key);
    return {
      strategy: this.key,
      kind: this.kind,
      summary: this.summary,
      steps: [
        {
          kind: "deploy",
          color: input.liveColor,
          deploymentGroupName: fleet.deploymentGroupName,
          deploymentConfigName: this.deploymentConfigName,
          fleetSize: input.fleetSize,
          batchSize: size,
        },
      ],
      estimate: estimateDuration({ fleetSize: input.fleetSize, batchSize: size, timings: input.stack.timings, hooks: input.hooks }),
    };
  }
}

/** The strategy keys an environment's config allows, in a stable order (predefined first). */
export function configuredStrategyKeys(custom: readonly MinimumHealthyHosts[]): string[] {
  return [...Object.keys(PREDEFINED_STRATEGIES), ...custom.map(minHealthyStrategyKey)];
}

/**
 * Checks `--strategy` against the environment's config before anything touches AWS, so a typo
 * fails in milliseconds. Returns the canonical key.
 */
export function checkStrategyAgainstConfig(text: string, env: string, custom: readonly MinimumHealthyHosts[]): string {
  const valid = configuredStrategyKeys(custom);
  const parsed = parseStrategyKey(text);
  if (!parsed) {
    throw new CliError(
      `--strategy '${text}' is not a strategy; valid for ${env}: ${valid.join(", ")}` +
        ` (min-healthy=<N>% or min-healthy=<N> must be listed in deployment.minimumHealthyHosts of config/${env}.yaml)`,
    );
  }
  if (!valid.includes(parsed.key)) {
    throw new CliError(
      `--strategy '${text}': ${env} creates no deployment config for it; valid for ${env}: ${valid.join(", ")}` +
        ` (add ${parsed.key.slice("min-healthy=".length)} to deployment.minimumHealthyHosts in config/${env}.yaml and run npx cdktf deploy webfleet-${env})`,
    );
  }
  return parsed.key;
}

/**
 * The strategy for `key` (or the stack's default), from the deployment configs the deployed
 * stack created: what is deployed, not what the local config says.
 */
export function resolveStrategy(key: string | undefined, stack: PublishedStack): Strategy {
  const wanted = key ?? stack.defaultStrategy;
  const valid = Object.keys(stack.deploymentConfigs);
  const parsed = parseStrategyKey(wanted);
  const configName = parsed ? stack.deploymentConfigs[parsed.key] : undefined;
  if (!parsed || !configName) {
    const source = key === undefined ? `the stack's default strategy '${wanted}'` : `--strategy '${wanted}'`;
    throw new CliError(
      `${source} has no deployment config in the deployed stack webfleet-${stack.environment}; deployed strategies: ${valid.join(", ")}` +
        (parsed?.rule.type === "min-healthy"
          ? ` (if config/${stack.environment}.yaml lists it, run npx cdktf deploy webfleet-${stack.environment} first)`
          : ""),
    );
  }
  return new InPlaceStrategy(parsed.key, parsed.rule, configName);
}
