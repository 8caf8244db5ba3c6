/**
 * The environment's Terraform state in the team's S3 state bucket (`stateBackend.type: s3`):
 * every version of the objects under `<keyPrefix>/<env>/` (the state and its lock file), and the
 * bucket itself only when nothing else is in it and no other environment file names it. The
 * bucket is shared: other environments' state, or the bootstrap stack's own, keep it.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { EnvironmentConfig } from "../../../config/load";
import { bucketExists, countVersions, deleteBucket, deleteVersions, listVersions, type ObjectVersion } from "./buckets";

export interface StateLocation {
  readonly bucket: string;
  readonly region: string;
  /** `<keyPrefix>/<env>/`: everything of this environment's state is below it. */
  readonly prefix: string;
}

/** Where `env` keeps its state in S3; undefined for local state. */
export function stateLocation(env: EnvironmentConfig): StateLocation | undefined {
  const backend = env.stateBackend;
  if (backend.type !== "s3") return undefined;
  return { bucket: backend.bucket, region: backend.region ?? env.region, prefix: `${backend.keyPrefix}/${env.name}/` };
}

export interface StatePlan {
  readonly location: StateLocation;
  readonly exists: boolean;
  /** Every version and delete marker of this environment's state objects. */
  readonly mine: readonly ObjectVersion[];
  /** Everything else in the bucket, one line per key ("webfleet/prod/webfleet-prod.tfstate (state of webfleet-prod)"). */
  readonly others: readonly string[];
  /** Other environment files whose state goes to this bucket. */
  readonly sharedWith: readonly string[];
  /** Only when nothing else is in it and no other environment names it. */
  readonly deleteBucket: boolean;
  /** Versions outside the prefix that are only delete markers: removed with the bucket, never counted as someone's state. */
  readonly strayMarkers: readonly ObjectVersion[];
}

function describeKey(key: string): string {
  const stack = /([^/]+)\.tfstate$/.exec(key)?.[1];
  return stack ? `${key} (state of ${stack})` : key;
}

/** Reads the whole bucket (other keys first, to decide about the bucket). Changes nothing. */
export async function planState(s3: S3Client, env: EnvironmentConfig, location: StateLocation, environments: readonly EnvironmentConfig[]): Promise<StatePlan> {
  const exists = await bucketExists(s3, location.bucket);
  const all = exists ? await listVersions(s3, location.bucket) : [];
  const mine = all.filter((v) => v.key.startsWith(location.prefix));
  const outside = all.filter((v) => !v.key.startsWith(location.prefix));
  const liveKeys = [...new Set(outside.filter((v) => !v.deleteMarker).map((v) => v.key))].sort();
  const strayMarkers = outside.filter((v) => v.deleteMarker && !liveKeys.includes(v.key));
  const sharedWith = environments
    .filter((e) => e.name !== env.name && e.stateBackend.type === "s3" && e.stateBackend.bucket === location.bucket)
    .map((e) => e.file)
    .sort();
  return {
    location,
    exists,
    mine,
    others: liveKeys.map(describeKey),
    sharedWith,
    deleteBucket: exists && liveKeys.length === 0 && sharedWith.length === 0,
    strayMarkers,
  };
}

/** What {@link removeState} would do, one line each (the dry run). */
export function describeStatePlan(plan: StatePlan): string[] {
  const { bucket, prefix } = plan.location;
  if (!plan.exists) return [`the state bucket ${bucket} does not exist: nothing to delete`];
  return [
    plan.mine.length > 0 ? `would delete s3://${bucket}/${prefix}: ${countVersions(plan.mine)}` : `s3://${bucket}/${prefix}: nothing (already gone)`,
    plan.deleteBucket ? `would delete the bucket ${bucket}: nothing else is in it and no other environment names it` : keptBecause(plan),
  ];
}

/** "keeps the bucket b: it holds webfleet/prod/webfleet-prod.tfstate (state of webfleet-prod); config/prod.yaml keeps its state there" */
export function keptBecause(plan: StatePlan): string {
  const why = [...plan.others.map((o) => `it holds ${o}`), ...plan.sharedWith.map((f) => `${f} keeps its state there`)];
  return `keeps the bucket ${plan.location.bucket}: ${why.join("; ")}`;
}

/** Deletes this environment's state objects, and the bucket when the plan says so; one line per problem. */
export async function removeState(s3: S3Client, plan: StatePlan, sleep: (ms: number) => Promise<void>): Promise<{ done: string[]; problems: string[] }> {
  const { bucket, prefix } = plan.location;
  const done: string[] = [];
  if (!plan.exists) return { done: [`the state bucket ${bucket} does not exist: nothing to delete`], problems: [] };
  const problems = await deleteVersions(s3, bucket, plan.mine, sleep);
  if (problems.length === 0)
    done.push(plan.mine.length > 0 ? `deleted s3://${bucket}/${prefix}: ${countVersions(plan.mine)}` : `s3://${bucket}/${prefix}: nothing (already gone)`);
  if (!plan.deleteBucket) done.push(keptBecause(plan));
  if (!plan.deleteBucket || problems.length > 0) return { done, problems };
  problems.push(...(await deleteVersions(s3, bucket, plan.strayMarkers, sleep)));
  // Someone may have written to it since it was read: S3 refuses to delete a bucket that is not empty.
  const after = await listVersions(s3, bucket);
  if (after.length > 0) {
    problems.push(
      `kept the bucket ${bucket}: ${countVersions(after)} appeared in it while this ran (${[...new Set(after.map((v) => v.key))].slice(0, 3).join(", ")})`,
    );
    return { done, problems };
  }
  if (problems.length === 0) done.push((await deleteBucket(s3, bucket, sleep)) ? `deleted the bucket ${bucket}` : `the bucket ${bucket} was already gone`);
  return { done, problems };
}
