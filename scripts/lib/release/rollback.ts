/**
 * `npm run rollback`: all traffic back to the previous color while it is still up, in one
 * weight switch, then the current color scaled down. The previous color is the one the last
 * release kept up (--keep-previous), or, with traffic split by a canary that stopped part-way,
 * the color SSM still records as live. When neither is up, it says what going back would take
 * instead (a release of the earlier revision) and changes nothing.
 *
 * Capacity follows the roles Terraform derives from the live color: with the switch, the color
 * gone back to gets the live role's min/max and the other the idle role's, then that one scales
 * down. Once traffic has moved, a failure is not "nothing changed": it exits 3 saying what it left.
 */
import { otherColor, type Color } from "../../../modules/names";
import { readEnvironmentState, requireDeployed, type DeployedState } from "../aws/environment";
import { CliError, EXIT, type ExitCode } from "../cli/errors";
import { formatDuration } from "../cli/duration";
import { Preflight } from "../cli/preflight";
import { acquireLock, describeHolder, forceUnlockCommand, lockState, LockLost } from "./lock";
import type { Clock, Output } from "./runtime";
import { say } from "./runtime";
import { applyRoles, groupSize, healthyTargets, setCapacity, type CapacityClients } from "./steps/capacity";
import {
  checkTrafficTarget,
  formatWeights,
  listenerWeights,
  recordLiveColor,
  recordWeights,
  setListenerWeights,
  type TrafficClients,
  type Weights,
} from "./steps/traffic";
import { forgetPrevious } from "./twin";
import type { S3Client } from "@aws-sdk/client-s3";

export interface RollbackDeps extends CapacityClients, TrafficClients {
  readonly s3: S3Client;
  readonly clock: Clock;
  readonly out: Output;
  readonly whoami: { readonly user: string; readonly host: string; readonly caller: string };
  readonly newLockId: () => string;
}

export interface RollbackPlan {
  readonly to: Color;
  readonly from: Color;
  readonly weightsBefore: Weights;
  /** What the color left behind scales down to (the idle role's desired). */
  readonly scaleDownTo: number;
}

/** What rolling back would do now; a CliError (exit 2) when there is nothing up to go back to. */
export async function planRollback(deps: RollbackDeps, state: DeployedState): Promise<RollbackPlan> {
  const { stack } = state;
  const weights = await listenerWeights(deps.elb, stack);
  const split = weights.blue > 0 && weights.green > 0;
  const to = state.previous?.color ?? (split ? state.liveColor : undefined);
  const current = weights.blue === 100 ? "blue" : weights.green === 100 ? "green" : state.liveColor;
  if (!to || (to === current && !split)) {
    const idle = otherColor(current);
    const size = await groupSize(deps.autoScaling, stack.fleets[idle].autoScalingGroupName);
    throw new CliError(
      `nothing to roll back to: the previous color ${idle} is not kept up (${size.desired} instance${size.desired === 1 ? "" : "s"} desired; the last release scaled it down). ` +
        `Going back now takes a release of the earlier revision: npm run release -- --env ${stack.environment} --strategy blue-green --github <owner/repo@sha> (or --revision-dir <folder>)`,
    );
  }
  const healthy = await healthyTargets(deps.elb, stack, to);
  const size = await groupSize(deps.autoScaling, stack.fleets[to].autoScalingGroupName);
  if (healthy.length === 0 || healthy.length < size.desired) {
    throw new CliError(
      `${to} is up but only ${healthy.length} of ${size.desired} instances are healthy: sending all traffic there would overload or fail it. ` +
        `Wait for it (npm run status -- --env ${stack.environment} --watch), then roll back`,
    );
  }
  return { to, from: otherColor(to), weightsBefore: weights, scaleDownTo: stack.capacity.idle.desired };
}

