/**
 * `npm run nightly`: rebuild the web AMI only when one of its inputs changed, and bring a new
 * image to production the way a release does.
 *
 * check → plan → act → report:
 * - check: the environment is deployed, the tools are there, nobody holds the lock;
 * - plan: today's build key (./key.ts) against the key of the newest image built for the
 *   environment (not the live color's: a promotion that keeps failing must not rebuild every
 *   night). Equal: the night is skipped, in seconds, with no build instance;
 * - act, under the release lock for the whole night (a release and a rebuild never overlap):
 *   build and publish the image to a color and deploy the stack (npm run deploy's own flow,
 *   which passes the stack's plan-time lock check with this night's lock id), then promote:
 *   - blue-green (the default): the image went to the idle color; a blue/green release of the
 *     live revision (--same-revision) brings it up, smoke-tests it, switches traffic, bakes;
 *   - refresh: the image went to the live color; the deploy's instance refresh replaced the
 *     live instances (launch before terminate), for environments that keep no idle capacity;
 *   - none: the image waits on the idle color; the report says how to promote it (for
 *     environments whose releases need a reviewer: promote after the approval).
 * - report: skipped or built, old and new AMI, the AL2023 releases, which packages changed,
 *   the rollout's steps and duration, the result.
 *
 * Why the stack is deployed at night instead of launch templates resolving the AMI parameter at
 * launch: Terraform then still knows which AMI each color runs (a plan shows it, the stock-image
 * precondition keeps working, and `npm run deploy`'s instance refresh stays Terraform's), and
 * the plan-time lock check already lets the lock's own holder through.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { loadEnvironment, type EnvironmentConfig } from "../../../config/load";
import { otherColor, type Color } from "../../../modules/names";
import { readEnvironmentState, requireDeployed, type DeployedState } from "../aws/environment";
import { requireAwsCredentials } from "../aws/credentials";
import { CliError, EXIT, type ExitCode } from "../cli/errors";
import { formatDuration } from "../cli/duration";
import { Preflight } from "../cli/preflight";
import { deployCommand, type DeployDeps, type DeployResult } from "../deploy/deploy";
import { gitCommit, REPO_ROOT, variablesFor, type BuildOptions } from "../image/build";
import { PACKAGE_MANIFEST_FILE, PACKER_DIR } from "../image/packer";
import { environmentInfo, runRelease, type ReleaseDeps } from "../release/flow";
import { acquireLock, describeHolder, lockState } from "../release/lock";
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
  /** skipped: the newest image has today's key; built; forced: built with --force. */
  readonly decision: "skipped" | "built" | "forced";
  readonly key: string;
  readonly inputs: BuildInputs;
  /** The newest image before tonight. */
  readonly previous?: BakedImage;
  readonly image?: { readonly id: string; readonly name?: string; readonly release: string; readonly color: Color };
  readonly packages?: PackageChanges;
  readonly rollout: { readonly kind: Rollout; readonly result: string; readonly exitCode: number };
  /** Something a person should do next. */
  readonly next?: string;
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

