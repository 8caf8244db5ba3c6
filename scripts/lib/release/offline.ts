/**
 * What a deployed stack would publish about itself, from the environment file alone: the
 * names, deployment configs and timings the constructs derive from it. A dry run with the
 * fleet's size given (`--instances N`) plans with this, so a strategy can be previewed before
 * anyone has an AWS account.
 */
import {
  COLORS,
  HEALTH_CHECK,
  PREDEFINED_STRATEGIES,
  minHealthyConfigName,
  minHealthyStrategyKey,
  resourcePrefix,
  type Color,
  type PublishedFleet,
  type PublishedStack,
} from "../../../modules/names";
import type { EnvironmentInfo } from "./flow";

/** The deregistration delay the load balancer construct uses when the config names none. */
export const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 30;

/** The published stack as `cdktf deploy` would write it for `env` (ARNs and the bucket are placeholders). */
export function expectedStack(env: EnvironmentInfo): PublishedStack {
  const prefix = resourcePrefix(env.name);
  const fleet = (color: Color): PublishedFleet => ({
    autoScalingGroupName: `${prefix}-${color}`,
    deploymentGroupName: `${prefix}-${color}`,
    targetGroupArn: `(target group ${prefix}-${color})`,
    launchTemplateId: `(launch template ${prefix}-${color})`,
  });
  return {
    environment: env.name,
    region: env.region,
    applicationName: prefix,
    revisionBucket: `(the ${prefix} revision bucket)`,
    siteUrl: "(the load balancer's address)",
    listenerArn: `(the listener of ${prefix})`,
    alarmTopicArn: `(topic ${prefix}-events)`,
    alarmNames: Object.fromEntries(COLORS.map((c) => [c, [`${prefix}-${c}-5xx`, `${prefix}-${c}-unhealthy-hosts`]])) as Record<Color, string[]>,
    fleets: Object.fromEntries(COLORS.map((c) => [c, fleet(c)])) as Record<Color, PublishedFleet>,
    deploymentConfigs: {
      ...PREDEFINED_STRATEGIES,
      ...Object.fromEntries(env.customMinimumHealthyHosts.map((m) => [minHealthyStrategyKey(m), minHealthyConfigName(env.name, m)])),
    },
    defaultStrategy: env.defaultStrategy ?? "one-at-a-time",
    capacity: env.capacity ?? { live: { min: 2, desired: 2, max: 4 }, idle: { min: 0, desired: 0, max: 4 } },
    timings: {
      deregistrationDelaySeconds: env.deregistrationDelaySeconds ?? DEFAULT_DEREGISTRATION_DELAY_SECONDS,
      healthCheckIntervalSeconds: HEALTH_CHECK.intervalSeconds,
      healthyThresholdCount: HEALTH_CHECK.healthyThresholdCount,
      healthCheckGracePeriodSeconds: HEALTH_CHECK.gracePeriodSeconds,
    },
  };
}
