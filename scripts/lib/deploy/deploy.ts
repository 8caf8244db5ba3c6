/**
 * `npm run deploy`: builds the AMI (unless --skip-ami) and hands it to the stack, runs
 * `cdktf deploy` of the environment's stack, then waits for the instance refreshes that
 * deploy started, reporting their progress. Fails when a refresh fails or rolls back.
 *
 * How the AMI reaches the stack:
 * - the color's SSM parameter exists: it is overwritten (PutParameter) before the deploy;
 * - it does not exist yet (first deploy): `WEBFLEET_INITIAL_AMI_<COLOR>` is set for
 *   `cdktf deploy`, and the stack creates the parameter with that value.
 *
 * The flow is check → plan → act → report; a dry run is the check and the plan.
 */
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadEnvironment } from "../../../config/load";
import { COLORS, LOCK_ID_VARIABLE, stackName, type Color, type PublishedStack } from "../../../modules/names";
import {
  amiInRegion,
  buildImage,
  checkBuild,
  gitCommit,
  REPO_ROOT,
  requireBuildTools,
  validateRegions,
  variablesFor,
  type AmiDeps,
  type BuildOptions,
} from "../image/build";
import { amiTargets, initialAmiEnvVar, publishAmi, type AmiTargets, type Published } from "../image/publish";
import { describePackerRun, PACKER_DIR } from "../image/packer";
import { readEnvironmentState, type EnvironmentState } from "../aws/environment";
import { requireAwsCredentials } from "../aws/credentials";
import { CliError, EXIT } from "../cli/errors";
import { Preflight } from "../cli/preflight";
import { formatCommand } from "../cli/runner";
import { requireTool, type ToolRequirement } from "../cli/tools";
import { describeHolder, forceUnlockCommand, lockState, staleLockMessage } from "../release/lock";
import { listRefreshes, refreshesStartedByDeploy, snapshotRefreshIds, waitForRefreshes, type RefreshOutcome, type WatchedRefresh } from "./instance-refresh";

export const TERRAFORM_REQUIREMENT: ToolRequirement = {
  program: "terraform",
  versionArgs: ["version"],
  minimumVersion: "1.10.0",
  why: "the S3 state backend locks with S3's own lock file (use_lockfile), new in Terraform 1.10",
  install: "install Terraform >= 1.10 (the project uses 1.11; https://developer.hashicorp.com/terraform/install)",
};

export interface DeployOptions extends BuildOptions {
  readonly env: string;
  readonly skipAmi: boolean;
  /** The color that gets the new AMI; default: the idle one (every parameter color on a first deploy). */
  readonly color?: Color;
  readonly dryRun: boolean;
  /** Passed to cdktf deploy; without it cdktf asks before applying. */
  readonly autoApprove: boolean;
  readonly timeoutMinutes?: number;
  readonly pollSeconds?: number;
  /**
   * The id of the release lock this run already holds (a nightly rollout): its own lock does not
   * refuse the deploy, and the stack's plan-time lock check gets it as TF_VAR_release_lock_id.
   */
  readonly lockId?: string;
}

export interface DeployDeps extends AmiDeps {
  readonly autoScaling: AutoScalingClient;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** The cdktf executable; default node_modules/.bin/cdktf. */
  readonly cdktf?: string;
  /**
   * Asks whether the deployment a release lock records has ended (the lock is then stale).
   * @default - not asked: any release lock counts as a running release
   */
  readonly codedeploy?: CodeDeployClient;
}

export interface DeployResult {
  readonly environment: string;
  readonly stack: string;
  readonly dryRun: boolean;
  readonly ami: { readonly amiId: string; readonly published: readonly Published[]; readonly initial: readonly Color[] } | null;
  readonly refreshes: readonly RefreshOutcome[];
  readonly ok: boolean;
  /** Set when the new AMI went to the idle color only: the live fleet still runs the old one. */
  readonly idleNote?: string;
  readonly plan?: readonly string[];
  readonly problems?: readonly string[];
  readonly notChecked?: readonly string[];
}

