/**
 * `npm run ami:prune`: which of an environment's baked AMIs can go, and deregistering them.
 *
 * DESIGN.md, "In use means in use": an AMI stays while an SSM AMI parameter, a launch template
 * version that an Auto Scaling group uses, or an instance (pending, running, stopping, stopped)
 * refers to it, and the newest N stay whatever refers to them. Everything is read first (every
 * page), each image gets a verdict with its reasons, and only then is anything deleted: per
 * image, deregistration first and then each snapshot, so a failure never leaves an AMI whose
 * snapshots are gone.
 *
 * The teardown reuses {@link planPrune} and {@link deleteImages} with "keep 0, no age".
 */
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeLaunchTemplateVersionsCommand,
  paginateDescribeImages,
  paginateDescribeInstances,
  type EC2Client,
  type Image,
} from "@aws-sdk/client-ec2";
import {
  DescribeLaunchConfigurationsCommand,
  paginateDescribeAutoScalingGroups,
  type AutoScalingClient,
  type AutoScalingGroup,
  type LaunchTemplateSpecification,
} from "@aws-sdk/client-auto-scaling";
import { GetParametersCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { BrokenEnvironment, EnvironmentConfig } from "../../../config/load";
import { COLORS, PROJECT, releaseParameters, IMAGE_TAGS } from "../../../modules/names";
import { errorName, isTransient } from "../aws/errors";
import { retrying, type RetryPolicy } from "../aws/retry";
import { readParameter } from "../aws/ssm";
import { formatDuration } from "../cli/duration";
import { CliError, EXIT, type ExitCode } from "../cli/errors";
import type { Log } from "../cli/output";

/** The tag keys Packer gives every baked AMI (packer/webfleet.pkr.hcl `tags`): how its AMIs are found. */
export { IMAGE_TAGS };

/** Instance states in which an instance still refers to its AMI (it can be started again). */
export const LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped"] as const;

/** The tag Auto Scaling puts on the instances it launches. */
const GROUP_TAG = "aws:autoscaling:groupName";

const RESOLVE_SSM = "resolve:ssm:";

export interface PruneClients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly autoScaling: AutoScalingClient;
}

/** Which AMIs stay. */
export interface PrunePolicy {
  /** The newest N, by CreationDate, stay whatever else holds. */
  readonly keep: number;
  /** An AMI younger than this stays. @default - no age rule */
  readonly minAgeSeconds?: number;
  /** `--min-age` as typed, for the reasons ("younger than 7d"). @default - the seconds, formatted */
  readonly minAgeText?: string;
  /** SSM parameters whose AMI is in use: each color's parameter of every environment in this region. */
  readonly parameters: readonly string[];
  /** AMIs an environment file pins (`ami.<color>.id`): the next deploy uses them. @default none */
  readonly pinned?: readonly { readonly imageId: string; readonly where: string }[];
  /**
   * Auto Scaling groups whose launch templates and instances do not count: the teardown destroys
   * them before it deletes any image. @default - every group counts
   */
  readonly destroyedFirst?: readonly string[];
}

/** One AMI and what happens to it. */
export interface ImageVerdict {
  readonly imageId: string;
  readonly name: string;
  /** ISO 8601, as EC2 reports it. */
  readonly createdAt: string;
  readonly ageSeconds: number;
  readonly state: string;
  readonly snapshotIds: readonly string[];
  readonly action: "keep" | "delete";
  /** Every reason it stays; or, for a delete, why it can go. */
  readonly reasons: readonly string[];
}

/** The verdicts, newest first. */
export interface PrunePlan {
  readonly environment: string;
  readonly region: string;
  readonly keep: number;
  readonly minAge?: string;
  readonly images: readonly ImageVerdict[];
}

/** The parameters and pinned AMIs that keep an AMI in use, from the environment files of `region`. */
export function configReferences(
  environments: readonly EnvironmentConfig[],
  region: string,
): { parameters: string[]; pinned: { imageId: string; where: string }[] } {
  const here = environments.filter((e) => e.region === region);
  return {
    parameters: here.flatMap((e) => COLORS.filter((c) => !("id" in e.ami[c])).map((c) => releaseParameters(e.name).ami(c))),
    pinned: here.flatMap((e) =>
      COLORS.flatMap((c) => {
        const source = e.ami[c];
        return "id" in source ? [{ imageId: source.id, where: `${e.file} (ami.${c})` }] : [];
      }),
    ),
  };
}