export async function runNightly(deps: NightlyDeps, options: NightlyOptions): Promise<NightReport> {
  const started = deps.now();
  const env = (deps.deploy.loadEnvironment ?? loadEnvironment)(options.env);
  const rollout = options.rollout ?? env.deployment.nightlyRollout;
  const pre = new Preflight(options.dryRun);
  const clients = { ssm: deps.deploy.ssm, ec2: deps.deploy.ec2, s3: deps.s3, packerDir: deps.packerDir };

  // Check.
  await requireAwsCredentials(deps.deploy.sts, env.region);
  const state: DeployedState = requireDeployed(await readEnvironmentState(deps.deploy.ssm, env.name));
  const held = await lockState(state.lock, deps.deploy.codedeploy);
  if (held) {
    await pre.check(() => {
      throw new CliError(
        `the release lock of ${env.name} is held by ${describeHolder(held.held, deps.now(), held.deploymentStatus)}: tonight's rebuild waits for no one; run it again later`,
      );
    });
  }

  // Plan.
  const commit = await gitCommit(deps.deploy.runner, deps.repoRoot ?? REPO_ROOT);
  const vars = variablesFor(env, commit, options);
  const { key, inputs } = await todaysKey(clients, env, vars);
  const images = await bakedImages(deps.deploy.ec2, env.name);
  const previous = images[0];
  const same = previous?.buildKey === key;
  const decision: NightReport["decision"] = same && !options.force ? "skipped" : same ? "forced" : "built";
  const base = { environment: env.name, startedAt: new Date(started).toISOString(), dryRun: options.dryRun, key, inputs, previous };
  const target: Color = rollout === "refresh" ? state.liveColor : otherColor(state.liveColor);
  deps.log(
    `build key ${key.slice(0, 12)}… (source ${inputs.sourceAmi}, AL2023 ${inputs.sourceRelease}, agent ${inputs.agentVersion}, plugin ${inputs.pluginVersion}); ` +
      `newest image ${previous ? `${previous.id} (${previous.buildKey ? `key ${previous.buildKey.slice(0, 12)}…` : "no key"})` : "none"}: ${decision === "skipped" ? "nothing changed" : decision}`,
  );

  if (options.dryRun) {
    return {
      ...base,
      seconds: (deps.now() - started) / 1000,
      decision,
      rollout: {
        kind: rollout,
        result: decision === "skipped" ? "nothing to roll out" : `would build, publish to ${target}, deploy the stack and ${describeRollout(rollout, target)}`,
        exitCode: EXIT.ok,
      },
      blockers: pre.blockers,
      notChecked: pre.notChecked,
    };
  }
  if (decision === "skipped") {
    const live = state.amis[state.liveColor]?.value;
    return {
      ...base,
      seconds: (deps.now() - started) / 1000,
      decision,
      rollout: { kind: rollout, result: "skipped: the newest image already has tonight's inputs", exitCode: EXIT.ok },
      next:
        previous && live !== undefined && live !== previous.id
          ? `the newest image ${previous.id} is not on the live color ${state.liveColor} (it runs ${live}): promote it with npm run release -- --env ${env.name} --strategy blue-green --same-revision, after it is on the idle color`
          : undefined,
    };
  }

  // Act, under the lock.
  const lock = await acquireLock(
    { env: env.name, bucket: state.stack.revisionBucket, s3: deps.s3, ssm: deps.deploy.ssm, codedeploy: deps.deploy.codedeploy },
    { id: deps.newLockId(), user: deps.whoami.user, host: deps.whoami.host, startedAt: new Date(started).toISOString(), purpose: "nightly" },
    { nowMs: deps.now() },
  );
  let deployed: DeployResult | undefined;
  let result: NightReport["rollout"];
  let packages: PackageChanges | undefined;
  try {
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
    const amiId = deployed.ami?.amiId;
    if (amiId) packages = await keepAndDiffPackages(deps, state, amiId, previous);
    if (!deployed.ok) {
      result = {
        kind: rollout,
        result: `the stack deploy's instance refresh did not succeed: ${deployed.refreshes.map((r) => `${r.label} ${r.status}`).join(", ")}`,
        exitCode: EXIT.failed,
      };
    } else if (rollout === "blue-green") {
      await lock.update({ state: `promoting ${amiId ?? "the new image"} by blue/green` });
      const args = ["--env", env.name, "--strategy", "blue-green", "--same-revision", ...(options.bakeSeconds ? ["--bake", `${options.bakeSeconds}s`] : [])];
      const code = await runRelease(parseReleaseArgs(args), environmentInfo(env), { ...deps.release, heldLock: lock });
      result = {
        kind: rollout,
        result: code === EXIT.ok ? `promoted: the new image serves all traffic on ${target}` : `the promotion ended with exit ${code}: see above`,
        exitCode: code,
      };
    } else if (rollout === "refresh") {
      result = { kind: rollout, result: `the live color ${target}'s instances were replaced by an instance refresh`, exitCode: EXIT.ok };
    } else {
      result = { kind: rollout, result: `the new image is on the idle color ${target}, not promoted (--rollout none)`, exitCode: EXIT.ok };
    }
  } catch (e) {
    result = {
      kind: rollout,
      result: `failed: ${e instanceof Error ? e.message : String(e)}`,
      exitCode: e instanceof CliError ? (e.exitCode === EXIT.refused ? EXIT.failed : e.exitCode) : EXIT.needsAttention,
    };
  } finally {
    const warning = await lock.release();
    if (warning) deps.log(`! ${warning}`);
  }
  const amiId = deployed?.ami?.amiId;
  return {
    ...base,
    seconds: (deps.now() - started) / 1000,
    decision,
    image: amiId ? { id: amiId, release: inputs.sourceRelease, color: target } : undefined,
    packages,
    rollout: result,
    next:
      rollout === "none" && amiId
        ? `to promote it: npm run release -- --env ${env.name} --strategy blue-green --same-revision (after the environment's approval)`
        : undefined,
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

/** The night as lines for a person. */
export function formatNight(r: NightReport): string[] {
  const lines = [
    `nightly ${r.environment}${r.dryRun ? " (dry run)" : ""}: ${r.decision === "skipped" ? "skipped, nothing changed" : r.decision === "forced" ? "built (--force)" : "built"} in ${formatDuration(r.seconds)}`,
    `  inputs: source ${r.inputs.sourceAmi} (AL2023 ${r.inputs.sourceRelease}), agent ${r.inputs.agentVersion}, Amazon plugin ${r.inputs.pluginVersion}; key ${r.key.slice(0, 16)}…`,
    `  previous image: ${r.previous ? `${r.previous.id} ${r.previous.name} (AL2023 ${r.previous.release ?? "?"})` : "none"}`,
  ];
  if (r.image) lines.push(`  new image: ${r.image.id} (AL2023 ${r.image.release}) on ${r.image.color}`, ...packageLines(r.packages).map((l) => `  ${l}`));
  lines.push(`  rollout (${r.rollout.kind}): ${r.rollout.result}`);
  if (r.next) lines.push(`  next: ${r.next}`);
  if (r.blockers?.length) lines.push("a real run would stop here:", ...r.blockers.map((b) => `  - ${b}`));
  if (r.notChecked?.length) lines.push("not checked:", ...r.notChecked.map((n) => `  - ${n}`));
  return lines;
}

/** The night as Markdown, for GitHub's job summary. */
export function nightMarkdown(r: NightReport): string {
  const rows = [
    ["decision", r.decision],
    ["previous image", r.previous ? `\`${r.previous.id}\` (AL2023 ${r.previous.release ?? "?"})` : "none"],
    ["new image", r.image ? `\`${r.image.id}\` (AL2023 ${r.image.release}) on ${r.image.color}` : "none"],
    ["source AMI", `\`${r.inputs.sourceAmi}\` (AL2023 ${r.inputs.sourceRelease})`],
    ["CodeDeploy agent", r.inputs.agentVersion],
    ["rollout", `${r.rollout.kind}: ${r.rollout.result}`],
    ["duration", formatDuration(r.seconds)],
  ];
  const packages = r.packages ? packageLines(r.packages).map((l) => l.replace(/^ {2}/, "- ")) : [];
  return [
    `## Nightly AMI: ${r.environment}`,
    "",
    "| | |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    ...(packages.length ? [packages[0], "", ...packages.slice(1), ""] : []),
    ...(r.next ? [`**Next:** ${r.next}`, ""] : []),
  ].join("\n");
}

/** Publishes the night to the environment's SNS topic (the alarms' topic, which the team subscribes to). */
export async function notify(sns: SNSClient, topicArn: string, r: NightReport): Promise<void> {
  const subject = `webfleet nightly ${r.environment}: ${r.decision}${r.image ? ` ${r.image.id}` : ""}, ${r.rollout.exitCode === 0 ? "ok" : "FAILED"}`.slice(
    0,
    99,
  );
  await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: formatNight(r).join("\n") }));
}

export type { ExitCode };
