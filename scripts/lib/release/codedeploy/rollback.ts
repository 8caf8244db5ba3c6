/**
 * Stopping a deployment, and confirming CodeDeploy's automatic rollback of a failed or stopped
 * one: a release says "rolled back" only when the rollback deployment succeeded.
 */
import { StopDeploymentCommand } from "@aws-sdk/client-codedeploy";
import { EXIT } from "../../cli/errors";
import { errorName } from "../../aws/errors";
import { formatDuration } from "../../cli/duration";
import { leftRunningMessage } from "./interrupt";
import { DEFAULT_POLL, Poller, type WatchDeps } from "./poller";
import { formatFailures } from "./progress";
import { TERMINAL, getDeployment, watchDeployment } from "./watch";
import { consoleUrl, say, type StepResult } from "../runtime";

export async function stopDeployment(deps: WatchDeps, deploymentId: string, rollback = true): Promise<void> {
  try {
    const out = await deps.codedeploy.send(new StopDeploymentCommand({ deploymentId, autoRollbackEnabled: rollback }));
    say(
      deps.out,
      `stopping ${deploymentId}${rollback ? " with rollback" : ""}: ${out.status ?? "Pending"}${out.statusMessage ? ` (${out.statusMessage})` : ""}`,
    );
  } catch (e) {
    if (errorName(e) === "DeploymentAlreadyCompletedException") {
      say(deps.out, `${deploymentId} had already ended`);
      return;
    }
    throw e;
  }
}

/**
 * After a deployment failed or was stopped: waits for CodeDeploy's automatic rollback to
 * appear and watches it to the end. Confirms (exit 1) only when the rollback succeeded.
 */
export async function confirmRollback(deps: WatchDeps, deploymentId: string, timeoutMs: number): Promise<StepResult> {
  const policy = { ...DEFAULT_POLL, ...deps.poll };
  const poller = new Poller(deps, policy, deploymentId);
  const giveUp = deps.clock.now() + policy.rollbackAppearMs;
  let rollbackId: string | undefined;
  for (;;) {
    const info = await poller.call("GetDeployment", () => getDeployment(deps.codedeploy, deploymentId));
    rollbackId = info?.rollbackInfo?.rollbackDeploymentId;
    if (rollbackId) break;
    const message = info?.rollbackInfo?.rollbackMessage;
    if (message && TERMINAL.has(info?.status ?? "")) {
      say(deps.out, `✗ no automatic rollback: ${message}`);
      return { exitCode: EXIT.needsAttention, deploymentId, summary: `${deploymentId} ended ${info?.status}; CodeDeploy did not roll back (${message})` };
    }
    if (deps.clock.now() >= giveUp) {
      return {
        exitCode: EXIT.needsAttention,
        deploymentId,
        summary: `CodeDeploy reported no rollback of ${deploymentId} within ${formatDuration(policy.rollbackAppearMs / 1000)}: check ${consoleUrl(deps.region, deploymentId)}`,
      };
    }
    await deps.clock.sleep(poller.nextWaitMs());
  }

  say(deps.out, "", `rolling back: deployment ${rollbackId} redeploys the last successful revision (${consoleUrl(deps.region, rollbackId)})`);
  const outcome = await watchDeployment(deps, rollbackId, { deadlineMs: deps.clock.now() + timeoutMs, phase: "rollback" });
  if (outcome.kind === "finished" && outcome.info.status === "Succeeded") {
    return { exitCode: EXIT.failed, deploymentId, summary: `✓ rolled back: ${rollbackId} succeeded; every instance runs the previous revision again` };
  }
  if (outcome.kind === "finished") {
    say(deps.out, ...formatFailures(outcome.targets));
    return {
      exitCode: EXIT.needsAttention,
      deploymentId,
      summary: `✗ the rollback ${rollbackId} ended ${outcome.info.status}: instances may run different revisions; see ${consoleUrl(deps.region, rollbackId)}`,
    };
  }
  say(deps.out, leftRunningMessage(rollbackId, deps.region));
  return {
    exitCode: outcome.kind === "interrupted" ? EXIT.interrupted : EXIT.needsAttention,
    deploymentId,
    leftRunning: rollbackId,
    summary: outcome.kind === "interrupted" ? `left the rollback ${rollbackId} running` : `the rollback ${rollbackId} did not finish in time`,
  };
}