/**
 * {@link configReferences} of every environment file, `current` first; refused (exit 2) when a
 * file is broken: the AMIs it names (its parameters, a pinned id) are then unknown, and pruning
 * without them could delete an image that file's fleets use.
 */
export function referencesOfEnvironments(
  current: EnvironmentConfig,
  all: { readonly loaded: readonly EnvironmentConfig[]; readonly broken: readonly BrokenEnvironment[] },
): { parameters: string[]; pinned: { imageId: string; where: string }[] } {
  if (all.broken.length > 0) {
    const one = all.broken.length === 1;
    throw new CliError(
      `${one ? `the environment file of ${all.broken[0].name} is` : `the environment files of ${all.broken.map((b) => b.name).join(", ")} are`} broken, ` +
        `so the AMIs ${one ? "it refers" : "they refer"} to are not known and no AMI can be pruned safely: ${all.broken.flatMap((b) => b.errors).join("; ")}. ` +
        `Fix ${one ? "it" : "them"} and run again; nothing was deregistered`,
      EXIT.refused,
    );
  }
  return configReferences([current, ...all.loaded.filter((e) => e.name !== current.name)], current.region);
}

// ---------------------------------------------------------------------------------------
// Reading

/** This project's AMIs of `env` owned by the account, every page. */
export async function listImages(ec2: EC2Client, env: string): Promise<Image[]> {
  const images: Image[] = [];
  const pages = paginateDescribeImages(
    { client: ec2 },
    {
      Owners: ["self"],
      IncludeDisabled: true,
      Filters: [
        { Name: `tag:${IMAGE_TAGS.project}`, Values: [PROJECT] },
        { Name: `tag:${IMAGE_TAGS.environment}`, Values: [env] },
      ],
    },
  );
  for await (const page of pages) images.push(...(page.Images ?? []));
  return images;
}

/** What refers to which AMI: image id → reasons. */
type References = Map<string, string[]>;

function refer(refs: References, imageId: string | undefined, reason: string): void {
  if (!imageId) return;
  const list = refs.get(imageId) ?? [];
  if (!list.includes(reason)) list.push(reason);
  refs.set(imageId, list);
}

/** Resolves `resolve:ssm:<name>` once per name; undefined when the parameter does not exist. */
class ParameterResolver {
  private readonly cache = new Map<string, Promise<string | undefined>>();
  constructor(private readonly ssm: SSMClient) {}

  /** The AMI id a value names, and the parameter it went through (if any). */
  async imageOf(value: string | undefined): Promise<{ imageId?: string; via?: string }> {
    if (!value?.startsWith(RESOLVE_SSM)) return { imageId: value };
    const name = value.slice(RESOLVE_SSM.length);
    let pending = this.cache.get(name);
    if (!pending) {
      pending = readParameter(this.ssm, name).then((p) => p?.value);
      this.cache.set(name, pending);
    }
    return { imageId: await pending, via: name };
  }
}

/** The AMIs the release-state parameters name (GetParameters takes ten names a call). */
async function parameterReferences(ssm: SSMClient, resolver: ParameterResolver, names: readonly string[], refs: References): Promise<void> {
  for (let i = 0; i < names.length; i += 10) {
    const out = await ssm.send(new GetParametersCommand({ Names: [...names.slice(i, i + 10)] }));
    for (const p of out.Parameters ?? []) {
      const { imageId, via } = await resolver.imageOf(p.Value?.trim());
      refer(refs, imageId, `in SSM ${p.Name}${via ? ` (via ${via})` : ""}`);
    }
  }
}

