/**
 * The images webfleet baked for an environment (owned by the account, tagged Project=webfleet
 * and Environment=<env> by the template), newest first, with what their tags record; and the
 * package list kept with each one in the environment's revision bucket.
 */
import type { EC2Client } from "@aws-sdk/client-ec2";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { IMAGE_TAGS, REVISION_BUCKET_KEYS } from "../../../modules/names";
import { listImages } from "../image/prune";
import { errorName } from "../aws/errors";

export interface BakedImage {
  readonly id: string;
  readonly name: string;
  readonly created: string;
  readonly buildKey?: string;
  readonly release?: string;
}

/**
 * The environment's baked images that can be launched (the ones prune looks at, but only those
 * EC2 calls `available`), newest first. A pending or failed image may carry tonight's key (a
 * build that died after Packer registered it): counting it would skip every night from then on.
 */
export async function bakedImages(ec2: EC2Client, env: string): Promise<BakedImage[]> {
  return (await listImages(ec2, env))
    .filter((image) => image.State === "available")
    .map((image) => {
      const tag = (key: string) => image.Tags?.find((t) => t.Key === key)?.Value || undefined;
      return {
        id: image.ImageId ?? "?",
        name: image.Name ?? "",
        created: image.CreationDate ?? "",
        buildKey: tag(IMAGE_TAGS.buildKey),
        release: tag(IMAGE_TAGS.al2023Release),
      };
    })
    .sort((a, b) => b.created.localeCompare(a.created));
}

/** Where an image's package list is kept in the revision bucket. */
export function packageListKey(amiId: string): string {
  return `${REVISION_BUCKET_KEYS.images}${amiId}/packages.txt`;
}

export async function keepPackageList(s3: S3Client, bucket: string, amiId: string, text: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: packageListKey(amiId), Body: text, ContentType: "text/plain" }));
}

/** An image's package list, or undefined when none was kept (an image baked before nightly builds). */
export async function packageList(s3: S3Client, bucket: string, amiId: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: packageListKey(amiId) }));
    return (await out.Body?.transformToString()) ?? "";
  } catch (e) {
    if (["NoSuchKey", "NotFound", "AccessDenied"].includes(errorName(e))) return undefined;
    throw e;
  }
}

export interface PackageChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly { readonly name: string; readonly from: string; readonly to: string }[];
}

/** "name version-release.arch" lines of two lists → what was added, removed, and upgraded. */
export function diffPackages(before: string, after: string): PackageChanges {
  const parse = (text: string) =>
    new Map(
      text
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .map((l) => {
          const i = l.indexOf(" ");
          return [i === -1 ? l : l.slice(0, i), i === -1 ? "" : l.slice(i + 1)] as const;
        }),
    );
  const a = parse(before);
  const b = parse(after);
  return {
    added: [...b.keys()].filter((n) => !a.has(n)).sort(),
    removed: [...a.keys()].filter((n) => !b.has(n)).sort(),
    changed: [...b.entries()]
      .filter(([n, v]) => a.has(n) && a.get(n) !== v)
      .map(([name, to]) => ({ name, from: a.get(name)!, to }))
      .sort((x, y) => x.name.localeCompare(y.name)),
  };
}
