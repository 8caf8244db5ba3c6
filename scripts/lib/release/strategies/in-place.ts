/**
 * In-place strategies (all-at-once, half-at-a-time, one-at-a-time, min-healthy=…): one CodeDeploy
 * deployment to the live color, in batches, with the deployment config the stack created.
 */
import { minHealthyStrategyKey, type MinimumHealthyHosts } from "../../../../modules/names";
import { CliError } from "../../cli/errors";
import { estimateDuration } from "../estimate";
import type { PlanInput, ReleasePlan, Strategy, StrategySummary } from "./types";

/** How many instances an in-place deployment takes out of service at once. */
export type InPlaceRule =
  | { readonly type: "all-at-once" }
  | { readonly type: "half-at-a-time" }
  | { readonly type: "one-at-a-time" }
  | { readonly type: "min-healthy"; readonly minimumHealthy: MinimumHealthyHosts };

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
          live: true,
        },
      ],
      estimate: estimateDuration({ fleetSize: input.fleetSize, batchSize: size, timings: input.stack.timings, hooks: input.hooks }),
    };
  }
}
