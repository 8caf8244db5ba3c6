/**
 * The schema's building blocks and the contracts it shares with the stack: the subnet carving of
 * a dedicated VPC and the tag keys the stack sets itself.
 */
import { Testing } from "cdktf";
import { DEDICATED_SUBNET_NEWBITS, dedicatedNetworkProblems, networkOf, STACK_TAG_KEYS, stateBucketProblem } from "../../config/schema";
import { WebfleetStack } from "../../modules/webfleet-stack";
import { doc, environment, resources } from "../helpers/stack";

describe("CIDR blocks", () => {
  test.each([
    ["10.0.0.1/8", "10.0.0.0/8"],
    ["10.40.7.9/16", "10.40.0.0/16"],
    ["203.0.113.77/26", "203.0.113.64/26"],
    ["198.51.100.7/32", "198.51.100.7/32"],
    ["255.255.255.255/0", "0.0.0.0/0"],
  ])("takes %s as the block %s", (value, network) => {
    expect(networkOf(value)).toBe(network);
  });

  test.each(["10.0.0.0/33", "256.0.0.0/8", "010.0.0.0/8", "10.0.0.0/016", "10.0.0/8", "10.0.0.0"])("is not a block: %s", (value) => {
    expect(networkOf(value)).toBeUndefined();
  });
});

describe("a dedicated VPC's subnets", () => {
  it("carves them as modules/network.ts does, 4 bits longer than the VPC", () => {
    // GIVEN a dedicated VPC of the default /16 in three zones
    const json = doc(
      Testing.synth(new WebfleetStack(Testing.app(), "webfleet-test", { config: environment({ network: { mode: "dedicated", availabilityZones: 3 } }) })),
    );
    // THEN each subnet is cidrsubnet(vpc, DEDICATED_SUBNET_NEWBITS, i)
    expect(resources(json, "aws_subnet").map((s) => s.cidr_block)).toEqual(
      [0, 1, 2].map((i) => expect.stringMatching(new RegExp(`^\\$\\{cidrsubnet\\(aws_vpc\\.[\\w-]+\\.cidr_block, ${DEDICATED_SUBNET_NEWBITS}, ${i}\\)\\}$`))),
    );
  });

  test.each([16, 20, 23])("accepts a /%i, whose subnets take a load balancer", (prefix) => {
    expect(dedicatedNetworkProblems(prefix, 6)).toEqual([]);
  });

  test.each([
    [8, "a /8 is outside AWS's VPC sizes (/16 to /28); use a block from /16 to /23"],
    [
      24,
      "is too small for its subnets: each availability zone gets one 4 bits longer, a /28, and a load balancer's subnets must be /27 or larger; use a block from /16 to /23",
    ],
    [
      28,
      "is too small for its subnets: each availability zone gets one 4 bits longer, a /32, smaller than AWS's smallest subnet (/28); use a block from /16 to /23",
    ],
    [29, "a /29 is outside AWS's VPC sizes (/16 to /28); use a block from /16 to /23"],
  ])("refuses a /%i", (prefix, message) => {
    expect(dedicatedNetworkProblems(prefix, 2)).toEqual([{ field: "cidr", message }]);
  });

  it("refuses more zones than the carving has subnets for", () => {
    // GIVEN subnets only 2 bits longer than the VPC: room for 4
    expect(dedicatedNetworkProblems(16, 6, 2)).toEqual([
      { field: "availabilityZones", message: "6 availability zones need 6 subnets, but a /16 carved into /18s has room for 4" },
    ]);
    expect(dedicatedNetworkProblems(16, 4, 2)).toEqual([]);
  });
});

describe("the state bucket", () => {
  test.each(["webfleet-state", "abc", "123-state", "a".repeat(63)])("accepts %s", (name) => {
    expect(stateBucketProblem(name)).toBeUndefined();
  });

  test.each([
    ["ab", "must be an S3 bucket name"],
    ["a".repeat(64), "must be an S3 bucket name"],
    ["-state", "must be an S3 bucket name"],
    ["state_bucket", "must be an S3 bucket name"],
    ["10.0.0.1", "is formatted as an IP address"],
    ["sthree-state", "starts with sthree-, which S3 reserves"],
    ["amzn-s3-demo-state", "starts with amzn-s3-demo-, which S3 reserves"],
    ["state--ol-s3", "ends with --ol-s3, which S3 reserves"],
    ["state--x-s3", "ends with --x-s3, which S3 reserves"],
    ["state--table-s3", "ends with --table-s3, which S3 reserves"],
    ["team.state", "has dots"],
  ])("refuses %s", (name, message) => {
    expect(stateBucketProblem(name)).toContain(message);
  });
});

/** Every tag key a synthesized stack sets: tags maps, default tags, tag specifications, ASG tag blocks. */
function tagKeys(node: unknown, keys = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => tagKeys(n, keys));
  else if (node !== null && typeof node === "object") {
    for (const [name, value] of Object.entries(node)) {
      if (name === "tags" && value !== null && typeof value === "object" && !Array.isArray(value)) Object.keys(value).forEach((k) => keys.add(k));
      if (name === "tag" && Array.isArray(value)) value.forEach((t: { key?: unknown }) => typeof t.key === "string" && keys.add(t.key));
      tagKeys(value, keys);
    }
  }
  return keys;
}

describe("the tag keys the stack sets itself", () => {
  it("are exactly the ones a config tag may not use", () => {
    // GIVEN a stack with no config tags and every tagged part (a dedicated VPC, HTTPS, alarm mail)
    const json = doc(
      Testing.synth(
        new WebfleetStack(Testing.app(), "webfleet-test", {
          config: environment({
            network: { mode: "dedicated" },
            certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
            deployment: { notificationEmails: ["ops@example.com"] },
          }),
        }),
      ),
    );
    // THEN every tag key it writes is one of STACK_TAG_KEYS, and each of those is written
    expect([...tagKeys(json)].sort()).toEqual([...STACK_TAG_KEYS].sort());
  });
});
