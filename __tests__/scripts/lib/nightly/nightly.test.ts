/**
 * `npm run nightly`: the skip decision (same inputs → no build; each input changed → build),
 * and a built image promoted through the blue/green steps, under one lock for the whole night,
 * on the simulated account of the release tests plus a fake Packer and cdktf.
 */
import { EventEmitter } from "node:events";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { DescribeInstanceRefreshesCommand, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeImagesCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { loadEnvironment } from "../../../../config/load";
import { CliError, EXIT } from "../../../../scripts/lib/cli/errors";
import { bakedImages, diffPackages, packageListKey } from "../../../../scripts/lib/nightly/images";
import { releaseOf, sourceAmiParameter } from "../../../../scripts/lib/nightly/key";
import {
  failedNight,
  formatNight,
  nightMarkdown,
  notify,
  publishNight,
  runNightly,
  todaysKey,
  type NightlyDeps,
} from "../../../../scripts/lib/nightly/nightly";
import { executeCommand } from "../../../../scripts/lib/cli/command";
import { command as nightlyCommand } from "../../../../scripts/nightly";
import { variablesFor } from "../../../../scripts/lib/image/build";
import { forceUnlockCommand, LOCK_KEY } from "../../../../scripts/lib/release/lock";
import { STACK, T0, removeRevisions } from "../../../helpers/aws-fakes";
import { DEFAULT_AMI, FakeRunner, removeTempDirs, tempConfigDir } from "../../../helpers/fake-packer";
import { TwinWorld } from "../../../helpers/twin-world";

afterAll(() => {
  removeTempDirs();
  removeRevisions();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const dirs: string[] = [];
const configDir = tempConfigDir();
const SOURCE = { id: "ami-0aaaaaaaaaaaaaaaa", name: "al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64" };
const NEWER = { id: "ami-0bbbbbbbbbbbbbbbb", name: "al2023-ami-2023.6.20250203.0-kernel-6.1-x86_64" };
const AGENT = JSON.stringify({ rpm: "releases/codedeploy-agent-1.7.1-110.noarch.rpm", deb: "releases/codedeploy-agent_1.7.1-110_all.deb" });

/** A copy of packer/ that a test may change. */
function packerCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "webfleet-nightly-packer-"));
  dirs.push(dir);
  cpSync(resolve(__dirname, "../../../../packer"), dir, { recursive: true });
  return dir;
}

interface Night {
  world: TwinWorld;
  runner: FakeRunner;
  deps: NightlyDeps;
  packerDir: string;
  images: { ImageId: string; Name: string; CreationDate: string; State: string; Tags: { Key: string; Value: string }[] }[];
  sns: AwsClientStub<SNSClient>;
  logged: string[];
}

function night(o: { source?: typeof SOURCE; size?: number } = {}): Night {
  const world = new TwinWorld({ size: o.size });
  const source = o.source ?? SOURCE;
  world.ssm.params.set(sourceAmiParameter("x86_64"), source.id);
  world.ssm.params.set("/webfleet/dev/ami/blue", "ami-0ffffffffffffffff");
  world.ssm.params.set("/webfleet/dev/ami/green", "ami-0ffffffffffffffff");
  world.bucket.objects.set("latest/VERSION", { body: AGENT, etag: '"agent"' });
  const images: Night["images"] = [];
  const ec2 = new EC2Client({ region: "us-east-1" });
  const ec2Mock = mockClient(ec2);
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: "vpc-1", IsDefault: true }] });
  ec2Mock.on(DescribeImagesCommand).callsFake((input: { ImageIds?: string[] }) => {
    if (input.ImageIds) return { Images: [SOURCE, NEWER].filter((s) => input.ImageIds!.includes(s.id)).map((s) => ({ ImageId: s.id, Name: s.name })) };
    return { Images: images };
  });
  const runner = new FakeRunner();
  const packerDir = packerCopy();
  runner.build = {
    artifactId: `us-east-1:${DEFAULT_AMI}`,
    during: () =>
      writeFileSync(join(packerDir, "packages.txt"), "httpd 2.4.62-1.amzn2023.x86_64\nopenssl 3.0.8-1.amzn2023.0.18.x86_64\nphp8.3 8.3.16-1.amzn2023.x86_64\n"),
  };
  const cdktf = join(packerDir, "cdktf");
  writeFileSync(cdktf, "#!/bin/sh\n");
  const sns = new SNSClient({ region: "us-east-1" });
  const snsMock = mockClient(sns);
  snsMock.on(PublishCommand).resolves({ MessageId: "m-1" });
  const logged: string[] = [];
  const deps: NightlyDeps = {
    deploy: {
      runner,
      ssm: world.deps.ssm,
      sts: world.deps.sts,
      autoScaling: world.deps.autoScaling,
      codedeploy: world.deps.codedeploy,
      ec2,
      log: (l) => logged.push(l),
      packerDir,
      repoRoot: "/repo",
      cdktf,
      loadEnvironment: (name) => loadEnvironment(name, configDir),
      sleep: (ms) => world.clock.sleep(ms),
      now: () => world.clock.now(),
    },
    release: world.deps,
    s3: world.deps.s3,
    sns,
    log: (l) => logged.push(l),
    now: () => world.clock.now(),
    whoami: { user: "nightly", host: "ci-runner" },
    newLockId: () => "lock-night",
    packerDir,
    repoRoot: "/repo",
  };
  return { world, runner, deps, packerDir, images, sns: snsMock, logged };
}

