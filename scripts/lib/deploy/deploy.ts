/**
 * `npm run deploy`: builds the AMI (unless --skip-ami) and hands it to the stack, runs
 * `cdktf deploy` of the environment's stack, then waits for the instance refreshes that
 * deploy started, reporting their progress. Fails when a refresh fails or rolls back.
 *
 * How the AMI reaches the stack:
 * - the color's SSM parameter exists: it is overwritten (PutParameter) before the deploy;
 * - it does not exist yet (first deploy): `WEBFLEET_INITIAL_AMI_<COLOR>` is set for
 *   `cdktf deploy`, and the stack creates the parameter with that value.
 */
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadEnvironment, type EnvironmentConfig } from "../../../config/load";
import { COLORS, releaseParameters, stackName, type Color, type PublishedStack } from "../../../modules/names";
import {
  amiInRegion,
  buildImage,
  gitCommit,
  REPO_ROOT,
  requireBuildTools,
  validateRegions,
  variablesFor,
  type AmiDeps,
  type BuildOptions,
} from "../image/build";
import { assertNotPinned, initialAmiEnvVar, parameterColors, publishAmi, type Published } from "../image/publish";
import { readParameter } from "../aws/ssm";
import { collectProblem, formatCommand, requireAwsCredentials, requireTool, UserError, type ToolRequirement } from "../cli";
import { describePackerRun, PACKER_DIR } from "../image/packer";
import { describeHolder, forceUnlockCommand, inspectLock, staleLockMessage } from "../release/lock";
import { listRefreshes, refreshesStartedByDeploy, snapshotRefreshIds, waitForRefreshes, type RefreshOutcome, type WatchedRefresh } from "./instance-refresh";

export const TERRAFORM_REQUIREMENT: ToolRequirement = {
  program: "terraform",
  versionArgs: ["version"],
  minimumVersion: "1.4.0",
  why: "the stack uses terraform_data",
  install: "install Terraform >= 1.4 (the project uses 1.11; https://developer.hashicorp.com/terraform/install)",
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
}

/** Where a new AMI goes: parameters to overwrite now, and parameters the stack creates with it. */
export interface AmiTargets {
  readonly publish: readonly Color[];
  readonly initial: readonly Color[];
  readonly liveColor?: Color;
}

/**
 * The colors that get the new AMI: `requested`; else the idle color when the stack is
 * deployed; else (first deploy) every color that reads its parameter. Each goes to
 * `publish` when its parameter exists, to `initial` when the stack will create it.
 */
export async function planAmiTargets(ssm: SSMClient, env: EnvironmentConfig, requested?: Color): Promise<AmiTargets> {
  const names = releaseParameters(env.name);
  const live = await readParameter(ssm, names.liveColor);
  if (live && !(COLORS as readonly string[]).includes(live.value)) {
    throw new UserError(
      `SSM parameter ${names.liveColor} is '${live.value}', expected one of ${COLORS.join(", ")}: fix it, or name the color with --color blue|green`,
    );
  }
  const liveColor = live ? (live.value as Color) : undefined;
  let colors: Color[];
  if (requested) colors = [requested];
  else if (liveColor) colors = [COLORS.find((c) => c !== liveColor)!];
  else colors = parameterColors(env);
  for (const c of colors) assertNotPinned(env, c);
  const publish: Color[] = [];
  const initial: Color[] = [];
  for (const c of colors) {
    if (await readParameter(ssm, names.ami(c))) publish.push(c);
    else initial.push(c);
  }
  return { publish, initial, liveColor };
}

