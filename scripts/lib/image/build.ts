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
import { assertNotPinned, notDeployedMessage, publishAmi, resolveTargetColor, type Published } from "./publish";
import { readParameter } from "../aws/ssm";
import { collectProblem, requireAwsCredentials, requireTool, UserError, type FoundTool, type Log, type Runner } from "../cli";
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
  readonly plan?: { readonly commands: readonly string[]; readonly problems: readonly string[] };
}

export function validateRegions(regions: readonly string[]): string[] {
  const bad = regions.filter((r) => !REGION.test(r));
  if (bad.length > 0) throw new UserError(`--copy-to ${bad.join(",")}: not AWS regions; use names such as eu-west-1`, 2);
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

async function dryRun(deps: AmiDeps, env: EnvironmentConfig, options: AmiOptions): Promise<AmiResult> {
  const problems: string[] = [];
  let packerPath = "packer";
  await collectProblem(problems, async () => {
    packerPath = (await requireBuildTools(deps.runner, options)).path;
  });
  const credentials = await collectProblem(problems, () => requireAwsCredentials(deps.sts, env.region));
  const commit = await gitCommit(deps.runner, deps.repoRoot ?? REPO_ROOT);
  const vars = variablesFor(env, commit, options);

  let parameter: AmiResult["parameter"] = null;
  if (options.publish) {
    let color: Color | null = options.color ?? null;
    await collectProblem(problems, async () => {
      if (options.color) assertNotPinned(env, options.color);
      if (!credentials) return;
      const target = await resolveTargetColor(deps.ssm, env, options.color);
      color = target.color;
      assertNotPinned(env, target.color);
      if (!(await readParameter(deps.ssm, target.parameter))) throw new UserError(notDeployedMessage(env.name, target.parameter));
    });
    const name = color ? releaseParameters(env.name).ami(color) : `${releaseParameters(env.name).root}/ami/<idle color>`;
    parameter = { name, color, region: env.region, written: false };
  }
  return {
    environment: env.name,
    region: env.region,
    architecture: env.architecture,
    dryRun: true,
    name: null,
    amis: {},
    sourceAmi: null,
    sourceAmiName: null,
    gitCommit: commit,
    packerRunUuid: null,
    parameter,
    plan: { commands: describePackerRun(packerPath, vars, deps.packerDir ?? PACKER_DIR), problems },
  };
}

/** `npm run ami`: see the module comment. */
export async function amiCommand(deps: AmiDeps, options: AmiOptions): Promise<AmiResult> {
  const env = (deps.loadEnvironment ?? loadEnvironment)(options.env);
  const copyToRegions = validateRegions(options.copyToRegions ?? []);
  const opts = { ...options, copyToRegions };
  if (options.dryRun) return dryRun(deps, env, opts);

  const packer = await requireBuildTools(deps.runner, opts);
  deps.log(`packer ${packer.version} (${packer.path})`);
  const identity = await requireAwsCredentials(deps.sts, env.region);
  deps.log(`AWS account ${identity.account} as ${identity.arn}`);

  // Everything publishing needs is checked before a ten-minute build, not after.
  let target: { color: Color; parameter: string } | undefined;
  if (options.publish) {
    const t = await resolveTargetColor(deps.ssm, env, options.color);
    assertNotPinned(env, t.color);
    if (!(await readParameter(deps.ssm, t.parameter))) throw new UserError(notDeployedMessage(env.name, t.parameter));
    target = t;
    deps.log(t.liveColor ? `publishing to the idle color ${t.color} (${t.liveColor} is live): ${t.parameter}` : `publishing to ${t.color}: ${t.parameter}`);
  }

  const commit = await gitCommit(deps.runner, deps.repoRoot ?? REPO_ROOT);
  const vars = variablesFor(env, commit, opts);
  const image = await buildImage(deps, env, packer, vars);
  const amiId = amiInRegion(image, env.region);
  deps.log(`built ${image.name ?? "the AMI"}: ${image.amis.map((a) => `${a.region} ${a.amiId}`).join(", ")}`);

  let published: Published | undefined;
  if (target) {
    published = await publishAmi(deps.ssm, env, target.color, amiId);
    deps.log(`published ${amiId} to ${published.parameter} (version ${published.version}, was ${published.previousValue || "empty"})`);
  }
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
    if (result.plan.problems.length > 0) {
      lines.push(`a real run would stop here:`, ...result.plan.problems.map((p) => `  - ${p}`));
    }
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