/** Today's key for the night as it stands (what the newest image would carry if nothing changed). */
async function keyOf(n: Night): Promise<string> {
  const env = loadEnvironment("dev", configDir);
  const vars = variablesFor(env, n.runner.gitHead, {});
  return (await todaysKey({ ssm: n.deps.deploy.ssm, ec2: n.deps.deploy.ec2, s3: n.deps.s3, packerDir: n.packerDir }, env, vars)).key;
}

function givenNewestImage(n: Night, key: string, id = "ami-0cccccccccccccccc", o: { created?: string; state?: string } = {}) {
  n.images.push({
    ImageId: id,
    Name: "webfleet-dev-al2023-x86_64-20250101-000000",
    CreationDate: o.created ?? "2025-01-01T00:00:00.000Z",
    State: o.state ?? "available",
    Tags: [
      { Key: "BuildKey", Value: key },
      { Key: "Al2023Release", Value: "2023.6.20250107.0" },
    ],
  });
}

const builds = (n: Night) => n.runner.callsOf("packer", "build");

describe("the skip decision", () => {
  it("GIVEN the newest image has tonight's key THEN the night is skipped in seconds: no build, no lock, nothing changed", async () => {
    const n = night();
    givenNewestImage(n, await keyOf(n));
    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: false });
    expect(report.decision).toBe("skipped");
    expect(builds(n)).toHaveLength(0);
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
    expect(report.rollout.exitCode).toBe(EXIT.ok);
  });

  it("GIVEN --force THEN it builds even so", async () => {
    const n = night();
    givenNewestImage(n, await keyOf(n));
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false, rollout: "none" });
    expect(report.decision).toBe("forced");
    expect(builds(n)).toHaveLength(1);
  });

  test.each<[string, (n: Night) => void]>([
    ["a newer AL2023 AMI", (n) => n.world.ssm.params.set(sourceAmiParameter("x86_64"), NEWER.id)],
    [
      "a change in packer/",
      (n) =>
        writeFileSync(join(n.packerDir, "scripts", "install-web.sh"), `${readFileSync(join(n.packerDir, "scripts", "install-web.sh"), "utf8")}\n# changed\n`),
    ],
    ["a new CodeDeploy agent", (n) => n.world.bucket.objects.set("latest/VERSION", { body: AGENT.replaceAll("1.7.1-110", "1.7.2-5"), etag: '"agent2"' })],
    [
      "another Amazon plugin version",
      (n) =>
        writeFileSync(join(n.packerDir, "webfleet.pkr.hcl"), readFileSync(join(n.packerDir, "webfleet.pkr.hcl"), "utf8").replace('"= 1.8.2"', '"= 1.8.3"')),
    ],
  ])("GIVEN %s THEN it builds", async (_what, change) => {
    const n = night();
    givenNewestImage(n, await keyOf(n));
    change(n);
    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "none" });
    expect(report.decision).toBe("built");
    expect(builds(n)).toHaveLength(1);
  });

  it("GIVEN other variables for the build (another subnet) THEN it builds; a new git commit alone does not", async () => {
    const n = night();
    givenNewestImage(n, await keyOf(n));
    n.runner.gitHead = "ffffffffffffffffffffffffffffffffffffffff";
    expect((await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "none" })).decision).toBe("skipped");
    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "none", subnetId: "subnet-0123456789abcdef0" });
    expect(report.decision).toBe("built");
  });

  it("reads the AL2023 release from the source AMI's name", () => {
    expect(releaseOf(SOURCE.name)).toBe("2023.6.20250107.0");
    expect(releaseOf("amzn2-ami-kernel-5.10-hvm-2.0.20250108.0-x86_64-gp2")).toBeUndefined();
  });
});

