/**
 * What is moving in an environment before it is destroyed: CodeDeploy deployments to either
 * color's deployment group and instance refreshes of either Auto Scaling group. A destroy under
 * them fights them (a deployment group deleted mid-deployment, a group whose capacity a refresh
 * keeps changing), so the teardown stops them and waits until they have ended.
 */
import { CancelInstanceRefreshCommand, paginateDescribeAutoScalingGroups, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { paginateListDeploymentGroups, paginateListDeployments, type CodeDeployClient, type DeploymentStatus } from "@aws-sdk/client-codedeploy";
import { PROJECT } from "../../../modules/names";
import { ErrorRun } from "../aws/error-run";
import { errorName } from "../aws/errors";
import { CliError, EXIT } from "../cli/errors";
import type { Log } from "../cli/output";
import { describeProgress, isTerminal, listRefreshes, watchRefreshCommand } from "../deploy/instance-refresh";
import { stopDeployment } from "../release/codedeploy/rollback";
import { getDeployment, TERMINAL } from "../release/codedeploy/watch";
import type { Clock } from "../release/runtime";

/** Deployment statuses that have not ended. */
export const ACTIVE_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ["Created", "Queued", "InProgress", "Baking", "Ready"];

/** The tags the stack gives what it creates (webfleet-stack.ts: the provider's default tags and each fleet's group tags). */
export const STACK_TAGS = { project: "project", environment: "environment" } as const;

export interface InFlightDeployment {
  readonly id: string;
  readonly group: string;
  readonly status: string;
}

export interface InFlightRefresh {
  readonly id: string;
  readonly group: string;
  readonly status: string;
  readonly progress: string;
}

export interface InFlight {
  readonly deployments: readonly InFlightDeployment[];
  readonly refreshes: readonly InFlightRefresh[];
}

/** The environment's Auto Scaling groups that exist: those the stack tagged, and those the published stack names. */
export async function environmentGroups(autoScaling: AutoScalingClient, env: string, published: readonly string[] = []): Promise<string[]> {
  const names = new Set<string>();
  const tagged = paginateDescribeAutoScalingGroups(
    { client: autoScaling },
    {
      Filters: [
        { Name: `tag:${STACK_TAGS.project}`, Values: [PROJECT] },
        { Name: `tag:${STACK_TAGS.environment}`, Values: [env] },
      ],
    },
  );
  for await (const page of tagged) for (const g of page.AutoScalingGroups ?? []) if (g.AutoScalingGroupName) names.add(g.AutoScalingGroupName);
  const missing = published.filter((n) => !names.has(n));
  if (missing.length > 0) {
    for await (const page of paginateDescribeAutoScalingGroups({ client: autoScaling }, { AutoScalingGroupNames: missing })) {
      for (const g of page.AutoScalingGroups ?? []) if (g.AutoScalingGroupName) names.add(g.AutoScalingGroupName);
    }
  }
  return [...names].sort();
}

/** Deployments that have not ended, in every deployment group of the application (none when it is gone). */
async function activeDeployments(codedeploy: CodeDeployClient, applicationName: string): Promise<InFlightDeployment[]> {
  const groups: string[] = [];
  try {
    for await (const page of paginateListDeploymentGroups({ client: codedeploy }, { applicationName })) groups.push(...(page.deploymentGroups ?? []));
  } catch (e) {
    if (errorName(e) === "ApplicationDoesNotExistException") return [];
    throw e;
  }
  const found: InFlightDeployment[] = [];
  for (const group of groups.sort()) {
    try {
      const pages = paginateListDeployments(
        { client: codedeploy },
        { applicationName, deploymentGroupName: group, includeOnlyStatuses: [...ACTIVE_DEPLOYMENT_STATUSES] },
      );
      for await (const page of pages) {
        for (const id of page.deployments ?? []) found.push({ id, group, status: (await getDeployment(codedeploy, id)).status ?? "unknown" });
      }
    } catch (e) {
      if (errorName(e) !== "DeploymentGroupDoesNotExistException") throw e;
    }
  }
  return found;
}

/** Instance refreshes of `groups` that have not ended. */
async function activeRefreshes(autoScaling: AutoScalingClient, groups: readonly string[]): Promise<InFlightRefresh[]> {
  const found: InFlightRefresh[] = [];
  for (const group of groups) {
    for (const r of await listRefreshes(autoScaling, group)) {
      if (r.InstanceRefreshId && !isTerminal(r.Status))
        found.push({ id: r.InstanceRefreshId, group, status: r.Status ?? "unknown", progress: describeProgress(r) });
    }
  }
  return found;
}

export async function findInFlight(
  clients: { readonly codedeploy: CodeDeployClient; readonly autoScaling: AutoScalingClient },
  applicationName: string,
  groups: readonly string[],
): Promise<InFlight> {
  return { deployments: await activeDeployments(clients.codedeploy, applicationName), refreshes: await activeRefreshes(clients.autoScaling, groups) };
}

/** "deployment d-1 (InProgress) of webfleet-dev-blue" lines, then refreshes. */
export function describeInFlight(inFlight: InFlight): string[] {
  return [
    ...inFlight.deployments.map((d) => `deployment ${d.id} (${d.status}) of ${d.group}`),
    ...inFlight.refreshes.map((r) => `instance refresh ${r.id} of ${r.group}: ${r.progress}`),
  ];
}

export interface StopDeps {
  readonly codedeploy: CodeDeployClient;
  readonly autoScaling: AutoScalingClient;
  readonly clock: Clock;
  readonly log: Log;
  readonly region: string;
  readonly signal?: AbortSignal;
}

/** How long to wait for what was stopped to end, and how often to look. */
export interface StopWait {
  readonly timeoutMs: number;
  readonly pollMs: number;
}

export const DEFAULT_STOP_WAIT: StopWait = { timeoutMs: 10 * 60_000, pollMs: 10_000 };

/**
 * Stops each deployment (no rollback: the fleet is about to go) and cancels each refresh, then
 * waits until all have ended. Returns what was still moving when the wait ran out (the destroy
 * goes ahead; Terraform says if it cannot). Throttling and network trouble that outlast the
 * SDK's retries are ridden out; a long run of them ends the wait with a {@link CliError} that
 * says the stop goes on in AWS and how to watch it (the teardown stops there, nothing destroyed).
 */
export async function stopInFlight(deps: StopDeps, inFlight: InFlight, wait: StopWait = DEFAULT_STOP_WAIT): Promise<string[]> {
  const out = { write: (text: string) => void deps.log(text.replace(/\n$/, "")) };
  for (const d of inFlight.deployments) await stopDeployment({ codedeploy: deps.codedeploy, clock: deps.clock, out, region: deps.region }, d.id, false);
  for (const group of new Set(inFlight.refreshes.map((r) => r.group))) {
    try {
      const cancelled = await deps.autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: group }));
      deps.log(`cancelling the instance refresh${cancelled.InstanceRefreshId ? ` ${cancelled.InstanceRefreshId}` : ""} of ${group}`);
    } catch (e) {
      if (errorName(e) !== "ActiveInstanceRefreshNotFoundFault") throw e;
      deps.log(`the instance refresh of ${group} had already ended`);
    }
  }
  const deadline = deps.clock.now() + wait.timeoutMs;
  const errors = new ErrorRun();
  // What was last seen moving: at first, everything that was stopped.
  let moving = [
    ...inFlight.deployments.map((d) => `deployment ${d.id} (${d.status})`),
    ...inFlight.refreshes.map((r) => `instance refresh ${r.id} of ${r.group} (${r.status})`),
  ];
  const look = async () => {
    const now = await errors.attempt(() => stillMoving(deps, inFlight));
    if (now) return void (moving = now);
    if (errors.exhausted) throw lostContact(deps.region, inFlight, moving, errors.describe());
    deps.log(`could not look at ${moving.join(", ")} (${errors.describe()}); looking again in ${wait.pollMs / 1000} s`);
  };
  await look();
  while (moving.length > 0 && deps.clock.now() < deadline && !deps.signal?.aborted) {
    deps.log(`waiting for ${moving.join(", ")} to end`);
    await deps.clock.sleep(wait.pollMs);
    await look();
  }
  return moving;
}

