/**
 * `npm run deploy`: the AMI handed to the stack, `cdktf deploy`, and the wait for the
 * instance refreshes it started — with a fake Packer/cdktf (FakeRunner), mocked SSM, STS
 * and Auto Scaling, and a fake clock.
 */
import { AutoScalingClient, DescribeInstanceRefreshesCommand, type InstanceRefresh } from "@aws-sdk/client-auto-scaling";
import { CodeDeployClient, GetDeploymentCommand } from "@aws-sdk/client-codedeploy";
import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { GetParametersCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadEnvironment } from "../../../../config/load";
import { deployCommand, formatDeployResult, idleColorNote, type DeployDeps, type DeployOptions } from "../../../../scripts/lib/deploy/deploy";
import { describeProgress, refreshesStartedByDeploy, waitForRefreshes, type WatchedRefresh } from "../../../../scripts/lib/deploy/instance-refresh";
import { STACK } from "../../../helpers/aws-fakes";
import { DEFAULT_AMI, FakeRunner, removeTempDirs, tempConfigDir, tempPackerDir, type FakeCall } from "../../../helpers/fake-packer";

const ssmMock = mockClient(SSMClient);
const stsMock = mockClient(STSClient);
const asMock = mockClient(AutoScalingClient);
const cdMock = mockClient(CodeDeployClient);
const ec2Mock = mockClient(EC2Client);
const configDir = tempConfigDir();
afterAll(removeTempDirs);

const T0 = Date.parse("2025-01-01T12:00:00Z");
const BLUE_ASG = "webfleet-dev-blue";
const GREEN_ASG = "webfleet-dev-green";

/** The AWS account as the mocks see it. */
interface World {
  params: Map<string, string>;
  /** Per group, newest first. */
  refreshes: Map<string, InstanceRefresh[]>;
  /** Per refresh id: the states its polls go through (the last one repeats). */
  progress: Map<string, InstanceRefresh[]>;
  /** What the next polls of a refresh throw, in order (null: answer); then `pollErrorForever`, if set. */
  pollErrors: Array<Error | null>;
  pollErrorForever?: Error;
  clock: number;
}

let world: World;
let runner: FakeRunner;
let logged: string[];
let cdktfPath: string;
/** green's AMI parameter as cdktf deploy saw it. */
let seenByCdktf: string | undefined;

function publishedStack(): string {
  expect([STACK.fleets.blue.autoScalingGroupName, STACK.fleets.green.autoScalingGroupName]).toEqual([BLUE_ASG, GREEN_ASG]);
  return JSON.stringify(STACK);
}

function givenDeployedStack(live: "blue" | "green") {
  world.params.set("/webfleet/dev/live-color", live);
  world.params.set("/webfleet/dev/ami/blue", "ami-0ffffffffffffffff");
  world.params.set("/webfleet/dev/ami/green", "ami-0ffffffffffffffff");
  world.params.set("/webfleet/dev/stack", publishedStack());
}

function refresh(id: string, status: InstanceRefresh["Status"], extra: Partial<InstanceRefresh> = {}): InstanceRefresh {
  return { InstanceRefreshId: id, Status: status, StartTime: new Date(world.clock), ...extra };
}

/** What the fake `cdktf deploy` does to the world: starts a refresh of `group` that goes through `states`. */
function deployStartsRefresh(group: string, id: string, states: Array<Partial<InstanceRefresh>>) {
  runner.cdktf = () => {
    seenByCdktf = world.params.get("/webfleet/dev/ami/green");
    world.params.set("/webfleet/dev/stack", publishedStack());
    const list = world.refreshes.get(group) ?? [];
    world.refreshes.set(group, [refresh(id, "Pending"), ...list]);
    world.progress.set(
      id,
      states.map((s) => refresh(id, s.Status ?? "InProgress", s)),
    );
    return 0;
  };
}

