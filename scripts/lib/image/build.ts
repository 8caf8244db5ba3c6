/**
 * `npm run ami`: checks prerequisites, builds the environment's AMI with Packer, and
 * publishes its id to the SSM parameter of one color (the idle one unless told).
 *
 * Nothing is published unless the build succeeded and the manifest holds this run's AMI.
 */
import { DescribeSubnetsCommand, DescribeVpcsCommand, type EC2Client } from "@aws-sdk/client-ec2";
import type { STSClient } from "@aws-sdk/client-sts";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { resolve } from "node:path";
import { loadEnvironment, type EnvironmentConfig } from "../../../config/load";
import { regionProblem } from "../../../config/regions";
import { SUBNET_ID } from "../../../config/schema";
import { releaseParameters, type Color } from "../../../modules/names";

export type { Log } from "../cli/output";
import type { Log } from "../cli/output";
import { amiTargets, publishAmi, targetColors, type AmiTarget } from "./publish";
import { readEnvironmentState } from "../aws/environment";
import { requireAwsCredentials, type AwsIdentity } from "../aws/credentials";
import { errorName, explainAwsError } from "../aws/errors";
import { CliError, EXIT, invalid } from "../cli/errors";
import { option, type OptionValues } from "../cli/command";
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
  type ImageProvenance,
} from "./packer";

export const REPO_ROOT = resolve(__dirname, "../../..");

export interface BuildOptions {
  /** Also copy the AMI to these regions. */
  readonly copyToRegions?: readonly string[];
  /** Reach the build instance through Session Manager (no inbound SSH). */
  readonly sessionManager?: boolean;
  /** Subnet of the build instance; default: a subnet of the region's default VPC, with a public address. */
  readonly subnetId?: string;
  /**
   * Instance profile (its name) of the build instance; for Session Manager it needs
   * AmazonSSMManagedInstanceCore. Default: none, or with Session Manager a temporary one that
   * Packer creates and deletes.
   */
  readonly iamInstanceProfile?: string;
  /** A nightly build's exact source AMI, its release and build key (tags on the AMI). */
  readonly provenance?: ImageProvenance;
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
  /** Finds where the build instance will run (its subnet, or the default VPC) before Packer does. */
  readonly ec2: EC2Client;
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
  for (const r of regions) {
    const problem = regionProblem(r);
    if (problem) throw new CliError(`--copy-to ${r}: ${problem}`);
  }
  return [...new Set(regions)];
}

/** The options of the AMI build, the same on `npm run ami` and `npm run deploy`. */
export const BUILD_OPTIONS = {
  copyTo: option.list("region,...", "also copy the AMI to these regions"),
  sessionManager: option.flag(
    "reach the build instance through SSM Session Manager (no inbound SSH; needs the Session Manager plugin here, and an instance profile with " +
      "AmazonSSMManagedInstanceCore: --iam-instance-profile, or a temporary one Packer creates if these credentials may create IAM roles)",
  ),
  subnetId: option.string("subnet", "subnet of the build instance, in the environment's region; needed where the region has no default VPC", {
    defaultText: "a subnet of the default VPC, with a public address",
  }),
  iamInstanceProfile: option.string("name", "instance profile of the build instance, by name; with --session-manager it needs AmazonSSMManagedInstanceCore", {
    defaultText: "none; with --session-manager a temporary one allowing only the SSM agent, deleted after the build",
  }),
};

/** The parsed {@link BUILD_OPTIONS} as the build's options. */
export function buildOptionsFrom(values: OptionValues<typeof BUILD_OPTIONS>): BuildOptions {
  return {
    copyToRegions: values.copyTo,
    sessionManager: values.sessionManager,
    subnetId: values.subnetId,
    iamInstanceProfile: values.iamInstanceProfile,
  };
}

/** What Packer's `iam_instance_profile` takes (RunInstances' IamInstanceProfile.Name): a name, not an ARN. */
const INSTANCE_PROFILE_NAME = /^[\w+=,.@-]{1,128}$/;
const INSTANCE_PROFILE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/(?:[^/]+\/)*([^/]+)$/;

/** The form of --subnet-id and --iam-instance-profile: a {@link CliError} naming the option, the value and what is valid. */
export function checkBuildOptions(options: BuildOptions): void {
  if (options.subnetId !== undefined && !SUBNET_ID.test(options.subnetId)) {
    throw invalid("--subnet-id", options.subnetId, "must be a subnet id such as subnet-0123456789abcdef0");
  }
  const profile = options.iamInstanceProfile;
  if (profile === undefined) return;
  const arn = INSTANCE_PROFILE_ARN.exec(profile);
  if (arn) throw invalid("--iam-instance-profile", profile, `must be the instance profile's name, not its ARN: --iam-instance-profile ${arn[1]}`);
  if (!INSTANCE_PROFILE_NAME.test(profile)) {
    throw invalid("--iam-instance-profile", profile, "must be an instance profile name: 1-128 letters, digits and +=,.@_- (such as webfleet-dev-instance)");
  }
}

