/**
 * `npm run nightly`: the skip decision (same inputs → no build; each input changed → build),
 * and a built image promoted through the blue/green steps, under one lock for the whole night,
 * on the simulated account of the release tests plus a fake Packer and cdktf.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { DescribeImagesCommand, DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { loadEnvironment } from "../../../../config/load";
import { EXIT } from "../../../../scripts/lib/cli/errors";
import { diffPackages, packageListKey } from "../../../../scripts/lib/nightly/images";
import { releaseOf, sourceAmiParameter } from "../../../../scripts/lib/nightly/key";
import { formatNight, nightMarkdown, notify, runNightly, todaysKey, type NightlyDeps } from "../../../../scripts/lib/nightly/nightly";
import { variablesFor } from "../../../../scripts/lib/image/build";
import { LOCK_KEY } from "../../../../scripts/lib/release/lock";
import { STACK, removeRevisions } from "../../../helpers/aws-fakes";
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
  images: { ImageId: string; Name: string; CreationDate: string; Tags: { Key: string; Value: string }[] }[];
  sns: AwsClientStub<SNSClient>;
  logged: string[];
}

function night(o: { source?: typeof SOURCE } = {}): Night {
  const world = new TwinWorld();
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

function givenNewestImage(n: Night, key: string, id = "ami-0cccccccccccccccc") {
  n.images.push({
    ImageId: id,
    Name: "webfleet-dev-al2023-x86_64-20250101-000000",
    CreationDate: "2025-01-01T00:00:00.000Z",
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
    expect(report.next).toBe("to promote it: npm run release -- --env dev --strategy blue-green --same-revision (after the environment's approval)");
  });

  it("GIVEN the build fails THEN nothing is published or promoted, the lock is given back, and the night fails", async () => {
    const n = night();
    n.runner.build = { exitCode: 1, lines: ["1700000000,,ui,error,Build errored: boom"] };
    const report = await runNightly(n.deps, { env: "dev", force: true, dryRun: false });
    expect(report.rollout.exitCode).toBe(EXIT.failed);
    expect(report.rollout.result).toMatch(/^failed: packer build failed/);
    expect(n.world.ssm.params.get("/webfleet/dev/ami/green")).toBe("ami-0ffffffffffffffff");
    expect(n.world.weights).toEqual({ blue: 100, green: 0 });
    expect(n.world.bucket.objects.has(LOCK_KEY)).toBe(false);
  });

  it("GIVEN a release holds the lock THEN the night is refused, naming the holder, and builds nothing", async () => {
    const n = night();
    n.world.ssm.params.set("/webfleet/dev/lock/holder", JSON.stringify({ id: "x", user: "alice", host: "laptop", startedAt: "2025-05-01T09:00:00Z" }));
    await expect(runNightly(n.deps, { env: "dev", force: true, dryRun: false })).rejects.toThrow("the release lock of dev is held by alice on host laptop");
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

describe("what changed between two package lists", () => {
  it("names the upgraded, added and removed packages", () => {
    expect(diffPackages("a 1\nb 1\nc 1\n", "a 1\nb 2\nd 1\n")).toEqual({ added: ["d"], removed: ["c"], changed: [{ name: "b", from: "1", to: "2" }] });
  });
});