function deps(overrides: Partial<DeployDeps> = {}): DeployDeps {
  return {
    runner,
    ssm: new SSMClient({ region: "us-east-1" }),
    sts: new STSClient({ region: "us-east-1" }),
    ec2: new EC2Client({ region: "us-east-1" }),
    autoScaling: new AutoScalingClient({ region: "us-east-1" }),
    codedeploy: new CodeDeployClient({ region: "us-east-1" }),
    log: (line) => logged.push(line),
    packerDir: tempPackerDir(),
    repoRoot: "/repo",
    cdktf: cdktfPath,
    loadEnvironment: (name) => loadEnvironment(name, configDir),
    sleep: async (ms) => {
      world.clock += ms;
    },
    now: () => world.clock,
    ...overrides,
  };
}

const options = (o: Partial<DeployOptions> = {}): DeployOptions => ({ env: "dev", skipAmi: false, dryRun: false, autoApprove: false, pollSeconds: 10, ...o });

beforeEach(() => {
  world = { params: new Map(), refreshes: new Map(), progress: new Map(), pollErrors: [], clock: T0 };
  ssmMock.reset();
  stsMock.reset();
  asMock.reset();
  cdMock.reset();
  ec2Mock.reset();
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: "vpc-0d0d0d0d0d0d0d0d0", IsDefault: true }] });
  cdMock.on(GetDeploymentCommand).resolves({ deploymentInfo: { status: "InProgress" } });
  stsMock.on(GetCallerIdentityCommand).resolves({ Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/ci" });
  ssmMock.on(GetParametersCommand).callsFake(async (input: { Names: string[] }) => ({
    Parameters: input.Names.filter((n) => world.params.has(n)).map((n) => ({ Name: n, Value: world.params.get(n), Version: 1 })),
    InvalidParameters: input.Names.filter((n) => !world.params.has(n)),
  }));
  ssmMock.on(PutParameterCommand).callsFake(async (input: { Name: string; Value: string }) => {
    world.params.set(input.Name, input.Value);
    return { Version: 2 };
  });
  asMock.on(DescribeInstanceRefreshesCommand).callsFake(async (input: { AutoScalingGroupName: string; InstanceRefreshIds?: string[] }) => {
    const id = input.InstanceRefreshIds?.[0];
    if (id) {
      const error = world.pollErrors.length ? world.pollErrors.shift() : world.pollErrorForever;
      if (error) throw error;
      const states = world.progress.get(id) ?? [];
      const state = states.length > 1 ? states.shift()! : states[0];
      return { InstanceRefreshes: state ? [state] : [] };
    }
    return { InstanceRefreshes: world.refreshes.get(input.AutoScalingGroupName) ?? [] };
  });
  runner = new FakeRunner();
  runner.build = { artifactId: `us-east-1:${DEFAULT_AMI}` };
  const dir = tempPackerDir();
  cdktfPath = join(dir, "cdktf");
  writeFileSync(cdktfPath, "#!/bin/sh\n");
  logged = [];
});

const cdktfCalls = (): FakeCall[] => runner.callsOf("cdktf");

