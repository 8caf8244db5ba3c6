/**
 * `npm run ami` end to end, with a fake Packer (FakeRunner) and mocked SSM/STS
 * (aws-sdk-client-mock: the SDK's own request code, no network).
 */
import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { GetParametersCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadEnvironment } from "../../../../config/load";
import { HEALTH_CHECK } from "../../../../modules/names";
import { amiCommand, amiExitCode, formatAmiResult, type AmiDeps, type AmiOptions } from "../../../../scripts/lib/image/build";
import { CliError } from "../../../../scripts/lib/cli/errors";
import { PackerBuildError } from "../../../../scripts/lib/image/packer";
import { appendToManifest, DEFAULT_AMI, FakeRunner, removeTempDirs, tempConfigDir, tempDir, tempPackerDir } from "../../../helpers/fake-packer";

const ssmMock = mockClient(SSMClient);
const stsMock = mockClient(STSClient);
const ec2Mock = mockClient(EC2Client);
const configDir = tempConfigDir();
afterAll(removeTempDirs);

/** SSM holds these parameters (name → value, version 7); GetParameters answers the ones asked for. */
function givenParameters(values: Record<string, string>) {
  ssmMock.on(GetParametersCommand).callsFake((input: { Names: string[] }) => ({
    Parameters: input.Names.filter((n) => n in values).map((n) => ({ Name: n, Value: values[n], Version: 7 })),
    InvalidParameters: input.Names.filter((n) => !(n in values)),
  }));
  ssmMock.on(PutParameterCommand).resolves({ Version: 8 });
}

/** SSM as a deployed dev stack has it: `live` serving, both AMI parameters present. */
function givenDeployedStack(live: "blue" | "green" | null = "blue", existing: string[] = ["/webfleet/dev/ami/blue", "/webfleet/dev/ami/green"]) {
  givenParameters({ ...(live ? { "/webfleet/dev/live-color": live } : {}), ...Object.fromEntries(existing.map((n) => [n, "ami-0ffffffffffffffff"])) });
}

let runner: FakeRunner;
let packerDir: string;
let logged: string[];

function deps(overrides: Partial<AmiDeps> = {}): AmiDeps {
  return {
    runner,
    ssm: new SSMClient({ region: "us-east-1" }),
    sts: new STSClient({ region: "us-east-1" }),
    ec2: new EC2Client({ region: "us-east-1" }),
    log: (line) => logged.push(line),
    packerDir,
    repoRoot: "/repo",
    loadEnvironment: (name) => loadEnvironment(name, configDir),
    ...overrides,
  };
}

const options = (o: Partial<AmiOptions> = {}): AmiOptions => ({ env: "dev", publish: true, dryRun: false, ...o });

const DEFAULT_VPC = "vpc-0d0d0d0d0d0d0d0d0";

const puts = () => ssmMock.commandCalls(PutParameterCommand);

beforeEach(() => {
  ssmMock.reset();
  stsMock.reset();
  ec2Mock.reset();
  // The account has a default VPC, where a build without --subnet-id runs.
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: DEFAULT_VPC, IsDefault: true }] });
  stsMock.on(GetCallerIdentityCommand).resolves({ Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/dev" });
  runner = new FakeRunner();
  runner.build = { artifactId: `us-east-1:${DEFAULT_AMI}` };
  packerDir = tempPackerDir();
  logged = [];
});

