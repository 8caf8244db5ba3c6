/**
 * The region list (config/regions.ts) against the first of the two authorities that decide
 * whether a region works: the AWS SDK's partition data (which regions exist, and in which
 * partition). The other, the pinned AWS provider (which regions `terraform plan` accepts), is
 * regions-provider.test.ts.
 */
import { partition } from "@aws-sdk/core/client";
import { AWS_REGIONS, isAwsRegion, otherPartitionOf, PARTITION, regionProblem } from "../../config/regions";

/** Regions the SDK knows in the aws partition that the list leaves out, and why. */
const LEFT_OUT: Readonly<Record<string, string>> = {
  "ap-southeast-6": "AWS provider 5.100.0 refuses it (invalid AWS Region)",
  "me-west-1": "AWS provider 5.100.0 refuses it (invalid AWS Region)",
  "sa-west-1": "AWS provider 5.100.0 refuses it (invalid AWS Region)",
};

/** Every name of the usual form in the areas the aws partition uses: what the SDK knows among them is a region. */
function candidateNames(): string[] {
  const areas = ["af", "ap", "ca", "eu", "il", "me", "mx", "sa", "us"];
  const directions = ["central", "east", "north", "south", "west", "northeast", "northwest", "southeast", "southwest"];
  return areas.flatMap((a) => directions.flatMap((d) => Array.from({ length: 9 }, (_, i) => `${a}-${d}-${i + 1}`)));
}

/** The SDK names a partition for any name; only the regions it knows get a description ("Europe (Paris)"). */
const sdkKnows = (region: string) => (partition(region) as { description?: string }).description !== undefined;

describe("the region list", () => {
  it("holds only regions of the aws partition, each once, in order", () => {
    expect(AWS_REGIONS.filter((r) => !sdkKnows(r) || partition(r).name !== PARTITION)).toEqual([]);
    expect([...AWS_REGIONS].sort()).toEqual([...new Set(AWS_REGIONS)]);
  });

  it("has every region the SDK knows in the aws partition, or says why not", () => {
    const known = candidateNames().filter((r) => sdkKnows(r) && partition(r).name === PARTITION);
    // WHEN the SDK learns a new region THEN this names it: check the provider, then add it to the list.
    expect(known.filter((r) => !isAwsRegion(r) && !(r in LEFT_OUT))).toEqual([]);
    expect(Object.keys(LEFT_OUT).filter((r) => !known.includes(r) || isAwsRegion(r))).toEqual([]);
  });

  test.each([
    "us-gov-west-1",
    "us-gov-east-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "us-isof-south-1",
    "eu-isoe-west-1",
    "eusc-de-east-1",
  ])("names the partition of %s as the SDK does", (region) => {
    expect(otherPartitionOf(region)?.split(" ")[0]).toBe(partition(region).name);
    expect(regionProblem(region)).toMatch(/does not support other partitions/);
  });

  test.each(AWS_REGIONS.map((r) => [r]))("accepts %s", (region) => {
    expect(regionProblem(region)).toBeUndefined();
  });
});