describe("a built image reaches production like a release", () => {
  it("GIVEN a change THEN it builds from the exact source AMI, tags the key, deploys the stack with its own lock id, and promotes by blue/green", async () => {
    const n = night({ source: NEWER });
    n.world.ssm.params.set(sourceAmiParameter("x86_64"), NEWER.id);
    givenNewestImage(n, "an-old-key", "ami-0eeeeeeeeeeeeeeee");
    n.world.bucket.objects.set(packageListKey("ami-0eeeeeeeeeeeeeeee"), {
      body: "httpd 2.4.62-1.amzn2023.x86_64\nopenssl 3.0.8-1.amzn2023.0.17.x86_64\nzlib 1.2.11-33.amzn2023.0.5.x86_64\n",
      etag: '"old"',
    });

    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, bakeSeconds: 60 });

    // The build: tonight's exact source AMI, its release and the key, as template variables.
    const build = builds(n)[0].args;
    expect(build).toEqual(expect.arrayContaining([`source_ami=${NEWER.id}`, "source_release=2023.6.20250203.0", `build_key=${report.key}`]));
    // The stack deploy passed the plan-time lock check with the night's lock id.
    expect(n.runner.callsOf("cdktf")[0].options.env).toMatchObject({ TF_VAR_release_lock_id: "lock-night", CHECKPOINT_DISABLE: "1" });
    // The image went to the idle color, then a blue/green release moved traffic there.
    expect(n.world.ssm.params.get("/webfleet/dev/ami/green")).toBe(DEFAULT_AMI);
    expect(n.world.weights).toEqual({ blue: 0, green: 100 });
    expect(n.world.desired).toEqual({ blue: 0, green: 4 });
    expect(n.world.violations).toEqual([]);
    // One lock for the whole night, given back at the end.
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
    // The report: packages compared with the previous image's list, kept with the new image.
    expect(report).toMatchObject({
      decision: "built",
      image: { id: DEFAULT_AMI, release: "2023.6.20250203.0", color: "green" },
      rollout: { kind: "blue-green", exitCode: 0 },
    });
    expect(report.packages).toEqual({
      added: ["php8.3"],
      removed: ["zlib"],
      changed: [{ name: "openssl", from: "3.0.8-1.amzn2023.0.17.x86_64", to: "3.0.8-1.amzn2023.0.18.x86_64" }],
    });
    expect(n.world.bucket.objects.get(packageListKey(DEFAULT_AMI))?.body).toContain("php8.3 8.3.16");
    const text = formatNight(report).join("\n");
    expect(text).toContain("packages: 1 upgraded, 1 added, 1 removed");
    expect(text).toContain("openssl 3.0.8-1.amzn2023.0.17.x86_64 → 3.0.8-1.amzn2023.0.18.x86_64");
    expect(nightMarkdown(report)).toContain("| new image | `ami-0123456789abcdef0` (AL2023 2023.6.20250203.0) on green |");
  });

  it("GIVEN --rollout none (an environment whose releases need a reviewer) THEN the image waits on the idle color and the report says how to promote it", async () => {
    const n = night();
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false, rollout: "none" });
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
    expect(n.world.ssm.params.get("/webfleet/dev/ami/green")).toBe(DEFAULT_AMI);
    expect(report.next).toBe(
      "to promote it: npm run nightly -- --env dev --rollout blue-green (after the environment's approval), or npm run release -- --env dev --strategy blue-green --same-revision",
    );
  });

  it("GIVEN the build fails THEN nothing is published or promoted, the lock is given back, and the night fails", async () => {
    const n = night();
    n.runner.build = { exitCode: 1, lines: ["1700000000,,ui,error,Build errored: boom"] };
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false });
    expect(report.rollout.exitCode).toBe(EXIT.failed);
    expect(report.rollout.result).toMatch(/^failed at build the image, publish it and deploy the stack: packer build failed/);
    expect(n.world.ssm.params.get("/webfleet/dev/ami/green")).toBe("ami-0ffffffffffffffff");
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
  });

  it("GIVEN a release holds the lock THEN the night is refused, naming the holder, and builds nothing", async () => {
    const n = night();
    n.world.ssm.params.set("/webfleet/dev/lock/holder", JSON.stringify({ id: "x", user: "alice", host: "laptop", startedAt: "2025-05-01T09:00:00Z" }));
    const failed = runNightly(n.deps, { env: "dev", force: true, dryRun: false });
    await expect(failed).rejects.toThrow("the release lock of dev is held by alice on host laptop");
    await expect(failed).rejects.toMatchObject({ step: "check the release lock", error: expect.any(CliError) });
    expect(builds(n)).toHaveLength(0);
  });

  it("GIVEN --dry-run THEN it says what it would do, builds and changes nothing", async () => {
    const n = night();
    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: true });
    expect(report.rollout.result).toBe(
      "would build, publish to green, deploy the stack and promote it with a blue/green release of the live revision onto green",
    );
    expect(builds(n)).toHaveLength(0);
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
  });

  it("sends the night's summary to the environment's SNS topic", async () => {
    const n = night();
    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: true });
    await notify(n.deps.sns, STACK.alarmTopicArn, { ...report, dryRun: false });
    expect(n.sns.commandCalls(PublishCommand)[0].args[0].input).toMatchObject({
      TopicArn: STACK.alarmTopicArn,
      Subject: expect.stringMatching(/^webfleet nightly dev: built, ok/),
    });
  });
});

