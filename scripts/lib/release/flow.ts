/**
 * `release`, start to end, over handed-in clients: validate and bundle the revision (offline),
 * read what is deployed, plan with the strategy, print the estimate, then (unless --dry-run)
 * take the lock, upload, run the plan's steps and release the lock — unless a deployment is
 * left running (Ctrl-C in CI, --on-timeout leave, lost contact): then the lock stays, naming
 * that deployment, so that `npm run deploy` does not replace instances under it.
 */
import { relative } from "node:path";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { S3Client } from "@aws-sdk/client-s3";
import type { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { STSClient } from "@aws-sdk/client-sts";
import { stackName, type Color, type MinimumHealthyHosts, type PublishedStack } from "../../../modules/names";
import { formatProblems, validateAppSpec } from "../revision/appspec";
import type { FileExistsBehavior, ReleaseOptions } from "./options";
import { createBundle, findUploaded, uploadBundle, type Bundle, type BundleOptions } from "../revision/bundle";
import { say, type Clock, type Interrupts, type Output, type Prompt, type StepResult } from "./runtime";
import type { PollPolicy } from "./codedeploy/poller";
import { executeDeployStep } from "./steps/deploy";
import { EXIT, CliError, type ExitCode } from "../cli/errors";
import { defaultTimeoutMinutes, formatEstimate, hookTime, type HookTime } from "./estimate";
import { formatDuration } from "../cli/duration";
import { acquireLock, forceUnlock, forceUnlockCommand, type ReleaseLock } from "./lock";
import { describeRevision, parseGitHubRevision, revisionLocation, type GitHubRevision, type RevisionSource } from "../revision/source";
import { readEnvironmentState, readFleet, refuseDuringInstanceRefresh, requireDeployed, type FleetState } from "../aws/environment";
import { requireAwsCredentials } from "../aws/credentials";
import { Preflight } from "../cli/preflight";
import { lockState, describeHolder } from "./lock";
import { expectedStack } from "./offline";
import { checkStrategyAgainstConfig, resolveStrategy, type ReleasePlan, type ReleaseStep } from "./strategies";

export interface ReleaseClients {
  readonly ssm: SSMClient;
  readonly s3: S3Client;
  readonly codedeploy: CodeDeployClient;
  readonly autoScaling: AutoScalingClient;
  readonly sts: STSClient;
}

export interface ReleaseInterrupts extends Interrupts {
  /** While `fn` runs, Ctrl-C is held for the watcher instead of ending the process (the lock is held). */
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
}

type PreparedRevision =
  | { readonly type: "s3"; readonly dir: string; readonly bundle: Bundle; readonly hooks: HookTime; readonly fileExistsBehavior?: FileExistsBehavior }
  | { readonly type: "github"; readonly github: GitHubRevision };

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
  return { type: "s3", dir, bundle, hooks, fileExistsBehavior: result.spec.fileExistsBehavior };
}

/** Step kind → executor. Blue/green and canary add kinds (scale, smoke-test, shift-traffic, bake) here. */
interface StepExecutors {
  readonly deploy: (step: Extract<ReleaseStep, { kind: "deploy" }>) => Promise<StepResult>;
}

async function executeStep(step: ReleaseStep, executors: StepExecutors): Promise<StepResult> {
  switch (step.kind) {
    case "deploy":
      return executors.deploy(step);
  }
}

function printPlan(out: Output, plan: ReleasePlan, stack: PublishedStack, fleet: FleetState, timeoutMinutes: number, options: ReleaseOptions): void {
  for (const step of plan.steps) {
    say(
      out,
      `deploy: ${step.color} (live) — ${step.deploymentGroupName}, ${step.fleetSize} instance${step.fleetSize === 1 ? "" : "s"} in service` +
        (fleet.desiredCapacity !== step.fleetSize ? ` (desired ${fleet.desiredCapacity})` : ""),
    );
    say(out, `strategy: ${plan.strategy} → ${step.deploymentConfigName}`);
  }
  say(out, `  capacity: ${plan.summary.capacity}`, `  risk: ${plan.summary.risk}`);
  say(out, ...formatEstimate(plan.estimate, stack.timings));
  say(
    out,
    `timeout: ${formatDuration(timeoutMinutes * 60)}${options.timeoutMinutes ? "" : " (worst case + 25 %; --timeout-minutes to change)"}, ` +
      (options.onTimeout === "rollback" ? "then stop and roll back" : "then leave it running") +
      " (--on-timeout)",
  );
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
  /** Until every instance runs the new revision (typical). */
  readonly fullTrafficSeconds: number;
  readonly worstCaseSeconds: number;
  /** Back to the previous revision after a failure: a redeployment of it, as long as the release. */
  readonly rollbackSeconds: number;
  readonly estimate: ReleasePlan["estimate"];
  readonly blockers: readonly string[];
  readonly notChecked: readonly string[];
}