describe("npm run ami", () => {
  it("builds the AMI and publishes its id to the idle color's parameter", async () => {
    // GIVEN blue serves traffic
    givenDeployedStack("blue");
    // WHEN the AMI is built
    const result = await amiCommand(deps(), options());
    // THEN the id goes to green, as a plain String parameter overwritten in place
    expect(puts()).toHaveLength(1);
    expect(puts()[0].args[0].input).toEqual({
      Name: "/webfleet/dev/ami/green",
      Value: DEFAULT_AMI,
      Type: "String",
      DataType: "text",
      Overwrite: true,
    });
    // AND the result says what was built and where it went
    expect(result).toMatchObject({
      environment: "dev",
      region: "us-east-1",
      architecture: "x86_64",
      dryRun: false,
      name: "webfleet-dev-al2023-x86_64-20250101-120000",
      amis: { "us-east-1": DEFAULT_AMI },
      sourceAmi: "ami-0aaaaaaaaaaaaaaaa",
      gitCommit: runner.gitHead,
      parameter: { name: "/webfleet/dev/ami/green", color: "green", region: "us-east-1", written: true, version: 8, previousValue: "ami-0ffffffffffffffff" },
    });
    expect(result.packerRunUuid).toMatch(/^run-/);
    expect(formatAmiResult(result).join("\n")).toContain("npm run deploy -- --env dev --skip-ami");
  });

  it("publishes to the color named with --color, even the live one", async () => {
    givenDeployedStack("blue");
    await amiCommand(deps(), options({ color: "blue" }));
    expect(puts()[0].args[0].input.Name).toBe("/webfleet/dev/ami/blue");
  });

  it("reads what the environment published once, before the build", async () => {
    givenDeployedStack("blue");
    await amiCommand(deps(), options());
    expect(ssmMock.commandCalls(GetParametersCommand)).toHaveLength(1);
  });

  it("runs init, validate and build in the packer folder, with the environment's variables", async () => {
    givenDeployedStack("green");
    runner.gitDirty = true;
    await amiCommand(deps(), options({ copyToRegions: [] }));
    const packerCalls = runner.callsOf("packer").filter((c) => c.args[0] !== "version");
    expect(packerCalls.map((c) => c.args[0])).toEqual(["init", "validate", "build"]);
    expect(packerCalls.every((c) => c.options.cwd === packerDir)).toBe(true);
    const build = packerCalls[2].args;
    expect(build).toEqual(
      expect.arrayContaining(["-machine-readable", "environment=dev", "region=us-east-1", "architecture=x86_64", `git_commit=${runner.gitHead}-dirty`]),
    );
  });

  it("streams the build's messages as progress while it runs", async () => {
    givenDeployedStack("blue");
    await amiCommand(deps(), options());
    expect(logged).toEqual(expect.arrayContaining(["  ==> webfleet.amazon-ebs.al2023: Provisioning with shell script: ./scripts/install-web.sh"]));
    expect(logged.some((l) => l.startsWith("packer build (dev, us-east-1, x86_64)"))).toBe(true);
  });

  it("builds an arm64 image in the environment's region when the environment is Graviton", async () => {
    givenParameters({});
    runner.build = { artifactId: `eu-west-1:${DEFAULT_AMI}` };
    const result = await amiCommand(deps(), options({ env: "graviton", publish: false }));
    expect(runner.callsOf("packer", "build")[0].args).toEqual(expect.arrayContaining(["architecture=arm64", "region=eu-west-1"]));
    expect(result.amis).toEqual({ "eu-west-1": DEFAULT_AMI });
  });

  it("with --no-publish builds and reports the AMI but touches no parameter", async () => {
    const result = await amiCommand(deps(), options({ publish: false }));
    expect(result.amis).toEqual({ "us-east-1": DEFAULT_AMI });
    expect(result.parameter).toBeNull();
    expect(ssmMock.calls()).toHaveLength(0);
    expect(formatAmiResult(result).join("\n")).toContain("not published (--no-publish)");
  });

  it("copies to more regions and publishes the build region's AMI", async () => {
    // GIVEN a build copied to eu-west-1
    givenDeployedStack("blue");
    runner.build = { artifactId: "eu-west-1:ami-0fedcba9876543210,us-east-1:ami-0123456789abcdef0" };
    // WHEN it runs with --copy-to
    const result = await amiCommand(deps(), options({ copyToRegions: ["eu-west-1"] }));
    // THEN the template gets the list, every region's AMI is reported, and the stack's region is published
    expect(runner.callsOf("packer", "build")[0].args).toContain('ami_regions=["eu-west-1"]');
    expect(result.amis).toEqual({ "eu-west-1": "ami-0fedcba9876543210", "us-east-1": "ami-0123456789abcdef0" });
    expect(puts()[0].args[0].input.Value).toBe("ami-0123456789abcdef0");
  });

  it("rejects a --copy-to value that is not a region before doing anything", async () => {
    await expect(amiCommand(deps(), options({ copyToRegions: ["europe"] }))).rejects.toThrow("--copy-to europe: must be an AWS region such as us-east-1");
    await expect(amiCommand(deps(), options({ copyToRegions: ["cn-north-1"] }))).rejects.toThrow("--copy-to cn-north-1: is in the aws-cn (China) partition");
    expect(runner.calls).toHaveLength(0);
  });

  it("takes this run's AMI from a manifest that holds earlier runs", async () => {
    // GIVEN a manifest with two earlier builds
    appendToManifest(join(packerDir, "manifest.json"), "old-1", "us-east-1:ami-01111111111111111");
    appendToManifest(join(packerDir, "manifest.json"), "old-2", "us-east-1:ami-02222222222222222");
    givenDeployedStack("blue");
    // WHEN a new build appends its run
    const result = await amiCommand(deps(), options());
    // THEN the new run's AMI is the one published
    expect(result.amis["us-east-1"]).toBe(DEFAULT_AMI);
    expect(puts()[0].args[0].input.Value).toBe(DEFAULT_AMI);
  });
});