/** Where the build instance will run, as found before the build. */
export interface BuildNetwork {
  readonly vpcId: string;
  /** The subnet given with --subnet-id; undefined: the plugin picks a subnet of the default VPC. */
  readonly subnetId?: string;
  readonly availabilityZone?: string;
  /** Whether the subnet gives its instances a public address (it decides with Session Manager). */
  readonly mapPublicIpOnLaunch?: boolean;
}

/** An EC2 lookup that failed for another reason than "not found": Packer makes the same call, so the build would fail too. */
function lookupFailed(call: string, region: string, e: unknown): CliError {
  return (
    explainAwsError(e) ??
    new CliError(
      `could not call ${call} in ${region} (${errorName(e)}: ${e instanceof Error ? e.message : String(e)}): the build makes the same call, so it would fail too; allow it for these credentials`,
    )
  );
}

/**
 * The subnet given with --subnet-id exists in the environment's region; without one, the region
 * has a default VPC, where the Amazon plugin then launches the build instance. Many organisations'
 * accounts have none: Packer would fail only after init and validate, with a less helpful message.
 */
export async function checkBuildNetwork(ec2: EC2Client, env: EnvironmentConfig, options: BuildOptions): Promise<BuildNetwork> {
  if (options.subnetId) {
    let found;
    try {
      found = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [options.subnetId] }))).Subnets?.[0];
    } catch (e) {
      if (errorName(e) !== "InvalidSubnetID.NotFound") throw lookupFailed("ec2:DescribeSubnets", env.region, e);
    }
    if (!found?.VpcId) throw invalid("--subnet-id", options.subnetId, `no such subnet in ${env.region}, the environment's region, where the build runs`);
    return { vpcId: found.VpcId, subnetId: options.subnetId, availabilityZone: found.AvailabilityZone, mapPublicIpOnLaunch: found.MapPublicIpOnLaunch };
  }
  let vpcs;
  try {
    vpcs = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] }))).Vpcs ?? [];
  } catch (e) {
    throw lookupFailed("ec2:DescribeVpcs", env.region, e);
  }
  const vpcId = vpcs[0]?.VpcId;
  if (!vpcId) {
    const reach = options.sessionManager
      ? "one whose instances reach SSM: public, or private with a NAT gateway or SSM VPC endpoints"
      : "a public one: Packer connects to the instance's public address";
    const yours = env.network.mode === "existing" ? ` (the environment's subnets: ${env.network.subnetIds.join(", ")})` : "";
    throw new CliError(
      `no default VPC in ${env.region}: without --subnet-id the build instance is launched there. Give --subnet-id with a subnet of ${env.region}, ${reach}${yours}`,
    );
  }
  return { vpcId };
}

/** One line on how the build instance is reached and where it runs, for the log. */
export function describeBuildAccess(options: BuildOptions, network: BuildNetwork): string {
  const where = network.subnetId
    ? `in ${network.subnetId} (${network.vpcId}${network.availabilityZone ? `, ${network.availabilityZone}` : ""})`
    : `in a subnet of the default VPC ${network.vpcId}, with a public address`;
  if (!options.sessionManager) return `build instance: ${where}, reached by SSH on its public address, from this machine's address only`;
  const address =
    network.subnetId && !network.mapPublicIpOnLaunch ? "; the subnet gives no public address, so it must reach SSM through NAT or VPC endpoints" : "";
  const profile = options.iamInstanceProfile
    ? `instance profile ${options.iamInstanceProfile} (it needs AmazonSSMManagedInstanceCore)`
    : "a temporary instance profile that Packer creates and deletes (these credentials must be allowed to create IAM roles and pass them; or give --iam-instance-profile)";
  return `build instance: ${where}${address}, reached through Session Manager with ${profile}`;
}

/**
 * The build's own checks, the same for `npm run ami` and `npm run deploy`: the options' form,
 * then (with credentials) where the build instance will run. Each is a blocker in a dry run.
 */
export async function checkBuild(
  deps: Pick<AmiDeps, "ec2" | "log">,
  pre: Preflight,
  env: EnvironmentConfig,
  options: BuildOptions,
  identity: AwsIdentity | undefined,
): Promise<BuildNetwork | undefined> {
  const wellFormed = await pre.check(() => {
    checkBuildOptions(options);
    return true;
  });
  if (!identity) {
    pre.skip("where the build instance runs (--subnet-id, or the default VPC)", "it is read from AWS");
    return undefined;
  }
  if (!wellFormed) return undefined;
  const network = await pre.check(() => checkBuildNetwork(deps.ec2, env, options));
  if (network) deps.log(describeBuildAccess(options, network));
  return network;
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
    subnetId: options.subnetId,
    iamInstanceProfile: options.iamInstanceProfile,
    provenance: options.provenance,
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
  await checkBuild(deps, pre, env, build, identity);
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
    if ((result.plan.notChecked ?? []).length > 0) lines.push("not checked:", ...result.plan.notChecked!.map((n) => `  - ${n}`));
    if (result.plan.problems.length === 0) lines.push("pre-flight: no blocker found");
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
