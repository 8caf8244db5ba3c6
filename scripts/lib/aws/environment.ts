/**
 * The one reader of what an environment has published in AWS, for every command: the stack's
 * facts (SSM `/webfleet/<env>/stack`, written by `cdktf deploy`), the live color, the weights,
 * each color's AMI parameter and the release lock. One GetParameters call; every value is
 * validated, and a value that is not what this checkout expects is an error that says how to
 * fix it. Nothing is read from a file on one person's disk.
 *
 * Also here: the Auto Scaling facts a release checks before it starts.
 */
import { GetParametersCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { DescribeAutoScalingGroupsCommand, DescribeInstanceRefreshesCommand, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { z } from "zod";
import { COLORS, releaseParameters, stackName, type Color, type PublishedStack } from "../../../modules/names";
import { CliError } from "../cli/errors";

const fleetSchema = z.object({
  autoScalingGroupName: z.string().min(1),
  deploymentGroupName: z.string().min(1),
  targetGroupArn: z.string().min(1),
  launchTemplateId: z.string().min(1),
});

const capacitySchema = z.object({ min: z.number().int().min(0), desired: z.number().int().min(0), max: z.number().int().min(1) });

const publishedStackSchema = z.object({
  environment: z.string().min(1),
  region: z.string().min(1),
  applicationName: z.string().min(1),
  revisionBucket: z.string().min(1),
  siteUrl: z.string(),
  listenerArn: z.string().min(1),
  alarmTopicArn: z.string(),
  alarmNames: z.object({ blue: z.array(z.string().min(1)), green: z.array(z.string().min(1)) }),
  fleets: z.object({ blue: fleetSchema, green: fleetSchema }),
  deploymentConfigs: z.record(z.string(), z.string().min(1)),
  defaultStrategy: z.string().min(1),
  capacity: z.object({ live: capacitySchema, idle: capacitySchema }),
  timings: z.object({
    deregistrationDelaySeconds: z.number().min(0),
    healthCheckIntervalSeconds: z.number().positive(),
    healthyThresholdCount: z.number().int().positive(),
    healthCheckGracePeriodSeconds: z.number().min(0),
  }),
});

/** What holds the release lock parameter: a lock a webfleet command wrote, or anything else. */
export interface HeldLock {
  readonly raw: string;
  /** Undefined when the value is not a lock webfleet wrote (someone set it by hand). */
  readonly info?: LockInfo;
}

export interface LockInfo {
  /** Random token: only the holder changes its own lock. */
  readonly id: string;
  readonly user: string;
  readonly host: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** What holds it: a release (the default), a rollback, a nightly rollout, a teardown. */
  readonly purpose?: "release" | "rollback" | "nightly" | "teardown";
  readonly strategy?: string;
  readonly revision?: string;
  readonly deploymentId?: string;
  /** The lock is kept on purpose for `deploymentId`, which the release left running in AWS. */
  readonly left?: boolean;
  /** What the last step left (weights, capacity), when the run stopped part-way. */
  readonly state?: string;
}

const lockSchema = z.looseObject({
  id: z.string().min(1),
  user: z.string(),
  host: z.string(),
  startedAt: z.string(),
  purpose: z.enum(["release", "rollback", "nightly", "teardown"]).optional(),
  strategy: z.string().optional(),
  revision: z.string().optional(),
  deploymentId: z.string().optional(),
  left: z.boolean().optional(),
  state: z.string().optional(),
});

/** The lock in a parameter's value; `info` undefined when it is not one webfleet wrote. */
export function parseLock(raw: string): HeldLock {
  try {
    const parsed = lockSchema.safeParse(JSON.parse(raw));
    return { raw, info: parsed.success ? (parsed.data as LockInfo) : undefined };
  } catch {
    return { raw };
  }
}

/** Everything the environment has published, as found; a field is undefined when its parameter does not exist. */
export interface EnvironmentState {
  readonly env: string;
  /** Undefined: the stack has never been deployed. */
  readonly stack?: PublishedStack;
  readonly liveColor?: Color;
  readonly weights: Readonly<Partial<Record<Color, number>>>;
  /** Each color's AMI parameter (absent when the color's AMI is pinned in config, or before the first deploy). */
  readonly amis: Readonly<Partial<Record<Color, { readonly value: string; readonly version: number }>>>;
  /** Who holds the release lock (its SSM mirror), if anyone. */
  readonly lock?: HeldLock;
  /** The old color a release kept up (--keep-previous), if any. */
  readonly previous?: PreviousColor;
}

/** The old color a blue/green or canary release left up, so that `rollback` can return to it. */
export interface PreviousColor {
  readonly color: Color;
  /** Its desired capacity while kept. */
  readonly desired: number;
  /** ISO 8601: when traffic left it. */
  readonly since: string;
  /** ISO 8601: when `release --finish` (or the next release) should scale it down. */
  readonly until: string;
  /** The strategy and revision of the release that left it. */
  readonly strategy: string;
  readonly revision?: string;
}

const previousSchema = z.object({
  color: z.enum(COLORS),
  desired: z.number().int().min(0),
  since: z.string(),
  until: z.string(),
  strategy: z.string(),
  revision: z.string().optional(),
});

function parsePrevious(name: string, raw: string): PreviousColor {
  try {
    const parsed = previousSchema.safeParse(JSON.parse(raw));
    if (parsed.success) return parsed.data;
  } catch {
    // reported below
  }
  throw new CliError(
    `SSM ${name} is not what this checkout expects (${raw.slice(0, 80)}): remove it with aws ssm delete-parameter --name ${name} after checking both colors`,
  );
}

/** The state of a deployed environment: the stack and its live color are there. */
export interface DeployedState extends EnvironmentState {
  readonly stack: PublishedStack;
  readonly liveColor: Color;
}

function notDeployed(env: string, name: string): CliError {
  return new CliError(`${stackName(env)} is not deployed (SSM ${name} not found): run npm run deploy -- --env ${env} (it bakes the web AMI first)`);
}

/** Reads and validates every published value of `env` in one call. */
export async function readEnvironmentState(ssm: SSMClient, env: string): Promise<EnvironmentState> {
  const names = releaseParameters(env);
  const wanted = [names.stack, names.liveColor, names.lockHolder, names.previous, ...COLORS.map(names.ami), ...COLORS.map(names.weight)];
  const out = await ssm.send(new GetParametersCommand({ Names: wanted }));
  const found = new Map((out.Parameters ?? []).map((p) => [p.Name ?? "", { value: p.Value ?? "", version: p.Version ?? 0 }]));

  const stackRaw = found.get(names.stack)?.value;
  const liveRaw = found.get(names.liveColor)?.value.trim();
  if (liveRaw !== undefined && !(COLORS as readonly string[]).includes(liveRaw)) {
    throw new CliError(
      `SSM ${names.liveColor} is '${liveRaw}', expected one of ${COLORS.join(", ")}: fix it with aws ssm put-parameter --overwrite --name ${names.liveColor} --value blue`,
    );
  }
  const weights: Partial<Record<Color, number>> = {};
  const amis: Partial<Record<Color, { value: string; version: number }>> = {};
  for (const color of COLORS) {
    const w = found.get(names.weight(color))?.value;
    if (w !== undefined) {
      const n = Number(w);
      if (!/^\d+$/.test(w.trim()) || n > 100) {
        throw new CliError(`SSM ${names.weight(color)} is '${w}', expected a whole number from 0 to 100: fix it with aws ssm put-parameter --overwrite`);
      }
      weights[color] = n;
    }
    const ami = found.get(names.ami(color));
    if (ami) amis[color] = ami;
  }
  const lockRaw = found.get(names.lockHolder)?.value;
  const previousRaw = found.get(names.previous)?.value;
  return {
    env,
    stack: stackRaw === undefined ? undefined : parsePublishedStack(env, stackRaw),
    liveColor: liveRaw as Color | undefined,
    weights,
    amis,
    lock: lockRaw === undefined ? undefined : parseLock(lockRaw),
    previous: previousRaw === undefined ? undefined : parsePrevious(names.previous, previousRaw),
  };
}

/** The stack's published facts, validated. */
export function parsePublishedStack(env: string, raw: string): PublishedStack {
  const name = releaseParameters(env).stack;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw new CliError(`SSM ${name} is not JSON (${raw.slice(0, 60)}…): run npx cdktf deploy ${stackName(env)} to publish it again`);
  }
  const parsed = publishedStackSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(value)"}: ${i.message}`).join("; ");
    throw new CliError(`SSM ${name} is not what this checkout expects (${problems}): run npx cdktf deploy ${stackName(env)} with this checkout`);
  }
  return parsed.data;
}

