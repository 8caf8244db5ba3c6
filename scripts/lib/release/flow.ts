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
  parseStrategy,
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
import { checkStrategyAgainstConfig, resolveStrategy, DEFAULT_BAKE_SECONDS, TWIN_STRATEGY_USAGES, type ReleasePlan, type ReleaseStep } from "./strategies";
import { describeStep, forgetPrevious, lastSuccessfulRevision, runTwinRelease, runsRevision } from "./twin";
import { revisionPages, type HttpGet, type SmokePage } from "./steps/smoke";
import { applyRoles, healthyTargets, rolesOutOfStep, setCapacity, within } from "./steps/capacity";
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
    idleMax: capacity.idle.max,
    idleDesired: capacity.idle.desired,
  };
}

/** The flags given that only blue/green and canary take. */
function twinOnlyFlags(options: ReleaseOptions): string[] {
  return [
    options.bakeSeconds !== undefined && "--bake",
    options.keepPreviousSeconds !== undefined && "--keep-previous",
    options.sameRevision && "--same-revision",
    options.smokePaths.length > 0 && "--smoke-path",
  ].filter((f): f is string => typeof f === "string");
}

/** Refuses blue/green and canary flags with an in-place strategy: silently ignored, they would mislead. */
function refuseTwinOnlyFlags(options: ReleaseOptions, strategy: string): void {
  const flags = twinOnlyFlags(options);
  if (flags.length === 0) return;
  const one = flags.length === 1;
  throw new CliError(
    `${flags.join(" and ")} appl${one ? "ies" : "y"} only to ${TWIN_STRATEGY_USAGES.join(" and ")}, not to the in-place strategy ${strategy}: ` +
      `drop ${one ? "it" : "them"}, or release with --strategy blue-green or canary=10,50,100`,
  );
}

/** The lock's place: the environment's revision bucket. */
function lockPlace(deps: ReleaseDeps, env: string, stack: PublishedStack): LockPlace {
  return { env, bucket: stack.revisionBucket, s3: deps.s3, ssm: deps.ssm, codedeploy: deps.codedeploy };
}

/**
 * Compares the release state recorded in SSM with what AWS does, and repairs SSM where it
 * disagrees (the listener and the groups are what serve traffic; SSM is what Terraform reads).
 * Then the groups' min/max against the roles Terraform derives from the live color, the old
 * color's record against the old color, and the live color against its capacity. Used by
 * --force-unlock after a release died part-way. Returns one line per difference.
 */
export async function reconcile(deps: ReleaseDeps, state: DeployedState, dryRun: boolean): Promise<string[]> {
  const { stack } = state;
  const env = stack.environment;
  const fix = dryRun ? "would repair" : "repaired";
  const lines: string[] = [];
  const actual = await listenerWeights(deps.elb, stack);
  const recorded = { blue: state.weights.blue ?? -1, green: state.weights.green ?? -1 };
  if (COLORS.some((c) => recorded[c] !== actual[c])) {
    lines.push(`${fix}: SSM weights ${formatWeights(recorded)} → the listener's ${formatWeights(actual)}`);
    if (!dryRun) await recordWeights(deps.ssm, env, actual);
  }
  const full = COLORS.find((c) => actual[c] === 100);
  if (full && full !== state.liveColor) {
    lines.push(`${fix}: SSM live color ${state.liveColor} → ${full} (it has all the traffic)`);
    if (!dryRun) await recordLiveColor(deps.ssm, env, full);
  }
  if (!full)
    lines.push(`! traffic is split ${formatWeights(actual)} (a canary stopped part-way): finish it or roll it back with npm run rollback -- --env ${env}`);
  const live = full ?? state.liveColor;

  // min/max by role: what the next plan sets from SSM's live color must be what AWS has.
  for (const r of await rolesOutOfStep(deps.autoScaling, stack, live)) {
    const has = `${r.color}'s min/max ${r.has.min}..${r.has.max} (desired ${r.has.desired})`;
    const wants = `the ${r.role} role's ${r.wants.min}..${r.wants.max}`;
    // Raising the live color to its role's min only adds instances; anything else that would move desired is a person's call.
    if (within(r.has.desired, r.wants) === r.has.desired || (r.role === "live" && r.has.desired < r.wants.min)) {
      lines.push(`${fix}: ${has} → ${wants} (what Terraform derives from the live color ${live})`);
      if (!dryRun) await setCapacity(deps, stack, r.color, r.role);
    } else {
      lines.push(
        `! ${has} does not fit ${wants}: scale it first (npm run release -- --env ${env} --finish scales an old color down), then run --force-unlock again`,
      );
    }
  }

  // The old color a release kept up: the record must name a color that is up and takes no traffic.
  const previous = state.previous;
  if (previous) {
    const kept = await readFleet(deps.autoScaling, stack.fleets[previous.color].autoScalingGroupName);
    const why =
      previous.color === live || actual[previous.color] > 0
        ? `${previous.color} takes ${actual[previous.color]} % of the traffic`
        : kept.desiredCapacity <= stack.capacity.idle.desired
          ? `${previous.color} runs ${kept.desiredCapacity} instance${kept.desiredCapacity === 1 ? "" : "s"} (it was scaled down)`
          : undefined;
    if (why) {
      lines.push(`${fix}: SSM previous-color names ${previous.color} as kept up since ${previous.since}, but ${why}: forgot the record`);
      if (!dryRun) await forgetPrevious(deps, env);
    }
  }
  const idle = otherColor(live);
  const idleSize = await readFleet(deps.autoScaling, stack.fleets[idle].autoScalingGroupName);
  if (idleSize.desiredCapacity > stack.capacity.idle.desired && (!previous || previous.color !== idle)) {
    lines.push(
      `! ${idle} takes no traffic but runs ${idleSize.desiredCapacity} instance${idleSize.desiredCapacity === 1 ? "" : "s"} (a release stopped part-way): ` +
        `npm run release -- --env ${env} --finish scales it down`,
    );
  }

  // The live color below its capacity: fewer healthy instances than desired, or desired below the live role's min.
  const liveFleet = await readFleet(deps.autoScaling, stack.fleets[live].autoScalingGroupName);
  const healthy = (await healthyTargets(deps.elb, stack, live)).length;
  const min = stack.capacity.live.min;
  if (healthy < liveFleet.desiredCapacity || liveFleet.desiredCapacity < min) {
    lines.push(
      `! the live color ${live} has ${healthy} healthy instance${healthy === 1 ? "" : "s"} of ${liveFleet.desiredCapacity} desired (the live role's min is ${min}): ` +
        `watch it recover with npm run status -- --env ${env} --watch before the next release`,
    );
  }
  return lines;
}