describe("npm run deploy on a deployed stack", () => {
  it("publishes the new AMI to the idle color, deploys, and waits for the refresh it started", async () => {
    // GIVEN blue is live, and green had an older refresh
    givenDeployedStack("blue");
    world.refreshes.set(GREEN_ASG, [refresh("old-refresh", "InProgress", { PercentageComplete: 10 })]);
    // AND the deploy starts a green refresh that goes 0% → 50% → 100%
    deployStartsRefresh(GREEN_ASG, "new-refresh", [
      { Status: "Pending" },
      { Status: "InProgress", PercentageComplete: 50, InstancesToUpdate: 1 },
      { Status: "InProgress", PercentageComplete: 50, InstancesToUpdate: 1 },
      { Status: "Successful", PercentageComplete: 100 },
    ]);
    // WHEN deploy runs
    const result = await deployCommand(deps(), options());
    // THEN green's parameter has the new AMI, before cdktf deploy ran
    expect(seenByCdktf).toBe(DEFAULT_AMI);
    expect(world.params.get("/webfleet/dev/ami/blue")).toBe("ami-0ffffffffffffffff");
    // AND cdktf deployed the environment's stack on this terminal, with no initial-AMI variables
    expect(cdktfCalls()).toHaveLength(1);
    expect(cdktfCalls()[0].args).toEqual(["deploy", "webfleet-dev"]);
    expect(cdktfCalls()[0].options).toMatchObject({ cwd: "/repo", stdio: "inherit", env: {} });
    // AND only the new refresh was followed, with its progress
    expect(result.refreshes).toEqual([
      expect.objectContaining({ label: "green", groupName: GREEN_ASG, refreshId: "new-refresh", status: "Successful", ok: true }),
    ]);
    expect(logged).toEqual(
      expect.arrayContaining([
        `green (${GREEN_ASG}): Pending`,
        `green (${GREEN_ASG}): InProgress 50% (1 instance to update)`,
        `green (${GREEN_ASG}): Successful 100%`,
      ]),
    );
    expect(logged.filter((l) => l.includes("InProgress 50%"))).toHaveLength(1);
    expect(result.ok).toBe(true);
    expect(result.ami).toMatchObject({ amiId: DEFAULT_AMI, initial: [] });
    // AND the summary says the live fleet still runs its previous AMI
    expect(formatDeployResult(result).join("\n")).toContain(
      `note: ${DEFAULT_AMI} went to green, the idle color; the live color blue still runs its previous AMI.`,
    );
    expect(formatDeployResult(result)).toContain("webfleet-dev deployed.");
  });

  it("refuses a live color that is neither blue nor green instead of treating the stack as new", async () => {
    givenDeployedStack("blue");
    world.params.set("/webfleet/dev/live-color", "purple");
    await expect(deployCommand(deps(), options())).rejects.toThrow("/webfleet/dev/live-color is 'purple', expected one of blue, green");
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
  });

  it("passes --auto-approve to cdktf when asked", async () => {
    givenDeployedStack("blue");
    await deployCommand(deps(), options({ autoApprove: true, skipAmi: true }));
    expect(cdktfCalls()[0].args).toEqual(["deploy", "webfleet-dev", "--auto-approve"]);
  });

  it("with --skip-ami builds nothing and needs no packer", async () => {
    givenDeployedStack("blue");
    runner.paths.packer = undefined;
    const result = await deployCommand(deps(), options({ skipAmi: true }));
    expect(runner.callsOf("packer")).toHaveLength(0);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(result.ami).toBeNull();
    expect(logged).toContain("no instance refresh started: the launch templates did not change, or their fleets have no instances");
    expect(result.ok).toBe(true);
  });

  it.each([
    ["fails", "Failed", { StatusReason: "Instances failed to pass health checks" }, /FAILED: green .*: Failed \(Instances failed to pass health checks\)/],
    ["is cancelled", "Cancelled", {}, /FAILED: green .*: Cancelled/],
    [
      "rolls back",
      "RollbackSuccessful",
      { RollbackDetails: { RollbackReason: "alarm webfleet-dev-5xx went to ALARM" } },
      /FAILED: green .*: RollbackSuccessful \(alarm webfleet-dev-5xx went to ALARM\)/,
    ],
    ["fails to roll back", "RollbackFailed", {}, /FAILED: green .*: RollbackFailed/],
  ] as const)("does not succeed when the refresh %s", async (_what, status, extra, line) => {
    givenDeployedStack("blue");
    deployStartsRefresh(GREEN_ASG, "r1", [
      { Status: "InProgress", PercentageComplete: 20 },
      { Status: status, ...extra },
    ]);
    const result = await deployCommand(deps(), options());
    expect(result.ok).toBe(false);
    expect(formatDeployResult(result).join("\n")).toMatch(line);
    expect(formatDeployResult(result).join("\n")).toContain("an instance refresh did not succeed");
  });

  it("stops waiting after the timeout and reports it as a failure", async () => {
    givenDeployedStack("blue");
    deployStartsRefresh(GREEN_ASG, "slow", [{ Status: "InProgress", PercentageComplete: 10 }]);
    const result = await deployCommand(deps(), options({ timeoutMinutes: 1 }));
    expect(result.refreshes[0]).toMatchObject({ status: "TimedOut", ok: false, reason: expect.stringContaining("still InProgress after 1 minutes") });
    expect(world.clock - T0).toBeGreaterThanOrEqual(60_000);
  });

  it("says what to do when cdktf deploy fails after the AMI was published", async () => {
    givenDeployedStack("blue");
    runner.cdktf = () => 1;
    await expect(deployCommand(deps(), options())).rejects.toThrow(
      /cdktf deploy webfleet-dev failed \(exit 1\); ami-0123456789abcdef0 is already in \/webfleet\/dev\/ami\/green, so the next `npm run deploy -- --env dev --skip-ami` rolls it out/,
    );
    expect(asMock.commandCalls(DescribeInstanceRefreshesCommand).every((c) => c.args[0].input.InstanceRefreshIds === undefined)).toBe(true);
  });

  it("does not build when the AMI build's prerequisites fail", async () => {
    givenDeployedStack("blue");
    runner.packerVersionOutput = "Packer v1.6.6\n";
    await expect(deployCommand(deps(), options())).rejects.toThrow(/packer 1.6.6 .* too old/);
    expect(cdktfCalls()).toHaveLength(0);
  });

  it("passes --subnet-id and --iam-instance-profile to the AMI build, after finding the subnet", async () => {
    givenDeployedStack("blue");
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: "subnet-0123456789abcdef0", VpcId: "vpc-0a0a0a0a0a0a0a0a0" }] });
    await deployCommand(deps(), options({ sessionManager: true, subnetId: "subnet-0123456789abcdef0", iamInstanceProfile: "webfleet-dev-instance" }));
    expect(ec2Mock.commandCalls(DescribeSubnetsCommand)).toHaveLength(1);
    expect(runner.callsOf("packer", "build")[0].args).toEqual(
      expect.arrayContaining(["ssh_interface=session_manager", "subnet_id=subnet-0123456789abcdef0", "iam_instance_profile=webfleet-dev-instance"]),
    );
  });

  it("refuses a malformed --subnet-id before building or deploying anything", async () => {
    givenDeployedStack("blue");
    await expect(deployCommand(deps(), options({ subnetId: "subnet-0123" }))).rejects.toThrow(
      "--subnet-id 'subnet-0123': must be a subnet id such as subnet-0123456789abcdef0",
    );
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
    expect(cdktfCalls()).toHaveLength(0);
  });

  it("refuses to build without --subnet-id where the region has no default VPC, and lists it in a dry run", async () => {
    givenDeployedStack("blue");
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    await expect(deployCommand(deps(), options())).rejects.toThrow(/^no default VPC in us-east-1: .*Give --subnet-id/);
    expect(cdktfCalls()).toHaveLength(0);
    const dry = await deployCommand(deps(), options({ dryRun: true }));
    expect(dry.problems).toEqual([expect.stringMatching(/^no default VPC in us-east-1/)]);
  });

  it("with --skip-ami looks up no build network", async () => {
    givenDeployedStack("blue");
    await deployCommand(deps(), options({ skipAmi: true, subnetId: "subnet-0123" }));
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it("publishes nothing and does not deploy when the AMI build fails", async () => {
    givenDeployedStack("blue");
    runner.build = { exitCode: 1, lines: ["1700000000,,ui,error,Build errored: boom"] };
    await expect(deployCommand(deps(), options())).rejects.toThrow(/packer build failed \(exit 1\): Build errored: boom; nothing was published/);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(cdktfCalls()).toHaveLength(0);
  });

  it("refuses to deploy while a release holds the environment's lock, before building anything", async () => {
    // GIVEN a release of dev is running (its holder mirrored to SSM, where deploy and the stack's plan look)
    givenDeployedStack("blue");
    world.params.set(
      "/webfleet/dev/lock/holder",
      JSON.stringify({ id: "l-1", user: "alice", host: "laptop", startedAt: new Date(T0 - 120_000).toISOString(), deploymentId: "d-ABC" }),
    );
    // WHEN deploy runs THEN it names the release and changes nothing
    await expect(deployCommand(deps(), options())).rejects.toThrow(
      /a release of dev is running \(alice on host laptop since .*, deployment d-ABC \(InProgress\)\): deploying now would replace instances.*--force-unlock`; nothing was changed/,
    );
    expect(runner.callsOf("packer").filter((c) => c.args[0] === "build")).toHaveLength(0);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(cdktfCalls()).toHaveLength(0);
  });

  it("lets the lock's own holder through (a nightly rollout), and hands its lock id to the stack's plan-time check", async () => {
    givenDeployedStack("blue");
    world.params.set(
      "/webfleet/dev/lock/holder",
      JSON.stringify({ id: "l-NIGHT", user: "nightly", host: "ci", startedAt: new Date(T0).toISOString(), purpose: "nightly" }),
    );
    const result = await deployCommand(deps(), options({ skipAmi: true, lockId: "l-NIGHT" }));
    expect(result.ok).toBe(true);
    expect(cdktfCalls()[0].options.env).toMatchObject({ CHECKPOINT_DISABLE: "1", TF_VAR_release_lock_id: "l-NIGHT" });
  });

  it("says the release lock looks stale, and how to remove it, when the deployment it records has ended", async () => {
    // GIVEN a release kept its lock for deployment d-ABC, which has since ended
    givenDeployedStack("blue");
    world.params.set(
      "/webfleet/dev/lock/holder",
      JSON.stringify({ id: "l-1", user: "alice", host: "laptop", startedAt: new Date(T0 - 3_600_000).toISOString(), deploymentId: "d-ABC", left: true }),
    );
    cdMock.on(GetDeploymentCommand, { deploymentId: "d-ABC" }).resolves({ deploymentInfo: { status: "Failed" } });
    // WHEN deploy runs THEN it says the lock looks stale (not that a release is running), how to remove it, and changes nothing
    const refused = deployCommand(deps(), options());
    await expect(refused).rejects.toThrow(
      /^the release lock of dev looks stale: held by alice on host laptop since .*, deployment d-ABC \(Failed\), which has ended .* Remove it, then deploy again: `npm run release -- --env dev --force-unlock`; nothing was changed$/,
    );
    await expect(refused).rejects.toMatchObject({ exitCode: 2 });
    expect(runner.callsOf("packer").filter((c) => c.args[0] === "build")).toHaveLength(0);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(cdktfCalls()).toHaveLength(0);
  });

  it("looks at the release lock again after the long AMI build", async () => {
    givenDeployedStack("blue");
    // GIVEN a release starts while the AMI is being built
    runner.build = {
      ...runner.build,
      during: () =>
        world.params.set("/webfleet/dev/lock/holder", JSON.stringify({ id: "l-2", user: "bob", host: "ci", startedAt: new Date(T0).toISOString() })),
    };
    // WHEN deploy runs THEN nothing is published (a later deploy would roll it out under the
    // release) and cdktf deploy does not run
    await expect(deployCommand(deps(), options())).rejects.toThrow(/a release of dev is running \(bob on host ci/);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(world.params.get("/webfleet/dev/ami/green")).toBe("ami-0ffffffffffffffff");
    expect(cdktfCalls()).toHaveLength(0);
  });

  it("asks for npm ci when the cdktf CLI is missing", async () => {
    givenDeployedStack("blue");
    await expect(deployCommand(deps({ cdktf: "/nonexistent/cdktf" }), options())).rejects.toThrow("cdktf CLI not found at /nonexistent/cdktf: run `npm ci`");
  });

  it("cannot follow refreshes when the stack publishes what this checkout does not expect", async () => {
    givenDeployedStack("blue");
    runner.cdktf = () => {
      world.params.set("/webfleet/dev/stack", JSON.stringify({ fleets: {} }));
      return 0;
    };
    await expect(deployCommand(deps(), options({ skipAmi: true }))).rejects.toThrow(
      /SSM \/webfleet\/dev\/stack is not what this checkout expects \(.*fleets\.blue.*\): run npx cdktf deploy webfleet-dev with this checkout/,
    );
  });
});

describe("where the new AMI runs", () => {
  it("is said plainly when it went to the idle color only", () => {
    expect(idleColorNote("dev", "ami-1", ["green"], "blue")).toBe(
      "note: ami-1 went to green, the idle color; the live color blue still runs its previous AMI. To roll the live fleet onto a new AMI now: npm run deploy -- --env dev --color blue",
    );
  });

  test.each([
    [["blue"], "blue"],
    [["blue", "green"], undefined],
  ] as const)("needs no note when %j got it (live: %s)", (colors, live) => {
    expect(idleColorNote("dev", "ami-1", colors, live)).toBeUndefined();
  });
});

describe("npm run deploy before the stack exists", () => {
  it("passes the new AMI as the initial value of every color's parameter", async () => {
    // GIVEN nothing deployed: no live color, no AMI parameters, no published stack
    // AND the deploy creates the stack (a new group's refreshes are told apart by start time)
    runner.cdktf = () => {
      world.params.set("/webfleet/dev/stack", publishedStack());
      world.refreshes.set(BLUE_ASG, [{ InstanceRefreshId: "before-deploy", Status: "Successful", StartTime: new Date(T0 - 3_600_000) }]);
      return 0;
    };
    // WHEN deploy runs
    const result = await deployCommand(deps(), options());
    // THEN no parameter was written behind Terraform's back; cdktf got the AMI for both colors
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(cdktfCalls()[0].options.env).toEqual({ CHECKPOINT_DISABLE: "1", WEBFLEET_INITIAL_AMI_BLUE: DEFAULT_AMI, WEBFLEET_INITIAL_AMI_GREEN: DEFAULT_AMI });
    expect(result.ami).toMatchObject({ amiId: DEFAULT_AMI, initial: ["blue", "green"], published: [] });
    // AND the old refresh of a group that had no snapshot is not waited for
    expect(result.refreshes).toEqual([]);
  });

  it("skips the pinned color", async () => {
    runner.cdktf = () => {
      world.params.set("/webfleet/pinned/stack", publishedStack());
      return 0;
    };
    await deployCommand(deps(), options({ env: "pinned" }));
    expect(cdktfCalls()[0].options.env).toEqual({ CHECKPOINT_DISABLE: "1", WEBFLEET_INITIAL_AMI_GREEN: DEFAULT_AMI });
  });
});

describe("npm run deploy --dry-run", () => {
  it("prints the build, the publish, the deploy and the wait, and changes nothing", async () => {
    givenDeployedStack("green");
    const result = await deployCommand(deps(), options({ dryRun: true }));
    const text = formatDeployResult(result).join("\n");
    expect(cdktfCalls()).toHaveLength(0);
    expect(runner.callsOf("packer", "build")).toHaveLength(0);
    expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
    expect(text).toContain("dry run: nothing is built, published or deployed.");
    expect(text).toContain("then publish its us-east-1 id to /webfleet/dev/ami/blue");
    expect(text).toContain("2. cdktf deploy webfleet-dev (asks before applying");
    expect(text).toContain(`3. wait for the instance refreshes the deploy starts (blue ${BLUE_ASG}, green ${GREEN_ASG})`);
    expect(result.problems).toEqual([]);
  });

  it("lists the problems a real run would stop at", async () => {
    runner.paths.terraform = undefined;
    const result = await deployCommand(deps({ cdktf: "/nonexistent/cdktf" }), options({ dryRun: true }));
    expect(result.problems).toEqual([expect.stringContaining("cdktf CLI not found"), expect.stringContaining("terraform not found on PATH")]);
    expect(formatDeployResult(result).join("\n")).toContain("then pass it as WEBFLEET_INITIAL_AMI_BLUE");
  });
});

describe("the refreshes a deploy started", () => {
  const at = (iso: string) => new Date(iso);
  const list: InstanceRefresh[] = [
    { InstanceRefreshId: "new", StartTime: at("2025-01-01T12:00:30Z"), Status: "Pending" },
    { InstanceRefreshId: "skewed", StartTime: at("2025-01-01T11:59:00Z"), Status: "Successful" },
    { InstanceRefreshId: "old", StartTime: at("2025-01-01T10:00:00Z"), Status: "Successful" },
  ];

  it("are those not in the snapshot taken before the deploy", () => {
    const found = refreshesStartedByDeploy(list, { knownIds: new Set(["skewed", "old"]), startedAt: at("2025-01-01T12:00:00Z") });
    expect(found.map((r) => r.InstanceRefreshId)).toEqual(["new"]);
  });

  it("are, for a group without snapshot, those started after the deploy began (allowing for clock skew)", () => {
    const found = refreshesStartedByDeploy(list, { startedAt: at("2025-01-01T12:00:00Z"), clockSkewMs: 120_000 });
    expect(found.map((r) => r.InstanceRefreshId)).toEqual(["new", "skewed"]);
  });
});

describe("a refresh's progress", () => {
  test.each([
    ["pending", { Status: "Pending" }, "Pending"],
    ["in progress", { Status: "InProgress", PercentageComplete: 40, InstancesToUpdate: 3 }, "InProgress 40% (3 instances to update)"],
    ["baking", { Status: "Baking", PercentageComplete: 100, InstancesToUpdate: 0 }, "Baking 100% (0 instances to update)"],
    ["failed", { Status: "Failed", PercentageComplete: 50, StatusReason: "health checks" }, "Failed 50%: health checks"],
    [
      "rolling back",
      { Status: "RollbackInProgress", RollbackDetails: { PercentageCompleteOnRollback: 30, RollbackReason: "alarm" } },
      "RollbackInProgress 30% of the rollback: alarm",
    ],
  ] as const)("reads when %s", (_what, r, text) => {
    expect(describeProgress(r as InstanceRefresh)).toBe(text);
  });

  it("is logged again after a quiet while, so a CI log shows the wait is alive", async () => {
    world.progress.set("r", [refresh("r", "InProgress", { PercentageComplete: 10 })]);
    const watched: WatchedRefresh[] = [{ label: "blue", groupName: BLUE_ASG, refreshId: "r" }];
    await waitForRefreshes(
      {
        autoScaling: new AutoScalingClient({ region: "us-east-1" }),
        log: (l) => logged.push(l),
        sleep: async (ms) => void (world.clock += ms),
        now: () => world.clock,
      },
      watched,
      { pollSeconds: 30, timeoutMinutes: 5, heartbeatSeconds: 120 },
    );
    // 5 minutes of polls every 30 s, the same state all along: a line at 0, 2 and 4 minutes
    expect(logged.filter((l) => l === `blue (${BLUE_ASG}): InProgress 10%`)).toHaveLength(3);
  });
});

/** An error as the SDK throws it once its own retries are spent. */
function awsError(name: string, message: string, status: number, throttling = false): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, ...(throttling ? { $retryable: { throttling: true } } : {}) });
}
const throttled = () => awsError("ThrottlingException", "Rate exceeded", 400, true);
const netDown = () => Object.assign(new Error("read ECONNRESET"), { name: "Error", code: "ECONNRESET" });

describe("waiting for a refresh through AWS errors the SDK gave up on", () => {
  const watched: WatchedRefresh[] = [{ label: "green", groupName: GREEN_ASG, refreshId: "r1" }];
  const wait = () =>
    waitForRefreshes(
      {
        autoScaling: new AutoScalingClient({ region: "us-east-1" }),
        log: (l) => logged.push(l),
        sleep: async (ms) => void (world.clock += ms),
        now: () => world.clock,
      },
      watched,
      { pollSeconds: 15, timeoutMinutes: 60 },
    );
  const polls = () => asMock.commandCalls(DescribeInstanceRefreshesCommand).length;

  it("GIVEN a few throttling and network errors in a row THEN it keeps polling, says so, and follows the refresh to its end", async () => {
    world.progress.set("r1", [refresh("r1", "InProgress", { PercentageComplete: 50 }), refresh("r1", "Successful", { PercentageComplete: 100 })]);
    world.pollErrors = [null, throttled(), throttled(), netDown()];
    const [outcome] = await wait();
    expect(outcome).toMatchObject({ status: "Successful", ok: true });
    expect(polls()).toBe(5);
    expect(logged).toEqual([
      `green (${GREEN_ASG}): InProgress 50%`,
      `green (${GREEN_ASG}): could not read the refresh (1 AWS error in a row, last: ThrottlingException (Rate exceeded)); looking again in 15 s`,
      `green (${GREEN_ASG}): could not read the refresh (2 AWS errors in a row, last: ThrottlingException (Rate exceeded)); looking again in 15 s`,
      `green (${GREEN_ASG}): could not read the refresh (3 AWS errors in a row, last: Error (read ECONNRESET)); looking again in 15 s`,
      `green (${GREEN_ASG}): Successful 100%`,
    ]);
  });

  it("GIVEN errors that come and go THEN only errors in a row count: nine, an answer, nine more, and it still follows the refresh", async () => {
    world.progress.set("r1", [
      refresh("r1", "InProgress", { PercentageComplete: 50 }),
      refresh("r1", "InProgress", { PercentageComplete: 70 }),
      refresh("r1", "Successful"),
    ]);
    world.pollErrors = [null, ...Array.from({ length: 9 }, throttled), null, ...Array.from({ length: 9 }, throttled)];
    const [outcome] = await wait();
    expect(outcome).toMatchObject({ status: "Successful", ok: true });
  });

  it("GIVEN throttling that never ends THEN after ten errors in a row it stops waiting, saying the refresh goes on in AWS and how to watch it", async () => {
    world.progress.set("r1", [refresh("r1", "InProgress", { PercentageComplete: 30 })]);
    world.pollErrors = [null];
    world.pollErrorForever = throttled();
    const [outcome] = await wait();
    expect(polls()).toBe(11);
    expect(outcome).toEqual({
      ...watched[0],
      status: "LostContact",
      percentage: 30,
      ok: false,
      reason:
        "stopped waiting: lost contact with Auto Scaling (10 AWS errors in a row, last: ThrottlingException (Rate exceeded)) while InProgress; the refresh goes on in AWS: " +
        `watch it with aws autoscaling describe-instance-refreshes --auto-scaling-group-name ${GREEN_ASG} --instance-refresh-ids r1 --region us-east-1 (or the EC2 console: Auto Scaling groups, ${GREEN_ASG}, Instance refresh)`,
    });
  });

  it("GIVEN an error that is not transient (access denied) THEN it is thrown at once: waiting would not change it", async () => {
    world.progress.set("r1", [refresh("r1", "InProgress")]);
    world.pollErrors = [awsError("AccessDenied", "User is not authorized to perform: autoscaling:DescribeInstanceRefreshes", 403)];
    await expect(wait()).rejects.toThrow("User is not authorized");
    expect(polls()).toBe(1);
  });

  it("GIVEN npm run deploy loses contact with Auto Scaling THEN its summary fails the refresh with how to watch it, and the deploy is not ok", async () => {
    givenDeployedStack("blue");
    deployStartsRefresh(GREEN_ASG, "r1", [{ Status: "InProgress", PercentageComplete: 20 }]);
    world.pollErrorForever = netDown();
    const result = await deployCommand(deps(), options());
    expect(result.ok).toBe(false);
    const summary = formatDeployResult(result).join("\n");
    expect(summary).toContain(`FAILED: green ${GREEN_ASG} instance refresh r1: LostContact (stopped waiting: lost contact with Auto Scaling`);
    expect(summary).toContain("the refresh goes on in AWS: watch it with aws autoscaling describe-instance-refreshes");
  });
});