/** `state`, checked to be a deployed environment (stack and live color published). */
export function requireDeployed(state: EnvironmentState): DeployedState {
  const names = releaseParameters(state.env);
  if (!state.stack) throw notDeployed(state.env, names.stack);
  if (!state.liveColor) throw notDeployed(state.env, names.liveColor);
  return state as DeployedState;
}

export interface FleetState {
  readonly autoScalingGroupName: string;
  readonly desiredCapacity: number;
  /** Instance ids whose lifecycle state is InService. */
  readonly inService: readonly string[];
}

/** The live fleet's size from its Auto Scaling group. */
export async function readFleet(autoScaling: AutoScalingClient, autoScalingGroupName: string): Promise<FleetState> {
  const out = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }));
  const group = out.AutoScalingGroups?.[0];
  if (!group) {
    throw new CliError(`Auto Scaling group ${autoScalingGroupName} (from the published stack) does not exist: run npx cdktf deploy for this environment`);
  }
  return {
    autoScalingGroupName,
    desiredCapacity: group.DesiredCapacity ?? 0,
    inService: (group.Instances ?? []).filter((i) => i.LifecycleState === "InService").map((i) => i.InstanceId ?? "?"),
  };
}

/** Instance refresh statuses during which the group's instances are being replaced. */
const REFRESH_RUNNING = new Set(["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"]);

/**
 * Refuses to release while an instance refresh replaces the fleet (after `npm run deploy` with
 * a new AMI): CodeDeploy would deploy to instances that are about to go, and the new ones get
 * the last successful revision, not this one.
 */
export async function refuseDuringInstanceRefresh(autoScaling: AutoScalingClient, autoScalingGroupName: string): Promise<void> {
  const out = await autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: autoScalingGroupName, MaxRecords: 5 }));
  const running = (out?.InstanceRefreshes ?? []).find((r) => REFRESH_RUNNING.has(String(r.Status)));
  if (running) {
    throw new CliError(
      `an instance refresh of ${autoScalingGroupName} is ${running.Status} (${running.PercentageComplete ?? 0}% done, ${running.InstanceRefreshId}): ` +
        "the fleet is being replaced. Wait for it to finish (npm run deploy shows its progress), then release again; nothing was changed",
    );
  }
}