/** Every launch template a group can launch from: its own, or its mixed-instances policy's (and overrides'). */
function templatesOf(group: AutoScalingGroup): LaunchTemplateSpecification[] {
  const mixed = group.MixedInstancesPolicy?.LaunchTemplate;
  return [group.LaunchTemplate, mixed?.LaunchTemplateSpecification, ...(mixed?.Overrides ?? []).map((o) => o.LaunchTemplateSpecification)].filter(
    (t): t is LaunchTemplateSpecification => t !== undefined && (t.LaunchTemplateId !== undefined || t.LaunchTemplateName !== undefined),
  );
}

const TEMPLATE_GONE = new Set(["InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.VersionNotFound"]);

/**
 * The AMIs the launch template versions (and launch configurations) of every Auto Scaling group
 * in the region name. `$Latest` and `$Default` are resolved by EC2; an image id that is a
 * `resolve:ssm:` reference names the parameter's value.
 */
async function groupReferences(clients: PruneClients, resolver: ParameterResolver, ignored: ReadonlySet<string>, refs: References): Promise<void> {
  const versions = new Map<string, Promise<{ version?: number; templateId?: string; imageValue?: string } | undefined>>();
  const configurations = new Map<string, string[]>();
  for await (const page of paginateDescribeAutoScalingGroups({ client: clients.autoScaling }, {})) {
    for (const group of page.AutoScalingGroups ?? []) {
      const groupName = group.AutoScalingGroupName ?? "?";
      if (ignored.has(groupName)) continue;
      if (group.LaunchConfigurationName)
        configurations.set(group.LaunchConfigurationName, [...(configurations.get(group.LaunchConfigurationName) ?? []), groupName]);
      for (const spec of templatesOf(group)) {
        const version = spec.Version ?? "$Default";
        const key = `${spec.LaunchTemplateId ?? spec.LaunchTemplateName}@${version}`;
        let found = versions.get(key);
        if (!found) {
          found = describeTemplateVersion(clients.ec2, spec, version);
          versions.set(key, found);
        }
        const v = await found;
        if (!v) continue;
        const { imageId, via } = await resolver.imageOf(v.imageValue);
        refer(refs, imageId, `launch template ${v.templateId} v${v.version} of ${groupName}${via ? ` (via SSM ${via})` : ""}`);
      }
    }
  }
  const names = [...configurations.keys()];
  for (let i = 0; i < names.length; i += 50) {
    const out = await clients.autoScaling.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: names.slice(i, i + 50) }));
    for (const lc of out.LaunchConfigurations ?? []) {
      for (const groupName of configurations.get(lc.LaunchConfigurationName ?? "") ?? []) {
        const { imageId, via } = await resolver.imageOf(lc.ImageId);
        refer(refs, imageId, `launch configuration ${lc.LaunchConfigurationName} of ${groupName}${via ? ` (via SSM ${via})` : ""}`);
      }
    }
  }
}

async function describeTemplateVersion(
  ec2: EC2Client,
  spec: LaunchTemplateSpecification,
  version: string,
): Promise<{ version?: number; templateId?: string; imageValue?: string } | undefined> {
  try {
    const out = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        ...(spec.LaunchTemplateId ? { LaunchTemplateId: spec.LaunchTemplateId } : { LaunchTemplateName: spec.LaunchTemplateName }),
        Versions: [version],
      }),
    );
    const v = out.LaunchTemplateVersions?.[0];
    if (!v) return undefined;
    return { version: v.VersionNumber, templateId: v.LaunchTemplateId ?? spec.LaunchTemplateId, imageValue: v.LaunchTemplateData?.ImageId };
  } catch (e) {
    // A group whose template is gone launches nothing: it refers to no AMI.
    if (TEMPLATE_GONE.has(errorName(e))) return undefined;
    throw e;
  }
}

