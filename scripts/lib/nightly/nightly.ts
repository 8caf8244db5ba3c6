/**
 * `npm run nightly`: rebuild the web AMI only when one of its inputs changed, and bring a new
 * image to production the way a release does.
 *
 * check → plan → act → report:
 * - check: the environment is deployed, the tools are there, nobody holds the lock;
 * - plan: today's build key (./key.ts) against the key of the newest image built for the
 *   environment (not the live color's: a promotion that keeps failing must not rebuild every
 *   night). Equal: the build is skipped, in seconds, with no build instance; and when that newest
 *   image waits on the idle color (an earlier `--rollout none` night, prod's) while the live
 *   color runs an older one, a blue-green or refresh night promotes it ("skipped build,
 *   promoted") by the same path as a built image, under the same lock;
 * - act, under the release lock for the whole night (a release and a rebuild never overlap):
 *   build and publish the image to a color and deploy the stack (npm run deploy's own flow,
 *   which passes the stack's plan-time lock check with this night's lock id), then promote:
 *   - blue-green (the default): the image went to the idle color; a blue/green release of the
 *     live revision (--same-revision) brings it up, smoke-tests it, switches traffic, bakes;
 *   - refresh: the image went to the live color; the deploy's instance refresh replaces the
 *     live instances (launch before terminate), for environments that keep no idle capacity
 *     (the report says whether the deploy started one);
 *   - none: the image waits on the idle color; the report says how to promote it (for
 *     environments whose releases need a reviewer: promote after the approval).
 * - report: skipped or built, old and new AMI, the AL2023 releases, which packages changed,
 *   the rollout's steps and duration, the result. A night that throws is reported too: the
 *   error carries the step it stopped at ({@link NightFailed}, {@link failedNight}).
 *
 * Why the stack is deployed at night instead of launch templates resolving the AMI parameter at
 * launch: Terraform then still knows which AMI each color runs (a plan shows it, the stock-image
 * precondition keeps working, and `npm run deploy`'s instance refresh stays Terraform's), and
 * the plan-time lock check already lets the lock's own holder through.
 */
import { appendFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { loadEnvironment, type EnvironmentConfig } from "../../../config/load";
import { otherColor, type Color } from "../../../modules/names";
import { readEnvironmentState, requireDeployed, type DeployedState } from "../aws/environment";
import { requireAwsCredentials } from "../aws/credentials";
import { explainAwsError } from "../aws/errors";
import { CliError, EXIT, type ExitCode } from "../cli/errors";
import { formatDuration } from "../cli/duration";
import { Preflight } from "../cli/preflight";
import { deployCommand, fleetGroups, type DeployDeps, type DeployResult } from "../deploy/deploy";
import { gitCommit, REPO_ROOT, variablesFor, type BuildOptions } from "../image/build";
import { PACKAGE_MANIFEST_FILE, PACKER_DIR } from "../image/packer";
import { amiTargets, parameterColors, publishAmi } from "../image/publish";
import { environmentInfo, runRelease, type ReleaseDeps } from "../release/flow";
import { acquireLock, describeHolder, forceUnlockCommand, lockState, type ReleaseLock } from "../release/lock";
import { parseReleaseArgs } from "../release/options";
import { agentVersion, buildKey, newestSourceAmi, pluginVersion, treeHash, variablesHash, type BuildInputs } from "./key";
import { bakedImages, diffPackages, keepPackageList, packageList, type BakedImage, type PackageChanges } from "./images";

export const ROLLOUTS = ["blue-green", "refresh", "none"] as const;
export type Rollout = (typeof ROLLOUTS)[number];

export interface NightlyOptions extends BuildOptions {
  readonly env: string;
  /** @default - the environment's deployment.nightlyRollout (blue-green) */
  readonly rollout?: Rollout;
  /** Build even when the key is unchanged. */
  readonly force: boolean;
  readonly dryRun: boolean;
  /** The blue/green bake, seconds. @default - the release's default */
  readonly bakeSeconds?: number;
}

export interface NightlyDeps {
  /** What `npm run deploy` runs on (the build, the publish, cdktf, the refreshes). */
  readonly deploy: DeployDeps & { readonly ec2: EC2Client };
  /** What a release runs on (the blue/green promotion). */
  readonly release: Omit<ReleaseDeps, "heldLock">;
  /** The release itself. @default runRelease (a test gives one that ends as it needs) */
  readonly runRelease?: typeof runRelease;
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly log: (line: string) => void;
  readonly now: () => number;
  readonly whoami: { readonly user: string; readonly host: string };
  readonly newLockId: () => string;
  readonly packerDir?: string;
  readonly repoRoot?: string;
}

/** The night, for the summary, --json, the job summary and the SNS topic. */
export interface NightReport {
  readonly environment: string;
  readonly startedAt: string;
  readonly seconds: number;
  readonly dryRun: boolean;
  /**
   * skipped: the newest image has today's key (no build); built; forced: built with --force. A
   * skipped night with an `image` promoted the newest image, which an earlier night left on the
   * idle color ("skipped build, promoted").
   */
  readonly decision: "skipped" | "built" | "forced";
  readonly key: string;
  readonly inputs: BuildInputs;
  /** The newest image before tonight. */
  readonly previous?: BakedImage;
  /** Tonight's new image, or the waiting image a skipped night promotes; the color it goes to. */
  readonly image?: { readonly id: string; readonly name?: string; readonly release: string; readonly color: Color };
  readonly packages?: PackageChanges;
  readonly rollout: {
    readonly kind: Rollout;
    readonly result: string;
    readonly exitCode: number;
    /** The blue/green promotion's steps, as it recorded them in the lock. */
    readonly steps?: readonly string[];
  };
  /** Something a person should do next. */
  readonly next?: string;
  /** What went wrong without stopping the night (the package list could not be kept). */
  readonly warnings?: readonly string[];
  readonly blockers?: readonly string[];
  readonly notChecked?: readonly string[];
}

/** The night's exit code: 0 skipped or promoted, 1 failed or rolled back, 2 refused, 3 needs attention. */
export function nightExitCode(r: NightReport): number {
  if (r.dryRun) return (r.blockers?.length ?? 0) > 0 ? EXIT.refused : EXIT.ok;
  return r.rollout.exitCode;
}

/** Today's inputs and key, computed before any build. */
export async function todaysKey(
  deps: Pick<NightlyDeps, "s3" | "packerDir"> & { readonly ssm: DeployDeps["ssm"]; readonly ec2: EC2Client },
  env: EnvironmentConfig,
  vars: Readonly<Record<string, string>>,
): Promise<{ key: string; inputs: BuildInputs; sourceName: string }> {
  const packerDir = deps.packerDir ?? PACKER_DIR;
  const source = await newestSourceAmi(deps.ssm, deps.ec2, env.architecture);
  const inputs: BuildInputs = {
    sourceAmi: source.id,
    sourceRelease: source.release,
    packerTree: treeHash(packerDir),
    variables: variablesHash(vars),
    agentVersion: await agentVersion(deps.s3, env.region),
    pluginVersion: pluginVersion(readFileSync(join(packerDir, "webfleet.pkr.hcl"), "utf8")),
  };
  return { key: buildKey(inputs), inputs, sourceName: source.name };
}

/**
 * A night that stopped with an error, thrown by {@link runNightly}: the step it was at and the
 * error as thrown (its message is the error's), so that even a failed night gets its report.
 */
export class NightFailed extends Error {
  constructor(
    readonly step: string,
    readonly error: unknown,
  ) {
    super(error instanceof Error ? error.message : String(error));
    this.name = "NightFailed";
  }
}

export async function runNightly(deps: NightlyDeps, options: NightlyOptions): Promise<NightReport> {
  const at = { step: "read the environment file" };
  try {
    return await night(deps, options, at);
  } catch (e) {
    throw new NightFailed(at.step, e);
  }
}

/**
 * The newest image, when an earlier night left it waiting on the idle color (`--rollout none`,
 * or a promotion that did not happen) while the live color runs another image: a skipped build
 * still promotes it. Only colors that read their AMI parameter count (a pinned one ignores it).
 */
export function waitingImage(env: EnvironmentConfig, state: DeployedState, newest: BakedImage | undefined): BakedImage | undefined {
  const live = state.liveColor;
  const idle = otherColor(live);
  const readsParameter = parameterColors(env);
  if (!newest || !readsParameter.includes(idle)) return undefined;
  return state.amis[idle]?.value === newest.id && state.amis[live]?.value !== newest.id ? newest : undefined;
}

async function night(deps: NightlyDeps, options: NightlyOptions, at: { step: string }): Promise<NightReport> {
  const started = deps.now();
  const env = (deps.deploy.loadEnvironment ?? loadEnvironment)(options.env);
  const rollout = options.rollout ?? env.deployment.nightlyRollout;
  const pre = new Preflight(options.dryRun);
  const clients = { ssm: deps.deploy.ssm, ec2: deps.deploy.ec2, s3: deps.s3, packerDir: deps.packerDir };

  // Check.
  at.step = "check the AWS credentials";
  await requireAwsCredentials(deps.deploy.sts, env.region);
  at.step = "read the deployed stack";
  const state: DeployedState = requireDeployed(await readEnvironmentState(deps.deploy.ssm, env.name));
  at.step = "check the release lock";
  const held = await lockState(state.lock, deps.deploy.codedeploy);
  if (held) {
    await pre.check(() => {
      throw new CliError(
        `the release lock of ${env.name} is held by ${describeHolder(held.held, deps.now(), held.deploymentStatus)}: tonight's rebuild waits for no one; run it again later`,
      );
    });
  }

  // Plan.
  at.step = "compute tonight's build key";
  const commit = await gitCommit(deps.deploy.runner, deps.repoRoot ?? REPO_ROOT);
  const vars = variablesFor(env, commit, options);
  const { key, inputs } = await todaysKey(clients, env, vars);
  at.step = "list the environment's images";
  const images = await bakedImages(deps.deploy.ec2, env.name);
  const previous = images[0];
  const same = previous?.buildKey === key;
  const decision: NightReport["decision"] = same && !options.force ? "skipped" : same ? "forced" : "built";
  const base = { environment: env.name, startedAt: new Date(started).toISOString(), dryRun: options.dryRun, key, inputs, previous };
  const live = state.liveColor;
  const target: Color = rollout === "refresh" ? live : otherColor(live);
  const waiting = decision === "skipped" ? waitingImage(env, state, previous) : undefined;
  // A skipped build whose newest image waits on the idle color: promoted like a built one.
  const promoting = waiting && rollout !== "none" && (rollout !== "refresh" || parameterColors(env).includes(live)) ? waiting : undefined;
  const promotedImage = promoting && { id: promoting.id, name: promoting.name, release: promoting.release ?? "unknown", color: target };
  deps.log(
    `build key ${key.slice(0, 12)}… (source ${inputs.sourceAmi}, AL2023 ${inputs.sourceRelease}, agent ${inputs.agentVersion}, plugin ${inputs.pluginVersion}); ` +
      `newest image ${previous ? `${previous.id} (${previous.buildKey ? `key ${previous.buildKey.slice(0, 12)}…` : "no key"})` : "none"}: ${decision === "skipped" ? "nothing changed" : decision}` +
      (waiting ? `; it waits on the idle color ${otherColor(live)}, the live color ${live} runs ${state.amis[live]?.value ?? "another image"}` : ""),
  );

  if (options.dryRun) {
    return {
      ...base,
      seconds: (deps.now() - started) / 1000,
      decision,
      image: promotedImage,
      rollout: {
        kind: rollout,
        result: promoting
          ? `would promote ${promoting.id}, which waits on the idle color ${otherColor(live)}: ${rollout === "refresh" ? `publish it to ${live}, ` : ""}deploy the stack and ${describeRollout(rollout, target)}`
          : decision === "skipped"
            ? "nothing to roll out"
            : `would build, publish to ${target}, deploy the stack and ${describeRollout(rollout, target)}`,
        exitCode: EXIT.ok,
      },
      next: waiting && !promoting ? promoteLater(env.name, waiting, otherColor(live)) : undefined,
      blockers: pre.blockers,
      notChecked: pre.notChecked,
    };
  }
  if (decision === "skipped" && !promoting) {
    const liveAmi = state.amis[live]?.value;
    return {
      ...base,
      seconds: (deps.now() - started) / 1000,
      decision,
      rollout: { kind: rollout, result: "skipped: the newest image already has tonight's inputs", exitCode: EXIT.ok },
      next: waiting
        ? promoteLater(env.name, waiting, otherColor(live))
        : previous && liveAmi !== undefined && liveAmi !== previous.id
          ? `the newest image ${previous.id} is not on the live color ${live} (it runs ${liveAmi}): promote it with npm run release -- --env ${env.name} --strategy blue-green --same-revision, after it is on the idle color`
          : undefined,
    };
  }

  // Act, under the lock: build (or take the waiting image), deploy the stack, promote.
  at.step = "take the release lock";
  const lock = await acquireLock(
    { env: env.name, bucket: state.stack.revisionBucket, s3: deps.s3, ssm: deps.deploy.ssm, codedeploy: deps.deploy.codedeploy },
    { id: deps.newLockId(), user: deps.whoami.user, host: deps.whoami.host, startedAt: new Date(started).toISOString(), purpose: "nightly" },
    { nowMs: deps.now() },
  );
  let deployed: DeployResult | undefined;
  let result: NightReport["rollout"];
  let packages: PackageChanges | undefined;
  let next: string | undefined;
  const warnings: string[] = [];
  const steps: string[] = [];
  try {
    if (promoting) {
      if (rollout === "refresh") {
        at.step = `publish ${promoting.id} to the live color ${live}`;
        const [liveTarget] = amiTargets(env, state, live, { firstDeploy: false }).publish;
        const published = await publishAmi(deps.deploy.ssm, env.region, liveTarget, promoting.id);
        deps.log(`published ${promoting.id} to ${published.parameter} (version ${published.version})`);
      }
      at.step = "deploy the stack";
      deployed = await deployCommand(deps.deploy, { ...options, env: env.name, skipAmi: true, autoApprove: true, dryRun: false, lockId: lock.holder.id });
    } else {
      at.step = "build the image, publish it and deploy the stack";
      deployed = await deployCommand(deps.deploy, {
        ...options,
        env: env.name,
        skipAmi: false,
        color: target,
        autoApprove: true,
        dryRun: false,
        lockId: lock.holder.id,
        provenance: { sourceAmi: inputs.sourceAmi, sourceRelease: inputs.sourceRelease, buildKey: key },
      });
    }
    const amiId = promoting?.id ?? deployed.ami?.amiId;
    if (deployed.ami?.amiId) {
      // The package list only decorates the report: losing it must not stop the promotion.
      at.step = "keep the image's package list";
      try {
        packages = await keepAndDiffPackages(deps, state, deployed.ami.amiId, previous);
      } catch (e) {
        const warning = `the package list of ${deployed.ami.amiId} was not kept or compared (${messageOf(e)}): this report cannot say which packages changed`;
        deps.log(`! ${warning}`);
        warnings.push(warning);
      }
    }
    if (!deployed.ok) {
      result = {
        kind: rollout,
        result: `the stack deploy's instance refresh did not succeed: ${deployed.refreshes.map((r) => `${r.label} ${r.status}`).join(", ")}`,
        exitCode: EXIT.failed,
      };
    } else if (rollout === "blue-green") {
      at.step = "promote by blue/green";
      await lock.update({ state: `promoting ${amiId ?? "the new image"} by blue/green` });
      const args = ["--env", env.name, "--strategy", "blue-green", "--same-revision", ...(options.bakeSeconds ? ["--bake", `${options.bakeSeconds}s`] : [])];
      const failures: string[] = [];
      const out = {
        write: (text: string) => {
          // The release's own "✗ <step>: <cause>" lines: the report names the step that failed.
          for (const line of text.split("\n")) if (line.startsWith("✗ ") && !line.startsWith("✗ the rollback")) failures.push(line.slice(2));
          return deps.release.out.write(text);
        },
      };
      const code = await (deps.runRelease ?? runRelease)(parseReleaseArgs(args), environmentInfo(env), {
        ...deps.release,
        out,
        heldLock: journaled(lock, steps),
      });
      result = {
        kind: rollout,
        result: code === EXIT.ok ? `promoted: ${amiId ?? "the new image"} serves all traffic on ${target}` : describeFailedPromotion(code, steps, failures),
        exitCode: code,
      };
    } else if (rollout === "refresh") {
      at.step = "check the live color's instance refresh";
      ({ result, next } = await refreshOutcome(deps, env, state, deployed, target, amiId));
    } else {
      result = { kind: rollout, result: `the new image is on the idle color ${target}, not promoted (--rollout none)`, exitCode: EXIT.ok };
    }
  } catch (e) {
    result = {
      kind: rollout,
      result: `failed at ${at.step}: ${messageOf(e)}`,
      exitCode: e instanceof CliError ? (e.exitCode === EXIT.refused ? EXIT.failed : e.exitCode) : EXIT.needsAttention,
    };
  } finally {
    // A promotion that left a deployment running in AWS kept the lock for it (the release said
    // so): giving it back would let a stack deploy or another release start under it.
    if (!lock.holder.left) {
      at.step = "give the release lock back";
      const warning = await lock.release();
      if (warning) deps.log(`! ${warning}`);
    }
  }
  if (lock.holder.left) {
    result = {
      ...result,
      result: `${result.result}; the release lock is kept: deployment ${lock.holder.deploymentId} is still running`,
      exitCode: EXIT.needsAttention,
    };
    next = `when deployment ${lock.holder.deploymentId} has ended: ${forceUnlockCommand(env.name)}`;
  }
  const amiId = deployed?.ami?.amiId;
  return {
    ...base,
    seconds: (deps.now() - started) / 1000,
    decision,
    image: promotedImage ?? (amiId ? { id: amiId, release: inputs.sourceRelease, color: target } : undefined),
    packages,
    rollout: steps.length ? { ...result, steps } : result,
    next:
      next ??
      (rollout === "none" && amiId
        ? `to promote it: npm run nightly -- --env ${env.name} --rollout blue-green (after the environment's approval), or npm run release -- --env ${env.name} --strategy blue-green --same-revision`
        : undefined),
    ...(warnings.length ? { warnings } : {}),
  };
}

/** How to promote an image an earlier night left on the idle color. */
function promoteLater(env: string, image: BakedImage, idle: Color): string {
  return `the newest image ${image.id} waits on the idle color ${idle}: promote it with npm run nightly -- --env ${env} --rollout blue-green (after the environment's approval)`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Records every state the release writes to the lock (`at <step>`, `rolled back at <step>: …`,
 * `done: …`) in `steps`, on its way to the lock: the night's report lists them, and a failed
 * promotion names its step from them.
 */
function journaled(lock: ReleaseLock, steps: string[]): ReleaseLock {
  const update = lock.update.bind(lock);
  lock.update = async (patch) => {
    if (patch.state) steps.push(patch.state);
    await update(patch);
  };
  return lock;
}

/** "the promotion failed at smoke-test: … (exit 1); rolled back at smoke-test: traffic back to …" */
export function describeFailedPromotion(code: number, steps: readonly string[], failures: readonly string[]): string {
  // The release's "✗ <step>: <cause>" line, else the last step it recorded ("at <step>: …").
  const reached = [...steps].reverse().find((s) => s.startsWith("at "));
  const what = failures.at(-1) ?? reached?.slice(3).split(":")[0];
  const after = [...steps].reverse().find((s) => s.startsWith("rolled back"));
  return [
    what ? `the promotion failed at ${what} (exit ${code})` : `the promotion ended with exit ${code} before its first step`,
    ...(after ? [after] : []),
  ].join("; ");
}

/** What the stack deploy did to the live color (`--rollout refresh`), as it happened. */
async function refreshOutcome(
  deps: NightlyDeps,
  env: EnvironmentConfig,
  state: DeployedState,
  deployed: DeployResult,
  target: Color,
  amiId: string | undefined,
): Promise<{ result: NightReport["rollout"]; next?: string }> {
  const image = amiId ?? "the new image";
  const refresh = deployed.refreshes.find((r) => r.label === target);
  if (refresh) {
    return {
      result: {
        kind: "refresh",
        result: `the live color ${target}'s instances were replaced by instance refresh ${refresh.refreshId} (${refresh.status}): they run ${image}`,
        exitCode: EXIT.ok,
      },
    };
  }
  const group = fleetGroups(state.stack).get(target);
  const found = group
    ? (await deps.deploy.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }))).AutoScalingGroups?.[0]
    : undefined;
  const instances = found?.Instances?.length ?? 0;
  if (instances === 0) {
    return {
      result: {
        kind: "refresh",
        result: `${image} is in the live color ${target}'s launch template; no instance was replaced: ${group ?? target} has no instances (the ones it launches run ${image})`,
        exitCode: EXIT.ok,
      },
    };
  }
  return {
    result: {
      kind: "refresh",
      result: `${image} is in the live color ${target}'s launch template, but the stack deploy started no instance refresh: its ${instances} instance${instances === 1 ? "" : "s"} still run the previous image`,
      exitCode: EXIT.needsAttention,
    },
    next:
      `replace them (launch before terminate, as the stack's refresh does): aws autoscaling start-instance-refresh --auto-scaling-group-name ${group} ` +
      `--preferences '{"MinHealthyPercentage":100,"MaxHealthyPercentage":200,"SkipMatching":true}' --region ${env.region}`,
  };
}