/** The stack deploy (the fake cdktf) starts an instance refresh of `group`, which succeeds. */
function deployStartsRefresh(n: Night, group: string): void {
  let started = false;
  n.runner.cdktf = () => ((started = true), 0);
  const real = n.deps.deploy.autoScaling;
  const refresh = { InstanceRefreshId: "refresh-1", AutoScalingGroupName: group, Status: "Successful", PercentageComplete: 100, StartTime: new Date(T0) };
  const autoScaling = {
    send: (command: { input: { AutoScalingGroupName?: string } }) =>
      command instanceof DescribeInstanceRefreshesCommand && started && command.input.AutoScalingGroupName === group
        ? Promise.resolve({ InstanceRefreshes: [refresh] })
        : real.send(command as never),
  } as unknown as AutoScalingClient;
  n.deps = { ...n.deps, deploy: { ...n.deps.deploy, autoScaling } };
}

describe("an image an earlier night left on the idle color", () => {
  /** A `--rollout none` night (prod's): the image is built and waits on the idle color green. */
  async function afterNoneNight(): Promise<Night> {
    const n = night();
    const first = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "none" });
    expect(first).toMatchObject({ decision: "built", image: { id: DEFAULT_AMI, color: "green" } });
    // EC2 now lists it, with the key Packer tagged it with.
    givenNewestImage(n, first.key, DEFAULT_AMI, { created: "2025-01-02T00:00:00.000Z" });
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
    return n;
  }

  it("GIVEN a --rollout none night WHEN it runs again with --rollout blue-green THEN the build is skipped and the waiting image is promoted: it serves all traffic", async () => {
    const n = await afterNoneNight();
    const rerun = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "blue-green" });
    expect(builds(n)).toHaveLength(1);
    expect(rerun).toMatchObject({
      decision: "skipped",
      image: { id: DEFAULT_AMI, color: "green" },
      rollout: { kind: "blue-green", exitCode: EXIT.ok, result: `promoted: ${DEFAULT_AMI} serves all traffic on green` },
    });
    expect(n.world.weights).toEqual({ blue: 0, green: 100 });
    expect(n.world.ssm.params.get("/webfleet/dev/live-color")).toBe("green");
    expect(n.world.ssm.params.get("/webfleet/dev/ami/green")).toBe(DEFAULT_AMI);
    expect(n.world.violations).toEqual([]);
    // The same path as a built night: the stack deployed with the night's lock id, under one lock given back.
    expect(n.runner.callsOf("cdktf")).toHaveLength(2);
    expect(n.runner.callsOf("cdktf")[1].options.env).toMatchObject({ TF_VAR_release_lock_id: "lock-night" });
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
    expect(rerun.rollout.steps).toEqual(expect.arrayContaining([expect.stringMatching(/^at smoke-test: /), "done: green live"]));
    expect(formatNight(rerun)[0]).toMatch(/^nightly dev: skipped build, promoted in /);
    expect(nightMarkdown(rerun)).toContain("| decision | skipped build, promoted |");

    // The night after: the newest image is live, nothing to do.
    const after = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "blue-green" });
    expect(after.decision).toBe("skipped");
    expect(after.image).toBeUndefined();
    expect(after.next).toBeUndefined();
    expect(formatNight(after)[0]).toMatch(/^nightly dev: skipped, nothing changed in /);
    expect(n.runner.callsOf("cdktf")).toHaveLength(2);
  });

  it("GIVEN it runs again with --rollout none THEN nothing is promoted and the report says how", async () => {
    const n = await afterNoneNight();
    const rerun = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "none" });
    expect(rerun.image).toBeUndefined();
    expect(rerun.next).toBe(
      `the newest image ${DEFAULT_AMI} waits on the idle color green: promote it with npm run nightly -- --env dev --rollout blue-green (after the environment's approval)`,
    );
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
    expect(n.runner.callsOf("cdktf")).toHaveLength(1);
  });

  it("GIVEN --dry-run THEN it says it would promote the waiting image, and changes nothing", async () => {
    const n = await afterNoneNight();
    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: true, rollout: "blue-green" });
    expect(report.rollout.result).toBe(
      `would promote ${DEFAULT_AMI}, which waits on the idle color green: deploy the stack and promote it with a blue/green release of the live revision onto green`,
    );
    expect(formatNight(report)[0]).toMatch(/^nightly dev \(dry run\): skipped build, would promote/);
    expect(n.runner.callsOf("cdktf")).toHaveLength(1);
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
  });

  it("GIVEN --rollout refresh THEN the waiting image goes to the live color's parameter and the stack deploy's instance refresh replaces the live instances", async () => {
    const n = await afterNoneNight();
    deployStartsRefresh(n, STACK.fleets.blue.autoScalingGroupName);
    const rerun = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "refresh" });
    expect(builds(n)).toHaveLength(1);
    expect(n.world.ssm.params.get("/webfleet/dev/ami/blue")).toBe(DEFAULT_AMI);
    expect(rerun).toMatchObject({
      decision: "skipped",
      image: { id: DEFAULT_AMI, color: "blue" },
      rollout: {
        kind: "refresh",
        exitCode: EXIT.ok,
        result: `the live color blue's instances were replaced by instance refresh refresh-1 (Successful): they run ${DEFAULT_AMI}`,
      },
    });
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
  });
});