/** Scales down the old color a release kept up (--keep-previous), and forgets it. */
async function finishPrevious(deps: ReleaseDeps, state: DeployedState, idleDesired: number): Promise<string | undefined> {
  const { stack } = state;
  const env = stack.environment;
  const weights = await listenerWeights(deps.elb, stack);
  const full = COLORS.find((c) => weights[c] === 100);
  if (full && full !== state.liveColor) {
    throw new CliError(
      `SSM records ${state.liveColor} as the live color, but the listener sends all traffic to ${full}: ${forceUnlockCommand(env)} repairs the record first, then run this again`,
    );
  }
  let previous = state.previous;
  let note = "";
  if (previous && previous.color === state.liveColor) {
    // A stale record (a rollback went back to that color): it is live, not kept.
    await forgetPrevious(deps, env);
    note = ` (SSM previous-color named ${previous.color}, which is live: forgot it)`;
    previous = undefined;
  }
  const keptColor = previous?.color ?? (COLORS.find((c) => weights[c] === 0 && c !== state.liveColor) as Color | undefined);
  if (!keptColor) return note ? note.trim() : undefined;
  if (weights[keptColor] > 0) {
    throw new CliError(
      `${keptColor} still takes ${weights[keptColor]} % of the traffic (weights ${formatWeights(weights)}): finish or roll back the canary first (npm run rollback -- --env ${env})`,
    );
  }
  const fleet = await readFleet(deps.autoScaling, stack.fleets[keptColor].autoScalingGroupName);
  if (fleet.desiredCapacity === idleDesired && !previous) return note ? note.trim() : undefined;
  // The roles Terraform derives from the live color, with the kept color at the idle role's size.
  await applyRoles(deps, stack, state.liveColor, { [keptColor]: idleDesired });
  await forgetPrevious(deps, env);
  return `${keptColor}, kept up${previous ? ` since ${previous.since}` : ""}, scaled down to ${idleDesired}${note}`;
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
  const knownKey = strategyKey ?? env.defaultStrategy;
  const known = knownKey === undefined ? undefined : parseStrategy(knownKey);
  if (known && "spec" in known && known.spec.kind === "in-place") refuseTwinOnlyFlags(options, known.key);
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
  if (strategy.kind === "in-place") refuseTwinOnlyFlags(options, strategy.key);
  // --same-revision: the live color's revision. The deploy step is always planned; it is skipped
  // at run time only if the idle color's last successful deployment already is that revision
  // (after an ordinary blue/green, the idle color holds the previous one).
  let idleRunsRevision: boolean | undefined;
  if (options.sameRevision) {
    const live = await pre.check(async () => {
      const found = await lastSuccessfulRevision(deps, stack, liveColor);
      if (!found)
        throw new CliError(`--same-revision: the live color ${liveColor} has no successful deployment to take the revision from; release a revision first`);
      return found;
    });
    if (live) idleRunsRevision = await runsRevision(deps, stack, otherColor(liveColor), live);
  }
  const fleetSize = Math.max(1, fleet.inService.length);
  const plan = await pre.check(() =>
    strategy.plan({
      env: env.name,
      stack,
      liveColor,
      fleetSize,
      hooks: revision?.type === "s3" ? revision.hooks : undefined,
      idleRunsRevision,
      ...planOptions(options, stack),
    }),
  );
  if (!plan) {
    say(out, "", "dry run: no plan could be made.", ...pre.report());
    return EXIT.refused;
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
