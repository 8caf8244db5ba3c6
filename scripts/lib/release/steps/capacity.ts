/**
 * A color's capacity, owned by the release (DESIGN.md: "a release owns traffic and capacity"):
 * its desired size is set directly on the Auto Scaling group (Terraform ignores
 * desired_capacity and owns min/max by role), and a color is ready when every instance is
 * InService, healthy in the color's target group, and no CodeDeploy deployment runs in its
 * group (the launch hook deploys the color's last successful revision to each new instance and
 * holds it in Pending:Wait until that deployment ends).
 */
import {
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  type AutoScalingClient,
} from "@aws-sdk/client-auto-scaling";
import { ListDeploymentsCommand, type CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { DescribeTargetHealthCommand, type ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { Color, PublishedStack } from "../../../../modules/names";
import { CliError } from "../../cli/errors";
import type { CheckResult } from "./wait";

export interface CapacityClients {
  readonly autoScaling: AutoScalingClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly codedeploy: CodeDeployClient;
}

/** A deployment in these states holds the group: another cannot start, and new instances wait for it. */
export const ACTIVE_DEPLOYMENT_STATUSES = ["Created", "Queued", "InProgress", "Ready", "Baking"] as const;

export interface GroupSize {
  readonly desired: number;
  readonly min: number;
  readonly max: number;
}

export async function groupSize(autoScaling: AutoScalingClient, group: string): Promise<GroupSize> {
  const out = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }));
  const g = out.AutoScalingGroups?.[0];
  if (!g) throw new CliError(`Auto Scaling group ${group} (from the published stack) does not exist: run npx cdktf deploy for this environment`);
  return { desired: g.DesiredCapacity ?? 0, min: g.MinSize ?? 0, max: g.MaxSize ?? 0 };
}

/** Sets a color's desired capacity; refuses a size outside the group's min/max (Terraform's, by role). Returns the size before. */
export async function setDesired(clients: CapacityClients, stack: PublishedStack, color: Color, desired: number): Promise<number> {
  const group = stack.fleets[color].autoScalingGroupName;
  const size = await groupSize(clients.autoScaling, group);
  if (desired > size.max || desired < size.min) {
    throw new CliError(
      `${color} (${group}) cannot be set to ${desired} instances: its size is ${size.min}..${size.max} (min_size and max_size by role, from config capacity): ` +
        `raise capacity.idle.max (or .live) in config/${stack.environment}.yaml and deploy the stack`,
    );
  }
  if (size.desired !== desired) {
    await clients.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: desired, HonorCooldown: false }));
  }
  return size.desired;
}

/** Instances of `color` healthy in its target group (the ALB sends traffic only to those). */
export async function healthyTargets(elb: ElasticLoadBalancingV2Client, stack: PublishedStack, color: Color): Promise<string[]> {
  const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: stack.fleets[color].targetGroupArn }));
  return (out.TargetHealthDescriptions ?? []).filter((t) => t.TargetHealth?.State === "healthy").map((t) => t.Target?.Id ?? "?");
}

/** Deployments that hold `color`'s deployment group now. */
export async function activeDeployments(codedeploy: CodeDeployClient, stack: PublishedStack, color: Color): Promise<string[]> {
  const out = await codedeploy.send(
    new ListDeploymentsCommand({
      applicationName: stack.applicationName,
      deploymentGroupName: stack.fleets[color].deploymentGroupName,
      includeOnlyStatuses: [...ACTIVE_DEPLOYMENT_STATUSES],
    }),
  );
  return out.deployments ?? [];
}

/**
 * One look at whether `color` is ready with `desired` instances. A launch that failed or was
 * abandoned since `sinceMs` fails at once (a failed launch deployment terminates the instance
 * and the group launches another: waiting would loop).
 */
export async function colorReadiness(clients: CapacityClients, stack: PublishedStack, color: Color, desired: number, sinceMs: number): Promise<CheckResult> {
  const group = stack.fleets[color].autoScalingGroupName;
  const activities = await clients.autoScaling.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: group, MaxRecords: 20 }));
  const broken = (activities.Activities ?? []).find(
    (a) =>
      (a.StartTime?.getTime() ?? 0) >= sinceMs - 60_000 &&
      (a.StatusCode === "Failed" || a.StatusCode === "Cancelled" || /ABANDON/.test(`${a.StatusMessage ?? ""} ${a.Description ?? ""}`)),
  );
  if (broken) {
    return {
      failed: `${color} (${group}) could not launch an instance: ${broken.StatusCode}: ${broken.StatusMessage ?? broken.Description ?? "no reason given"}`,
    };
  }
  const out = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }));
  const instances = out.AutoScalingGroups?.[0]?.Instances ?? [];
  const inService = instances.filter((i) => i.LifecycleState === "InService").length;
  const waiting = instances.filter((i) => String(i.LifecycleState).startsWith("Pending")).length;
  const healthy = (await healthyTargets(clients.elb, stack, color)).length;
  const deployments = await activeDeployments(clients.codedeploy, stack, color);
  if (inService >= desired && healthy >= desired && deployments.length === 0) return { done: true };
  const parts = [`${inService}/${desired} InService`, `${healthy}/${desired} healthy`];
  if (waiting) parts.push(`${waiting} launching (the launch deployment holds new instances in Pending:Wait)`);
  if (deployments.length) parts.push(`deployment ${deployments.join(", ")} running`);
  return { progress: `${color}: ${parts.join(", ")}` };
}