/** What a rollback that moved traffic and then stopped left, and what to do about it. */
function leftAfter(env: string, plan: RollbackPlan, done: readonly string[], e: unknown): string {
  const why = e instanceof Error ? e.message : String(e);
  const what =
    e instanceof LockLost ? `the release lock was taken away before ${plan.from} was scaled down (${forceUnlockCommand(env)}?)` : `then it stopped: ${why}`;
  const next = done.length === 1 ? `SSM still records the old state: ${forceUnlockCommand(env)} repairs it from the listener; then ` : "";
  return (
    `rolled traffic back, but not all the way: ${done.join("; ")}; ${what}. ${plan.from} takes no traffic but is still up: ` +
    `${next}npm run release -- --env ${env} --finish scales it down (npm run status -- --env ${env} shows the state)`
  );
}

/** Runs a rollback: check → plan → act → report. */
export async function runRollback(deps: RollbackDeps, env: string, o: { readonly dryRun: boolean }): Promise<ExitCode> {
  const pre = new Preflight(o.dryRun);
  const state = requireDeployed(await readEnvironmentState(deps.ssm, env));
  const { stack } = state;
  const lockNow = await lockState(state.lock);
  if (lockNow) {
    await pre.check(() => {
      throw new CliError(
        `${describeHolder(lockNow.held, deps.clock.now())} holds the release lock: a running release rolls itself back (Ctrl-C does); if it died, npm run release -- --env ${env} --force-unlock first`,
      );
    });
  }
  const plan = await pre.check(() => planRollback(deps, state));
  if (o.dryRun) {
    if (plan) {
      say(
        deps.out,
        `would switch traffic ${formatWeights(plan.weightsBefore)} → all on ${plan.to} (one ModifyListener call), record it in SSM, and scale ${plan.from} down to ${plan.scaleDownTo}`,
      );
    }
    say(deps.out, ...pre.report());
    return pre.exitCode as ExitCode;
  }
  if (!plan) throw new Error("unreachable: a real run throws at the first blocker");
  const lock = await acquireLock(
    { env, bucket: stack.revisionBucket, s3: deps.s3, ssm: deps.ssm },
    {
      id: deps.newLockId(),
      user: `${deps.whoami.user} (${deps.whoami.caller})`,
      host: deps.whoami.host,
      startedAt: new Date(deps.clock.now()).toISOString(),
      purpose: "rollback",
    },
    { nowMs: deps.clock.now() },
  );
  // What is done so far, for the message if a later step fails: traffic moved at the first item.
  const done: string[] = [];
  try {
    const target = { [plan.to]: 100, [plan.from]: 0 } as Record<Color, number>;
    const started = deps.clock.now();
    await checkTrafficTarget(deps.elb, stack, target);
    await setListenerWeights(deps.elb, stack, target);
    done.push(`all traffic is on ${plan.to}`);
    const took = (deps.clock.now() - started) / 1000;
    say(deps.out, `✓ all traffic on ${plan.to} (${formatDuration(took)} from the decision)`);
    await recordWeights(deps.ssm, env, target);
    await recordLiveColor(deps.ssm, env, plan.to);
    done.push(`SSM records it (${plan.to} live)`);
    // The kept color is live again: its record goes now, so that nothing names the live color as kept.
    await forgetPrevious(deps, env);
    await applyRoles(deps, stack, plan.to);
    done.push(`${plan.to} has the live role, ${plan.from} the idle role`);
    await lock.update({ state: `traffic on ${plan.to}; scaling ${plan.from} down` });
    await setCapacity(deps, stack, plan.from, "idle", plan.scaleDownTo);
    say(deps.out, `✓ ${plan.from} set to ${plan.scaleDownTo}: its instances drain and terminate`);
  } catch (e) {
    if (done.length === 0) throw e; // nothing moved: the refusal or error as it is
    throw new CliError(leftAfter(env, plan, done, e), EXIT.needsAttention);
  } finally {
    const warning = await lock.release();
    if (warning) say(deps.out, `! ${warning}`);
  }
  return EXIT.ok;
}