function dryRunJson(env: string, plan: ReleasePlan, liveColor: Color, fleetSize: number, offline: boolean, pre: Preflight): DryRunJson {
  return {
    environment: env,
    strategy: plan.strategy,
    kind: plan.kind,
    liveColor,
    fleetSize,
    offline,
    steps: plan.steps,
    fullTrafficSeconds: plan.estimate.typicalSeconds,
    worstCaseSeconds: plan.estimate.worstSeconds,
    rollbackSeconds: plan.estimate.typicalSeconds,
    estimate: plan.estimate,
    blockers: pre.blockers,
    notChecked: pre.notChecked,
  };
}

/** The whole command. Returns the exit code; throws {@link CliError} for refusals. */
export async function runRelease(options: ReleaseOptions, env: EnvironmentInfo, deps: ReleaseDeps): Promise<ExitCode> {
  const { out } = deps;
  const pre = new Preflight(options.dryRun);
  const finishDryRun = (plan: ReleasePlan, liveColor: Color, fleetSize: number, offline: boolean): ExitCode => {
    if (options.json) (deps.stdout ?? out).write(`${JSON.stringify(dryRunJson(env.name, plan, liveColor, fleetSize, offline, pre), null, 2)}\n`);
    say(out, "", "dry run: nothing changed (no lock taken, nothing uploaded, no deployment created)", ...pre.report());
    return pre.blockers.length > 0 ? EXIT.refused : EXIT.ok;
  };

  // 1. Offline: flags, strategy, revision. A mistake here costs no AWS call.
  const strategyKey = options.strategy === undefined ? undefined : checkStrategyAgainstConfig(options.strategy, env.name, env.customMinimumHealthyHosts);
  const revision = options.forceUnlock ? undefined : await prepareRevision(options, out, deps.bundle);

  // A preview with the fleet's size given: the plan and the estimate from the environment file alone.
  if (options.dryRun && options.instances !== undefined && revision) {
    const stack = expectedStack(env);
    const liveColor = env.initialLiveColor ?? "blue";
    const plan = resolveStrategy(strategyKey, stack).plan({
      env: env.name,
      stack,
      liveColor,
      fleetSize: options.instances,
      hooks: revision.type === "s3" ? revision.hooks : undefined,
    });
    say(
      out,
      "",
      `${stackName(env.name)} (${env.region}) · offline preview: ${options.instances} instance${options.instances === 1 ? "" : "s"} (--instances), nothing read from AWS`,
    );
    printPlan(
      out,
      plan,
      stack,
      { autoScalingGroupName: stack.fleets[liveColor].autoScalingGroupName, desiredCapacity: options.instances, inService: [] },
      options.timeoutMinutes ?? defaultTimeoutMinutes(plan.estimate),
      options,
    );
    pre.skip("AWS credentials", "not asked (offline preview)");
    pre.skip("the deployed stack, its live color and deployment configs", `assumed from config/${env.name}.yaml: ${liveColor} live`);
    pre.skip("the live fleet's size", `taken from --instances ${options.instances}`);
    pre.skip("instance refreshes and the release lock", "read from AWS");
    if (revision.type === "s3") pre.skip("the upload", `s3://<revision bucket>/${revision.bundle.key}`);
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
  if (options.forceUnlock) {
    say(out, await forceUnlock(deps.ssm, env.name, { dryRun: options.dryRun, nowMs: deps.clock.now(), codedeploy: deps.codedeploy }));
    return EXIT.ok;
  }
  if (!revision) throw new Error("unreachable: no revision");
  const state = requireDeployed(await readEnvironmentState(deps.ssm, env.name));
  const { stack, liveColor } = state;
  const fleet = await readFleet(deps.autoScaling, stack.fleets[liveColor].autoScalingGroupName);
  await pre.check(() => {
    if (fleet.inService.length === 0) {
      throw new CliError(
        `the live color ${liveColor} of ${stackName(env.name)} has no instance in service (${fleet.autoScalingGroupName}: desired ${fleet.desiredCapacity}): nothing to deploy to. ` +
          `Check the Auto Scaling group's activity, or the live color (SSM /webfleet/${env.name}/live-color)`,
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
  const plan = strategy.plan({
    env: env.name,
    stack,
    liveColor,
    fleetSize,
    hooks: revision.type === "s3" ? revision.hooks : undefined,
  });
  const timeoutMinutes = options.timeoutMinutes ?? defaultTimeoutMinutes(plan.estimate);
  say(out, "", `${stackName(env.name)} (${stack.region}) · ${caller}`);
  printPlan(out, plan, stack, fleet, timeoutMinutes, options);

  if (options.dryRun) {
    if (revision.type === "s3") {
      const uploaded = await findUploaded(deps.s3, stack.revisionBucket, revision.bundle.key);
      say(out, `upload: s3://${stack.revisionBucket}/${revision.bundle.key} ${uploaded === false ? "(would upload)" : "(already in the bucket: would skip)"}`);
    }
    return finishDryRun(plan, liveColor, fleetSize, false);
  }

  // 4. Lock, upload, run the steps, unlock. Ctrl-C is held from before the lock is requested,
  //    so the lock is never left behind by an interrupt — only kept on purpose, for a
  //    deployment that goes on without us.
  const released = async (): Promise<ExitCode> => {
    const lock = await acquireLock(
      deps.ssm,
      env.name,
      {
        id: deps.newLockId(),
        user: `${deps.whoami.user} (${caller})`,
        host: deps.whoami.host,
        startedAt: new Date(deps.clock.now()).toISOString(),
        strategy: plan.strategy,
      },
      { codedeploy: deps.codedeploy, nowMs: deps.clock.now() },
    );
    let created: string | undefined;
    let leftRunning: string | undefined;
    try {
      const result = await underLock(async (patch) => {
        created = patch.deploymentId ?? created;
        await lock.update(patch);
      });
      leftRunning = result.leftRunning;
      return result.exitCode;
    } catch (e) {
      // A refusal names what it left running; anything else after CreateDeployment may have
      // left the deployment running: keep the lock (a stale one is easy to spot and remove).
      leftRunning = e instanceof CliError ? e.leftRunning : created;
      throw e;
    } finally {
      if (leftRunning) await keepLock(lock, leftRunning);
      else {
        const warning = await lock
          .release()
          .catch((e: unknown) => `could not remove the release lock (${e instanceof Error ? e.message : String(e)}): ${forceUnlockCommand(env.name)}`);
        if (warning) say(out, `! ${warning}`);
      }
    }
  };

  const keepLock = async (lock: ReleaseLock, deploymentId: string): Promise<void> => {
    const warning = await lock
      .keep(deploymentId)
      .catch((e: unknown) => `could not record ${deploymentId} in the release lock (${e instanceof Error ? e.message : String(e)})`);
    say(
      out,
      `! kept the release lock of ${env.name}: deployment ${deploymentId} is still running, and npm run deploy (an instance refresh) or another release must not start under it.`,
      `  Both are refused until it ends; after that they find the lock stale. Remove it then: ${forceUnlockCommand(env.name)}`,
    );
    if (warning) say(out, `! ${warning}`);
  };

  const underLock = async (record: (patch: { revision?: string; deploymentId?: string }) => Promise<void>): Promise<StepResult> => {
    let source: RevisionSource;
    if (revision.type === "s3") {
      const s3 = await uploadBundle(deps.s3, stack.revisionBucket, revision.bundle);
      say(out, `${s3.uploaded ? "uploaded" : "already in the bucket (same content)"}: s3://${s3.bucket}/${s3.key}`);
      source = { type: "s3", s3 };
    } else {
      source = { type: "github", github: revision.github };
    }
    await record({ revision: describeRevision(source) });

    if (deps.interrupts?.take()) {
      throw new CliError("interrupted before the deployment started: nothing was deployed", EXIT.interrupted);
    }

    let result: StepResult = { exitCode: EXIT.ok, summary: "nothing to do" };
    for (const step of plan.steps) {
      result = await executeStep(step, {
        deploy: (s) =>
          executeDeployStep({ ...deps, region: stack.region }, s, {
            applicationName: stack.applicationName,
            revision: revisionLocation(source),
            description: [`webfleet release ${plan.strategy} of ${describeRevision(source)} by ${deps.whoami.user}`, options.description]
              .filter(Boolean)
              .join(": "),
            fileExistsBehavior: options.fileExistsBehavior ?? (revision.type === "s3" ? revision.fileExistsBehavior : undefined) ?? "DISALLOW",
            timeoutMs: timeoutMinutes * 60_000,
            onTimeout: options.onTimeout,
            onCreated: (deploymentId) => record({ deploymentId }),
          }),
      });
      if (result.exitCode !== EXIT.ok) break;
    }
    say(out, "", result.summary);
    if (result.exitCode === EXIT.ok) say(out, `site: ${stack.siteUrl}`);
    return result;
  };

  return deps.interrupts ? deps.interrupts.hold(released) : released();
}