/** The instances launched from any of `imageIds` that still exist (filters take at most 200 values). */
async function instanceReferences(ec2: EC2Client, imageIds: readonly string[], ignored: ReadonlySet<string>, refs: References): Promise<void> {
  for (let i = 0; i < imageIds.length; i += 100) {
    const pages = paginateDescribeInstances(
      { client: ec2 },
      {
        Filters: [
          { Name: "image-id", Values: imageIds.slice(i, i + 100) },
          { Name: "instance-state-name", Values: [...LIVE_INSTANCE_STATES] },
        ],
      },
    );
    for await (const page of pages) {
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const group = instance.Tags?.find((t) => t.Key === GROUP_TAG)?.Value;
        if (group && ignored.has(group)) continue;
        refer(refs, instance.ImageId, `instance ${instance.InstanceId} (${instance.State?.Name ?? "unknown"})`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Deciding

/** The verdict on every image, newest first. Pure. */
export function decide(images: readonly Image[], refs: ReadonlyMap<string, readonly string[]>, policy: PrunePolicy, nowMs: number): ImageVerdict[] {
  const minAge = policy.minAgeSeconds;
  const minAgeText = policy.minAgeText ?? (minAge !== undefined ? formatDuration(minAge) : undefined);
  // Newest first; an image without a date sorts last (it stays anyway: see below).
  const time = (i: Image) => Date.parse(i.CreationDate ?? "") || 0;
  const sorted = [...images].sort((a, b) => time(b) - time(a) || (a.ImageId ?? "").localeCompare(b.ImageId ?? ""));
  return sorted.map((image, index) => {
    const imageId = image.ImageId ?? "?";
    const created = Date.parse(image.CreationDate ?? "");
    const ageSeconds = Number.isFinite(created) ? Math.max(0, Math.round((nowMs - created) / 1000)) : 0;
    const state = image.State ?? "unknown";
    const keepReasons: string[] = [];
    if (index < policy.keep) keepReasons.push(`newest ${policy.keep}`);
    if (state === "pending") keepReasons.push("still being created (pending)");
    if (!Number.isFinite(created)) keepReasons.push("no creation date");
    else if (minAge !== undefined && ageSeconds < minAge) keepReasons.push(`younger than ${minAgeText}`);
    keepReasons.push(...(refs.get(imageId) ?? []));
    const deleteReasons = [
      ...(policy.keep > 0 ? [`not among the newest ${policy.keep}`] : []),
      ...(minAge !== undefined ? [`older than ${minAgeText}`] : []),
      "not in use",
    ];
    return {
      imageId,
      name: image.Name ?? "",
      createdAt: image.CreationDate ?? "",
      ageSeconds,
      state,
      snapshotIds: (image.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((s): s is string => !!s),
      action: keepReasons.length > 0 ? "keep" : "delete",
      reasons: keepReasons.length > 0 ? keepReasons : deleteReasons,
    };
  });
}

/** Reads every AMI of `env` and everything that refers to one; decides. Changes nothing. */
export async function planPrune(clients: PruneClients, env: string, region: string, policy: PrunePolicy, nowMs: number): Promise<PrunePlan> {
  const images = await listImages(clients.ec2, env);
  const refs: References = new Map();
  if (images.length > 0) {
    const resolver = new ParameterResolver(clients.ssm);
    const ignored = new Set(policy.destroyedFirst ?? []);
    await parameterReferences(clients.ssm, resolver, policy.parameters, refs);
    for (const p of policy.pinned ?? []) refer(refs, p.imageId, `pinned in ${p.where}`);
    await groupReferences(clients, resolver, ignored, refs);
    await instanceReferences(clients.ec2, images.map((i) => i.ImageId ?? "").filter(Boolean), ignored, refs);
  }
  return {
    environment: env,
    region,
    keep: policy.keep,
    minAge: policy.minAgeSeconds !== undefined ? (policy.minAgeText ?? formatDuration(policy.minAgeSeconds)) : undefined,
    images: decide(images, refs, policy, nowMs),
  };
}

// ---------------------------------------------------------------------------------------
// Deleting

export interface SnapshotOutcome {
  readonly snapshotId: string;
  readonly deleted: boolean;
  /** Why it was not deleted. */
  readonly error?: string;
}

export interface DeletionOutcome {
  readonly imageId: string;
  readonly name: string;
  readonly deregistered: boolean;
  /** Why it was not deregistered; its snapshots were then left alone. */
  readonly error?: string;
  readonly snapshots: readonly SnapshotOutcome[];
}

export interface DeleteDeps {
  readonly ec2: EC2Client;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Log;
  /** Stops before the next image once aborted (Ctrl-C): an image is never left half done. */
  readonly signal?: AbortSignal;
}

/** A snapshot can stay "in use" by its just-deregistered AMI for a while: about a minute of tries. */
export const SNAPSHOT_RETRY: RetryPolicy = { attempts: 7, firstDelayMs: 1_000 };

const IMAGE_GONE = new Set(["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"]);

const describe = (e: unknown) => `${errorName(e) || "Error"}: ${e instanceof Error ? e.message : String(e)}`;

/**
 * Deregisters each image to delete, then deletes its snapshots. Throttling and 5xx are tried
 * again (bounded); so is a snapshot that EC2 still reports in use by the image just deregistered
 * (its deregistration takes a moment to reach the snapshot). An image or snapshot that is
 * already gone counts as deleted, so running it twice is harmless.
 */
export async function deleteImages(deps: DeleteDeps, images: readonly ImageVerdict[]): Promise<DeletionOutcome[]> {
  const outcomes: DeletionOutcome[] = [];
  for (const image of images.filter((i) => i.action === "delete")) {
    if (deps.signal?.aborted) break;
    try {
      await retrying(() => deps.ec2.send(new DeregisterImageCommand({ ImageId: image.imageId })), { sleep: deps.sleep });
      deps.log(`deregistered ${image.imageId} (${image.name})`);
    } catch (e) {
      if (!IMAGE_GONE.has(errorName(e))) {
        deps.log(`! ${image.imageId} not deregistered: ${describe(e)}`);
        outcomes.push({ imageId: image.imageId, name: image.name, deregistered: false, error: describe(e), snapshots: [] });
        continue;
      }
      deps.log(`${image.imageId} was already deregistered`);
    }
    const snapshots: SnapshotOutcome[] = [];
    for (const snapshotId of image.snapshotIds) {
      try {
        await retrying(() => deps.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })), {
          sleep: deps.sleep,
          retryable: (e) => isStillInUseBy(e, image.imageId) || isTransient(e),
          policy: SNAPSHOT_RETRY,
        });
        deps.log(`deleted ${snapshotId} of ${image.imageId}`);
        snapshots.push({ snapshotId, deleted: true });
      } catch (e) {
        if (errorName(e) === "InvalidSnapshot.NotFound") {
          snapshots.push({ snapshotId, deleted: true });
          continue;
        }
        deps.log(`! ${snapshotId} of ${image.imageId} not deleted: ${describe(e)}`);
        snapshots.push({ snapshotId, deleted: false, error: describe(e) });
      }
    }
    outcomes.push({ imageId: image.imageId, name: image.name, deregistered: true, snapshots });
  }
  return outcomes;
}

/** EC2 still counts the snapshot as used by the AMI deregistered a moment ago (and by no other). */
function isStillInUseBy(e: unknown, imageId: string): boolean {
  return errorName(e) === "InvalidSnapshot.InUse" && e instanceof Error && e.message.includes(imageId);
}

/** 3 when a deregistered AMI left a snapshot behind (it costs money and needs a hand), 1 when an AMI could not be deregistered. */
export function deletionExitCode(outcomes: readonly DeletionOutcome[]): ExitCode {
  if (outcomes.some((o) => o.snapshots.some((s) => !s.deleted))) return EXIT.needsAttention;
  if (outcomes.some((o) => !o.deregistered)) return EXIT.failed;
  return EXIT.ok;
}

/** What could not be deleted, one line each, with the command that finishes it. */
export function deletionProblems(outcomes: readonly DeletionOutcome[], region: string): string[] {
  const lines: string[] = [];
  for (const o of outcomes) {
    if (!o.deregistered) lines.push(`${o.imageId} (${o.name}) was not deregistered (${o.error}): it and its snapshots stay`);
    for (const s of o.snapshots.filter((x) => !x.deleted)) {
      lines.push(
        `${o.imageId} was deregistered but its snapshot ${s.snapshotId} was not deleted (${s.error}): aws ec2 delete-snapshot --snapshot-id ${s.snapshotId} --region ${region}`,
      );
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------
// Reporting

/** `2025-01-01 12:00` from an ISO time. */
function shortTime(iso: string): string {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? iso.slice(0, 16).replace("T", " ") : iso || "?";
}

/** The table of verdicts: every AMI, keep or delete, and why. */
export function formatVerdicts(images: readonly ImageVerdict[]): string[] {
  const rows = images.map((i) => [i.imageId, i.name || "-", shortTime(i.createdAt), formatDuration(i.ageSeconds), i.action, i.reasons.join("; ")]);
  const header = ["IMAGE", "NAME", "CREATED (UTC)", "AGE", "ACTION", "WHY"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** "2 AMIs and their 3 snapshots" */
export function countImages(images: readonly ImageVerdict[]): string {
  const snapshots = images.reduce((n, i) => n + i.snapshotIds.length, 0);
  return `${images.length} AMI${images.length === 1 ? "" : "s"} and ${images.length === 1 ? "its" : "their"} ${snapshots} snapshot${snapshots === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------
// The command

export interface PruneOptions {
  readonly env: string;
  readonly region: string;
  readonly apply: boolean;
  readonly policy: PrunePolicy;
}

export interface PruneDeps extends PruneClients {
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly log: Log;
  readonly signal?: AbortSignal;
}

export interface PruneResult {
  readonly dryRun: boolean;
  readonly plan: PrunePlan;
  /** What was deleted and what was not (empty in a dry run). */
  readonly deletions: readonly DeletionOutcome[];
  readonly interrupted?: boolean;
}

/** Plan, then (with apply) delete: the flow of `npm run ami:prune`. */
export async function pruneImages(deps: PruneDeps, o: PruneOptions): Promise<PruneResult> {
  deps.log(`reading the AMIs of ${o.env} in ${o.region} and what uses them...`);
  const plan = await planPrune(deps, o.env, o.region, o.policy, deps.now());
  if (!o.apply) return { dryRun: true, plan, deletions: [] };
  const deletions = await deleteImages(deps, plan.images);
  return { dryRun: false, plan, deletions, interrupted: deps.signal?.aborted === true || undefined };
}

export function pruneExitCode(result: PruneResult): ExitCode {
  if (result.interrupted) return EXIT.interrupted;
  return deletionExitCode(result.deletions);
}

/** The result for people: the table, then what happened (or would). */
export function formatPruneResult(result: PruneResult): string[] {
  const { plan } = result;
  const rule = `keep the newest ${plan.keep}${plan.minAge ? ` and any younger than ${plan.minAge}` : ""}, and every AMI in use`;
  if (plan.images.length === 0)
    return [
      `no AMIs of ${PROJECT} ${plan.environment} in ${plan.region} (tagged ${IMAGE_TAGS.project}=${PROJECT}, ${IMAGE_TAGS.environment}=${plan.environment})`,
    ];
  const doomed = plan.images.filter((i) => i.action === "delete");
  const lines = [`AMIs of ${PROJECT} ${plan.environment} in ${plan.region} (${rule}):`, ...formatVerdicts(plan.images), ""];
  if (result.dryRun) {
    lines.push(
      doomed.length === 0
        ? "dry run: nothing to prune, every AMI stays"
        : `dry run: would deregister ${countImages(doomed)}; nothing was changed. Run again with --apply to do it`,
    );
    return lines;
  }
  const done = result.deletions.filter((d) => d.deregistered);
  const snapshots = done.reduce((n, d) => n + d.snapshots.filter((s) => s.deleted).length, 0);
  lines.push(
    doomed.length === 0 ? "nothing to prune, every AMI stays" : `deregistered ${done.length} of ${doomed.length} AMIs, deleted ${snapshots} snapshots`,
  );
  const problems = deletionProblems(result.deletions, plan.region);
  if (problems.length) lines.push("not done:", ...problems.map((p) => `  - ${p}`));
  if (result.interrupted) lines.push(`interrupted: stopped before the next AMI; ${doomed.length - result.deletions.length} not touched (run again to finish)`);
  return lines;
}

/** The result for programs (--json). */
export function pruneJson(result: PruneResult): unknown {
  return { dryRun: result.dryRun, ...result.plan, deletions: result.deletions, ...(result.interrupted ? { interrupted: true } : {}) };
}