describe("--rollout refresh reports what the stack deploy did", () => {
  it("GIVEN the deploy started an instance refresh of the live color THEN the report names it", async () => {
    const n = night();
    deployStartsRefresh(n, STACK.fleets.blue.autoScalingGroupName);
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false, rollout: "refresh" });
    expect(n.world.ssm.params.get("/webfleet/dev/ami/blue")).toBe(DEFAULT_AMI);
    expect(report.rollout).toEqual({
      kind: "refresh",
      result: `the live color blue's instances were replaced by instance refresh refresh-1 (Successful): they run ${DEFAULT_AMI}`,
      exitCode: EXIT.ok,
    });
  });

  it("GIVEN the deploy started no instance refresh THEN the report does not claim a replacement: the live instances still run the previous image, and it says how to replace them", async () => {
    const n = night();
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false, rollout: "refresh" });
    expect(report.rollout.result).toBe(
      `${DEFAULT_AMI} is in the live color blue's launch template, but the stack deploy started no instance refresh: its 4 instances still run the previous image`,
    );
    expect(report.rollout.result).not.toMatch(/replaced/);
    expect(report.rollout.exitCode).toBe(EXIT.needsAttention);
    expect(report.next).toBe(
      "replace them (launch before terminate, as the stack's refresh does): aws autoscaling start-instance-refresh --auto-scaling-group-name webfleet-dev-blue " +
        `--preferences '{"MinHealthyPercentage":100,"MaxHealthyPercentage":200,"SkipMatching":true}' --region us-east-1`,
    );
  });

  it("GIVEN the live color has no instances THEN nothing needed replacing, and it says so", async () => {
    const n = night({ size: 0 });
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false, rollout: "refresh" });
    expect(report.rollout).toEqual({
      kind: "refresh",
      result: `${DEFAULT_AMI} is in the live color blue's launch template; no instance was replaced: webfleet-dev-blue has no instances (the ones it launches run ${DEFAULT_AMI})`,
      exitCode: EXIT.ok,
    });
  });
});