/** The wait gave up on AWS: what goes on there without us, and how to watch it. */
function lostContact(region: string, inFlight: InFlight, moving: readonly string[], errors: string): CliError {
  const watch = [
    ...inFlight.deployments.map((d) => `aws deploy get-deployment --region ${region} --deployment-id ${d.id} --query deploymentInfo.status`),
    ...inFlight.refreshes.map((r) => watchRefreshCommand(r.group, r.id, region)),
  ];
  return new CliError(
    `lost contact with AWS while waiting for ${moving.join(", ")} to end (${errors}): the stop goes on in AWS, and nothing was destroyed; ` +
      `watch it with ${watch.join("; ")}`,
    EXIT.needsAttention,
  );
}

async function stillMoving(deps: StopDeps, inFlight: InFlight): Promise<string[]> {
  const moving: string[] = [];
  for (const d of inFlight.deployments) {
    const status = (await getDeployment(deps.codedeploy, d.id)).status ?? "unknown";
    if (!TERMINAL.has(status)) moving.push(`deployment ${d.id} (${status})`);
  }
  for (const group of new Set(inFlight.refreshes.map((r) => r.group))) {
    const ids = new Set(inFlight.refreshes.filter((r) => r.group === group).map((r) => r.id));
    for (const r of await listRefreshes(deps.autoScaling, group)) {
      if (r.InstanceRefreshId && ids.has(r.InstanceRefreshId) && !isTerminal(r.Status))
        moving.push(`instance refresh ${r.InstanceRefreshId} of ${group} (${r.Status})`);
    }
  }
  return moving;
}