/** The stack's published description, or undefined before the first deploy. */
export async function readPublishedStack(ssm: SSMClient, env: string): Promise<PublishedStack | undefined> {
  const name = releaseParameters(env).stack;
  const p = await readParameter(ssm, name);
  if (!p) return undefined;
  try {
    return JSON.parse(p.value) as PublishedStack;
  } catch (e) {
    throw new UserError(`SSM parameter ${name} is not JSON (${(e as Error).message}): redeploy the stack with \`npx cdktf deploy ${stackName(env)}\``);
  }
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

async function dryRun(deps: DeployDeps, env: EnvironmentConfig, options: DeployOptions, cdktf: string): Promise<DeployResult> {
  const problems: string[] = [];
  const plan: string[] = [];
  if (!existsSync(cdktf)) problems.push(`cdktf CLI not found at ${cdktf}: run \`npm ci\``);
  await collectProblem(problems, () => requireTool(deps.runner, TERRAFORM_REQUIREMENT));
  let packerPath = "packer";
  if (!options.skipAmi) {
    await collectProblem(problems, async () => {
      packerPath = (await requireBuildTools(deps.runner, options)).path;
    });
  }
  const credentials = await collectProblem(problems, () => requireAwsCredentials(deps.sts, env.region));

  let targets: AmiTargets | undefined;
  let groups = new Map<Color, string>();
  if (credentials) {
    if (!options.skipAmi) await collectProblem(problems, async () => (targets = await planAmiTargets(deps.ssm, env, options.color)));
    await collectProblem(problems, async () => (groups = fleetGroups(await readPublishedStack(deps.ssm, env.name))));
  }
  if (options.skipAmi) {
    plan.push(`1. no AMI build (--skip-ami): the fleets keep the AMIs in their parameters`);
  } else {
    const commit = await gitCommit(deps.runner, deps.repoRoot ?? REPO_ROOT);
    plan.push(`1. build the AMI:`, ...describePackerRun(packerPath, variablesFor(env, commit, options), deps.packerDir ?? PACKER_DIR).map((c) => `     ${c}`));
    if (targets) {
      for (const c of targets.publish) plan.push(`   then publish its ${env.region} id to ${releaseParameters(env.name).ami(c)}`);
      for (const c of targets.initial) plan.push(`   then pass it as ${initialAmiEnvVar(c)} (the stack creates ${releaseParameters(env.name).ami(c)} with it)`);
    } else {
      plan.push(`   then publish its id to the idle color's parameter (or, before the first deploy, pass it as WEBFLEET_INITIAL_AMI_<COLOR>)`);
    }
  }
  plan.push(
    `2. ${formatCommand("cdktf", cdktfArgs(env.name, options.autoApprove))}${options.autoApprove ? "" : " (asks before applying; --auto-approve does not)"}`,
  );
  const watched = [...groups.entries()].map(([c, g]) => `${c} ${g}`).join(", ");
  plan.push(
    `3. wait for the instance refreshes the deploy starts (${watched || "the fleets' Auto Scaling groups"}), up to ${options.timeoutMinutes ?? 60} minutes`,
  );
  return { environment: env.name, stack: stackName(env.name), dryRun: true, ami: null, refreshes: [], ok: true, plan, problems };
}

/** `npm run deploy`: see the module comment. */
/**
 * A deploy during a release would start an instance refresh under CodeDeploy's feet (new
 * instances get the previous revision); the release lock says one is running — or that a
 * release left its deployment running. When the deployment the lock records has ended, the
 * lock is stale: say so, and how to remove it.
 */
export async function refuseDuringRelease(ssm: SSMClient, env: string, nowMs: number, codedeploy?: CodeDeployClient): Promise<void> {
  const state = await inspectLock(ssm, env, codedeploy);
  if (!state) return;
  if (state.stale) {
    throw new UserError(`${staleLockMessage(env, state, nowMs)}. Remove it, then deploy again: \`${forceUnlockCommand(env)}\`; nothing was changed`, 2);
  }
  throw new UserError(
    `a release of ${env} is running (${describeHolder(state.held, nowMs, state.deploymentStatus)}): deploying now would replace instances in the middle of it. ` +
      `Wait for it to end, or remove a stale lock with \`${forceUnlockCommand(env)}\`; nothing was changed`,
    2,
  );
}

export async function deployCommand(deps: DeployDeps, options: DeployOptions): Promise<DeployResult> {
  const env = (deps.loadEnvironment ?? loadEnvironment)(options.env);
  const repoRoot = deps.repoRoot ?? REPO_ROOT;
  const cdktf = deps.cdktf ?? join(repoRoot, "node_modules", ".bin", "cdktf");
  const opts = { ...options, copyToRegions: validateRegions(options.copyToRegions ?? []) };
  if (options.dryRun) return dryRun(deps, env, opts, cdktf);

  if (!existsSync(cdktf)) throw new UserError(`cdktf CLI not found at ${cdktf}: run \`npm ci\``);
  await requireTool(deps.runner, TERRAFORM_REQUIREMENT);
  const packer = options.skipAmi ? undefined : await requireBuildTools(deps.runner, opts);
  const identity = await requireAwsCredentials(deps.sts, env.region);
  deps.log(`AWS account ${identity.account} as ${identity.arn}; stack ${stackName(env.name)} in ${env.region}`);

  await refuseDuringRelease(deps.ssm, env.name, deps.now(), deps.codedeploy);

  // 1. The AMI.
  let ami: DeployResult["ami"] = null;
  let idleNote: string | undefined;
  const cdktfEnv: Record<string, string> = {};
  if (packer) {
    const targets = await planAmiTargets(deps.ssm, env, options.color);
    if (targets.publish.length + targets.initial.length === 0) {
      deps.log(`every color's AMI is pinned in ${env.file}: no AMI build`);
    } else {
      const commit = await gitCommit(deps.runner, repoRoot);
      const image = await buildImage(deps, env, packer, variablesFor(env, commit, opts));
      const amiId = amiInRegion(image, env.region);
      deps.log(`built ${image.name ?? "the AMI"}: ${amiId} in ${env.region}`);
      // A release may have started during the (long) build: look again before anything is
      // written, or the next deploy, by anyone, would roll the new AMI out under it.
      await refuseDuringRelease(deps.ssm, env.name, deps.now(), deps.codedeploy);
      const published: Published[] = [];
      for (const c of targets.publish) {
        const p = await publishAmi(deps.ssm, env, c, amiId);
        deps.log(`published ${amiId} to ${p.parameter} (version ${p.version})`);
        published.push(p);
      }
      for (const c of targets.initial) {
        cdktfEnv[initialAmiEnvVar(c)] = amiId;
        deps.log(`${releaseParameters(env.name).ami(c)} does not exist yet: the stack creates it with ${amiId} (${initialAmiEnvVar(c)})`);
      }
      ami = { amiId, published, initial: targets.initial };
      idleNote = idleColorNote(env.name, amiId, [...targets.publish, ...targets.initial], targets.liveColor);
    }
  }

  // 2. The deploy. Refreshes that exist before it are not this deploy's.
  const before = fleetGroups(await readPublishedStack(deps.ssm, env.name));
  const known = await snapshotRefreshIds(deps.autoScaling, [...before.values()]);
  const startedAt = new Date(deps.now());
  const args = cdktfArgs(env.name, options.autoApprove);
  deps.log(`${formatCommand("cdktf", args)}${Object.keys(cdktfEnv).length ? ` with ${Object.keys(cdktfEnv).join(", ")}` : ""}`);
  const deployed = await deps.runner.run(cdktf, args, { cwd: repoRoot, env: cdktfEnv, stdio: "inherit", signal: deps.signal });
  if (deployed.exitCode !== 0) {
    const note = ami?.published.length
      ? `; ${ami.amiId} is already in ${ami.published.map((p) => p.parameter).join(", ")}, so the next \`npm run deploy -- --env ${env.name} --skip-ami\` rolls it out`
      : "";
    throw new UserError(`cdktf deploy ${stackName(env.name)} failed (exit ${deployed.exitCode})${note}`, deployed.exitCode === 130 ? 130 : 1);
  }

  // 3. The instance refreshes it started.
  const after = fleetGroups(await readPublishedStack(deps.ssm, env.name));
  if (after.size === 0) {
    throw new UserError(
      `the deploy finished, but SSM parameter ${releaseParameters(env.name).stack} names no Auto Scaling groups, so the instance refreshes cannot be followed: check the stack's outputs`,
    );
  }
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
