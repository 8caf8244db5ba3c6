/**
 * Emptying and removing versioned S3 buckets (the revision bucket, the state bucket): every
 * object version and delete marker goes, in batches of 1,000, each batch retried on throttling.
 * A bucket or object that is already gone counts as deleted, so a second run is harmless.
 */
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  paginateListBuckets,
  type S3Client,
} from "@aws-sdk/client-s3";
import { revisionBucketPrefix } from "../../../modules/names";
import { errorName } from "../aws/errors";
import { retrying } from "../aws/retry";

/** One version of an object, or one delete marker. */
export interface ObjectVersion {
  readonly key: string;
  /** `null` for an object written before versioning was turned on. */
  readonly versionId: string;
  readonly deleteMarker: boolean;
}

const BUCKET_GONE = new Set(["NoSuchBucket", "NotFound"]);

/** Whether `bucket` exists (and this account can see it). */
export async function bucketExists(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (e) {
    if (BUCKET_GONE.has(errorName(e)) || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw e;
  }
}

/** Every version and delete marker in `bucket` (under `prefix`), every page; none when the bucket is gone. */
export async function listVersions(s3: S3Client, bucket: string, prefix?: string): Promise<ObjectVersion[]> {
  const all: ObjectVersion[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  try {
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      for (const v of page.Versions ?? []) all.push({ key: v.Key ?? "", versionId: v.VersionId ?? "null", deleteMarker: false });
      for (const m of page.DeleteMarkers ?? []) all.push({ key: m.Key ?? "", versionId: m.VersionId ?? "null", deleteMarker: true });
      if (!page.IsTruncated) return all;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  } catch (e) {
    if (BUCKET_GONE.has(errorName(e))) return [];
    throw e;
  }
}

/** "12 object versions and 3 delete markers" */
export function countVersions(versions: readonly ObjectVersion[]): string {
  const markers = versions.filter((v) => v.deleteMarker).length;
  const objects = versions.length - markers;
  return `${objects} object version${objects === 1 ? "" : "s"} and ${markers} delete marker${markers === 1 ? "" : "s"}`;
}

/** Deletes `versions` for good (DeleteObjects, 1,000 a call); one line per version that could not be deleted. */
export async function deleteVersions(
  s3: S3Client,
  bucket: string,
  versions: readonly ObjectVersion[],
  sleep: (ms: number) => Promise<void>,
): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < versions.length; i += 1000) {
    const batch = versions.slice(i, i + 1000);
    try {
      const out = await retrying(
        () =>
          s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((v) => ({ Key: v.key, VersionId: v.versionId })), Quiet: true } })),
        { sleep },
      );
      for (const err of out.Errors ?? []) {
        if (err.Code === "NoSuchVersion" || err.Code === "NoSuchKey") continue;
        problems.push(`s3://${bucket}/${err.Key} (version ${err.VersionId}): ${err.Code}: ${err.Message}`);
      }
    } catch (e) {
      if (BUCKET_GONE.has(errorName(e))) return problems;
      problems.push(`s3://${bucket}: ${batch.length} versions not deleted (${errorName(e)}: ${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return problems;
}

/** Deletes an empty bucket; false when it was already gone. */
export async function deleteBucket(s3: S3Client, bucket: string, sleep: (ms: number) => Promise<void>): Promise<boolean> {
  try {
    await retrying(() => s3.send(new DeleteBucketCommand({ Bucket: bucket })), { sleep });
    return true;
  } catch (e) {
    if (BUCKET_GONE.has(errorName(e))) return false;
    throw e;
  }
}

/**
 * The environment's revision bucket by its name when the published stack no longer says it (a
 * destroy that stopped part-way removed the parameter): `webfleet-<env>-revisions-` and
 * Terraform's 26 hex digits, in the environment's region.
 */
export async function findRevisionBuckets(s3: S3Client, env: string, region: string): Promise<string[]> {
  const prefix = revisionBucketPrefix(env);
  const exact = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[0-9a-f]{26}$`);
  const found: string[] = [];
  for await (const page of paginateListBuckets({ client: s3 }, { Prefix: prefix, BucketRegion: region })) {
    for (const b of page.Buckets ?? []) if (b.Name && exact.test(b.Name)) found.push(b.Name);
  }
  return found.sort();
}