/** color → Auto Scaling group name, from the published stack. */
export function fleetGroups(stack: PublishedStack | undefined): Map<Color, string> {
  const groups = new Map<Color, string>();
  for (const c of COLORS) {
    const name = stack?.fleets?.[c]?.autoScalingGroupName;
    if (name) groups.set(c, name);
  }
  return groups;
}

export function cdktfArgs(env: string, autoApprove: boolean): string[] {
  return ["deploy", stackName(env), ...(autoApprove ? ["--auto-approve"] : [])];
}

/**
 * A deploy during a release would start an instance refresh under CodeDeploy's feet (new
 * instances get the previous revision); the release lock says one is running — or that a
 * release left its deployment running. When the deployment the lock records has ended, the
 * lock is stale: say so, and how to remove it.
 */
export async function refuseDuringRelease(state: EnvironmentState, nowMs: number, codedeploy?: CodeDeployClient, ownLockId?: string): Promise<void> {
  const env = state.env;
  if (ownLockId !== undefined && state.lock?.info?.id === ownLockId) return;
  const lock = await lockState(state.lock, codedeploy);
  if (!lock) return;
  if (lock.stale) {
    throw new CliError(`${staleLockMessage(env, lock, nowMs)}. Remove it, then deploy again: \`${forceUnlockCommand(env)}\`; nothing was changed`);
  }
  throw new CliError(
    `a release of ${env} is running (${describeHolder(lock.held, nowMs, lock.deploymentStatus)}): deploying now would replace instances in the middle of it. ` +
      `Wait for it to end, or remove a stale lock with \`${forceUnlockCommand(env)}\`; nothing was changed`,
  );
}

