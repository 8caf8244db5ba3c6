/**
 * A color's capacity, owned by the release (DESIGN.md: "a release owns traffic and capacity").
 * Terraform gives each group the min_size/max_size of its role (live or idle), reading the live
 * color from SSM, and ignores desired_capacity. So whenever the release moves a color's size or
 * the live color, it sets the group's min, max and desired together (one UpdateAutoScalingGroup
 * call) from the role values the stack publishes: the next plan, by anyone, then finds in AWS
 * exactly what it would set, and AWS accepts sizes that SetDesiredCapacity alone would refuse
 * (the old live color cannot go below the live role's min until it has the idle role).
 *
 * A color is ready when every instance is InService, healthy in the color's target group, and no
 * CodeDeploy deployment runs in its group (the launch hook deploys the color's last successful
 * revision to each new instance and holds it in Pending:Wait until that deployment ends).
 */
import {
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingClient,
} from "@aws-sdk/client-auto-scaling";
import { ListDeploymentsCommand, type CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { DescribeTargetHealthCommand, type ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { COLORS, otherColor, type Color, type FleetCapacity, type PublishedStack, type Role } from "../../../../modules/names";
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

/** The role Terraform gives `color` when `live` is the live color in SSM. */
export function roleOf(color: Color, live: Color): Role {
  return color === live ? "live" : "idle";
}

/** A role's sizes, as the deployed stack publishes them (Terraform's min_size/max_size by role). */
export function roleCapacity(stack: PublishedStack, role: Role): FleetCapacity {
  return stack.capacity[role];
}

/** `n` moved into `min..max`. */
export function within(n: number, c: Pick<FleetCapacity, "min" | "max">): number {
  return Math.min(Math.max(n, c.min), c.max);
}

/**
 * Gives `color` the min and max of `role` and `desired` instances, in one UpdateAutoScalingGroup
 * call (none when the group already has them). Without `desired`, the group keeps its size, raised
 * to the role's min if it is below; it is never lowered that way (a group someone scaled past its
 * role's max is refused instead: its instances may be serving). Refuses a `desired` outside the
 * role's min..max, as AWS would. Returns the group's size before.
 */
export async function setCapacity(clients: CapacityClients, stack: PublishedStack, color: Color, role: Role, desired?: number): Promise<GroupSize> {
  const group = stack.fleets[color].autoScalingGroupName;
  const range = roleCapacity(stack, role);
  const before = await groupSize(clients.autoScaling, group);
  if (desired === undefined && before.desired > range.max) {
    throw new CliError(
      `${color} (${group}) runs ${before.desired} instances, more than the ${role} role's max of ${range.max} (capacity.${role}.max in config/${stack.environment}.yaml): ` +
        `raise capacity.${role}.max and deploy the stack, or scale ${color} down first; nothing was scaled`,
    );
  }
  const target = desired ?? within(before.desired, range);
  if (target > range.max || target < range.min) {
    throw new CliError(
      `${color} (${group}) cannot be set to ${target} instance${target === 1 ? "" : "s"} as the ${role} color: the ${role} role's size is ${range.min}..${range.max} ` +
        `(capacity.${role} in config/${stack.environment}.yaml, published by the stack): raise capacity.${role}.max and deploy the stack`,
    );
  }
  if (before.min !== range.min || before.max !== range.max || before.desired !== target) {
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MinSize: range.min, MaxSize: range.max, DesiredCapacity: target }),
    );
  }
  return before;
}

/**
 * Gives both colors the roles Terraform derives from `live` as the live color (what the next plan
 * sets once SSM records it), each keeping its size unless `desired` names one. The color that
 * becomes live goes first: raising its min never takes an instance away from traffic.
 */
export async function applyRoles(clients: CapacityClients, stack: PublishedStack, live: Color, desired: Partial<Record<Color, number>> = {}): Promise<void> {
  for (const color of [live, otherColor(live)]) await setCapacity(clients, stack, color, roleOf(color, live), desired[color]);
}

/** Each color whose min/max in AWS differ from its role's (`live` being the live color), with what it has. */
export async function rolesOutOfStep(
  autoScaling: AutoScalingClient,
  stack: PublishedStack,
  live: Color,
): Promise<{ color: Color; role: Role; has: GroupSize; wants: FleetCapacity }[]> {
  const out: { color: Color; role: Role; has: GroupSize; wants: FleetCapacity }[] = [];
  for (const color of COLORS) {
    const role = roleOf(color, live);
    const has = await groupSize(autoScaling, stack.fleets[color].autoScalingGroupName);
    const wants = roleCapacity(stack, role);
    if (has.min !== wants.min || has.max !== wants.max) out.push({ color, role, has, wants });
  }
  return out;
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
