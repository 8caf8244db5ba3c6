/**
 * `npm run ami`: checks prerequisites, builds the environment's AMI with Packer, and
 * publishes its id to the SSM parameter of one color (the idle one unless told).
 *
 * Nothing is published unless the build succeeded and the manifest holds this run's AMI.
 */
import type { STSClient } from "@aws-sdk/client-sts";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { resolve } from "node:path";
import { loadEnvironment, type EnvironmentConfig } from "../../../config/load";
import { releaseParameters, type Color } from "../../../modules/names";

export type { Log } from "../cli/output";
import type { Log } from "../cli/output";
import { amiTargets, publishAmi, targetColors, type AmiTarget } from "./publish";
import { readEnvironmentState } from "../aws/environment";
import { requireAwsCredentials } from "../aws/credentials";
import { CliError, EXIT } from "../cli/errors";
import { Preflight } from "../cli/preflight";
import type { Runner } from "../cli/runner";
import { requireTool, type FoundTool } from "../cli/tools";
import {
  amisByRegion,
  describePackerRun,
  PACKER_DIR,
  PACKER_REQUIREMENT,
  packerVariables,
  PackerBuildError,
  runPackerBuild,
  SESSION_MANAGER_PLUGIN_REQUIREMENT,
  type BuiltImage,
} from "./packer";

export const REPO_ROOT = resolve(__dirname, "../../..");

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

export interface BuildOptions {
  /** Also copy the AMI to these regions. */
  readonly copyToRegions?: readonly string[];
  /** Reach the build instance through Session Manager (no inbound SSH). */
  readonly sessionManager?: boolean;
}

export interface AmiOptions extends BuildOptions {
  readonly env: string;
  /** The color to publish to; default: the idle one. */
  readonly color?: Color;
  /** false: build only (`--no-publish`). */
  readonly publish: boolean;
  readonly dryRun: boolean;
}

export interface AmiDeps {
  readonly runner: Runner;
  readonly ssm: SSMClient;
  readonly sts: STSClient;
  readonly log: Log;
  readonly packerDir?: string;
  readonly repoRoot?: string;
  readonly signal?: AbortSignal;
  /** Loads config/<env>.yaml; tests point it elsewhere. */
  readonly loadEnvironment?: (name: string) => EnvironmentConfig;
}

/** What `npm run ami -- --json` prints. */
export interface AmiResult {
  readonly environment: string;
  readonly region: string;
  readonly architecture: string;
  readonly dryRun: boolean;
  /** The AMI's name (with its build timestamp); null in a dry run. */
  readonly name: string | null;
  /** AMI id per region: the build region and every --copy-to region. */
  readonly amis: Record<string, string>;
  readonly sourceAmi: string | null;
  readonly sourceAmiName: string | null;
  readonly gitCommit: string;
  readonly packerRunUuid: string | null;
  /** The parameter written (or, in a dry run, that would be); null with --no-publish. */
  readonly parameter: {
    readonly name: string;
    readonly color: Color | null;
    readonly region: string;
    readonly written: boolean;
    readonly version?: number;
    readonly previousValue?: string;
  } | null;
  /** Dry run only: the commands and the problems a real run would stop at. */
  readonly plan?: { readonly commands: readonly string[]; readonly problems: readonly string[]; readonly notChecked?: readonly string[] };
}

export function validateRegions(regions: readonly string[]): string[] {
  const bad = regions.filter((r) => !REGION.test(r));
  if (bad.length > 0) throw new CliError(`--copy-to ${bad.join(",")}: not AWS regions; use names such as eu-west-1`);
  return [...new Set(regions)];
}

