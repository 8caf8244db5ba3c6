/**
 * What an environment looks like now, read from AWS: the live color and the weights, per color
 * its revision, AMI, instances (healthy / in service / desired) and alarms, who holds the
 * release lock, an old color kept up by the last release, and anything in flight (a CodeDeploy
 * deployment, an instance refresh). For `npm run status`, and for `rollback` to decide.
 */
import { DescribeInstanceRefreshesCommand, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { DescribeAlarmsCommand, type CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { CodeDeployClient, RevisionLocation } from "@aws-sdk/client-codedeploy";
import type { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { COLORS, type Color } from "../../../modules/names";
import { readEnvironmentState, readFleet, requireDeployed, type DeployedState, type PreviousColor } from "../aws/environment";
import { formatDuration } from "../cli/duration";
import { describeHolder, lockState, readLock } from "./lock";
import { activeDeployments, groupSize, healthyTargets } from "./steps/capacity";
import { formatWeights, listenerWeights, type Weights } from "./steps/traffic";
import { lastSuccessfulRevision } from "./twin";

export interface StatusClients {
  readonly ssm: SSMClient;
  readonly s3: S3Client;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly autoScaling: AutoScalingClient;
  readonly codedeploy: CodeDeployClient;
  readonly cloudwatch: CloudWatchClient;
}

export interface ColorStatus {
  readonly color: Color;
  readonly role: "live" | "idle" | "canary" | "kept";
  readonly weight: number;
  readonly revision?: string;
  readonly ami?: string;
  readonly desired: number;
  readonly min: number;
  readonly max: number;
  readonly inService: number;
  readonly healthy: number;
  readonly alarms: readonly { readonly name: string; readonly state: string }[];
  readonly deployments: readonly string[];
  readonly instanceRefresh?: { readonly id: string; readonly status: string; readonly percentage?: number };
}

export interface EnvironmentStatus {
  readonly environment: string;
  readonly at: string;
  readonly liveColor: Color;
  readonly weights: Weights;
  /** SSM's record of the weights, when it differs from the listener (a release died part-way). */
  readonly recordedWeights?: Weights;
  readonly colors: readonly ColorStatus[];
  readonly lock?: { readonly holder: string; readonly stale: boolean; readonly purpose?: string; readonly state?: string };
  readonly previous?: PreviousColor & { readonly ageSeconds: number };
  readonly siteUrl: string;
}

export function describeRevisionLocation(r: RevisionLocation | undefined): string | undefined {
  if (!r) return undefined;
  if (r.revisionType === "GitHub") return `github:${r.gitHubLocation?.repository}@${r.gitHubLocation?.commitId?.slice(0, 12)}`;
  return r.s3Location ? `s3://${r.s3Location.bucket}/${r.s3Location.key}` : r.revisionType;
}

const REFRESH_RUNNING = new Set(["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"]);

/** Reads everything `status` shows; `state` when it has been read already. */
export async function readStatus(clients: StatusClients, env: string, nowMs: number, read?: DeployedState): Promise<EnvironmentStatus> {
  const state = read ?? requireDeployed(await readEnvironmentState(clients.ssm, env));
  const { stack } = state;
  const weights = await listenerWeights(clients.elb, stack);
  const recorded = { blue: state.weights.blue ?? 0, green: state.weights.green ?? 0 };
  const alarmStates = new Map<string, string>();
  const allAlarms = COLORS.flatMap((c) => stack.alarmNames[c]);
  if (allAlarms.length) {
    const out = await clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: allAlarms }));
    for (const a of out.MetricAlarms ?? []) alarmStates.set(a.AlarmName ?? "", a.StateValue ?? "UNKNOWN");
  }
  const colors: ColorStatus[] = [];
  for (const color of COLORS) {
    const group = stack.fleets[color].autoScalingGroupName;
    const [size, fleet, healthy, deployments, revision, refreshes] = await Promise.all([
      groupSize(clients.autoScaling, group),
      readFleet(clients.autoScaling, group),
      healthyTargets(clients.elb, stack, color),
      activeDeployments(clients.codedeploy, stack, color),
      lastSuccessfulRevision(clients, stack, color),
      clients.autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, MaxRecords: 5 })),
    ]);
    const running = (refreshes.InstanceRefreshes ?? []).find((r) => REFRESH_RUNNING.has(String(r.Status)));
    const role: ColorStatus["role"] =
      weights[color] === 100 ? "live" : weights[color] > 0 ? "canary" : state.previous?.color === color ? "kept" : color === state.liveColor ? "live" : "idle";
    colors.push({
      color,
      role,
      weight: weights[color],
      revision: describeRevisionLocation(revision),
      ami: state.amis[color]?.value,
      desired: size.desired,
      min: size.min,
      max: size.max,
      inService: fleet.inService.length,
      healthy: healthy.length,
      alarms: stack.alarmNames[color].map((name) => ({ name, state: alarmStates.get(name) ?? "UNKNOWN" })),
      deployments,
      instanceRefresh: running ? { id: running.InstanceRefreshId ?? "?", status: String(running.Status), percentage: running.PercentageComplete } : undefined,
    });
  }
  const found = await readLock({ env, bucket: stack.revisionBucket, s3: clients.s3, ssm: clients.ssm });
  const lock = await lockState(found?.held ?? state.lock, clients.codedeploy);
  return {
    environment: env,
    at: new Date(nowMs).toISOString(),
    liveColor: state.liveColor,
    weights,
    recordedWeights: COLORS.some((c) => recorded[c] !== weights[c]) ? recorded : undefined,
    colors,
    lock: lock
      ? { holder: describeHolder(lock.held, nowMs, lock.deploymentStatus), stale: lock.stale, purpose: lock.held.info?.purpose, state: lock.held.info?.state }
      : undefined,
    previous: state.previous ? { ...state.previous, ageSeconds: Math.max(0, (nowMs - Date.parse(state.previous.since)) / 1000) } : undefined,
    siteUrl: stack.siteUrl,
  };
}

