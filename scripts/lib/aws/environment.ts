/**
 * What `release` knows about an environment comes from AWS, never from a file on one person's
 * disk: the stack's published facts (SSM `/webfleet/<env>/stack`), the live color (SSM), the
 * live fleet's size (Auto Scaling), and who is calling (STS).
 */
import type { SSMClient } from "@aws-sdk/client-ssm";
import { DescribeAutoScalingGroupsCommand, DescribeInstanceRefreshesCommand, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import { z } from "zod";
import { COLORS, releaseParameters, stackName, type Color, type PublishedStack } from "../../../modules/names";
import { readParameter } from "./ssm";
import { ReleaseError, errorName } from "../release/errors";

const fleetSchema = z.object({
  autoScalingGroupName: z.string().min(1),
  deploymentGroupName: z.string().min(1),
  targetGroupArn: z.string().min(1),
  launchTemplateId: z.string().min(1),
});

const publishedStackSchema = z.object({
  environment: z.string().min(1),
  region: z.string().min(1),
  applicationName: z.string().min(1),
  revisionBucket: z.string().min(1),
  siteUrl: z.string(),
  alarmTopicArn: z.string(),
  fleets: z.object({ blue: fleetSchema, green: fleetSchema }),
  deploymentConfigs: z.record(z.string(), z.string().min(1)),
  defaultStrategy: z.string().min(1),
  timings: z.object({
    deregistrationDelaySeconds: z.number().min(0),
    healthCheckIntervalSeconds: z.number().positive(),
    healthyThresholdCount: z.number().int().positive(),
    healthCheckGracePeriodSeconds: z.number().min(0),
  }),
});

function notDeployed(env: string, name: string): ReleaseError {
  return new ReleaseError(`${stackName(env)} is not deployed (SSM ${name} not found): run npx cdktf deploy ${stackName(env)}`);
}

async function getParameter(ssm: SSMClient, env: string, name: string): Promise<string> {
  const parameter = await readParameter(ssm, name);
  if (parameter === undefined) throw notDeployed(env, name);
  return parameter.value;
}

/** The stack's published facts. A missing parameter means the stack is not deployed. */
export async function readPublishedStack(ssm: SSMClient, env: string): Promise<PublishedStack> {
  const name = releaseParameters(env).stack;
  const raw = await getParameter(ssm, env, name);
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw new ReleaseError(`SSM ${name} is not JSON (${raw.slice(0, 60)}…): run npx cdktf deploy ${stackName(env)} to publish it again`);
  }
  const parsed = publishedStackSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(value)"}: ${i.message}`).join("; ");
    throw new ReleaseError(`SSM ${name} is not what this version of release expects (${problems}): run npx cdktf deploy ${stackName(env)} with this checkout`);
  }
  return parsed.data;
}

/** The color that serves traffic now. */
export async function readLiveColor(ssm: SSMClient, env: string): Promise<Color> {
  const name = releaseParameters(env).liveColor;
  const value = (await getParameter(ssm, env, name)).trim();
  if (!(COLORS as readonly string[]).includes(value)) {
    throw new ReleaseError(
      `SSM ${name} is '${value}', expected one of ${COLORS.join(", ")}: fix it with aws ssm put-parameter --overwrite --name ${name} --value blue`,
    );
  }
  return value as Color;
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
    throw new ReleaseError(`Auto Scaling group ${autoScalingGroupName} (from the published stack) does not exist: run npx cdktf deploy for this environment`);
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
    throw new ReleaseError(
      `an instance refresh of ${autoScalingGroupName} is ${running.Status} (${running.PercentageComplete ?? 0}% done, ${running.InstanceRefreshId}): ` +
        "the fleet is being replaced. Wait for it to finish (npm run deploy shows its progress), then release again; nothing was changed",
    );
  }
}

/** Who is calling, which also proves there are credentials. */
export async function callerIdentity(sts: STSClient, region: string): Promise<string> {
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return out.Arn ?? "unknown";
  } catch (e) {
    throw explainAwsAccessError(e, region);
  }
}

/** Turns "no credentials" and "no network" into a message that says what to do. */
export function explainAwsAccessError(e: unknown, region: string): Error {
  const name = errorName(e);
  const message = e instanceof Error ? e.message : String(e);
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
    return new ReleaseError("no AWS credentials found: set AWS_PROFILE (after aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then run again");
  }
  if (["ExpiredToken", "ExpiredTokenException", "RequestExpired"].includes(name)) {
    return new ReleaseError(`your AWS credentials have expired (${message}): refresh them (aws sso login) and run again`);
  }
  if (["InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"].includes(name)) {
    return new ReleaseError(`AWS rejected your credentials (${name}: ${message}): check AWS_PROFILE / AWS_ACCESS_KEY_ID`);
  }
  const code = (e as { code?: string } | null)?.code;
  if (code && ["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH"].includes(code)) {
    return new ReleaseError(`cannot reach AWS in ${region} (${code}): check the network or proxy settings`);
  }
  return e instanceof Error ? e : new Error(message);
}
