/**
 * The `deploy` step: one CodeDeploy deployment to a color's deployment group, created, watched
 * to the end, and followed by whatever its outcome calls for (the automatic rollback confirmed,
 * or the deployment left running and said so).
 */
import { CreateDeploymentCommand, type DeploymentInfo, type RevisionLocation } from "@aws-sdk/client-codedeploy";
import { CliError, EXIT } from "../../cli/errors";
import { errorName } from "../../aws/errors";
import { formatDuration } from "../../cli/duration";
import { leftRunningMessage } from "../codedeploy/interrupt";
import type { WatchDeps } from "../codedeploy/poller";
import { formatFailures, type TargetView } from "../codedeploy/progress";
import { confirmRollback, stopDeployment } from "../codedeploy/rollback";
import { watchDeployment } from "../codedeploy/watch";
import type { FileExistsBehavior, OnTimeout } from "../options";
import type { DeployStep } from "../strategies";
import { consoleUrl, say, type StepResult } from "../runtime";

export interface DeployContext {
  readonly applicationName: string;
  readonly revision: RevisionLocation;
  readonly description: string;
  readonly fileExistsBehavior: FileExistsBehavior;
  /** How long to watch the deployment (and, separately, its rollback). */
  readonly timeoutMs: number;
  readonly onTimeout: OnTimeout;
  /** Called once the deployment exists (the flow records its id in the release lock). */
  readonly onCreated?: (deploymentId: string) => Promise<void>;
  /**
   * The deployment goes to a color that takes no traffic (the idle color of a blue/green or
   * canary release): Ctrl-C stops it at once, without CodeDeploy's rollback, and the release
   * scales that color back down.
   * @default false
   */
  readonly idle?: boolean;
}

/** CreateDeployment's refusals, as messages that say what to do. */
function explainCreateError(e: unknown, step: DeployStep): Error {
  const name = errorName(e);
  const message = e instanceof Error ? e.message : String(e);
  switch (name) {
    case "DeploymentLimitExceededException":
      return new CliError(
        `CodeDeploy refused: ${step.deploymentGroupName} already has a deployment in progress (${message}). ` +
          `Wait for it, or stop it: aws deploy list-deployments --deployment-group-name ${step.deploymentGroupName} --include-only-statuses InProgress`,
      );
    case "DeploymentConfigDoesNotExistException":
    case "DeploymentGroupDoesNotExistException":
    case "ApplicationDoesNotExistException":
      return new CliError(`CodeDeploy refused: ${message} — the published stack is out of date: run npx cdktf deploy for this environment`);
    case "InvalidRevisionException":
    case "RevisionDoesNotExistException":
    case "InvalidGitHubAccountTokenException":
    case "GitHubAccountTokenDoesNotExistException":
      return new CliError(`CodeDeploy refused the revision: ${message}`);
    default:
      return e instanceof Error ? e : new Error(message);
  }
}

function failureReport(deps: WatchDeps, info: DeploymentInfo, targets: readonly TargetView[]): void {
  const err = info.errorInformation;
  say(deps.out, "", `✗ deployment ${info.deploymentId} ${info.status}${err?.code ? ` (${err.code})` : ""}${err?.message ? `: ${err.message}` : ""}`);
  const lines = formatFailures(targets);
  if (lines.length) say(deps.out, ...lines);
}

/** Runs one `deploy` step: CreateDeployment, watch, and whatever the outcome calls for. */
export async function executeDeployStep(deps: WatchDeps, step: DeployStep, ctx: DeployContext): Promise<StepResult> {
  let deploymentId: string;
  try {
    const out = await deps.codedeploy.send(
      new CreateDeploymentCommand({
        applicationName: ctx.applicationName,
        deploymentGroupName: step.deploymentGroupName,
        deploymentConfigName: step.deploymentConfigName,
        revision: ctx.revision,
        description: ctx.description.slice(0, 256),
        fileExistsBehavior: ctx.fileExistsBehavior,
        autoRollbackConfiguration: { enabled: true, events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"] },
      }),
    );
    if (!out.deploymentId) throw new Error("CreateDeployment returned no deploymentId");
    deploymentId = out.deploymentId;
  } catch (e) {
    throw explainCreateError(e, step);
  }
  say(deps.out, `created deployment ${deploymentId}: ${consoleUrl(deps.region, deploymentId)}`);
  await ctx.onCreated?.(deploymentId);

  const outcome = await watchDeployment(deps, deploymentId, {
    deadlineMs: deps.clock.now() + ctx.timeoutMs,
    phase: "deploy",
    onInterrupt: ctx.idle ? "stop" : undefined,
  });

  if (outcome.kind === "interrupted" && ctx.idle) {
    // No traffic reaches it: stop it without CodeDeploy's rollback; the release scales the color down.
    await stopDeployment(deps, deploymentId, false);
    return { exitCode: EXIT.interrupted, deploymentId, summary: `stopped ${deploymentId} on ${step.color}, which takes no traffic` };
  }

  if (outcome.kind === "finished") {
    const { info, targets } = outcome;
    if (info.status === "Succeeded") {
      const failedLast = formatFailures(targets);
      if (failedLast.length) {
        // one-at-a-time succeeds even when the last instance fails: say so loudly.
        say(deps.out, "", "! the deployment succeeded, but an instance failed (one-at-a-time tolerates a failure on the last instance):", ...failedLast);
      }
      return { exitCode: EXIT.ok, deploymentId, summary: `✓ released: ${deploymentId} succeeded on ${step.color} (${step.deploymentGroupName})` };
    }
    failureReport(deps, info, targets);
    const result = await confirmRollback(deps, deploymentId, ctx.timeoutMs);
    return { ...result, summary: `release failed: ${deploymentId} ${info.status}.\n${result.summary}` };
  }

  if (outcome.kind === "interrupted" && outcome.action === "leave") {
    say(deps.out, "", leftRunningMessage(deploymentId, deps.region));
    return { exitCode: EXIT.interrupted, deploymentId, summary: `left ${deploymentId} running`, leftRunning: deploymentId };
  }

  if (outcome.kind === "timed-out" && ctx.onTimeout === "leave") {
    say(deps.out, "", `timed out after ${formatDuration(ctx.timeoutMs / 1000)} (--on-timeout leave):`, leftRunningMessage(deploymentId, deps.region));
    return { exitCode: EXIT.needsAttention, deploymentId, summary: `timed out; left ${deploymentId} running`, leftRunning: deploymentId };
  }

  // Timed out (--on-timeout rollback) or the user chose to stop: stop with rollback, confirm it.
  const why = outcome.kind === "timed-out" ? `timed out after ${formatDuration(ctx.timeoutMs / 1000)}` : "stopped at your request";
  say(deps.out, "", `${why}: stopping ${deploymentId} and rolling back`);
  await stopDeployment(deps, deploymentId);
  const result = await confirmRollback(deps, deploymentId, ctx.timeoutMs);
  return { ...result, summary: `release ${why}.\n${result.summary}` };
}
