import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, listEnvironments, loadAllEnvironments, loadEnvironment, parseEnvironment } from "../../config/load";

const valid = {
  region: "us-east-1",
  network: { mode: "default-vpc" },
  capacity: { blue: { min: 2, desired: 2, max: 4 }, green: { min: 0, desired: 0, max: 4 } },
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
    ["an unknown region", set({ region: "moon-1" }), 'config/dev.yaml: region: must be an AWS region such as us-east-1 (got "moon-1")'],
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
    ["min above max", set({ capacity: { ...valid.capacity, blue: { min: 4, desired: 4, max: 2 } } }), "capacity.blue.min: min (4) must be <= max (2) (got 4)"],
    [
      "desired below min",
      set({ capacity: { ...valid.capacity, blue: { min: 2, desired: 1, max: 4 } } }),
      "capacity.blue.desired: desired (1) must be >= min (2) (got 1)",
    ],
    [
      "desired above max",
      set({ capacity: { ...valid.capacity, green: { min: 0, desired: 5, max: 4 } } }),
      "capacity.green.desired: desired (5) must be <= max (4) (got 5)",
    ],
    [
      "no capacity at all",
      set({ capacity: { blue: { min: 0, desired: 0, max: 1 }, green: { min: 0, desired: 0, max: 1 } } }),
      "capacity: at least one color needs desired >= 1",
    ],
    [
      "a fractional capacity",
      set({ capacity: { ...valid.capacity, blue: { min: 1.5, desired: 2, max: 4 } } }),
      "capacity.blue.min: must be a whole number >= 0 (got 1.5)",
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
    ["a bad instance type", set({ instanceType: "large" }), 'instanceType: must be an EC2 instance type such as t3.micro (got "large")'],
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
      'deployment.defaultStrategy: must be one of all-at-once, half-at-a-time, one-at-a-time, or min-healthy=<N>% / min-healthy=<N> listed in deployment.minimumHealthyHosts (got "fast")',
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
      "config/dev.yaml: instanceTyp: unknown field; check the spelling against the configuration reference in README.md",
    ],
    ["a misspelt nested field", set({ loadBalancer: { deletionProtect: true } }), "loadBalancer.deletionProtect: unknown field"],
    [
      "deletion protection as a string",
      set({ loadBalancer: { deletionProtection: "yes" } }),
      'loadBalancer.deletionProtection: must be true or false (got "yes")',
    ],
  ])("rejects %s", (_what, data, message) => {
    const errors = errorsOf(data);
    expect(errors.some((e) => e.includes(message))).toBe(true);
    expect(errors.every((e) => e.startsWith("config/dev.yaml: "))).toBe(true);
  });

  it("reports every error of a file at once", () => {
    const errors = errorsOf({ ...valid, region: "x", instanceType: "y", capacity: { ...valid.capacity, blue: { min: 3, desired: 1, max: 2 } }, extra: 1 });
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

  it("names the valid environments when asked for an unknown one", () => {
    expect(() => loadEnvironment("staging")).toThrow("unknown environment 'staging': no config/staging.yaml; valid environments: dev, prod");
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