/** `git rev-parse HEAD`, with `-dirty` when tracked files have changes; `unknown` outside git. */
export async function gitCommit(runner: Runner, repoRoot: string): Promise<string> {
  const head = await runner.run("git", ["rev-parse", "HEAD"], { cwd: repoRoot });
  if (head.exitCode !== 0) return "unknown";
  const status = await runner.run("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repoRoot });
  const sha = head.stdout.trim();
  return status.exitCode === 0 && status.stdout.trim() !== "" ? `${sha}-dirty` : sha;
}

/** Packer (and the Session Manager plugin when asked for); throws a UserError that says what to install. */
export async function requireBuildTools(runner: Runner, options: BuildOptions): Promise<FoundTool> {
  const packer = await requireTool(runner, PACKER_REQUIREMENT);
  if (options.sessionManager) await requireTool(runner, SESSION_MANAGER_PLUGIN_REQUIREMENT);
  return packer;
}

/** The template variables for `env`. */
export function variablesFor(env: EnvironmentConfig, commit: string, options: BuildOptions): Record<string, string> {
  return packerVariables({
    environment: env.name,
    region: env.region,
    architecture: env.architecture,
    gitCommit: commit,
    copyToRegions: options.copyToRegions,
    sshInterface: options.sessionManager ? "session_manager" : "public_ip",
  });
}

/** Runs the build; the image must have an AMI in the environment's region. */
export async function buildImage(
  deps: Pick<AmiDeps, "runner" | "log" | "packerDir" | "signal">,
  env: EnvironmentConfig,
  packer: FoundTool,
  vars: Record<string, string>,
): Promise<BuiltImage> {
  const image = await runPackerBuild({ runner: deps.runner, log: deps.log, packer: packer.path, packerDir: deps.packerDir, signal: deps.signal }, vars);
  if (!image.amis.some((a) => a.region === env.region)) {
    throw new PackerBuildError(
      `the build made no AMI in ${env.region} (got ${image.amis.map((a) => `${a.region}:${a.amiId}`).join(", ")}); nothing was published`,
    );
  }
  return image;
}

/** The AMI of the environment's region. */
export function amiInRegion(image: BuiltImage, region: string): string {
  const found = image.amis.find((a) => a.region === region);
  if (!found) throw new PackerBuildError(`the build made no AMI in ${region}`);
  return found.amiId;
}

/** What `npm run ami` will do, decided before anything is built. */
export interface AmiPlan {
  readonly env: EnvironmentConfig;
  readonly commit: string;
  readonly variables: Record<string, string>;
  /** The packer command lines, for the dry run. */
  readonly commands: readonly string[];
  /** The parameter the AMI goes to; undefined with --no-publish, or in a dry run that could not read it. */
  readonly target?: AmiTarget;
  readonly liveColor?: Color;
}

/**
 * `npm run ami`: check → plan → act → report. The checks are the same for a real run and a dry
 * run ({@link Preflight}): a dry run lists every blocker and stops after the plan.
 */
export async function amiCommand(deps: AmiDeps, options: AmiOptions): Promise<AmiResult> {
  // Check.
  const env = (deps.loadEnvironment ?? loadEnvironment)(options.env);
  const build = { ...options, copyToRegions: validateRegions(options.copyToRegions ?? []) };
  const pre = new Preflight(options.dryRun);
  const packer = await pre.check(() => requireBuildTools(deps.runner, build));
  if (packer && !options.dryRun) deps.log(`packer ${packer.version} (${packer.path})`);
  const identity = await pre.check(() => requireAwsCredentials(deps.sts, env.region));
  if (identity && !options.dryRun) deps.log(`AWS account ${identity.account} as ${identity.arn}`);
  let targets: ReturnType<typeof amiTargets> | undefined;
  if (options.publish) {
    if (identity) {
      // Everything publishing needs is checked before a ten-minute build, not after.
      const state = await readEnvironmentState(deps.ssm, env.name);
      targets = await pre.check(() => amiTargets(env, state, options.color, { firstDeploy: false }));
    } else if (options.color) {
      // Without credentials the pinned check still runs, from the environment file alone.
      await pre.check(() => targetColors(env, undefined, options.color, false));
    }
  }

  // Plan.
  const commit = await gitCommit(deps.runner, deps.repoRoot ?? REPO_ROOT);
  const variables = variablesFor(env, commit, build);
  const plan: AmiPlan = {
    env,
    commit,
    variables,
    commands: describePackerRun(packer?.path ?? "packer", variables, deps.packerDir ?? PACKER_DIR),
    target: targets?.publish[0],
    liveColor: targets?.liveColor,
  };
  if (options.dryRun) return dryRunResult(plan, options, pre);
  if (plan.target) {
    deps.log(
      plan.liveColor
        ? `publishing to the idle color ${plan.target.color} (${plan.liveColor} is live): ${plan.target.parameter}`
        : `publishing to ${plan.target.color}: ${plan.target.parameter}`,
    );
  }

  // Act.
  const image = await buildImage(deps, env, packer!, variables);
  const amiId = amiInRegion(image, env.region);
  deps.log(`built ${image.name ?? "the AMI"}: ${image.amis.map((a) => `${a.region} ${a.amiId}`).join(", ")}`);
  const published = plan.target ? await publishAmi(deps.ssm, env.region, plan.target, amiId) : undefined;
  if (published) deps.log(`published ${amiId} to ${published.parameter} (version ${published.version}, was ${published.previousValue || "empty"})`);

  // Report.
  return {
    environment: env.name,
    region: env.region,
    architecture: env.architecture,
    dryRun: false,
    name: image.name ?? null,
    amis: amisByRegion(image.amis),
    sourceAmi: image.sourceAmi ?? null,
    sourceAmiName: image.sourceAmiName ?? null,
    gitCommit: commit,
    packerRunUuid: image.runUuid,
    parameter: published
      ? {
          name: published.parameter,
          color: published.color,
          region: published.region,
          written: true,
          version: published.version,
          previousValue: published.previousValue,
        }
      : null,
  };
}

function dryRunResult(plan: AmiPlan, options: AmiOptions, pre: Preflight): AmiResult {
  const { env } = plan;
  const color = plan.target?.color ?? options.color ?? null;
  return {
    environment: env.name,
    region: env.region,
    architecture: env.architecture,
    dryRun: true,
    name: null,
    amis: {},
    sourceAmi: null,
    sourceAmiName: null,
    gitCommit: plan.commit,
    packerRunUuid: null,
    parameter: options.publish
      ? {
          name: color ? releaseParameters(env.name).ami(color) : `${releaseParameters(env.name).root}/ami/<idle color>`,
          color,
          region: env.region,
          written: false,
        }
      : null,
    plan: { commands: plan.commands, problems: pre.blockers, notChecked: pre.notChecked },
  };
}

/** The exit code of `npm run ami`: a dry run with a blocker is refused (2). */
export function amiExitCode(result: AmiResult): number {
  return result.dryRun && (result.plan?.problems.length ?? 0) > 0 ? EXIT.refused : EXIT.ok;
}

/** The lines `npm run ami` prints for a person (the JSON form is the result itself). */
export function formatAmiResult(result: AmiResult): string[] {
  if (result.dryRun && result.plan) {
    const lines = [
      `dry run: nothing is built or published.`,
      `environment ${result.environment}: ${result.region}, ${result.architecture}, commit ${result.gitCommit}`,
    ];
    lines.push(`would run:`, ...result.plan.commands.map((c) => `  ${c}`));
    if (result.parameter) {
      lines.push(
        `would publish the ${result.region} AMI id to ${result.parameter.name}` +
          (result.parameter.color
            ? ` (${result.parameter.color})`
            : ` (the idle color, read from ${releaseParameters(result.environment).liveColor} at run time)`),
      );
    } else {
      lines.push(`would publish nothing (--no-publish): the AMI id is printed`);
    }
    if (result.plan.problems.length > 0) lines.push(`a real run would stop here:`, ...result.plan.problems.map((p) => `  - ${p}`));
    else lines.push("pre-flight: no blocker found");
    return lines;
  }
  const lines = [`AMI ${result.name ?? ""}`.trim()];
  for (const [region, ami] of Object.entries(result.amis)) lines.push(`  ${region}: ${ami}`);
  if (result.sourceAmi) lines.push(`  source: ${result.sourceAmi}${result.sourceAmiName ? ` (${result.sourceAmiName})` : ""}`);
  if (result.parameter?.written) {
    lines.push(
      `published to ${result.parameter.name} (version ${result.parameter.version}).`,
      `Roll it out with \`npm run deploy -- --env ${result.environment} --skip-ami\`: the ${result.parameter.color} launch template reads it at the next deploy.`,
    );
  } else {
    lines.push(`not published (--no-publish).`);
  }
  return lines;
}
