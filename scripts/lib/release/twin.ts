/**
 * Executes a blue/green or canary plan on the twin fleets, step by step, keeping a journal of
 * what it changed (the idle color's size, the weights, the live color) so that any failure, any
 * alarm and any Ctrl-C before the old color is scaled down puts everything back: the weights in
 * one call first (traffic returns in seconds), then the live color and the roles, then the new
 * color's size. After each step the lock records what that step left, so a crash leaves a
 * described state.
 *
 * Capacity follows the roles Terraform derives from the live color in SSM: the idle color comes
 * up inside the idle role's min/max; when the live color changes, the new live color gets the
 * live role's min/max and the old one the idle role's (keeping its instances until the
 * scale-down, or for --keep-previous); a rollback gives them back.
 *
 * Invariants (tested after every state): traffic never points at a color with no healthy
 * instance, and every value the release sets (weights, live color, capacity with its min/max)
 * is also what Terraform derives from SSM, so a plan by anyone changes none of them.
 */
import { GetDeploymentCommand, GetDeploymentGroupCommand, type RevisionLocation } from "@aws-sdk/client-codedeploy";
import { DeleteParameterCommand, PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { COLORS, otherColor, releaseParameters, type Color, type PublishedStack } from "../../../modules/names";
import type { PreviousColor } from "../aws/environment";
import { errorName } from "../aws/errors";
import { CliError, EXIT, type ExitCode } from "../cli/errors";
import { formatDuration } from "../cli/duration";
import type { WatchDeps } from "./codedeploy/poller";
import { say, type StepResult } from "./runtime";
import { applyRoles, colorReadiness, groupSize, setCapacity, type CapacityClients } from "./steps/capacity";
import { executeDeployStep, type DeployContext } from "./steps/deploy";
import { firingAlarms } from "./steps/bake";
import { smokeTest, type HttpGet, type SmokePage } from "./steps/smoke";
import {
  checkTrafficTarget,
  formatWeights,
  listenerWeights,
  recordLiveColor,
  recordWeights,
  setListenerWeights,
  switchWeights,
  type Weights,
} from "./steps/traffic";
import { LockLost } from "./lock";
import { waitFor, type WaitOutcome } from "./steps/wait";
import type { ReleasePlan, ReleaseStep } from "./strategies";

export interface TwinDeps extends WatchDeps, CapacityClients {
  readonly ssm: SSMClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly cloudwatch: CloudWatchClient;
  readonly http: HttpGet;
}

export interface TwinContext {
  readonly stack: PublishedStack;
  readonly plan: ReleasePlan;
  readonly liveColor: Color;
  /** The revision to deploy, and how to create the idle color's deployment. */
  readonly deploy: Omit<DeployContext, "timeoutMs" | "onTimeout">;
  /** The smoke test: the revision's pages and the key of the color route. */
  readonly pages: readonly SmokePage[];
  readonly smokeKey: string;
  /** Records what a step left in the lock (and its mirror). */
  readonly record: (patch: { state?: string; deploymentId?: string }) => Promise<void>;
  /** How long to wait for the idle color to be ready before giving up (and rolling back). */
  readonly readyTimeoutMs: number;
}

/** What the release changed so far, to put back. */
interface Journal {
  /** The idle color was scaled from this size. */
  scaledFrom?: number;
  /** The weights before the first switch. */
  weightsFrom?: Weights;
  /** The live color before it changed (the roles changed with it). */
  liveFrom?: Color;
  /** The old color was scaled down or kept: the release is past its point of no return. */
  committed?: boolean;
}

export function describeStep(step: ReleaseStep): string {
  switch (step.kind) {
    case "scale-up":
      return `scale-up: ${step.color} to ${step.desired} instance${step.desired === 1 ? "" : "s"}, wait until each is InService and healthy with no deployment running`;
    case "deploy":
      return `deploy: the revision to ${step.color} (${step.deploymentGroupName}, all at once: it takes no traffic; skipped if ${step.color}'s last successful deployment already is this revision)`;
    case "smoke-test":
      return `smoke-test: ${step.color}'s pages through the keyed color route${step.paths.length ? ` and ${step.paths.join(", ")}` : ""}`;
    case "shift-traffic":
      return `traffic: ${formatWeights(step.weights)} (one ModifyListener call, recorded in SSM${COLORS.some((c) => step.weights[c] === 100) ? `; ${step.to} takes the live role's min/max` : ""})`;
    case "bake":
      return `bake: ${formatDuration(step.seconds)} with ${step.color}'s alarms watched`;
    case "scale-down":
      return `scale-down: ${step.color} to ${step.desired} (the idle role)`;
    case "keep-previous":
      return `keep ${step.color} up for ${formatDuration(step.seconds)} (npm run rollback returns to it; release --finish scales it down)`;
  }
}

/** The idle color's deployment group already has `revision` as its last successful one. */
export async function runsRevision(deps: Pick<TwinDeps, "codedeploy">, stack: PublishedStack, color: Color, revision: RevisionLocation): Promise<boolean> {
  const last = await lastSuccessfulRevision(deps, stack, color);
  return last !== undefined && sameRevision(last, revision);
}

/** The revision of a color's last successful deployment, if it has one. */
export async function lastSuccessfulRevision(deps: Pick<TwinDeps, "codedeploy">, stack: PublishedStack, color: Color): Promise<RevisionLocation | undefined> {
  const group = await deps.codedeploy.send(
    new GetDeploymentGroupCommand({ applicationName: stack.applicationName, deploymentGroupName: stack.fleets[color].deploymentGroupName }),
  );
  const id = group.deploymentGroupInfo?.lastSuccessfulDeployment?.deploymentId;
  if (!id) return undefined;
  const d = await deps.codedeploy.send(new GetDeploymentCommand({ deploymentId: id }));
  return d.deploymentInfo?.revision;
}

export function sameRevision(a: RevisionLocation, b: RevisionLocation): boolean {
  if (a.revisionType !== b.revisionType) return false;
  if (a.revisionType === "GitHub")
    return a.gitHubLocation?.repository === b.gitHubLocation?.repository && a.gitHubLocation?.commitId === b.gitHubLocation?.commitId;
  return a.s3Location?.bucket === b.s3Location?.bucket && a.s3Location?.key === b.s3Location?.key && (a.s3Location?.eTag ?? "") === (b.s3Location?.eTag ?? "");
}

/** Runs the plan; returns the release's result (exit 0 done, 1 rolled back, 3 needs attention, 130 left on Ctrl-C). */
export async function runTwinRelease(deps: TwinDeps, ctx: TwinContext): Promise<StepResult> {
  const { stack, plan } = ctx;
  const live = ctx.liveColor;
  const idle = otherColor(live);
  const journal: Journal = {};
  const out = deps.out;
  const started = deps.clock.now();

  const rollback = async (step: string, cause: string, exitCode: ExitCode = EXIT.failed): Promise<StepResult> => {
    say(out, "", `✗ ${step}: ${cause}`, journal.committed ? "" : "rolling back: all traffic to " + live);
    if (journal.committed) {
      return {
        exitCode: EXIT.needsAttention,
        summary: `${step} failed after the old color ${live} was scaled down: ${cause}. Nothing left to roll back to; release the previous revision again`,
      };
    }
    const done: string[] = [];
    try {
      if (journal.weightsFrom) {
        const back = journal.weightsFrom;
        const t0 = deps.clock.now();
        const now = await listenerWeights(deps.elb, stack);
        if (COLORS.some((c) => now[c] !== back[c])) {
          await checkTrafficTarget(deps.elb, stack, back);
          await setListenerWeights(deps.elb, stack, back);
          done.push(`traffic back to ${formatWeights(back)} in ${formatDuration((deps.clock.now() - t0) / 1000)}`);
        } else {
          done.push(`traffic never left ${formatWeights(back)}`);
        }
        // The listener is what serves users; SSM must say the same (the switch may have failed half-way).
        await recordWeights(deps.ssm, stack.environment, back);
      }
      if (journal.liveFrom) {
        await recordLiveColor(deps.ssm, stack.environment, journal.liveFrom);
        await applyRoles(deps, stack, journal.liveFrom, journal.scaledFrom !== undefined ? { [idle]: journal.scaledFrom } : {});
        done.push(
          `${live} is live again with the live role; ${idle} has the idle role${journal.scaledFrom !== undefined ? `, scaled back to ${journal.scaledFrom}` : ""}`,
        );
      } else if (journal.scaledFrom !== undefined) {
        await setCapacity(deps, stack, idle, "idle", journal.scaledFrom);
        done.push(`${idle} scaled back to ${journal.scaledFrom}`);
      }
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      say(out, `✗ the rollback did not finish: ${why}`);
      await ctx.record({ state: `rollback at ${step} did not finish (${why}); done: ${done.join("; ") || "nothing"}` }).catch(() => undefined);
      return {
        exitCode: EXIT.needsAttention,
        summary: `release failed at ${step} (${cause}), and the rollback did not finish (${why}); done: ${done.join("; ") || "nothing"}. npm run status -- --env ${stack.environment} shows the state`,
      };
    }
    if (done.length) say(out, `✓ ${done.join("; ")}`);
    const summary = `release rolled back at ${step}: ${cause}; ${live} serves all traffic, as before`;
    try {
      await ctx.record({ state: `rolled back at ${step}: ${done.join("; ") || "nothing had changed"}` });
    } catch (e) {
      // The rollback is done; only its record in the lock failed. Say so, and not that it did not finish.
      if (!(e instanceof LockLost)) throw e;
      say(out, `! the rollback finished, but the release lock was no longer this release's when it was recorded: ${e.message}`);
      return { exitCode, summary: `${summary} (the release lock had been taken away meanwhile: nothing after the rollback was done)` };
    }
    return { exitCode, summary };
  };

  /** The scale-down of the old color failed after the switch: it is still up, recorded as kept, for rollback, --finish and status. */
  const scaleDownFailed = async (color: Color, cause: string): Promise<StepResult> => {
    say(out, "", `✗ scale-down: ${cause}`);
    const env = stack.environment;
    let kept: string;
    try {
      const size = await groupSize(deps.autoScaling, stack.fleets[color].autoScalingGroupName);
      const now = deps.clock.now();
      await recordPrevious(deps, env, {
        color,
        desired: size.desired,
        since: new Date(now).toISOString(),
        until: new Date(now).toISOString(),
        strategy: plan.strategy,
      });
      kept = `it is still up (${size.desired} desired), recorded as kept: npm run rollback -- --env ${env} returns to it, npm run release -- --env ${env} --finish scales it down`;
    } catch (e) {
      kept = `it is still up, and recording it as kept failed too (${e instanceof Error ? e.message : String(e)}): npm run release -- --env ${env} --finish scales it down`;
    }
    const summary = `released, but the old color ${color} could not be scaled down (${cause}); ${idle} serves all traffic and has the live role; ${kept}`;
    await ctx.record({ state: summary }).catch(() => undefined);
    return { exitCode: EXIT.needsAttention, summary };
  };

  /** A wait that did not end in done, as a rollback. */
  const waitFailed = (step: string, w: Exclude<WaitOutcome, { kind: "done" }>): Promise<StepResult> => {
    if (w.kind === "interrupted") return rollback(step, `interrupted by ${w.signal}`, EXIT.interrupted);
    if (w.kind === "timed-out") return rollback(step, `not ready in time (${w.last || "no progress"})`);
    return rollback(step, w.why);
  };

  for (const step of plan.steps) {
    const name = step.kind;
    say(out, "", `→ ${describeStep(step)}`);
    await ctx.record({ state: `at ${describeStep(step)}` });
    try {
      switch (step.kind) {
        case "scale-up": {
          const since = deps.clock.now();
          // The live color keeps its role (this also repairs min/max a tool left out of step with SSM);
          // the idle color comes up inside the idle role's min/max, which Terraform keeps while it is idle.
          await setCapacity(deps, stack, live, "live");
          journal.scaledFrom = (await groupSize(deps.autoScaling, stack.fleets[step.color].autoScalingGroupName)).desired;
          await setCapacity(deps, stack, step.color, "idle", step.desired);
          const w = await waitFor(deps, () => colorReadiness(deps, stack, step.color, step.desired, since), {
            what: `${step.color} ready with ${step.desired} instances`,
            timeoutMs: ctx.readyTimeoutMs,
          });
          if (w.kind !== "done") return await waitFailed(name, w);
          break;
        }
        case "deploy": {
          if (await runsRevision(deps, stack, step.color, ctx.deploy.revision)) {
            say(out, `  ${step.color}'s last successful deployment is this revision: no deployment needed`);
          } else {
            const result = await executeDeployStep(deps, step, { ...ctx.deploy, timeoutMs: Number.POSITIVE_INFINITY, onTimeout: "leave", idle: true });
            if (result.leftRunning) {
              return {
                ...result,
                summary: `${result.summary}; no traffic moved: ${live} serves all of it, ${step.color} stays at ${step.fleetSize} until the deployment ends`,
              };
            }
            if (result.exitCode !== EXIT.ok) return await rollback(name, result.summary, result.exitCode === EXIT.interrupted ? EXIT.interrupted : EXIT.failed);
          }
          // A follow-on deployment (instances launched while it ran) must end before the smoke test.
          const since = deps.clock.now();
          const w = await waitFor(deps, () => colorReadiness(deps, stack, step.color, step.fleetSize, since), {
            what: `${step.color} ready after the deployment`,
            timeoutMs: ctx.readyTimeoutMs,
          });
          if (w.kind !== "done") return await waitFailed(name, w);
          break;
        }
        case "smoke-test": {
          const pages = [...ctx.pages, ...step.paths.map((path) => ({ path }))];
          const results = await smokeTest(deps.http, stack.siteUrl, step.color, ctx.smokeKey, pages);
          for (const r of results) say(out, `  ${r.ok ? "✓" : "✗"} ${r.path}${r.status ? ` ${r.status}` : ""}${r.problem ? `: ${r.problem}` : ""}`);
          const bad = results.filter((r) => !r.ok);
          if (bad.length)
            return await rollback(
              name,
              `${bad.length} of ${results.length} page${results.length === 1 ? "" : "s"} failed on ${step.color}: ${bad.map((r) => `${r.path} ${r.problem}`).join("; ")}`,
            );
          if (deps.interrupts?.take()) return await rollback(name, "interrupted", EXIT.interrupted);
          break;
        }
        case "shift-traffic": {
          const firing = await firingAlarms(deps.cloudwatch, stack.alarmNames[idle]);
          if (firing.length) return await rollback(name, `alarm before the switch: ${firing.join(", ")}`);
          await checkTrafficTarget(deps.elb, stack, step.weights);
          journal.weightsFrom ??= await listenerWeights(deps.elb, stack);
          await switchWeights(deps, stack, step.weights);
          if (step.weights[idle] === 100) {
            journal.liveFrom = live;
            await recordLiveColor(deps.ssm, stack.environment, idle);
            // What Terraform now derives from SSM: idle has the live role, live the idle role (its
            // instances stay until the scale-down; the idle role's max holds them, as the plan checked).
            await applyRoles(deps, stack, idle);
          }
          say(out, `  ✓ ${formatWeights(step.weights)}${step.weights[idle] === 100 ? `: ${idle} is live` : ""}`);
          break;
        }
        case "bake": {
          const until = deps.clock.now() + step.seconds * 1000;
          const w = await waitFor(
            deps,
            async () => {
              const firing = await firingAlarms(deps.cloudwatch, stack.alarmNames[step.color]);
              if (firing.length) return { failed: `alarm: ${firing.join(", ")}` };
              if (deps.clock.now() >= until) return { done: true };
              return { progress: `${step.color} baking, no alarm; ${formatDuration((until - deps.clock.now()) / 1000)} to go` };
            },
            { what: `the bake of ${step.color}`, timeoutMs: step.seconds * 1000 + 60_000, pollMs: 15_000 },
          );
          if (w.kind !== "done") return await waitFailed(name, w);
          break;
        }
        case "scale-down": {
          // Ctrl-C before the old color goes: it is still up, so this is still one weight switch back.
          if (deps.interrupts?.take()) return await rollback(name, "interrupted before the old color was scaled down", EXIT.interrupted);
          try {
            await setCapacity(deps, stack, step.color, "idle", step.desired);
          } catch (e) {
            return await scaleDownFailed(step.color, describeError(e));
          }
          journal.committed = true;
          say(out, `  ✓ ${step.color} set to ${step.desired}: its instances drain and terminate`);
          const late = deps.interrupts?.take();
          if (late) say(out, `  (${late} came while ${step.color} was being scaled down: past the point of no return, the release finishes)`);
          break;
        }
        case "keep-previous": {
          if (deps.interrupts?.take()) return await rollback(name, "interrupted before the old color was kept", EXIT.interrupted);
          const now = deps.clock.now();
          const previous: PreviousColor = {
            color: step.color,
            desired: (await groupSize(deps.autoScaling, stack.fleets[step.color].autoScalingGroupName)).desired,
            since: new Date(now).toISOString(),
            until: new Date(now + step.seconds * 1000).toISOString(),
            strategy: plan.strategy,
          };
          await recordPrevious(deps, stack.environment, previous);
          journal.committed = true;
          say(out, `  ✓ ${step.color} stays up until ${previous.until}: npm run rollback -- --env ${stack.environment} returns to it`);
          break;
        }
      }
    } catch (e) {
      // The lock was lost (or a deployment goes on without us): stop, as the step left it.
      if (e instanceof CliError && e.exitCode === EXIT.needsAttention) throw e;
      return rollback(name, describeError(e));
    }
  }
  try {
    await ctx.record({ state: `done: ${idle} live` });
  } catch (e) {
    if (!(e instanceof LockLost)) throw e;
    say(out, `! released, but the release lock was no longer this release's at the end: ${e.message}`);
  }
  return {
    exitCode: EXIT.ok,
    summary: `✓ released with ${plan.strategy} in ${formatDuration((deps.clock.now() - started) / 1000)}: ${idle} serves all traffic`,
  };
}

/** "ThrottlingException: Rate exceeded" (the AWS error's name when it says more than the message). */
function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const name = errorName(e);
  return `${name && name !== "Error" && name !== "CliError" ? `${name}: ` : ""}${e.message}`;
}

/** Records the old color a release kept up (`status`, `rollback` and `release --finish` read it). */
export async function recordPrevious(deps: Pick<TwinDeps, "ssm">, env: string, previous: PreviousColor): Promise<void> {
  await deps.ssm.send(new PutParameterCommand({ Name: releaseParameters(env).previous, Value: JSON.stringify(previous), Type: "String", Overwrite: true }));
}

export async function forgetPrevious(deps: Pick<TwinDeps, "ssm">, env: string): Promise<void> {
  try {
    await deps.ssm.send(new DeleteParameterCommand({ Name: releaseParameters(env).previous }));
  } catch (e) {
    if (errorName(e) !== "ParameterNotFound") throw e;
  }
}