/** The status as a person reads it. */
export function formatStatus(s: EnvironmentStatus): string[] {
  const lines = [`webfleet-${s.environment} at ${s.at}: ${s.liveColor} is live; traffic ${formatWeights(s.weights)}; ${s.siteUrl}`];
  if (s.recordedWeights)
    lines.push(
      `! SSM records ${formatWeights(s.recordedWeights)}: a release stopped part-way (npm run release -- --env ${s.environment} --force-unlock repairs the record)`,
    );
  for (const c of s.colors) {
    const alarms = c.alarms.filter((a) => a.state !== "OK");
    lines.push(
      `${c.color.padEnd(5)} ${c.role.padEnd(6)} weight ${String(c.weight).padStart(3)}  instances ${c.healthy} healthy / ${c.inService} in service / ${c.desired} desired (${c.min}..${c.max})`,
      `      revision ${c.revision ?? "none yet"}; AMI ${c.ami ?? "pinned in config"}; alarms ${alarms.length ? alarms.map((a) => `${a.name} ${a.state}`).join(", ") : "all OK"}`,
    );
    if (c.deployments.length) lines.push(`      deployment running: ${c.deployments.join(", ")}`);
    if (c.instanceRefresh) lines.push(`      instance refresh ${c.instanceRefresh.id}: ${c.instanceRefresh.status} ${c.instanceRefresh.percentage ?? 0}%`);
  }
  if (s.previous) {
    lines.push(
      `previous: ${s.previous.color} kept up for ${formatDuration(s.previous.ageSeconds)} (until ${s.previous.until}) after ${s.previous.strategy}: ` +
        `npm run rollback -- --env ${s.environment} returns to it; npm run release -- --env ${s.environment} --finish scales it down`,
    );
  }
  lines.push(s.lock ? `lock: held by ${s.lock.holder}${s.lock.stale ? " (stale)" : ""}` : "lock: free");
  return lines;
}