describe("npm run ami refuses, before building, when", () => {
  it("the color's AMI is pinned in the environment file", async () => {
    givenParameters({});
    const run = amiCommand(deps(), options({ env: "pinned", color: "blue" }));
    await expect(run).rejects.toThrow(/ami.blue is pinned to ami-0bbbbbbbbbbbbbbbb in .*pinned.yaml/);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
    expect(puts()).toHaveLength(0);
  });

  it("the idle color is pinned", async () => {
    // GIVEN green is live in the pinned environment, so blue (pinned) is idle
    givenParameters({ "/webfleet/pinned/live-color": "green" });
    await expect(amiCommand(deps(), options({ env: "pinned" }))).rejects.toThrow(/pinned .*--color green/);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("the stack is not deployed: the color's parameter does not exist", async () => {
    givenDeployedStack("blue", ["/webfleet/dev/ami/blue"]);
    const run = amiCommand(deps(), options());
    await expect(run).rejects.toThrow(
      /\/webfleet\/dev\/ami\/green does not exist.*npm run deploy -- --env dev`: it builds the AMI and creates the parameters with it \(a bare `npx cdktf deploy` would start the fleets on stock Amazon Linux/,
    );
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("the live color cannot be read", async () => {
    givenDeployedStack(null);
    await expect(amiCommand(deps(), options())).rejects.toThrow(/\/webfleet\/dev\/live-color does not exist.*--color blue\|green/);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("packer is not on PATH", async () => {
    runner.paths.packer = undefined;
    await expect(amiCommand(deps(), options())).rejects.toThrow("packer not found on PATH: install Packer >= 1.10");
    expect(runner.callsOf("packer")).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it("packer is older than 1.10", async () => {
    runner.packerVersionOutput = "Packer v1.6.6\n";
    await expect(amiCommand(deps(), options())).rejects.toThrow(
      /packer 1\.6\.6 \(\/usr\/local\/bin\/packer\) is too old: the template uses required_plugins.*install Packer >= 1.10/,
    );
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("--session-manager is asked for without the Session Manager plugin", async () => {
    runner.paths["session-manager-plugin"] = undefined;
    await expect(amiCommand(deps(), options({ sessionManager: true }))).rejects.toThrow(
      "session-manager-plugin not found on PATH: install the Session Manager plugin",
    );
  });

  it("there are no AWS credentials", async () => {
    stsMock
      .on(GetCallerIdentityCommand)
      .rejects(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }));
    await expect(amiCommand(deps(), options())).rejects.toThrow(/no AWS credentials found: set AWS_PROFILE/);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("the environment is unknown", async () => {
    const run = amiCommand(deps(), options({ env: "nope" }));
    await expect(run).rejects.toThrow(ConfigError);
    await expect(amiCommand(deps(), options({ env: "nope" }))).rejects.toThrow(/unknown environment 'nope'.*valid environments: dev, graviton, pinned/);
  });
});

describe("npm run ami publishes nothing when the build", () => {
  beforeEach(() => givenDeployedStack("blue"));

  it("fails, and says why", async () => {
    // GIVEN packer build exits 1 after a provisioning script failed
    runner.build = {
      exitCode: 1,
      lines: [
        "1700000000,,ui,say,==> webfleet.amazon-ebs.al2023: Provisioning with shell script: ./scripts/install-web.sh",
        "1700000100,,ui,error,Build 'webfleet.amazon-ebs.al2023' errored after 2 minutes: Script exited with non-zero exit status: 1.Allowed exit codes are: [0]",
      ],
    };
    // WHEN the AMI command runs
    const run = amiCommand(deps(), options());
    // THEN it fails with Packer's error and publishes nothing
    await expect(run).rejects.toThrow(PackerBuildError);
    await expect(amiCommand(deps(), options())).rejects.toThrow(/packer build failed \(exit 1\): Build .* errored .*; nothing was published/);
    expect(puts()).toHaveLength(0);
  });

  it("exits 0 without adding a run to the manifest (the previous run's AMI is not taken)", async () => {
    appendToManifest(join(packerDir, "manifest.json"), "earlier", "us-east-1:ami-01111111111111111");
    runner.build = { exitCode: 0, lines: [] };
    await expect(amiCommand(deps(), options())).rejects.toThrow(/no entry from this build.*nothing was published/);
    expect(puts()).toHaveLength(0);
  });

  it("exits 0 without any manifest", async () => {
    runner.build = { exitCode: 0, lines: [] };
    await expect(amiCommand(deps(), options())).rejects.toThrow(/manifest.json was not written; nothing was published/);
    expect(existsSync(join(packerDir, "manifest.json"))).toBe(false);
    expect(puts()).toHaveLength(0);
  });

  it("is interrupted (Ctrl-C): Packer cleans up and the command exits 130", async () => {
    // GIVEN the user interrupts while the build runs, and Packer exits 1 after its cleanup
    const controller = new AbortController();
    runner.build = { exitCode: 1, lines: ["1700000000,,ui,error,Interrupt received. Cancelling build..."], during: () => controller.abort() };
    // WHEN the command runs with that signal
    const error = await amiCommand(deps({ signal: controller.signal }), options()).catch((e: unknown) => e);
    // THEN it reports the interruption, exits 130, and publishes nothing
    expect(error).toBeInstanceOf(PackerBuildError);
    expect((error as CliError).message).toMatch(/build interrupted.*nothing was published/);
    expect((error as CliError).exitCode).toBe(130);
    expect(puts()).toHaveLength(0);
  });

  it("reports an AMI other than the manifest's last run (another build wrote the manifest)", async () => {
    runner.build = { artifactId: `us-east-1:${DEFAULT_AMI}`, lines: ["1700000600,x,artifact,0,id,us-east-1:ami-09999999999999999"] };
    await expect(amiCommand(deps(), options())).rejects.toThrow(/is not what this build reported.*Nothing was published/);
    expect(puts()).toHaveLength(0);
  });

  it("made no AMI in the environment's region", async () => {
    runner.build = { artifactId: "eu-west-1:ami-0fedcba9876543210" };
    await expect(amiCommand(deps(), options())).rejects.toThrow(/no AMI in us-east-1/);
    expect(puts()).toHaveLength(0);
  });

  it.each([
    ["init", (r: FakeRunner) => (r.initExitCode = 1), /packer init failed \(exit 1\) \(it downloads the Amazon plugin/],
    ["validate", (r: FakeRunner) => (r.validateExitCode = 1), /packer validate failed \(exit 1\)/],
  ])("stops at a failed packer %s", async (_step, arrange, message) => {
    arrange(runner);
    await expect(amiCommand(deps(), options())).rejects.toThrow(message);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
    expect(puts()).toHaveLength(0);
  });
});

describe("npm run ami --dry-run", () => {
  it("prints the packer commands and the parameter it would write, and changes nothing", async () => {
    givenDeployedStack("blue");
    const result = await amiCommand(deps(), options({ dryRun: true }));
    // THEN packer only answered its version; nothing was built or written
    expect(runner.callsOf("packer").map((c) => c.args[0])).toEqual(["version"]);
    expect(puts()).toHaveLength(0);
    expect(result.plan?.problems).toEqual([]);
    expect(result.parameter).toEqual({ name: "/webfleet/dev/ami/green", color: "green", region: "us-east-1", written: false });
    const text = formatAmiResult(result).join("\n");
    expect(text).toContain(`cd ${packerDir}`);
    expect(text).toContain("/usr/local/bin/packer build -machine-readable -on-error=cleanup -var environment=dev -var region=us-east-1");
    expect(text).toContain("would publish the us-east-1 AMI id to /webfleet/dev/ami/green (green)");
  });

  it("lists what a real run would stop at instead of failing", async () => {
    // GIVEN an old packer and no credentials
    runner.packerVersionOutput = "Packer v1.6.6\n";
    stsMock.on(GetCallerIdentityCommand).rejects(Object.assign(new Error("no creds"), { name: "CredentialsProviderError" }));
    // WHEN it is a dry run
    const result = await amiCommand(deps(), options({ dryRun: true }));
    // THEN both problems are listed, the idle color stays unknown, and nothing ran
    expect(result.plan?.problems).toEqual([expect.stringMatching(/packer 1.6.6 .* too old/), expect.stringMatching(/no AWS credentials found/)]);
    expect(result.parameter?.name).toBe("/webfleet/dev/ami/<idle color>");
    expect(ssmMock.calls()).toHaveLength(0);
    expect(formatAmiResult(result).join("\n")).toContain("a real run would stop here:");
  });

  it("lists a pinned color once, even without credentials", async () => {
    stsMock.on(GetCallerIdentityCommand).rejects(Object.assign(new Error("no creds"), { name: "CredentialsProviderError" }));
    const result = await amiCommand(deps(), options({ env: "pinned", color: "blue", dryRun: true }));
    expect(result.plan?.problems.filter((p) => p.includes("is pinned"))).toHaveLength(1);
    expect(result.parameter).toMatchObject({ name: "/webfleet/pinned/ami/blue", color: "blue", written: false });
  });

  it("is JSON-serializable as --json prints it", async () => {
    givenDeployedStack("blue");
    const result = await amiCommand(deps(), options({ dryRun: true, publish: false }));
    expect(JSON.parse(JSON.stringify(result))).toMatchObject({ dryRun: true, amis: {}, parameter: null, plan: { commands: expect.any(Array) } });
  });
});

describe("the manifest after a real-looking run", () => {
  it("keeps every run, so the next build's last_run_uuid can be told apart", async () => {
    givenDeployedStack("blue");
    await amiCommand(deps(), options({ publish: false }));
    await amiCommand(deps(), options({ publish: false }));
    const manifest = JSON.parse(readFileSync(join(packerDir, "manifest.json"), "utf8"));
    expect(manifest.builds).toHaveLength(2);
    expect(manifest.last_run_uuid).toBe(manifest.builds[1].packer_run_uuid);
  });
});

describe("where the build instance runs", () => {
  const SUBNET = "subnet-0123456789abcdef0";
  const givenSubnet = (mapPublicIpOnLaunch = false) =>
    ec2Mock
      .on(DescribeSubnetsCommand)
      .resolves({ Subnets: [{ SubnetId: SUBNET, VpcId: "vpc-0a0a0a0a0a0a0a0a0", AvailabilityZone: "us-east-1b", MapPublicIpOnLaunch: mapPublicIpOnLaunch }] });
  const buildArgs = () => runner.callsOf("packer", "build")[0].args;

  beforeEach(() => givenDeployedStack("blue"));

  it("passes --subnet-id and --iam-instance-profile to Packer, after finding the subnet in the environment's region", async () => {
    givenSubnet();
    await amiCommand(deps(), options({ sessionManager: true, subnetId: SUBNET, iamInstanceProfile: "webfleet-dev-instance" }));
    expect(ec2Mock.commandCalls(DescribeSubnetsCommand).map((c) => c.args[0].input)).toEqual([{ SubnetIds: [SUBNET] }]);
    expect(buildArgs()).toEqual(expect.arrayContaining(["ssh_interface=session_manager", `subnet_id=${SUBNET}`, "iam_instance_profile=webfleet-dev-instance"]));
    // AND the log says how the instance is reached, and that the private subnet must reach SSM on its own
    expect(logged).toContain(
      `build instance: in ${SUBNET} (vpc-0a0a0a0a0a0a0a0a0, us-east-1b); the subnet gives no public address, so it must reach SSM through NAT or VPC endpoints, ` +
        "reached through Session Manager with instance profile webfleet-dev-instance (it needs AmazonSSMManagedInstanceCore)",
    );
  });

  it("without --subnet-id builds in the default VPC and passes no subnet (the template then asks for a public address)", async () => {
    await amiCommand(deps(), options({ sessionManager: true }));
    expect(ec2Mock.commandCalls(DescribeVpcsCommand)[0].args[0].input).toEqual({ Filters: [{ Name: "is-default", Values: ["true"] }] });
    expect(buildArgs().filter((a) => /^(subnet_id|iam_instance_profile)=/.test(a))).toEqual([]);
    expect(logged).toContain(
      `build instance: in a subnet of the default VPC ${DEFAULT_VPC}, with a public address, reached through Session Manager with a temporary instance profile ` +
        "that Packer creates and deletes (these credentials must be allowed to create IAM roles and pass them; or give --iam-instance-profile)",
    );
  });

  it("passes the health path the load balancer probes, from modules/names.ts", async () => {
    await amiCommand(deps(), options());
    expect(buildArgs()).toContain(`health_path=${HEALTH_CHECK.path}`);
  });

  test.each([
    ["a subnet id of the wrong form", { subnetId: "subnet-xyz" }, "--subnet-id 'subnet-xyz': must be a subnet id such as subnet-0123456789abcdef0"],
    ["a security group as subnet", { subnetId: "sg-0123456789abcdef0" }, "--subnet-id 'sg-0123456789abcdef0': must be a subnet id"],
    [
      "an instance profile's ARN",
      { iamInstanceProfile: "arn:aws:iam::123456789012:instance-profile/builders/webfleet-dev-instance" },
      "--iam-instance-profile 'arn:aws:iam::123456789012:instance-profile/builders/webfleet-dev-instance': must be the instance profile's name, not its ARN: --iam-instance-profile webfleet-dev-instance",
    ],
    [
      "an instance profile name with a space",
      { iamInstanceProfile: "web fleet" },
      "--iam-instance-profile 'web fleet': must be an instance profile name: 1-128 letters, digits and +=,.@_-",
    ],
  ])("refuses %s with one line (exit 2) before anything is built", async (_what, given, message) => {
    const error = await amiCommand(deps(), options(given)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toContain(message);
    expect((error as CliError).message).not.toContain("\n");
    expect((error as CliError).exitCode).toBe(2);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(puts()).toHaveLength(0);
  });

  it("refuses a subnet that is not in the environment's region", async () => {
    ec2Mock.on(DescribeSubnetsCommand).rejects(Object.assign(new Error(`The subnet ID '${SUBNET}' does not exist`), { name: "InvalidSubnetID.NotFound" }));
    await expect(amiCommand(deps(), options({ subnetId: SUBNET }))).rejects.toThrow(
      `--subnet-id '${SUBNET}': no such subnet in us-east-1, the environment's region, where the build runs`,
    );
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("refuses to build without --subnet-id where the region has no default VPC, and names the environment's subnets", async () => {
    // GIVEN an organisation's account: no default VPC, the environment in an existing VPC
    const orgConfig = tempDir("webfleet-config-");
    writeFileSync(
      join(orgConfig, "org.yaml"),
      [
        "region: us-east-1",
        "network: { mode: existing, vpcId: vpc-0123456789abcdef0, subnetIds: [subnet-0123456789abcdef0, subnet-0fedcba9876543210] }",
        "capacity: { live: { min: 2, desired: 2, max: 4 }, idle: { min: 0, desired: 0, max: 4 } }",
        "ami: { blue: { parameter: {} }, green: { parameter: {} } }",
      ].join("\n"),
    );
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    // WHEN the AMI is built through Session Manager without a subnet
    const run = amiCommand(
      deps({ loadEnvironment: (name) => loadEnvironment(name, orgConfig) }),
      options({ env: "org", publish: false, sessionManager: true }),
    );
    // THEN it is refused before Packer runs, with what to give instead
    await expect(run).rejects.toThrow(
      "no default VPC in us-east-1: without --subnet-id the build instance is launched there. Give --subnet-id with a subnet of us-east-1, " +
        "one whose instances reach SSM: public, or private with a NAT gateway or SSM VPC endpoints (the environment's subnets: subnet-0123456789abcdef0, subnet-0fedcba9876543210)",
    );
    expect(runner.callsOf("packer").map((c) => c.args[0])).toEqual(["version"]);
  });

  it("says which call IAM refused, since Packer would need it too", async () => {
    ec2Mock.on(DescribeVpcsCommand).rejects(Object.assign(new Error("You are not authorized to perform this operation."), { name: "UnauthorizedOperation" }));
    await expect(amiCommand(deps(), options())).rejects.toThrow(
      "could not call ec2:DescribeVpcs in us-east-1 (UnauthorizedOperation: You are not authorized to perform this operation.): the build makes the same call",
    );
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });
});

describe("npm run ami --dry-run, for the build's options and network", () => {
  beforeEach(() => givenDeployedStack("blue"));

  it("lists a malformed --subnet-id as a blocker, exits 2 and looks nothing up", async () => {
    const result = await amiCommand(deps(), options({ dryRun: true, subnetId: "subnet-xyz" }));
    expect(result.plan?.problems).toEqual([expect.stringContaining("--subnet-id 'subnet-xyz': must be a subnet id")]);
    expect(amiExitCode(result)).toBe(2);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("lists a region without default VPC as a blocker", async () => {
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    const result = await amiCommand(deps(), options({ dryRun: true }));
    expect(result.plan?.problems).toEqual([expect.stringMatching(/^no default VPC in us-east-1: .*Give --subnet-id/)]);
    expect(amiExitCode(result)).toBe(2);
  });

  it("shows the subnet and the instance profile in the packer command it would run", async () => {
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: "subnet-0123456789abcdef0", VpcId: "vpc-0a0a0a0a0a0a0a0a0" }] });
    const result = await amiCommand(deps(), options({ dryRun: true, subnetId: "subnet-0123456789abcdef0", iamInstanceProfile: "webfleet-dev-instance" }));
    expect(result.plan?.problems).toEqual([]);
    expect(result.plan?.commands.join("\n")).toContain("-var subnet_id=subnet-0123456789abcdef0 -var iam_instance_profile=webfleet-dev-instance");
  });

  it("without credentials says the network was not checked, and does not fail for it", async () => {
    stsMock.on(GetCallerIdentityCommand).rejects(Object.assign(new Error("no creds"), { name: "CredentialsProviderError" }));
    const result = await amiCommand(deps(), options({ dryRun: true }));
    expect(result.plan?.notChecked).toEqual([expect.stringContaining("where the build instance runs (--subnet-id, or the default VPC): it is read from AWS")]);
    expect(formatAmiResult(result).join("\n")).toContain(
      "not checked:\n  - where the build instance runs (--subnet-id, or the default VPC): it is read from AWS",
    );
    expect(result.plan?.problems).toEqual([expect.stringMatching(/no AWS credentials found/)]);
    expect(ec2Mock.calls()).toHaveLength(0);
  });
});