function describeRollout(rollout: Rollout, target: Color): string {
  if (rollout === "blue-green") return `promote it with a blue/green release of the live revision onto ${target}`;
  if (rollout === "refresh") return `replace the live color ${target}'s instances with an instance refresh`;
  return `stop there (${target} is idle; promote by hand)`;
}

/** Keeps tonight's package list with the image, and says what changed since the previous image. */
async function keepAndDiffPackages(
  deps: NightlyDeps,
  state: DeployedState,
  amiId: string,
  previous: BakedImage | undefined,
): Promise<PackageChanges | undefined> {
  const file = join(deps.packerDir ?? PACKER_DIR, PACKAGE_MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  await keepPackageList(deps.s3, state.stack.revisionBucket, amiId, text);
  const before = previous ? await packageList(deps.s3, state.stack.revisionBucket, previous.id) : undefined;
  return before === undefined ? undefined : diffPackages(before, text);
}

function packageLines(p: PackageChanges | undefined, limit = 30): string[] {
  if (!p) return ["packages: no list for the previous image to compare with"];
  const lines = [`packages: ${p.changed.length} upgraded, ${p.added.length} added, ${p.removed.length} removed`];
  for (const c of p.changed.slice(0, limit)) lines.push(`  ${c.name} ${c.from} → ${c.to}`);
  for (const n of p.added.slice(0, limit)) lines.push(`  + ${n}`);
  for (const n of p.removed.slice(0, limit)) lines.push(`  - ${n}`);
  return lines;
}

/** A night that stopped with an error: where, why, and its exit code. */
export interface FailedNight {
  readonly environment: string;
  readonly startedAt: string;
  readonly seconds: number;
  readonly dryRun: boolean;
  readonly failed: { readonly step: string; readonly error: string; readonly exitCode: number };
}

export function isFailedNight(r: NightReport | FailedNight): r is FailedNight {
  return "failed" in r;
}

/**
 * The exit code and message a thrown error ends the command with, as the command toolkit maps
 * them (scripts/lib/cli/command.ts): a CliError's own, AWS credential and network errors
 * explained (exit 2), a broken environment file (2), anything else `unexpected`.
 */
export function describeFailure(e: unknown, unexpected: number = EXIT.needsAttention): { error: string; exitCode: number } {
  const known = e instanceof CliError ? e : explainAwsError(e);
  if (known) return { error: known.message, exitCode: known.exitCode };
  if (e instanceof Error && e.name === "ConfigError") return { error: e.message, exitCode: EXIT.refused };
  if (e instanceof Error) return { error: e.name && e.name !== "Error" ? `${e.name}: ${e.message}` : e.message, exitCode: unexpected };
  return { error: String(e), exitCode: unexpected };
}

/** The report of a night that threw: at `step`, with `error`. */
export function failedNight(o: {
  readonly environment: string;
  readonly startedAtMs: number;
  readonly nowMs: number;
  readonly dryRun: boolean;
  readonly step: string;
  readonly error: unknown;
  readonly unexpectedExitCode?: number;
}): FailedNight {
  return {
    environment: o.environment,
    startedAt: new Date(o.startedAtMs).toISOString(),
    seconds: Math.max(0, (o.nowMs - o.startedAtMs) / 1000),
    dryRun: o.dryRun,
    failed: { step: o.step, ...describeFailure(o.error, o.unexpectedExitCode) },
  };
}

/** "skipped, nothing changed", "skipped build, promoted", "built (--force)", "FAILED at …". */
export function nightHeadline(r: NightReport | FailedNight): string {
  if (isFailedNight(r)) return `FAILED at ${r.failed.step} (exit ${r.failed.exitCode})`;
  if (r.decision === "skipped") {
    if (!r.image) return "skipped, nothing changed";
    if (r.dryRun) return "skipped build, would promote";
    return r.rollout.exitCode === EXIT.ok ? "skipped build, promoted" : "skipped build, promotion failed";
  }
  return r.decision === "forced" ? "built (--force)" : "built";
}

/** The night as lines for a person. */
export function formatNight(r: NightReport | FailedNight): string[] {
  if (isFailedNight(r)) {
    return [`nightly ${r.environment}${r.dryRun ? " (dry run)" : ""}: ${nightHeadline(r)} after ${formatDuration(r.seconds)}`, `  error: ${r.failed.error}`];
  }
  const lines = [
    `nightly ${r.environment}${r.dryRun ? " (dry run)" : ""}: ${nightHeadline(r)} in ${formatDuration(r.seconds)}`,
    `  inputs: source ${r.inputs.sourceAmi} (AL2023 ${r.inputs.sourceRelease}), agent ${r.inputs.agentVersion}, Amazon plugin ${r.inputs.pluginVersion}; key ${r.key.slice(0, 16)}…`,
    `  previous image: ${r.previous ? `${r.previous.id} ${r.previous.name} (AL2023 ${r.previous.release ?? "?"})` : "none"}`,
  ];
  if (r.image && r.decision === "skipped")
    lines.push(`  image to promote: ${r.image.id} (AL2023 ${r.image.release}), built on an earlier night, to ${r.image.color}`);
  else if (r.image) lines.push(`  new image: ${r.image.id} (AL2023 ${r.image.release}) on ${r.image.color}`, ...packageLines(r.packages).map((l) => `  ${l}`));
  lines.push(`  rollout (${r.rollout.kind}): ${r.rollout.result}`);
  if (r.rollout.steps?.length) lines.push(`  steps:`, ...r.rollout.steps.map((s) => `    ${s}`));
  for (const w of r.warnings ?? []) lines.push(`  ! ${w}`);
  if (r.next) lines.push(`  next: ${r.next}`);
  if (r.blockers?.length) lines.push("a real run would stop here:", ...r.blockers.map((b) => `  - ${b}`));
  if (r.notChecked?.length) lines.push("not checked:", ...r.notChecked.map((n) => `  - ${n}`));
  return lines;
}

/** A value for a Markdown table cell: one line, no column break. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replace(/\r?\n/g, "<br>");
}

/** The night as Markdown, for GitHub's job summary. */
export function nightMarkdown(r: NightReport | FailedNight): string {
  if (isFailedNight(r)) {
    const rows = [
      ["result", `**failed** (exit ${r.failed.exitCode})`],
      ["failed step", r.failed.step],
      ["error", r.failed.error],
      ["duration", formatDuration(r.seconds)],
    ];
    return [`## Nightly AMI: ${r.environment}`, "", "| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`), ""].join("\n");
  }
  const rows = [
    ["decision", r.decision === "skipped" && r.image ? nightHeadline(r) : r.decision],
    ["previous image", r.previous ? `\`${r.previous.id}\` (AL2023 ${r.previous.release ?? "?"})` : "none"],
    [
      r.decision === "skipped" && r.image ? "image to promote" : "new image",
      r.image ? `\`${r.image.id}\` (AL2023 ${r.image.release}) on ${r.image.color}` : "none",
    ],
    ["source AMI", `\`${r.inputs.sourceAmi}\` (AL2023 ${r.inputs.sourceRelease})`],
    ["CodeDeploy agent", r.inputs.agentVersion],
    ["rollout", `${r.rollout.kind}: ${r.rollout.result}`],
    ...(r.rollout.steps?.length ? [["steps", r.rollout.steps.map(cell).join("<br>")]] : []),
    ...(r.warnings ?? []).map((w) => ["warning", w]),
    ["duration", formatDuration(r.seconds)],
  ];
  const packages = r.packages ? packageLines(r.packages).map((l) => l.replace(/^ {2}/, "- ")) : [];
  return [
    `## Nightly AMI: ${r.environment}`,
    "",
    "| | |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${k === "steps" ? v : cell(v)} |`),
    "",
    ...(packages.length ? [packages[0], "", ...packages.slice(1), ""] : []),
    ...(r.next ? [`**Next:** ${r.next}`, ""] : []),
  ].join("\n");
}

/** Publishes the night to the environment's SNS topic (the alarms' topic, which the team subscribes to). */
export async function notify(sns: SNSClient, topicArn: string, r: NightReport | FailedNight): Promise<void> {
  const ok = isFailedNight(r) ? false : r.rollout.exitCode === 0;
  const image = !isFailedNight(r) && r.image ? ` ${r.image.id}` : "";
  // SNS takes a subject of printable ASCII, under 100 characters.
  const subject = `webfleet nightly ${r.environment}: ${nightHeadline(r)}${image}${isFailedNight(r) ? "" : `, ${ok ? "ok" : "FAILED"}`}`
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 99);
  await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: formatNight(r).join("\n") }));
}