describe("what does not stop a night, and what does", () => {
  it("GIVEN the package list cannot be saved to S3 THEN it is a warning in the report and the image is still promoted", async () => {
    const n = night();
    n.world.bucket.mock
      .on(PutObjectCommand, { Key: packageListKey(DEFAULT_AMI) })
      .rejects(Object.assign(new Error("We encountered an internal error. Please try again."), { name: "InternalError" }));
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false, rollout: "blue-green" });
    expect(report.rollout).toMatchObject({ kind: "blue-green", exitCode: EXIT.ok });
    expect(n.world.weights).toEqual({ blue: 0, green: 100 });
    expect(report.warnings).toEqual([
      `the package list of ${DEFAULT_AMI} was not kept or compared (We encountered an internal error. Please try again.): this report cannot say which packages changed`,
    ]);
    expect(formatNight(report)).toContain(`  ! ${report.warnings![0]}`);
    expect(nightMarkdown(report)).toContain(`| warning | ${report.warnings![0]} |`);
  });

  test.each(["failed", "pending"])("GIVEN the newest image with tonight's key is %s THEN it does not count: the night builds", async (state) => {
    const n = night();
    const key = await keyOf(n);
    givenNewestImage(n, key, "ami-0dddddddddddddddd", { state });
    expect(await bakedImages(n.deps.deploy.ec2, "dev")).toEqual([]);
    const report = await runNightly(n.deps, { env: "dev", force: false, dryRun: false, rollout: "none" });
    expect(report.decision).toBe("built");
    expect(builds(n)).toHaveLength(1);
  });

  it("GIVEN the smoke test fails during the promotion THEN it rolls back, and the report names the step that failed and why", async () => {
    const n = night();
    n.world.http = () => ({ status: 500, body: "Internal Server Error" });
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false, rollout: "blue-green" });
    expect(report.rollout.exitCode).toBe(EXIT.failed);
    expect(report.rollout.result).toMatch(/^the promotion failed at smoke-test: 1 of 1 page failed on green: .+ \(exit 1\); rolled back at smoke-test: /);
    expect(report.rollout.result).not.toContain("see above");
    expect(report.rollout.steps).toEqual(expect.arrayContaining([expect.stringMatching(/^at smoke-test: /)]));
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
  });

  it("GIVEN the stack is not deployed THEN the night throws, naming the step", async () => {
    const n = night();
    n.world.ssm.params.delete("/webfleet/dev/stack");
    await expect(runNightly(n.deps, { env: "dev", force: false, dryRun: false })).rejects.toMatchObject({ step: "read the deployed stack" });
    expect(builds(n)).toHaveLength(0);
  });
});

