import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, listEnvironments, loadAllEnvironments, loadEnvironment, parseEnvironment } from "../../config/load";

const valid = {
  region: "us-east-1",
  network: { mode: "default-vpc" },
  capacity: { live: { min: 2, desired: 2, max: 4 }, idle: { min: 0, desired: 0, max: 4 } },
  ami: { blue: { parameter: {} }, green: { parameter: {} } },
};

function errorsOf(data: unknown, name = "dev"): string[] {
  try {
    parseEnvironment(name, "config/dev.yaml", data);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.errors];
    throw e;
  }
  return [];
}

const set = (patch: Record<string, unknown>) => ({ ...valid, ...patch });

describe("environment files", () => {
  it("accepts the shipped dev and prod files and fills in the defaults", () => {
    const [dev, prod] = loadAllEnvironments();
    expect(listEnvironments()).toEqual(["dev", "prod"]);
    expect(dev).toMatchObject({
      name: "dev",
      region: "us-east-1",
      instanceType: "t3.micro",
      network: { mode: "default-vpc" },
      stateBackend: { type: "local" },
      loadBalancer: { deletionProtection: false },
      deployment: { deregistrationDelaySeconds: 30 },
    });
    expect(prod).toMatchObject({ architecture: "arm64", stateBackend: { type: "s3", keyPrefix: "webfleet" } });
    expect(prod.customMinimumHealthyHosts).toEqual([
      { type: "FLEET_PERCENT", value: 75 },
      { type: "HOST_COUNT", value: 2 },
    ]);
  });

  test.each<[string, unknown, string]>([
    [
      "an unknown region",
      set({ region: "moon-1" }),
      'config/dev.yaml: region: must be an AWS region such as us-east-1 or eu-west-1 (config/regions.ts lists them all) (got "moon-1")',
    ],
    ["a missing region", { ...valid, region: undefined }, "config/dev.yaml: region: is required (missing)"],
    [
      "an unknown network mode",
      set({ network: { mode: "custom" } }),
      'config/dev.yaml: network.mode: mode must be one of default-vpc, dedicated, existing (got "custom")',
    ],
    [
      "one AZ in a dedicated VPC",
      set({ network: { mode: "dedicated", availabilityZones: 1 } }),
      "network.availabilityZones: must be at least 2 (the ALB and the ASG need two AZs) (got 1)",
    ],
    [
      "one subnet",
      set({ network: { mode: "existing", vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0"] } }),
      "network.subnetIds: must list at least 2 subnets",
    ],
    [
      "a bad subnet id",
      set({ network: { mode: "existing", vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-1", "subnet-0123456789abcdef0"] } }),
      'network.subnetIds[0]: must be a subnet id such as subnet-0123456789abcdef0 (got "subnet-1")',
    ],
    ["min above max", set({ capacity: { ...valid.capacity, live: { min: 4, desired: 4, max: 2 } } }), "capacity.live.min: min (4) must be <= max (2) (got 4)"],
    [
      "desired below min",
      set({ capacity: { ...valid.capacity, live: { min: 2, desired: 1, max: 4 } } }),
      "capacity.live.desired: desired (1) must be >= min (2) (got 1)",
    ],
    [
      "desired above max",
      set({ capacity: { ...valid.capacity, idle: { min: 0, desired: 5, max: 4 } } }),
      "capacity.idle.desired: desired (5) must be <= max (4) (got 5)",
    ],
    [
      "no live capacity",
      set({ capacity: { live: { min: 0, desired: 0, max: 1 }, idle: { min: 0, desired: 0, max: 1 } } }),
      "capacity.live.desired: must be >= 1: the live color serves the site (got 0)",
    ],
    [
      "an idle role too small for a blue/green release",
      set({ capacity: { live: { min: 2, desired: 3, max: 4 }, idle: { min: 0, desired: 0, max: 2 } } }),
      "capacity.idle.max: idle max (2) must be >= live desired (3): a blue/green or canary release scales the idle color up to the live color's size (got 2)",
    ],
    [
      "capacity by color (before roles)",
      set({ capacity: { blue: { min: 2, desired: 2, max: 4 }, green: { min: 0, desired: 0, max: 4 } } }),
      "capacity.blue, capacity.green: unknown fields",
    ],
    [
      "a fractional capacity",
      set({ capacity: { ...valid.capacity, live: { min: 1.5, desired: 2, max: 4 } } }),
      "capacity.live.min: must be a whole number >= 0 (got 1.5)",
    ],
    [
      "a bad AMI id",
      set({ ami: { blue: { id: "ami-xyz" }, green: { parameter: {} } } }),
      'ami.blue.id: must be an AMI id such as ami-0123456789abcdef0 (got "ami-xyz")',
    ],
    [
      "an AMI source of neither kind",
      set({ ami: { blue: { ssm: "/x" }, green: { parameter: {} } } }),
      "ami.blue: must be { parameter: {} } (AMI from SSM, set by `npm run ami`) or { id: ami-... }",
    ],
    [
      "a bad initial AMI value",
      set({ ami: { blue: { parameter: { initialValue: "latest" } }, green: { parameter: {} } } }),
      "ami.blue.parameter.initialValue: must be an AMI id (ami-0123456789abcdef0) or resolve:ssm:/<parameter>",
    ],
    [
      "a bad instance type",
      set({ instanceType: "large" }),
      'instanceType: must be an EC2 instance type such as t3.micro: <family>.<size>, the size one of nano, micro, small, medium, large, <N>xlarge, metal (got "large")',
    ],
    ["an x86 type on arm64", set({ architecture: "arm64", instanceType: "t3.micro" }), "instanceType: t3.micro is not an arm64 (Graviton) type"],
    ["a Graviton type on x86_64", set({ instanceType: "t4g.micro" }), "instanceType: t4g.micro is an arm64 (Graviton) type"],
    ["a bad client CIDR", set({ clientCidrs: ["10.0.0.0/33"] }), 'clientCidrs[0]: must be an IPv4 CIDR block such as 203.0.113.0/24 (got "10.0.0.0/33")'],
    ["no client CIDRs", set({ clientCidrs: [] }), "clientCidrs: must list at least one CIDR (0.0.0.0/0 for the whole internet) (got [])"],
    [
      "a certificate that is not an ACM ARN",
      set({ certificateArn: "arn:aws:iam::123456789012:server-certificate/x" }),
      "certificateArn: must be an ACM certificate ARN",
    ],
    [
      "an unknown default strategy",
      set({ deployment: { defaultStrategy: "fast" } }),
      'deployment.defaultStrategy: must be one of all-at-once | half-at-a-time | one-at-a-time | min-healthy=<N>% | min-healthy=<N> | blue-green | canary=<p1>,<p2>,...,100 (min-healthy=… listed in deployment.minimumHealthyHosts) (got "fast")',
    ],
    [
      "a canary default strategy that does not end at 100",
      set({ deployment: { defaultStrategy: "canary=10,50" } }),
      'deployment.defaultStrategy: the last step must be 100 (all traffic on the new color); give rising percentages that end at 100, such as canary=10,50,100 (got "canary=10,50")',
    ],
    [
      "an unknown nightly rollout",
      set({ deployment: { nightlyRollout: "yolo" } }),
      'deployment.nightlyRollout: must be blue-green, refresh or none (got "yolo")',
    ],
    [
      "a default strategy that is not created",
      set({ deployment: { defaultStrategy: "min-healthy=50%" } }),
      "deployment.defaultStrategy: min-healthy=50% is not created by this environment; add 50% to deployment.minimumHealthyHosts",
    ],
    [
      "a minimum healthy of 100%",
      set({ deployment: { minimumHealthyHosts: ["100%"] } }),
      'deployment.minimumHealthyHosts[0]: must be a fleet percent from 1% to 99% ("75%") or a host count (2) (got "100%")',
    ],
    [
      "a bad notification address",
      set({ deployment: { notificationEmails: ["ops"] } }),
      'deployment.notificationEmails[0]: must be an email address (got "ops")',
    ],
    ["an S3 backend without a bucket", set({ stateBackend: { type: "s3" } }), "stateBackend.bucket: is required (missing)"],
    ["an unknown backend", set({ stateBackend: { type: "consul" } }), 'stateBackend.type: type must be one of local, s3 (got "consul")'],
    [
      "a misspelt field",
      set({ instanceTyp: "t3.micro" }),
      "config/dev.yaml: instanceTyp: unknown field; check the spelling against the configuration reference in docs/configuration.md",
    ],
    ["a misspelt nested field", set({ loadBalancer: { deletionProtect: true } }), "loadBalancer.deletionProtect: unknown field"],
    [
      "deletion protection as a string",
      set({ loadBalancer: { deletionProtection: "yes" } }),
      'loadBalancer.deletionProtection: must be true or false (got "yes")',
    ],
    // Values AWS or Terraform would refuse only at plan or apply time.
    [
      "a client CIDR with host bits set",
      set({ clientCidrs: ["10.0.0.1/8"] }),
      'clientCidrs[0]: has host bits set: did you mean 10.0.0.0/8? (AWS and Terraform take a block by its network address) (got "10.0.0.1/8")',
    ],
    [
      "a CIDR with a leading zero, which Terraform's parser refuses",
      set({ clientCidrs: ["010.0.0.0/8"] }),
      'clientCidrs[0]: must be an IPv4 CIDR block such as 203.0.113.0/24 (got "010.0.0.0/8")',
    ],
    [
      "a VPC block with host bits set",
      set({ network: { mode: "dedicated", cidr: "10.40.0.1/16" } }),
      'network.cidr: has host bits set: did you mean 10.40.0.0/16? (AWS and Terraform take a block by its network address) (got "10.40.0.1/16")',
    ],
    [
      "a VPC block larger than AWS allows",
      set({ network: { mode: "dedicated", cidr: "10.0.0.0/8" } }),
      'network.cidr: a /8 is outside AWS\'s VPC sizes (/16 to /28); use a block from /16 to /23 (got "10.0.0.0/8")',
    ],
    [
      "a VPC block whose subnets AWS refuses",
      set({ network: { mode: "dedicated", cidr: "10.0.0.0/26" } }),
      'network.cidr: is too small for its subnets: each availability zone gets one 4 bits longer, a /30, smaller than AWS\'s smallest subnet (/28); use a block from /16 to /23 (got "10.0.0.0/26")',
    ],
    [
      "a VPC block whose subnets are too small for the load balancer",
      set({ network: { mode: "dedicated", cidr: "10.0.0.0/24" } }),
      "network.cidr: is too small for its subnets: each availability zone gets one 4 bits longer, a /28, and a load balancer's subnets must be /27 or larger; use a block from /16 to /23",
    ],
    [
      "a subnet listed twice",
      set({ network: { mode: "existing", vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"] } }),
      "network.subnetIds[1]: subnet-0123456789abcdef0 is listed twice (also network.subnetIds[0]); the load balancer takes one subnet per availability zone",
    ],
    [
      "a client CIDR listed twice",
      set({ clientCidrs: ["203.0.113.0/24", "198.51.100.0/24", "203.0.113.0/24"] }),
      "clientCidrs[2]: 203.0.113.0/24 is listed twice (also clientCidrs[0]); a security group refuses a duplicate rule",
    ],
    [
      "a GovCloud region",
      set({ region: "us-gov-west-1" }),
      'region: is in the aws-us-gov (GovCloud) partition; webfleet writes its ARNs for the aws partition (arn:aws:…) and does not support other partitions: use a region such as us-east-1 (got "us-gov-west-1")',
    ],
    ["a China region", set({ region: "cn-north-1" }), "region: is in the aws-cn (China) partition; webfleet writes its ARNs for the aws partition"],
    ["an ISO region", set({ region: "us-isob-east-1" }), "region: is in the aws-iso-b partition; webfleet writes its ARNs for the aws partition"],
    [
      "a region number that does not exist",
      set({ region: "us-east-10" }),
      'region: must be an AWS region such as us-east-1; the us- ones are us-east-1, us-east-2, us-west-1, us-west-2 (config/regions.ts lists them all) (got "us-east-10")',
    ],
    ["a misspelt region", set({ region: "eu-westt-1" }), "region: must be an AWS region such as us-east-1; the eu- ones are eu-central-1,"],
    ["a region the pinned provider does not know yet", set({ region: "ap-southeast-6" }), "region: must be an AWS region such as us-east-1; the ap- ones are"],
    [
      "a state bucket region in another partition",
      set({ stateBackend: { type: "s3", bucket: "webfleet-state", region: "cn-northwest-1" } }),
      "stateBackend.region: is in the aws-cn (China) partition",
    ],
    [
      "a misspelt state bucket region",
      set({ stateBackend: { type: "s3", bucket: "webfleet-state", region: "eu-west-4" } }),
      "stateBackend.region: must be an AWS region",
    ],
    [
      "a tag key in AWS's aws: namespace",
      set({ tags: { "aws:team": "web" } }),
      'tags.aws:team: the key "aws:team" starts with aws:, which AWS reserves for its own tags (in any case); use another key (got "web")',
    ],
    [
      "a tag key in AWS's namespace in capitals",
      set({ tags: { "AWS:Team": "web" } }),
      'tags.AWS:Team: the key "AWS:Team" starts with aws:, which AWS reserves',
    ],
    [
      "a tag value in AWS's aws: namespace",
      set({ tags: { team: "aws:web" } }),
      'tags.team: the value starts with aws:, which Elastic Load Balancing reserves for AWS\'s own tags; use another value (got "aws:web")',
    ],
    [
      "a tag key longer than 128 characters",
      set({ tags: { ["k".repeat(129)]: "v" } }),
      `tags.${"k".repeat(129)}: the key is 129 characters long; AWS allows at most 128`,
    ],
    ["a tag key of 129 characters from outside the BMP", set({ tags: { ["𝐤".repeat(129)]: "v" } }), "the key is 129 characters long; AWS allows at most 128"],
    ["a tag value longer than 256 characters", set({ tags: { team: "v".repeat(257) } }), "tags.team: the value is 257 characters long; AWS allows at most 256"],
    [
      "a tag key with characters AWS refuses",
      set({ tags: { "team!": "web" } }),
      'tags.team!: the key has characters AWS refuses in tags ("!"); use letters, digits, spaces and _ . : / = + - @ (got "web")',
    ],
    ["a tag value with characters AWS refuses", set({ tags: { team: "web*\n" } }), 'tags.team: the value has characters AWS refuses in tags ("*", "\\n")'],
    [
      "a tag value with a trailing space",
      set({ tags: { team: "web " } }),
      "tags.team: the value has a leading or trailing space, which Elastic Load Balancing refuses",
    ],
    ["an empty tag key", set({ tags: { "": "web" } }), "tags.: the key is empty; AWS tag keys are 1 to 128 characters"],
    [
      "more tags than fit beside the stack's own",
      set({ tags: Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`tag-${i}`, "x"])) }),
      "tags: 46 tags; at most 45 (AWS allows 50 user tags per resource and the stack sets up to 5 of its own: project, environment, managed-by, color, Name) (got 46 entries)",
    ],
    [
      "a tag the stack sets itself",
      set({ tags: { environment: "production" } }),
      'tags.environment: the key "environment" is set by the stack itself (project, environment, managed-by, color, Name), which would silently override this value; use another key (got "production")',
    ],
    ["the Name tag", set({ tags: { Name: "web" } }), 'tags.Name: the key "Name" is set by the stack itself'],
    [
      "a stack tag in other capitals",
      set({ tags: { Project: "web" } }),
      'tags.Project: the key "Project" differs from the stack\'s own "project" only in case, and IAM compares tag keys without case: it refuses the roles ("Duplicate tag keys"); use another key',
    ],
    [
      "two tag keys that differ only in case",
      set({ tags: { Team: "web", team: "web" } }),
      'tags.team: the keys "Team" and "team" differ only in case, and IAM compares tag keys without case: it refuses the roles ("Duplicate tag keys"); keep one',
    ],
    [
      "a tag value that is a number",
      set({ tags: { "cost-center": 123 } }),
      'tags.cost-center: must be a string; quote numbers and booleans ("123", "true") (got 123)',
    ],
    [
      "an instance type with an unknown size",
      set({ instanceType: "t3.huge" }),
      'instanceType: must be an EC2 instance type such as t3.micro: <family>.<size>, the size one of nano, micro, small, medium, large, <N>xlarge, metal (got "t3.huge")',
    ],
    ["an instance type without a generation", set({ instanceType: "t.micro" }), "instanceType: must be an EC2 instance type such as t3.micro: <family>.<size>"],
    [
      "a Mac instance type",
      set({ instanceType: "mac2.metal" }),
      "instanceType: mac2.metal is a Mac instance, which runs macOS on a Dedicated Host only; the fleets run Amazon Linux 2023 in Auto Scaling groups: use one such as t3.micro",
    ],
    ["the first Graviton type on x86_64", set({ instanceType: "a1.large" }), "instanceType: a1.large is an arm64 (Graviton) type"],
    [
      "a certificate in another region",
      set({ certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555" }),
      "certificateArn: is in eu-west-1, but the load balancer is in us-east-1: an ALB uses only ACM certificates of its own region; request or import the certificate in us-east-1",
    ],
    [
      "a certificate in another partition",
      set({ certificateArn: "arn:aws-us-gov:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555" }),
      "certificateArn: is in the aws-us-gov partition; webfleet supports the aws partition only (arn:aws:acm:…)",
    ],
    [
      "a certificate id that is not a UUID",
      set({ certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/------------------------------------" }),
      "certificateArn: must be an ACM certificate ARN",
    ],
    [
      "a fractional idle timeout",
      set({ loadBalancer: { idleTimeoutSeconds: 1.5 } }),
      "loadBalancer.idleTimeoutSeconds: must be a whole number of seconds from 1 to 4000 (got 1.5)",
    ],
    [
      "an idle timeout above 4000",
      set({ loadBalancer: { idleTimeoutSeconds: 4001 } }),
      "loadBalancer.idleTimeoutSeconds: must be a whole number of seconds from 1 to 4000 (got 4001)",
    ],
    [
      "a fractional deregistration delay",
      set({ deployment: { deregistrationDelaySeconds: 2.5 } }),
      "deployment.deregistrationDelaySeconds: must be a whole number of seconds from 0 to 3600 (got 2.5)",
    ],
    [
      "a deregistration delay above 3600",
      set({ deployment: { deregistrationDelaySeconds: 3601 } }),
      "deployment.deregistrationDelaySeconds: must be a whole number of seconds from 0 to 3600 (got 3601)",
    ],
    [
      "a notification address listed twice",
      set({ deployment: { notificationEmails: ["ops@example.com", "Ops@Example.com"] } }),
      'deployment.notificationEmails[1]: Ops@Example.com is listed twice (also deployment.notificationEmails[0]; addresses compare without case); list each once (got "Ops@Example.com")',
    ],
    [
      "a minimum healthy value listed twice",
      set({ deployment: { minimumHealthyHosts: [2, "75%", "2"] } }),
      'deployment.minimumHealthyHosts[2]: 2 is listed twice (also deployment.minimumHealthyHosts[0]); each value is one CodeDeploy deployment config (got "2")',
    ],
    [
      "a state bucket with dots",
      set({ stateBackend: { type: "s3", bucket: "webfleet.state.example" } }),
      'stateBackend.bucket: has dots: Terraform\'s S3 backend reaches the bucket at https://<bucket>.s3.<region>.amazonaws.com, whose certificate does not cover dotted names; use hyphens (got "webfleet.state.example")',
    ],
    [
      "a state bucket named like an IP address",
      set({ stateBackend: { type: "s3", bucket: "192.168.5.4" } }),
      "stateBackend.bucket: is formatted as an IP address, which S3 refuses as a bucket name",
    ],
    [
      "a state bucket with a reserved prefix",
      set({ stateBackend: { type: "s3", bucket: "xn--webfleet" } }),
      "stateBackend.bucket: starts with xn--, which S3 reserves",
    ],
    [
      "a state bucket with a reserved suffix",
      set({ stateBackend: { type: "s3", bucket: "webfleet-s3alias" } }),
      "stateBackend.bucket: ends with -s3alias, which S3 reserves",
    ],
    [
      "a state bucket with capitals",
      set({ stateBackend: { type: "s3", bucket: "Webfleet-State" } }),
      "stateBackend.bucket: must be an S3 bucket name: 3-63 lowercase letters, digits and hyphens",
    ],
  ])("rejects %s", (_what, data, message) => {
    const errors = errorsOf(data);
    expect(errors).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
    expect(errors.every((e) => e.startsWith("config/dev.yaml: ") && !e.includes("\n"))).toBe(true);
  });

  test.each<[string, unknown]>([
    ["a region opened in 2025", set({ region: "ap-southeast-7" })],
    ["a /23 VPC, whose /27 subnets still take a load balancer", set({ network: { mode: "dedicated", cidr: "192.168.2.0/23", availabilityZones: 6 } })],
    ["a client CIDR of one address", set({ clientCidrs: ["198.51.100.7/32", "0.0.0.0/0"] })],
    [
      "Unicode letters, spaces and _ . : / = + - @ in tags",
      set({ tags: { "équipe web": "Zürich", "a_b.c:d/e=f+g-h@i": "", ["𝐤".repeat(128)]: "v".repeat(256) } }),
    ],
    ["45 tags beside the stack's own", set({ tags: Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`tag-${i}`, "x"])) })],
    ["aws: inside a tag rather than at its start", set({ tags: { "team-aws:x": "my-aws:thing" } })],
    ["a flex instance type", set({ instanceType: "c7i-flex.large" })],
    ["a high-memory instance type", set({ instanceType: "u-6tb1.112xlarge" })],
    ["a bare-metal size with its vCPU count", set({ instanceType: "i7ie.metal-48xl" })],
    ["the first Graviton type on arm64", set({ architecture: "arm64", instanceType: "a1.large" })],
    ["a Graviton GPU type on arm64", set({ architecture: "arm64", instanceType: "g5g.xlarge" })],
    ["an AMD GPU type on x86_64", set({ instanceType: "g4ad.xlarge" })],
    [
      "a certificate of the environment's region",
      set({ region: "eu-west-1", certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555" }),
    ],
    [
      "the idle timeout and deregistration delay at AWS's limits",
      set({ loadBalancer: { idleTimeoutSeconds: 4000 }, deployment: { deregistrationDelaySeconds: 0 } }),
    ],
    ["a state bucket of 63 characters in a listed region", set({ stateBackend: { type: "s3", bucket: `a${"-".repeat(61)}z`, region: "mx-central-1" } })],
  ])("accepts %s", (_what, data) => {
    expect(errorsOf(data)).toEqual([]);
  });

  it("reports every error of a file at once", () => {
    const errors = errorsOf({ ...valid, region: "x", instanceType: "y", capacity: { ...valid.capacity, live: { min: 3, desired: 1, max: 2 } }, extra: 1 });
    expect(errors).toHaveLength(5);
  });

  test.each(["Prod_EU", "qa-", "1st", "a-very-long-env-name"])("rejects the environment name %s, which cannot name AWS resources", (name) => {
    expect(errorsOf(valid, name)).toEqual([
      `config/dev.yaml: environment name '${name}' must be 1-16 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    ]);
  });

  test.each(["a", "qa-2", "prod-eu-west-1ab"])("accepts the environment name %s", (name) => {
    expect(errorsOf(valid, name)).toEqual([]);
  });

  it("accepts the offline fixture the terraform plan test uses", () => {
    expect(() => loadEnvironment("offline", join(__dirname, "../fixtures/config"))).not.toThrow();
  });

  it("names the valid environments when asked for an unknown one", () => {
    expect(() => loadEnvironment("staging")).toThrow("unknown environment 'staging': no config/staging.yaml; valid environments: dev, prod");
  });

  it.each(["../config/dev", "config/dev", "dev.yaml", "Dev", ""])("takes a name, not a path: refuses %j as typed", (name) => {
    expect(() => loadEnvironment(name)).toThrow(
      `unknown environment '${name}': an environment name is 1-16 lowercase letters, digits and hyphens (a file in config/ without .yaml); valid environments: dev, prod`,
    );
  });

  it("reports YAML syntax errors and errors of every file together", () => {
    const dir = mkdtempSync(join(tmpdir(), "webfleet-config-"));
    writeFileSync(join(dir, "a.yaml"), "region: [unclosed\n");
    writeFileSync(join(dir, "b.yaml"), "region: nowhere\n");
    let error: ConfigError | undefined;
    try {
      loadAllEnvironments(dir);
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.errors.some((e) => /a\.yaml: not valid YAML/.test(e))).toBe(true);
    expect(error!.errors.some((e) => /b\.yaml: region: must be an AWS region/.test(e))).toBe(true);
  });

  describe("a file that is not an environment file gets one clear line", () => {
    const fileIn = (name: string, content: string | Buffer) => {
      const dir = mkdtempSync(join(tmpdir(), "webfleet-config-"));
      writeFileSync(join(dir, name), content);
      return dir;
    };
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      ..."bcdefg".split("").map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefg"[i]}`).join(", ")}]`),
    ].join("\n");

    test.each<[string, string | Buffer, RegExp]>([
      ["YAML aliases that expand too far", bomb, /^bomb\.yaml: its YAML aliases expand too far \(more than 100 alias references\): write the values out/],
      ["a binary file", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]), /^bomb\.yaml: not a text file \(it holds NUL bytes\)/],
      ["a file that is not UTF-8", Buffer.from([0x72, 0x65, 0xe9, 0x67, 0x69, 0x6f, 0x6e]), /^bomb\.yaml: not a text file \(not valid UTF-8\)/],
      ["a huge file", "# padding\n".repeat(30_000), /^bomb\.yaml: \d+ bytes is too large for an environment file \(at most 262144\)/],
    ])("%s", (_what, content, message) => {
      const dir = fileIn("bomb.yaml", content);
      let error: ConfigError | undefined;
      try {
        loadEnvironment("bomb", dir);
      } catch (e) {
        error = e as ConfigError;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error!.errors).toHaveLength(1);
      expect(error!.errors[0].replace(/^.*\//, "")).toMatch(message);
      expect(error!.errors[0]).not.toContain("\n");
    });

    it("two files for one environment (dev.yaml and dev.yml)", () => {
      const dir = fileIn("dev.yaml", "region: us-east-1\n");
      writeFileSync(join(dir, "dev.yml"), "region: us-east-1\n");
      expect(listEnvironments(dir)).toEqual(["dev"]);
      expect(() => loadEnvironment("dev", dir)).toThrow(/dev\.yaml and .*dev\.yml: two files for the environment 'dev'; keep one/);
    });
  });
});
