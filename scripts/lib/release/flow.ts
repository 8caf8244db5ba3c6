/**
 * `release`, start to end, over handed-in clients: validate and bundle the revision (offline),
 * read what is deployed, plan with the strategy, print the plan and the estimate, then (unless
 * --dry-run) take the lock, upload, run the plan's steps and give the lock back — unless work is
 * left running in AWS (a deployment after Ctrl-C in CI, --on-timeout leave, lost contact): then
 * the lock stays, naming it, so that `npm run deploy` does not replace instances under it.
 *
 * In place (all-at-once, rolling): one CodeDeploy deployment to the live color. Blue/green and
 * canary: the twin-fleet steps of ./twin.ts, with rollback in one weight switch.
 */
import { relative } from "node:path";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { S3Client } from "@aws-sdk/client-s3";
import type { CodeDeployClient, RevisionLocation } from "@aws-sdk/client-codedeploy";
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { STSClient } from "@aws-sdk/client-sts";
import type { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { approxVcpus, capacityLine, onDemandQuota, vcpusOf } from "./quota";
import type { EnvironmentConfig } from "../../../config/load";
import {
  COLORS,
  INITIAL_LIVE_COLOR,
  otherColor,
  releaseParameters,
  stackName,
  type Color,
  type FleetCapacity,
  type MinimumHealthyHosts,
  type PublishedStack,
  type Role,
} from "../../../modules/names";
import { formatProblems, validateAppSpec } from "../revision/appspec";
import type { FileExistsBehavior, ReleaseOptions } from "./options";
import { createBundle, findUploaded, uploadBundle, type Bundle, type BundleOptions } from "../revision/bundle";
import { say, type Clock, type Interrupts, type Output, type Prompt, type StepResult } from "./runtime";
import type { PollPolicy } from "./codedeploy/poller";
import { executeDeployStep } from "./steps/deploy";
import { EXIT, CliError, type ExitCode } from "../cli/errors";
import { formatEstimate, hookTime, type HookTime } from "./estimate";
import { formatTwinEstimate } from "./estimate-twin";
import { formatDuration } from "../cli/duration";
import { acquireLock, describeHolder, forceUnlock, forceUnlockCommand, lockState, LockLost, type LockPlace, type ReleaseLock } from "./lock";
import { describeRevision, parseGitHubRevision, revisionLocation, type GitHubRevision, type RevisionSource } from "../revision/source";
import { readEnvironmentState, readFleet, refuseDuringInstanceRefresh, requireDeployed, type DeployedState, type FleetState } from "../aws/environment";
import { requireAwsCredentials } from "../aws/credentials";
import { Preflight } from "../cli/preflight";
import { expectedStack } from "./offline";
import { checkStrategyAgainstConfig, resolveStrategy, DEFAULT_BAKE_SECONDS, type ReleasePlan, type ReleaseStep } from "./strategies";
import { describeStep, forgetPrevious, lastSuccessfulRevision, runTwinRelease } from "./twin";
import { revisionPages, type HttpGet, type SmokePage } from "./steps/smoke";
import { setDesired } from "./steps/capacity";
import { formatWeights, listenerWeights, recordLiveColor, recordWeights } from "./steps/traffic";

export interface ReleaseClients {
  readonly ssm: SSMClient;
  readonly s3: S3Client;
  readonly codedeploy: CodeDeployClient;
  readonly autoScaling: AutoScalingClient;
  readonly sts: STSClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly cloudwatch: CloudWatchClient;
}

export interface ReleaseInterrupts extends Interrupts {
  /** While `fn` runs, Ctrl-C is held for the release instead of ending the process (the lock is held). */
  hold<T>(fn: () => Promise<T>): Promise<T>;
}

export interface ReleaseDeps extends ReleaseClients {
  readonly clock: Clock;
  /** Progress (stderr). */
  readonly out: Output;
  /** Results (stdout): the dry run's JSON with --json. @default - `out` */
  readonly stdout?: Output;
  readonly interrupts?: ReleaseInterrupts;
  /** Present only in a terminal. */
  readonly prompt?: Prompt;
  /** Who runs this, for the lock and the deployment's description. */
  readonly whoami: { readonly user: string; readonly host: string };
  readonly newLockId: () => string;
  readonly poll?: Partial<PollPolicy>;
  /** How the bundle's source date is found. @default - SOURCE_DATE_EPOCH, else git, else the files' mtimes */
  readonly bundle?: BundleOptions;
  /** GET for the smoke test (tests hand in a fake). */
  readonly http: HttpGet;
  /** For the vCPUs both colors need (blue/green, canary). @default - not asked: the plan names the quota to check */
  readonly ec2?: EC2Client;
  readonly serviceQuotas?: ServiceQuotasClient;
  /** A lock this run already holds (a nightly rollout releases under its own lock): used, not taken or given back. */
  readonly heldLock?: ReleaseLock;
}

/** What `release` needs from config/<env>.yaml: only what must be known before AWS is reached. */
export interface EnvironmentInfo {
  readonly name: string;
  readonly region: string;
  readonly customMinimumHealthyHosts: readonly MinimumHealthyHosts[];
  /** For an offline preview (--dry-run --instances N): what the stack would publish. */
  readonly defaultStrategy?: string;
  readonly deregistrationDelaySeconds?: number;
  readonly initialLiveColor?: Color;
  /** The fleets' instance type, for the vCPUs both colors need at once. */
  readonly instanceType?: string;
  /** Capacity by role, from the environment file. @default - the live role 2/2/4, the idle role 0/0/4 */
  readonly capacity?: Readonly<Record<Role, FleetCapacity>>;
}

type PreparedRevision =
  | {
      readonly type: "s3";
      readonly dir: string;
      readonly bundle: Bundle;
      readonly hooks: HookTime;
      readonly fileExistsBehavior?: FileExistsBehavior;
      /** The pages a smoke test asks for. */
      readonly pages: readonly SmokePage[];
    }
  | { readonly type: "github"; readonly github: GitHubRevision };

/** What a release needs of an environment file. */
export function environmentInfo(env: EnvironmentConfig): EnvironmentInfo {
  return {
    name: env.name,
    region: env.region,
    customMinimumHealthyHosts: env.customMinimumHealthyHosts,
    defaultStrategy: env.deployment.defaultStrategy,
    deregistrationDelaySeconds: env.deployment.deregistrationDelaySeconds,
    initialLiveColor: INITIAL_LIVE_COLOR,
    instanceType: env.instanceType,
    capacity: env.capacity,
  };
}

function shown(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel && !rel.startsWith("..") ? rel : dir;
}

/**
 * Offline: validates the appspec (nothing else runs if it is invalid) and bundles the folder.
 * Refuses a --file-exists-behavior that the appspec's file_exists_behavior would override.
 */
export async function prepareRevision(options: ReleaseOptions, out: Output, bundleOptions: BundleOptions = {}): Promise<PreparedRevision> {
  const flag = options.fileExistsBehavior;
  if (options.github !== undefined) {
    const github = parseGitHubRevision(options.github);
    say(
      out,
      `revision: GitHub ${github.repository} at ${github.commitId}`,
      "  (the appspec of a GitHub revision is not validated here, and its hook timeouts are not in the estimate)",
    );
    if (flag) {
      say(
        out,
        `! --file-exists-behavior ${flag.toLowerCase()}: if the repository's appspec.yml sets file_exists_behavior, CodeDeploy uses that instead of the flag`,
      );
    }
    return { type: "github", github };
  }
  const dir = options.revisionDir;
  const result = validateAppSpec(dir);
  if (!result.ok || !result.spec) {
    const file = shown(result.file ?? `${dir}/appspec.yml`);
    throw new CliError(`the revision in ${shown(dir)} is not valid; nothing was changed:\n${formatProblems(file, result.problems)}`);
  }
  const fromSpec = result.spec.fileExistsBehavior;
  if (flag && fromSpec && flag !== fromSpec) {
    const where = `${shown(result.file ?? `${dir}/appspec.yml`)}:${result.spec.fileExistsBehaviorLine ?? 0}`;
    throw new CliError(
      `--file-exists-behavior ${flag.toLowerCase()} would be ignored: ${where} sets file_exists_behavior: ${fromSpec}, and CodeDeploy lets the appspec's value win over the flag. ` +
        `Drop the flag to release with ${fromSpec}, or change file_exists_behavior in the appspec (remove it to let the flag decide); nothing was changed`,
    );
  }
  const hooks = hookTime(result.spec.hooks);
  const bundle = await createBundle(dir, bundleOptions);
  const files = bundle.entries.filter((e) => e.type !== "directory").length;
  say(
    out,
    `revision: ${shown(dir)}/ — appspec valid, ${hooks.scripts} hook script${hooks.scripts === 1 ? "" : "s"}; ` +
      `bundle of ${files} file${files === 1 ? "" : "s"}, ${(bundle.tgz.length / 1024).toFixed(1)} KiB, sha256 ${bundle.sha256.slice(0, 12)}…, ` +
      `files dated ${new Date(bundle.sourceDate.seconds * 1000).toISOString().replace(".000Z", "Z")} (${bundle.sourceDate.from})`,
  );
  return { type: "s3", dir, bundle, hooks, fileExistsBehavior: result.spec.fileExistsBehavior, pages: revisionPages(dir, result.spec.files) };
}

/** The plan as the user reads it before anything starts. */
function printPlan(out: Output, plan: ReleasePlan, stack: PublishedStack, fleet: FleetState, liveColor: Color, options: ReleaseOptions): void {
  say(
    out,
    `strategy: ${plan.strategy} (${plan.kind}); ${liveColor} is live with ${fleet.inService.length} instance${fleet.inService.length === 1 ? "" : "s"} in service${fleet.desiredCapacity !== fleet.inService.length ? ` (desired ${fleet.desiredCapacity})` : ""}`,
  );
  for (const [i, step] of plan.steps.entries()) {
    if (step.kind === "deploy" && step.live) {
      say(
        out,
        `${i + 1}. deploy: ${step.color} (live) — ${step.deploymentGroupName} with ${step.deploymentConfigName}, ${step.batchSize} of ${step.fleetSize} at a time`,
      );
    } else {
      say(out, `${i + 1}. ${describeStep(step)}`);
    }
  }
  say(out, `  capacity: ${plan.summary.capacity}`, `  risk: ${plan.summary.risk}`);
  say(out, ...(plan.estimate.kind === "twin" ? formatTwinEstimate(plan.estimate) : formatEstimate(plan.estimate, stack.timings)));
  if (plan.kind === "in-place") {
    say(
      out,
      options.timeoutMinutes
        ? `timeout: ${formatDuration(options.timeoutMinutes * 60)}, then ${options.onTimeout === "rollback" ? "stop the deployment and roll back (--on-timeout rollback)" : "leave it running and keep the lock (--on-timeout leave)"}`
        : "timeout: none of webfleet's own: CodeDeploy fails a hook at its timeout and an instance that does not answer, and the release follows it to the end",
    );
  }
}

/** The dry run's result for programs (`release --dry-run --json`). */
export interface DryRunJson {
  readonly environment: string;
  readonly strategy: string;
  readonly kind: string;
  readonly liveColor: Color;
  readonly fleetSize: number;
  /** The live fleet's size came from --instances, and nothing was read from AWS. */
  readonly offline: boolean;
  readonly steps: readonly ReleaseStep[];
  /** Until every request is served by the new revision (typical). */
  readonly fullTrafficSeconds: number;
  /** The whole release if every hook runs to its timeout (and boots are slow). */
  readonly worstCaseSeconds: number;
  /** From a decision to roll back until all traffic is on the previous revision. */
  readonly rollbackSeconds: number;
  readonly estimate: ReleasePlan["estimate"];
  readonly blockers: readonly string[];
  readonly notChecked: readonly string[];
}

function dryRunJson(env: string, plan: ReleasePlan, liveColor: Color, fleetSize: number, offline: boolean, pre: Preflight): DryRunJson {
  const e = plan.estimate;
  return {
    environment: env,
    strategy: plan.strategy,
    kind: plan.kind,
    liveColor,
    fleetSize,
    offline,
    steps: plan.steps,
    fullTrafficSeconds: e.kind === "twin" ? e.fullTrafficSeconds : e.typicalSeconds,
    worstCaseSeconds: e.worstSeconds,
    // In place, going back is CodeDeploy redeploying the previous revision: as long as the release.
    rollbackSeconds: e.kind === "twin" ? e.rollbackSeconds : e.typicalSeconds,
    estimate: e,
    blockers: pre.blockers,
    notChecked: pre.notChecked,
  };
}

/** What the plan needs besides the fleet: the release's own options and the idle role's sizes. */
function planOptions(options: ReleaseOptions, stack: PublishedStack) {
  const capacity = stack.capacity;
  return {
    bakeSeconds: options.bakeSeconds ?? DEFAULT_BAKE_SECONDS,
    keepPreviousSeconds: options.keepPreviousSeconds,
    smokePaths: options.smokePaths,
    sameRevision: options.sameRevision,
    idleMax: capacity.idle.max,
    idleDesired: capacity.idle.desired,
  };
}

/** The lock's place: the environment's revision bucket. */
function lockPlace(deps: ReleaseDeps, env: string, stack: PublishedStack): LockPlace {
  return { env, bucket: stack.revisionBucket, s3: deps.s3, ssm: deps.ssm, codedeploy: deps.codedeploy };
}

/**
 * Compares the release state recorded in SSM with what AWS does, and repairs SSM where it
 * disagrees (the listener and the groups are what serve traffic; SSM is what Terraform reads).
 * Used by --force-unlock after a release died part-way. Returns one line per difference.
 */
export async function reconcile(deps: ReleaseDeps, state: DeployedState, dryRun: boolean): Promise<string[]> {
  const { stack } = state;
  const lines: string[] = [];
  const actual = await listenerWeights(deps.elb, stack);
  const recorded = { blue: state.weights.blue ?? -1, green: state.weights.green ?? -1 };
  if (COLORS.some((c) => recorded[c] !== actual[c])) {
    lines.push(`${dryRun ? "would repair" : "repaired"}: SSM weights ${formatWeights(recorded)} → the listener's ${formatWeights(actual)}`);
    if (!dryRun) await recordWeights(deps.ssm, stack.environment, actual);
  }
  const full = COLORS.find((c) => actual[c] === 100);
  if (full && full !== state.liveColor) {
    lines.push(`${dryRun ? "would repair" : "repaired"}: SSM live color ${state.liveColor} → ${full} (it has all the traffic)`);
    if (!dryRun) await recordLiveColor(deps.ssm, stack.environment, full);
  }
  if (!full)
    lines.push(
      `! traffic is split ${formatWeights(actual)} (a canary stopped part-way): finish it or roll it back with npm run rollback -- --env ${stack.environment}`,
    );
  const idle = otherColor(full ?? state.liveColor);
  const idleSize = await readFleet(deps.autoScaling, stack.fleets[idle].autoScalingGroupName);
  if (idleSize.desiredCapacity > 0 && (!state.previous || state.previous.color !== idle)) {
    lines.push(
      `! ${idle} takes no traffic but runs ${idleSize.desiredCapacity} instance${idleSize.desiredCapacity === 1 ? "" : "s"} (a release stopped part-way): ` +
        `npm run release -- --env ${stack.environment} --finish scales it down`,
    );
  }
  return lines;
}

/** Scales down the old color a release kept up (--keep-previous), and forgets it. */
async function finishPrevious(deps: ReleaseDeps, state: DeployedState, idleDesired: number): Promise<string | undefined> {
  const previous = state.previous;
  const { stack } = state;
  const weights = await listenerWeights(deps.elb, stack);
  const keptColor = previous?.color ?? (COLORS.find((c) => weights[c] === 0 && c !== state.liveColor) as Color | undefined);
  if (!keptColor) return undefined;
  if (weights[keptColor] > 0) {
    throw new CliError(
      `${keptColor} still takes ${weights[keptColor]} % of the traffic (weights ${formatWeights(weights)}): finish or roll back the canary first (npm run rollback -- --env ${stack.environment})`,
    );
  }
  const fleet = await readFleet(deps.autoScaling, stack.fleets[keptColor].autoScalingGroupName);
  if (fleet.desiredCapacity === idleDesired && !previous) return undefined;
  await setDesired(deps, stack, keptColor, idleDesired);
  await forgetPrevious(deps, stack.environment);
  return `${keptColor}, kept up${previous ? ` since ${previous.since}` : ""}, scaled down to ${idleDesired}`;
}

/** The whole command. Returns the exit code; throws {@link CliError} for refusals. */
export async function runRelease(options: ReleaseOptions, env: EnvironmentInfo, deps: ReleaseDeps): Promise<ExitCode> {
  const { out } = deps;
  // A dry run's plan, estimate and report are its result: stdout (or, with --json, the JSON
  // alone). In a real run the same lines are progress, on stderr beside the steps that follow.
  const view = options.dryRun && !options.json ? (deps.stdout ?? out) : out;
  const pre = new Preflight(options.dryRun);
  const finishDryRun = (plan: ReleasePlan, liveColor: Color, fleetSize: number, offline: boolean): ExitCode => {
    if (options.json) (deps.stdout ?? out).write(`${JSON.stringify(dryRunJson(env.name, plan, liveColor, fleetSize, offline, pre), null, 2)}\n`);
    say(view, "", "dry run: nothing changed (no lock taken, nothing uploaded, nothing scaled, no deployment created)", ...pre.report());
    return pre.blockers.length > 0 ? EXIT.refused : EXIT.ok;
  };

  // 1. Offline: flags, strategy, revision. A mistake here costs no AWS call.
  const strategyKey = options.strategy === undefined ? undefined : checkStrategyAgainstConfig(options.strategy, env.name, env.customMinimumHealthyHosts);
  const needsRevision = !options.forceUnlock && !options.finish && !options.sameRevision;
  const revision = needsRevision ? await prepareRevision(options, out, deps.bundle) : undefined;

  // A preview with the fleet's size given: the plan and the estimate from the environment file alone.
  if (options.dryRun && options.instances !== undefined && !options.forceUnlock && !options.finish) {
    const stack = expectedStack(env);
    const liveColor = env.initialLiveColor ?? "blue";
    const plan = resolveStrategy(strategyKey, stack).plan({
      env: env.name,
      stack,
      liveColor,
      fleetSize: options.instances,
      hooks: revision?.type === "s3" ? revision.hooks : undefined,
      ...planOptions(options, stack),
    });
    say(
      view,
      "",
      `${stackName(env.name)} (${env.region}) · offline preview: ${options.instances} instance${options.instances === 1 ? "" : "s"} (--instances), nothing read from AWS`,
    );
    printPlan(
      view,
      plan,
      stack,
      { autoScalingGroupName: stack.fleets[liveColor].autoScalingGroupName, desiredCapacity: options.instances, inService: Array(options.instances).fill("i") },
      liveColor,
      options,
    );
    if (plan.kind !== "in-place" && env.instanceType) {
      say(view, `  ${capacityLine(options.instances, env.instanceType, approxVcpus(env.instanceType), undefined, true)}`);
    }
    pre.skip("AWS credentials", "not asked (offline preview)");
    pre.skip("the deployed stack, its live color and deployment configs", `assumed from config/${env.name}.yaml: ${liveColor} live`);
    pre.skip("the live fleet's size", `taken from --instances ${options.instances}`);
    pre.skip("instance refreshes, the release lock and the idle color's room", "read from AWS");
    if (revision?.type === "s3") pre.skip("the upload", `s3://<revision bucket>/${revision.bundle.key}`);
    return finishDryRun(plan, liveColor, options.instances, true);
  }

  // 2. Who, and what is deployed.
  const identity = await pre.check(() => requireAwsCredentials(deps.sts, env.region));
  if (!identity) {
    say(out, "", "dry run: nothing can be planned without AWS (the live color and the fleet's size come from there).", ...pre.report());
    say(out, `  to preview the plan offline, give the fleet's size: npm run release -- --env ${env.name} --dry-run --instances <n>`);
    return EXIT.refused;
  }
  const caller = identity.arn;
  const state = requireDeployed(await readEnvironmentState(deps.ssm, env.name));
  const { stack, liveColor } = state;
  const place = lockPlace(deps, env.name, stack);
  if (options.forceUnlock) {
    say(out, await forceUnlock(place, { dryRun: options.dryRun, nowMs: deps.clock.now(), reconcile: (dryRun) => reconcile(deps, state, dryRun) }));
    return EXIT.ok;
  }
  const lockInfo = (purpose: "release", strategy?: string) => ({
    id: deps.newLockId(),
    user: `${deps.whoami.user} (${caller})`,
    host: deps.whoami.host,
    startedAt: new Date(deps.clock.now()).toISOString(),
    purpose,
    ...(strategy ? { strategy } : {}),
  });
  const { idleDesired } = planOptions(options, stack);
  if (options.finish) {
    if (options.dryRun) {
      say(
        view,
        state.previous
          ? `would scale ${state.previous.color} (kept since ${state.previous.since}) down to ${idleDesired}`
          : "nothing kept up: nothing to finish",
      );
      return EXIT.ok;
    }
    const run = async () => {
      const lock = await acquireLock(place, lockInfo("release"), { nowMs: deps.clock.now() });
      try {
        say(out, (await finishPrevious(deps, state, idleDesired)) ?? "no old color kept up: nothing to finish");
      } finally {
        const warning = await lock.release();
        if (warning) say(out, `! ${warning}`);
      }
      return EXIT.ok;
    };
    return deps.interrupts ? deps.interrupts.hold(run) : run();
  }

  const fleet = await readFleet(deps.autoScaling, stack.fleets[liveColor].autoScalingGroupName);
  await pre.check(() => {
    if (fleet.inService.length === 0) {
      throw new CliError(
        `the live color ${liveColor} of ${stackName(env.name)} has no instance in service (${fleet.autoScalingGroupName}: desired ${fleet.desiredCapacity}): nothing to deploy to. ` +
          `Check the Auto Scaling group's activity, or the live color (SSM ${releaseParameters(env.name).liveColor})`,
      );
    }
  });
  await pre.check(() => refuseDuringInstanceRefresh(deps.autoScaling, fleet.autoScalingGroupName));
  if (options.dryRun) {
    await pre.check(async () => {
      const lock = await lockState(state.lock, deps.codedeploy);
      if (lock)
        throw new CliError(`the release lock is held by ${describeHolder(lock.held, deps.clock.now(), lock.deploymentStatus)}${lock.stale ? " (stale)" : ""}`);
    });
  }

  // 3. Plan and estimate.
  const strategy = resolveStrategy(strategyKey, stack);
  const fleetSize = Math.max(1, fleet.inService.length);
  const plan = await pre.check(() =>
    strategy.plan({ env: env.name, stack, liveColor, fleetSize, hooks: revision?.type === "s3" ? revision.hooks : undefined, ...planOptions(options, stack) }),
  );
  if (!plan) {
    say(out, "", "dry run: no plan could be made.", ...pre.report());
    return EXIT.refused;
  }
  if (options.sameRevision && plan.kind === "in-place") {
    throw new CliError("--same-revision deploys the live color's revision to the idle color: use it with --strategy blue-green or canary=…");
  }
  say(view, "", `${stackName(env.name)} (${stack.region}) · ${caller}`);
  printPlan(view, plan, stack, fleet, liveColor, options);
  if (plan.kind !== "in-place" && env.instanceType) {
    const vcpus = deps.ec2 ? await vcpusOf(deps.ec2, env.instanceType).catch(() => approxVcpus(env.instanceType!)) : approxVcpus(env.instanceType);
    const quota = deps.serviceQuotas ? await onDemandQuota(deps.serviceQuotas) : undefined;
    say(view, `  ${capacityLine(fleetSize, env.instanceType, vcpus, quota, !deps.ec2)}`);
  }
  if (state.previous) say(view, `first: ${state.previous.color}, kept up since ${state.previous.since}, is scaled down (release --finish)`);

  if (options.dryRun) {
    if (revision?.type === "s3") {
      const uploaded = await findUploaded(deps.s3, stack.revisionBucket, revision.bundle.key);
      say(view, `upload: s3://${stack.revisionBucket}/${revision.bundle.key} ${uploaded === false ? "(would upload)" : "(already in the bucket: would skip)"}`);
    }
    return finishDryRun(plan, liveColor, fleetSize, false);
  }

  // 4. Lock, upload, run the steps, unlock. Ctrl-C is held from before the lock is requested,
  //    so the lock is never left behind by an interrupt — only kept on purpose, for work that
  //    goes on in AWS without us.
  const released = async (): Promise<ExitCode> => {
    const lock = deps.heldLock ?? (await acquireLock(place, lockInfo("release", plan.strategy), { nowMs: deps.clock.now() }));
    let created: string | undefined;
    let leftRunning: string | undefined;
    let lost = false;
    try {
      const result = await underLock(lock, async (patch) => {
        created = patch.deploymentId ?? created;
        await lock.update(patch);
      });
      leftRunning = result.leftRunning;
      return result.exitCode;
    } catch (e) {
      lost = e instanceof LockLost;
      // A refusal names what it left running; anything else after CreateDeployment may have
      // left the deployment running: keep the lock (a stale one is easy to spot and remove).
      leftRunning = e instanceof CliError ? e.leftRunning : created;
      throw e;
    } finally {
      if (lost) {
        // Not ours any more: touch nothing.
      } else if (deps.heldLock && !leftRunning) {
        // The caller's lock: it gives it back.
      } else if (leftRunning) {
        const warning = await lock
          .keep(leftRunning)
          .catch((e: unknown) => `could not record ${leftRunning} in the release lock (${e instanceof Error ? e.message : String(e)})`);
        say(
          out,
          `! kept the release lock of ${env.name}: deployment ${leftRunning} is still running, and npm run deploy (an instance refresh) or another release must not start under it.`,
          `  Both are refused until it ends; after that they find the lock stale. Remove it then: ${forceUnlockCommand(env.name)}`,
        );
        if (warning) say(out, `! ${warning}`);
      } else {
        const warning = await lock
          .release()
          .catch((e: unknown) => `could not remove the release lock (${e instanceof Error ? e.message : String(e)}): ${forceUnlockCommand(env.name)}`);
        if (warning) say(out, `! ${warning}`);
      }
    }
  };

  const underLock = async (
    lock: ReleaseLock,
    record: (patch: { revision?: string; deploymentId?: string; state?: string }) => Promise<void>,
  ): Promise<StepResult> => {
    void lock;
    let target: RevisionLocation;
    let described: string;
    if (options.sameRevision) {
      const live = await lastSuccessfulRevision(deps, stack, liveColor);
      if (!live)
        throw new CliError(`--same-revision: the live color ${liveColor} has no successful deployment to take the revision from; release a revision first`);
      target = live;
      described =
        live.revisionType === "GitHub"
          ? `github:${live.gitHubLocation?.repository}@${live.gitHubLocation?.commitId?.slice(0, 12)}`
          : `s3://${live.s3Location?.bucket}/${live.s3Location?.key}`;
    } else if (revision?.type === "s3") {
      const s3 = await uploadBundle(deps.s3, stack.revisionBucket, revision.bundle);
      say(out, `${s3.uploaded ? "uploaded" : "already in the bucket (same content)"}: s3://${s3.bucket}/${s3.key}`);
      const source: RevisionSource = { type: "s3", s3 };
      target = revisionLocation(source);
      described = describeRevision(source);
    } else if (revision?.type === "github") {
      const source: RevisionSource = { type: "github", github: revision.github };
      target = revisionLocation(source);
      described = describeRevision(source);
    } else {
      throw new Error("unreachable: no revision");
    }
    await record({ revision: described });

    if (state.previous) {
      const finished = await finishPrevious(deps, state, planOptions(options, stack).idleDesired);
      if (finished) say(out, `finished the previous release: ${finished}`);
    }
    if (deps.interrupts?.take()) throw new CliError("interrupted before the release started: nothing was deployed", EXIT.interrupted);

    const deployContext = {
      applicationName: stack.applicationName,
      revision: target,
      description: [`webfleet release ${plan.strategy} of ${described} by ${deps.whoami.user}`, options.description].filter(Boolean).join(": "),
      fileExistsBehavior: options.fileExistsBehavior ?? (revision?.type === "s3" ? revision.fileExistsBehavior : undefined) ?? "DISALLOW",
      onCreated: (deploymentId: string) => record({ deploymentId }),
    };
    let result: StepResult;
    if (plan.kind === "in-place") {
      const step = plan.steps[0];
      if (step.kind !== "deploy") throw new Error("unreachable: an in-place plan is one deploy step");
      result = await executeDeployStep({ ...deps, region: stack.region }, step, {
        ...deployContext,
        timeoutMs: options.timeoutMinutes ? options.timeoutMinutes * 60_000 : Number.POSITIVE_INFINITY,
        onTimeout: options.onTimeout,
      });
    } else {
      const smokeKey = await readSmokeKey(deps.ssm, env.name);
      result = await runTwinRelease(
        { ...deps, region: stack.region },
        {
          stack,
          plan,
          liveColor,
          deploy: deployContext,
          pages: revision?.type === "s3" ? revision.pages : [{ path: "/" }],
          smokeKey,
          record,
          readyTimeoutMs: Math.max(15 * 60_000, (plan.estimate.kind === "twin" ? plan.estimate.scaleUpSeconds[1] : 0) * 2000),
        },
      );
    }
    say(out, "", result.summary);
    if (result.exitCode === EXIT.ok) say(out, `site: ${stack.siteUrl}`);
    return result;
  };

  return deps.interrupts ? deps.interrupts.hold(released) : released();
}

/** The key of the color route (Terraform made it once; the smoke test sends it). */
async function readSmokeKey(ssm: SSMClient, env: string): Promise<string> {
  const name = releaseParameters(env).smokeTestKey;
  const out = await ssm.send(new GetParameterCommand({ Name: name }));
  const value = out.Parameter?.Value;
  if (!value) throw new CliError(`SSM ${name} is empty: run npx cdktf deploy ${stackName(env)} to create it`);
  return value;
}