describe("the report of a failed night", () => {
  const failed = () =>
    failedNight({
      environment: "dev",
      startedAtMs: T0,
      nowMs: T0 + 4000,
      dryRun: false,
      step: "check the release lock",
      error: new CliError("the release lock of dev is held by alice on host laptop | since 09:00"),
    });

  it("says the environment, the step, the error and the exit code", () => {
    const r = failed();
    expect(r).toEqual({
      environment: "dev",
      startedAt: new Date(T0).toISOString(),
      seconds: 4,
      dryRun: false,
      failed: { step: "check the release lock", error: "the release lock of dev is held by alice on host laptop | since 09:00", exitCode: EXIT.refused },
    });
    expect(formatNight(r)).toEqual([
      "nightly dev: FAILED at check the release lock (exit 2) after 4 s",
      "  error: the release lock of dev is held by alice on host laptop | since 09:00",
    ]);
    // An error nobody foresaw: the command's exit code for it, with the error's name.
    expect(failedNight({ ...r, startedAtMs: T0, nowMs: T0, step: "run the night", error: new TypeError("x is undefined") }).failed).toEqual({
      step: "run the night",
      error: "TypeError: x is undefined",
      exitCode: EXIT.needsAttention,
    });
  });

  it("goes to the job summary file and the SNS topic; neither failing to take it fails anything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "webfleet-summary-"));
    dirs.push(dir);
    const file = join(dir, "summary.md");
    const sns = new SNSClient({ region: "us-east-1" });
    const snsMock = mockClient(sns);
    snsMock.on(PublishCommand).resolves({ MessageId: "m-1" });
    const logged: string[] = [];
    await publishNight({ summaryFile: file, sns, topic: async () => STACK.alarmTopicArn, log: (l) => logged.push(l) }, failed());
    expect(readFileSync(file, "utf8")).toContain("| failed step | check the release lock |");
    expect(readFileSync(file, "utf8")).toContain("| error | the release lock of dev is held by alice on host laptop \\| since 09:00 |");
    expect(snsMock.commandCalls(PublishCommand)[0].args[0].input).toMatchObject({
      TopicArn: STACK.alarmTopicArn,
      Subject: "webfleet nightly dev: FAILED at check the release lock (exit 2)",
      Message: expect.stringContaining("error: the release lock of dev is held by alice"),
    });
    expect(logged).toEqual([]);

    snsMock.on(PublishCommand).rejects(Object.assign(new Error("User is not authorized to perform: SNS:Publish"), { name: "AuthorizationError" }));
    await publishNight({ sns, topic: async () => STACK.alarmTopicArn, log: (l) => logged.push(l) }, failed());
    await publishNight({ sns, topic: async () => undefined, log: (l) => logged.push(l) }, failed());
    await publishNight({ summaryFile: join(dir, "no-such-dir", "summary.md"), log: (l) => logged.push(l) }, failed());
    expect(logged).toEqual([
      "! the SNS summary was not sent: User is not authorized to perform: SNS:Publish",
      "! the SNS summary was not sent: the environment's topic is not known (its stack is not deployed)",
      expect.stringMatching(/^! the job summary was not written to .*no-such-dir.*: ENOENT/),
    ]);
  });

  it("GIVEN npm run nightly fails before anything is read (a broken environment file) THEN the report still reaches stdout and $GITHUB_STEP_SUMMARY, and it exits 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "webfleet-nightly-config-"));
    dirs.push(dir);
    writeFileSync(join(dir, "broken.yaml"), "region: [\n");
    const summary = join(dir, "summary.md");
    const out = { text: "", write: (s: string) => ((out.text += s), true) };
    const err = { text: "", write: (s: string) => ((err.text += s), true) };
    const saved = process.env.WEBFLEET_CONFIG_DIR;
    process.env.WEBFLEET_CONFIG_DIR = dir;
    try {
      const code = await executeCommand(nightlyCommand, ["--env", "broken"], {
        stdout: out,
        stderr: err,
        signals: new EventEmitter() as never,
        exit: () => undefined,
        env: { GITHUB_STEP_SUMMARY: summary },
      });
      expect(code).toBe(EXIT.refused);
    } finally {
      if (saved === undefined) delete process.env.WEBFLEET_CONFIG_DIR;
      else process.env.WEBFLEET_CONFIG_DIR = saved;
    }
    expect(out.text).toMatch(/^nightly broken: FAILED at read the environment file \(exit 2\) after \d+ s\n {2}error: .*broken\.yaml: not valid YAML/);
    expect(err.text).toMatch(/^error: .*broken\.yaml: not valid YAML/m);
    expect(existsSync(summary)).toBe(true);
    expect(readFileSync(summary, "utf8")).toMatch(
      /## Nightly AMI: broken[\s\S]*\| result \| \*\*failed\*\* \(exit 2\) \|[\s\S]*\| failed step \| read the environment file \|/,
    );
  });
});

describe("what changed between two package lists", () => {
  it("names the upgraded, added and removed packages", () => {
    expect(diffPackages("a 1\nb 1\nc 1\n", "a 1\nb 2\nd 1\n")).toEqual({ added: ["d"], removed: ["c"], changed: [{ name: "b", from: "1", to: "2" }] });
  });
});

describe("a promotion that leaves a deployment running", () => {
  it("GIVEN the release keeps the lock for a deployment it left running THEN the night does not give it back, needs attention, and says how to remove it after", async () => {
    const n = night();
    // The release as it ends when a deployment is left running (steps/deploy.ts): the lock kept for it.
    const deps: NightlyDeps = {
      ...n.deps,
      runRelease: async (_options, _env, releaseDeps) => {
        await releaseDeps.heldLock!.keep("d-LEFT");
        return EXIT.interrupted;
      },
    };
    const report = await runNightly(deps, { env: "dev", force: true, dryRun: false, rollout: "blue-green" });
    expect(report.rollout.exitCode).toBe(EXIT.needsAttention);
    expect(report.rollout.result).toContain("; the release lock is kept: deployment d-LEFT is still running");
    expect(report.next).toBe(`when deployment d-LEFT has ended: ${forceUnlockCommand("dev")}`);
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(true);
  });
});
