/**
 * The AWS regions an environment can live in, kept in one place.
 *
 * A list and not a pattern: a pattern that lets eu-west-3 through also lets eu-west-9 and
 * us-east-10 through, and those fail only at plan time ("invalid AWS Region" from the provider).
 *
 * The list is the `aws` partition's regions that the pinned AWS provider (5.100.0) accepts.
 * webfleet writes ARNs as `arn:aws:…` (modules/iam.ts), so the other partitions (GovCloud, China,
 * the ISO regions, the European Sovereign Cloud) are out of scope.
 *
 * To add a region AWS has opened: check that the pinned provider accepts it (a `terraform plan`
 * with that region and without `skip_region_validation`; ap-southeast-6 is left out because
 * 5.100.0 refuses it), add it here in order, and run __tests__/config/regions.test.ts: it
 * compares the list with the AWS SDK's partition data.
 */
export const AWS_REGIONS = [
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-7",
  "ca-central-1",
  "ca-west-1",
  "eu-central-1",
  "eu-central-2",
  "eu-north-1",
  "eu-south-1",
  "eu-south-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "il-central-1",
  "me-central-1",
  "me-south-1",
  "mx-central-1",
  "sa-east-1",
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
] as const;

export type AwsRegion = (typeof AWS_REGIONS)[number];

/** The partition webfleet's ARNs are written for. */
export const PARTITION = "aws";

const KNOWN: ReadonlySet<string> = new Set(AWS_REGIONS);

/** Region name prefixes of the other partitions (as the AWS SDK's partition data has them). */
const OTHER_PARTITIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^us-gov-/, "aws-us-gov (GovCloud)"],
  [/^cn-/, "aws-cn (China)"],
  [/^us-isob-/, "aws-iso-b"],
  [/^us-isof-/, "aws-iso-f"],
  [/^us-iso-/, "aws-iso"],
  [/^eu-isoe-/, "aws-iso-e"],
  [/^eusc-/, "aws-eusc (European Sovereign Cloud)"],
];

export function isAwsRegion(value: string): value is AwsRegion {
  return KNOWN.has(value);
}

/** The partition of a region outside `aws`, by its name; undefined for any other name. */
export function otherPartitionOf(region: string): string | undefined {
  return OTHER_PARTITIONS.find(([prefix]) => prefix.test(region))?.[1];
}

/**
 * What is wrong with `region` as an environment's region, as the rest of a config message
 * ("region: <this> (got …)"); undefined when it is one of {@link AWS_REGIONS}.
 */
export function regionProblem(region: string): string | undefined {
  if (isAwsRegion(region)) return undefined;
  const partition = otherPartitionOf(region);
  if (partition) {
    return `is in the ${partition} partition; webfleet writes its ARNs for the aws partition (arn:aws:…) and does not support other partitions: use a region such as us-east-1`;
  }
  // Same area (us-, eu-, ...): name its regions, which catches us-east-10 and eu-westt-1.
  const area = /^([a-z]{2})-/.exec(region)?.[1];
  const near = area ? AWS_REGIONS.filter((r) => r.startsWith(`${area}-`)) : [];
  return near.length > 0
    ? `must be an AWS region such as us-east-1; the ${area}- ones are ${near.join(", ")} (config/regions.ts lists them all)`
    : "must be an AWS region such as us-east-1 or eu-west-1 (config/regions.ts lists them all)";
}