/** `npm run deploy`: see the module comment. */
export async function deployCommand(deps: DeployDeps, options: DeployOptions): Promise<DeployResult> {
  // Check.
  const env = (deps.loadEnvironment ?? loadEnvironment)(options.env);
  const repoRoot = deps.repoRoot ?? REPO_ROOT;
  const cdktf = deps.cdktf ?? join(repoRoot, "node_modules", ".bin", "cdktf");
  const build = { ...options, copyToRegions: validateRegions(options.copyToRegions ?? []) };
  const pre = new Preflight(options.dryRun);
  await pre.check(() => {
    if (!existsSync(cdktf)) throw new CliError(`cdktf CLI not found at ${cdktf}: run \`npm ci\``);
  });
  await pre.check(() => requireTool(deps.runner, TERRAFORM_REQUIREMENT));
  const packer = options.skipAmi ? undefined : await pre.check(() => requireBuildTools(deps.runner, build));
  const identity = await pre.check(() => requireAwsCredentials(deps.sts, env.region));
  if (identity && !options.dryRun) deps.log(`AWS account ${identity.account} as ${identity.arn}; stack ${stackName(env.name)} in ${env.region}`);
  if (!options.skipAmi) await checkBuild(deps, pre, env, build, identity);
  let state: EnvironmentState | undefined;
  let targets: AmiTargets | undefined;
  if (identity) {
    const read = await readEnvironmentState(deps.ssm, env.name);
    state = read;
    await pre.check(() => refuseDuringRelease(read, deps.now(), deps.codedeploy, options.lockId));
    if (!options.skipAmi) targets = await pre.check(() => amiTargets(env, read, options.color, { firstDeploy: true }));
  } else {
    pre.skip("the release lock and the AMI's target colors", "they are read from AWS");
  }

  // Plan.
  const before = fleetGroups(state?.stack);
  const commit = options.skipAmi ? undefined : await gitCommit(deps.runner, repoRoot);
  const variables = commit === undefined ? undefined : variablesFor(env, commit, build);
  const args = cdktfArgs(env.name, options.autoApprove);
  if (options.dryRun) {
    const plan: string[] = [];
    if (!variables) plan.push(`1. no AMI build (--skip-ami): the fleets keep the AMIs in their parameters`);
    else {
      plan.push(`1. build the AMI:`, ...describePackerRun(packer?.path ?? "packer", variables, deps.packerDir ?? PACKER_DIR).map((c) => `     ${c}`));
      if (targets) {
        for (const t of targets.publish) plan.push(`   then publish its ${env.region} id to ${t.parameter}`);
        for (const t of targets.initial) plan.push(`   then pass it as ${initialAmiEnvVar(t.color)} (the stack creates ${t.parameter} with it)`);
      } else {
        plan.push(`   then publish its id to the idle color's parameter (or, before the first deploy, pass it as WEBFLEET_INITIAL_AMI_<COLOR>)`);
      }
    }
    plan.push(`2. ${formatCommand("cdktf", args)}${options.autoApprove ? "" : " (asks before applying; --auto-approve does not)"}`);
    const watched = [...before.entries()].map(([c, g]) => `${c} ${g}`).join(", ");
    plan.push(
      `3. wait for the instance refreshes the deploy starts (${watched || "the fleets' Auto Scaling groups"}), up to ${options.timeoutMinutes ?? 60} minutes`,
    );
    return {
      environment: env.name,
      stack: stackName(env.name),
      dryRun: true,
      ami: null,
      refreshes: [],
      ok: pre.blockers.length === 0,
      plan,
      problems: pre.blockers,
      notChecked: pre.notChecked,
    };
  }

  // Act: 1. the AMI.
  let ami: DeployResult["ami"] = null;
  let idleNote: string | undefined;
  const cdktfEnv: Record<string, string> = {};
  if (packer && variables && targets) {
    if (targets.publish.length + targets.initial.length === 0) {
      deps.log(`every color's AMI is pinned in ${env.file}: no AMI build`);
    } else {
      const image = await buildImage(deps, env, packer, variables);
      const amiId = amiInRegion(image, env.region);
      deps.log(`built ${image.name ?? "the AMI"}: ${amiId} in ${env.region}`);
      // A release may have started during the (long) build: look again before anything is
      // written, or the next deploy, by anyone, would roll the new AMI out under it.
      await refuseDuringRelease(await readEnvironmentState(deps.ssm, env.name), deps.now(), deps.codedeploy, options.lockId);
      const published: Published[] = [];
      for (const t of targets.publish) {
        const p = await publishAmi(deps.ssm, env.region, t, amiId);
        deps.log(`published ${amiId} to ${p.parameter} (version ${p.version})`);
        published.push(p);
      }
      for (const t of targets.initial) {
        cdktfEnv[initialAmiEnvVar(t.color)] = amiId;
        deps.log(`${t.parameter} does not exist yet: the stack creates it with ${amiId} (${initialAmiEnvVar(t.color)})`);
      }
      const colors = [...targets.publish, ...targets.initial].map((t) => t.color);
      ami = { amiId, published, initial: targets.initial.map((t) => t.color) };
      idleNote = idleColorNote(env.name, amiId, colors, targets.liveColor);
    }
  }

  // 2. The deploy. Refreshes that exist before it are not this deploy's.
  const known = await snapshotRefreshIds(deps.autoScaling, [...before.values()]);
  const startedAt = new Date(deps.now());
  deps.log(`${formatCommand("cdktf", args)}${Object.keys(cdktfEnv).length ? ` with ${Object.keys(cdktfEnv).join(", ")}` : ""}`);
  const lockVariable = options.lockId ? { [`TF_VAR_${LOCK_ID_VARIABLE}`]: options.lockId } : {};
  const deployed = await deps.runner.run(cdktf, args, {
    cwd: repoRoot,
    env: { CHECKPOINT_DISABLE: "1", ...lockVariable, ...cdktfEnv },
    stdio: "inherit",
    signal: deps.signal,
  });
  if (deployed.exitCode !== 0) {
    const note = ami?.published.length
      ? `; ${ami.amiId} is already in ${ami.published.map((p) => p.parameter).join(", ")}, so the next \`npm run deploy -- --env ${env.name} --skip-ami\` rolls it out`
      : "";
    throw new CliError(
      `cdktf deploy ${stackName(env.name)} failed (exit ${deployed.exitCode})${note}`,
      deployed.exitCode === 130 ? EXIT.interrupted : EXIT.failed,
    );
  }

  // 3. The instance refreshes it started.
  // The stack publishes both groups (the reader validates it), also on a first deploy.
  const after = fleetGroups((await readEnvironmentState(deps.ssm, env.name)).stack);
  const watched: WatchedRefresh[] = [];
  for (const [color, groupName] of after) {
    const started = refreshesStartedByDeploy(await listRefreshes(deps.autoScaling, groupName), {
      knownIds: known.get(groupName),
      startedAt,
    });
    // The newest is the one the deploy left running (the API promises no order).
    const newest = [...started].sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0))[0];
    if (newest?.InstanceRefreshId) watched.push({ label: color, groupName, refreshId: newest.InstanceRefreshId });
  }
  if (watched.length === 0) {
    deps.log(`no instance refresh started: the launch templates did not change, or their fleets have no instances`);
    return { environment: env.name, stack: stackName(env.name), dryRun: false, ami, idleNote, refreshes: [], ok: true };
  }
  deps.log(`waiting for ${watched.length} instance refresh${watched.length > 1 ? "es" : ""}: ${watched.map((w) => `${w.label} ${w.groupName}`).join(", ")}`);
  const outcomes = await waitForRefreshes({ autoScaling: deps.autoScaling, log: deps.log, sleep: deps.sleep, now: deps.now, signal: deps.signal }, watched, {
    timeoutMinutes: options.timeoutMinutes,
    pollSeconds: options.pollSeconds,
  });
  return { environment: env.name, stack: stackName(env.name), dryRun: false, ami, idleNote, refreshes: outcomes, ok: outcomes.every((o) => o.ok) };
}