/** Where a night's report goes besides stdout. */
export interface NightOutlets {
  /** GitHub's job summary file ($GITHUB_STEP_SUMMARY), when run in Actions. */
  readonly summaryFile?: string;
  readonly sns?: SNSClient;
  /** The environment's SNS topic, when it can be known (the deployed stack publishes it). */
  readonly topic?: () => Promise<string | undefined>;
  readonly log: (line: string) => void;
}

/**
 * Sends a night's report, skipped, built or failed, to the job summary and the SNS topic. Best
 * effort: a report that cannot be sent is a warning, never the night's result. A dry run sends
 * nothing (it only answers whoever ran it).
 */
export async function publishNight(outlets: NightOutlets, r: NightReport | FailedNight): Promise<void> {
  if (r.dryRun) return;
  if (outlets.summaryFile) {
    try {
      appendFileSync(outlets.summaryFile, `${nightMarkdown(r)}\n`);
    } catch (e) {
      outlets.log(`! the job summary was not written to ${outlets.summaryFile}: ${messageOf(e)}`);
    }
  }
  if (!outlets.sns || !outlets.topic) return;
  try {
    const topic = await outlets.topic();
    if (!topic) return void outlets.log(`! the SNS summary was not sent: the environment's topic is not known (its stack is not deployed)`);
    await notify(outlets.sns, topic, r);
  } catch (e) {
    outlets.log(`! the SNS summary was not sent: ${messageOf(e)}`);
  }
}

export type { ExitCode };