/** The closing lines of `npm run deploy`. */
export function formatDeployResult(result: DeployResult): string[] {
  if (result.dryRun) {
    const lines = [`dry run: nothing is built, published or deployed.`, `${result.stack}:`, ...(result.plan ?? []).map((l) => `  ${l}`)];
    if (result.problems?.length) lines.push(`a real run would stop here:`, ...result.problems.map((p) => `  - ${p}`));
    if (result.notChecked?.length) lines.push(`not checked:`, ...result.notChecked.map((n) => `  - ${n}`));
    if (!result.problems?.length) lines.push("pre-flight: no blocker found");
    return lines;
  }
  const lines: string[] = [];
  if (result.ami) lines.push(`AMI ${result.ami.amiId}`);
  for (const o of result.refreshes) {
    lines.push(`${o.ok ? "ok" : "FAILED"}: ${o.label} ${o.groupName} instance refresh ${o.refreshId}: ${o.status}${o.reason && !o.ok ? ` (${o.reason})` : ""}`);
  }
  lines.push(result.ok ? `${result.stack} deployed.` : `${result.stack} deployed, but an instance refresh did not succeed: see above.`);
  if (result.idleNote) lines.push(result.idleNote);
  return lines;
}

/**
 * The AMI goes to the idle color by default, whose fleet usually has no instances: say that the
 * live fleet is unchanged, and how to roll it onto the new AMI.
 */
export function idleColorNote(env: string, amiId: string, colors: readonly Color[], liveColor: Color | undefined): string | undefined {
  if (!liveColor || colors.includes(liveColor)) return undefined;
  return (
    `note: ${amiId} went to ${colors.join(", ")}, the idle color; the live color ${liveColor} still runs its previous AMI. ` +
    `To roll the live fleet onto a new AMI now: npm run deploy -- --env ${env} --color ${liveColor}`
  );
}
