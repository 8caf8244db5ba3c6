/**
 * The release flow end to end, against aws-sdk-client-mock (the SDK's real request code, no
 * network), a fake clock (sleep only moves time) and the real appspec validator and bundler.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { S3Client, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeListenersCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import {
  CodeDeployClient,
  CodeDeployServiceException,
  CreateDeploymentCommand,
  DeploymentLimitExceededException,
  ListDeploymentTargetsCommand,
  StopDeploymentCommand,
  ThrottlingException,
} from "@aws-sdk/client-codedeploy";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeInstanceRefreshesCommand, type InstanceRefresh } from "@aws-sdk/client-auto-scaling";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { parseReleaseArgs } from "../../../../scripts/lib/release/options";
import { runRelease, type ReleaseDeps } from "../../../../scripts/lib/release/flow";
import { FakeInterrupts } from "../../../helpers/twin-world";
import { EXIT } from "../../../../scripts/lib/cli/errors";
import {
  FakeClock,
  FakeOutput,
  STACK,
  T0,
  events,
  fakeBucket,
  fakeParameterStore,
  type FakeObject,
  makeRevision,
  removeRevisions,
  scriptDeployments,
  skipped,
  type Frame,
} from "../../../helpers/aws-fakes";

afterAll(removeRevisions);

/** The lock object in the revision bucket, and its SSM mirror that the stack's plan and npm run deploy read. */
const LOCK = "webfleet/release-lock.json";
const MIRROR = "/webfleet/dev/lock/holder";
const ENV = { name: "dev", region: "us-east-1", customMinimumHealthyHosts: [{ type: "FLEET_PERCENT" as const, value: 75 }] };
const FAST = { intervalMs: 5_000, maxIntervalMs: 60_000, maxConsecutiveErrors: 5, rollbackAppearMs: 60_000 };

interface World {
  deps: ReleaseDeps;
  out: FakeOutput;
  clock: FakeClock;
  interrupts: FakeInterrupts;
  params: Map<string, string>;
  objects: Map<string, FakeObject>;
  ssmMock: AwsClientStub<SSMClient>;
  s3Mock: AwsClientStub<S3Client>;
  cdMock: AwsClientStub<CodeDeployClient>;
  stsMock: AwsClientStub<STSClient>;
  answers: (string | null)[];
  revisionDir: string;
}

function world(
  opts: {
    params?: Record<string, string | undefined>;
    lock?: object;
    inService?: number;
    uploaded?: boolean;
    interactive?: boolean;
    refreshes?: InstanceRefresh[];
  } = {},
): World {
  const initial: Record<string, string> = {
    "/webfleet/dev/stack": JSON.stringify(STACK),
    "/webfleet/dev/live-color": "blue",
    "/webfleet/dev/weight/blue": "100",
    "/webfleet/dev/weight/green": "0",
  };
  for (const [k, v] of Object.entries(opts.params ?? {})) {
    if (v === undefined) delete initial[k];
    else initial[k] = v;
  }
  const { client: ssm, mock: ssmMock, params } = fakeParameterStore(initial);
  const { client: s3, mock: s3Mock, objects } = fakeBucket(opts.lock ? { [LOCK]: JSON.stringify(opts.lock) } : {});
  if (opts.uploaded) s3Mock.on(HeadObjectCommand).resolves({ ETag: '"etag-old"' });
  const codedeploy = new CodeDeployClient({ region: "us-east-1" });
  const cdMock = mockClient(codedeploy);
  cdMock.on(CreateDeploymentCommand).resolves({ deploymentId: "d-1" });
  const autoScaling = new AutoScalingClient({ region: "us-east-1" });
  const n = opts.inService ?? 2;
  const asMock = mockClient(autoScaling);
  asMock.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: opts.refreshes ?? [] });
  // The groups as Terraform left them: blue with the live role's min/max, green with the idle role's, at 0.
  asMock.on(DescribeAutoScalingGroupsCommand).callsFake((input: { AutoScalingGroupNames: string[] }) => {
    const blue = input.AutoScalingGroupNames[0] === "webfleet-dev-blue";
    return {
      AutoScalingGroups: [
        {
          AutoScalingGroupName: input.AutoScalingGroupNames[0],
          DesiredCapacity: blue ? Math.max(n, 2) : 0,
          MinSize: blue ? 2 : 0,
          MaxSize: 4,
          DefaultCooldown: 300,
          AvailabilityZones: ["us-east-1a"],
          HealthCheckType: "ELB",
          CreatedTime: new Date(0),
          Instances: Array.from({ length: blue ? n : 0 }, (_, i) => ({
            InstanceId: `i-${i + 1}`,
            LifecycleState: "InService" as const,
            AvailabilityZone: "us-east-1a",
            HealthStatus: "Healthy",
            ProtectedFromScaleIn: false,
          })),
        },
      ],
    };
  });
  // The listener as Terraform created it: blue 100, green 0.
  const elb = new ElasticLoadBalancingV2Client({ region: "us-east-1" });
  const elbMock = mockClient(elb);
  elbMock.on(DescribeTargetHealthCommand).callsFake((input: { TargetGroupArn: string }) => ({
    TargetHealthDescriptions:
      input.TargetGroupArn === STACK.fleets.blue.targetGroupArn
        ? Array.from({ length: n }, (_, i) => ({ Target: { Id: `i-${i + 1}` }, TargetHealth: { State: "healthy" as const } }))
        : [],
  }));
  elbMock.on(DescribeListenersCommand).resolves({
    Listeners: [
      {
        ListenerArn: STACK.listenerArn,
        DefaultActions: [
          {
            Type: "forward",
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: STACK.fleets.blue.targetGroupArn, Weight: 100 },
                { TargetGroupArn: STACK.fleets.green.targetGroupArn, Weight: 0 },
              ],
            },
          },
        ],
      },
    ],
  });
  const sts = new STSClient({ region: "us-east-1" });
  const stsMock = mockClient(sts);
  stsMock.on(GetCallerIdentityCommand).resolves({ Arn: "arn:aws:sts::123456789012:assumed-role/dev/bob" });
  const out = new FakeOutput();
  const clock = new FakeClock();
  const interrupts = new FakeInterrupts();
  const answers: (string | null)[] = [];
  const deps: ReleaseDeps = {
    ssm,
    s3,
    codedeploy,
    autoScaling,
    sts,
    elb,
    cloudwatch: new CloudWatchClient({ region: "us-east-1" }),
    http: async () => ({ status: 200, body: "" }),
    clock,
    out,
    interrupts,
    prompt: opts.interactive ? { ask: async () => (answers.length ? answers.shift()! : null) } : undefined,
    whoami: { user: "bob", host: "laptop-9" },
    newLockId: () => "lock-bob",
    poll: FAST,
    bundle: { env: {}, gitSourceDate: async () => T0 / 1000 },
  };
  return { deps, out, clock, interrupts, params, objects, ssmMock, s3Mock, cdMock, stsMock, answers, revisionDir: makeRevision() };
}

function release(w: World, ...flags: string[]) {
  return runRelease(parseReleaseArgs(["--env", "dev", "--revision-dir", w.revisionDir, ...flags]), ENV, w.deps);
}

/** What config/dev.yaml says besides the minimum healthy hosts: its default strategy, known before AWS is reached. */
const ENV_WITH_DEFAULT = { ...ENV, defaultStrategy: "one-at-a-time" };

const running = (overview = { InProgress: 1, Pending: 1 }): Frame => ({
  status: "InProgress",
  overview,
  targets: [
    { id: "i-1", status: "InProgress", events: events(3, { status: "InProgress" }) },
    { id: "i-2", status: "Pending", events: events(0) },
  ],
});
const halfway: Frame = {
  status: "InProgress",
  overview: { Succeeded: 1, InProgress: 1 },
  targets: [
    { id: "i-1", status: "Succeeded", events: events(13) },
    { id: "i-2", status: "InProgress", events: events(7, { status: "InProgress" }) },
  ],
};
const succeeded: Frame = {
  status: "Succeeded",
  overview: { Succeeded: 2 },
  targets: [
    { id: "i-1", status: "Succeeded", events: events(13) },
    { id: "i-2", status: "Succeeded", events: events(13) },
  ],
};
const hookFailed = (rollback?: Frame["rollbackInfo"]): Frame => ({
  status: "Failed",
  overview: { Failed: 1, Skipped: 1 },
  errorInformation: { code: "HEALTH_CONSTRAINTS", message: "The overall deployment failed because too many individual instances failed deployment" },
  rollbackInfo: rollback,
  targets: [
    {
      id: "i-1",
      status: "Failed",
      events: events(7, {
        status: "Failed",
        diagnostics: {
          errorCode: "ScriptFailed",
          scriptName: "scripts/set_owner",
          message: "Script at specified location: scripts/set_owner run as user root failed with exit code 1",
          logTail: "[stderr]chown: invalid user: 'ec2-user'\n",
        },
      }),
    },
    { id: "i-2", status: "Skipped", events: skipped() },
  ],
});
const rolledBack: Frame[] = [running(), succeeded];
/** The release lock as the fake parameter store holds it. */
const lockOf = (w: World) => (w.objects.has(LOCK) ? (JSON.parse(w.objects.get(LOCK)!.body) as { id: string; deploymentId?: string }) : undefined);
const holdsLock = (w: World) => w.objects.has(LOCK) || w.params.has(MIRROR);
/** Bundles uploaded to the revision bucket (the lock object is written there too). */
const uploads = (w: World) => w.s3Mock.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Key?.startsWith("revisions/"));
const KEPT = "! kept the release lock of dev: deployment d-1 is still running";
const created: Frame = { status: "Created" };
const queued: Frame = { status: "Queued" };

describe("release to the live color, in place", () => {
  it("GIVEN a deployed dev with blue live WHEN released one-at-a-time THEN it uploads, deploys to blue with rollback on, shows progress, unlocks and exits 0", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [running(), halfway, succeeded] });

    expect(await release(w, "--strategy", "one-at-a-time")).toBe(EXIT.ok);

    const put = uploads(w);
    expect(put).toHaveLength(1);
    const key = put[0].args[0].input.Key!;
    expect(key).toMatch(/^revisions\/[0-9a-f]{64}\.tgz$/);
    expect(w.cdMock.commandCalls(CreateDeploymentCommand)[0].args[0].input).toEqual({
      applicationName: "webfleet-dev",
      deploymentGroupName: "webfleet-dev-blue",
      deploymentConfigName: "CodeDeployDefault.OneAtATime",
      revision: {
        revisionType: "S3",
        s3Location: { bucket: STACK.revisionBucket, key, bundleType: "tgz", eTag: w.objects.get(key)!.etag.replaceAll('"', "") },
      },
      description: expect.stringContaining("webfleet release one-at-a-time of s3://"),
      fileExistsBehavior: "DISALLOW",
      autoRollbackConfiguration: { enabled: true, events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"] },
    });
    expect(holdsLock(w)).toBe(false);
    const text = w.out.all;
    expect(text).toMatch(/revision: .* bundle of 4 files, .* files dated 2025-05-01T10:00:00Z \(git commit\)/);
    expect(text).toContain("estimate: 2 instances, 1 at a time → 2 batches");
    expect(text).toContain("i-1  ApplicationStop    … InProgress");
    expect(text).toContain("i-1  ✓ done");
    expect(text).toContain("i-2  AfterAllowTraffic  ✓ Succeeded");
    expect(text).toContain("✓ released: d-1 succeeded on blue (webfleet-dev-blue)");
  });

  it("GIVEN no --strategy THEN the stack's default strategy is used", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [succeeded] });
    await release(w);
    expect(w.cdMock.commandCalls(CreateDeploymentCommand)[0].args[0].input.deploymentConfigName).toBe("CodeDeployDefault.OneAtATime");
  });

  it("GIVEN the bundle is already in the bucket THEN nothing is uploaded and its ETag is used", async () => {
    const w = world({ uploaded: true, inService: 4 });
    scriptDeployments(w.cdMock, { "d-1": [succeeded] });
    expect(await release(w, "--strategy", "min-healthy=75%")).toBe(EXIT.ok);
    expect(uploads(w)).toHaveLength(0);
    const input = w.cdMock.commandCalls(CreateDeploymentCommand)[0].args[0].input;
    expect(input.revision?.s3Location?.eTag).toBe("etag-old");
    expect(input.deploymentConfigName).toBe("webfleet-dev-min-healthy-75-percent");
  });

  it("GIVEN a GitHub commit THEN the deployment uses it and nothing is bundled or uploaded", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [succeeded] });
    const sha = "0123456789abcdef0123456789abcdef01234567";
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--github", `acme/site@${sha}`]), ENV, w.deps)).toBe(EXIT.ok);
    expect(w.cdMock.commandCalls(CreateDeploymentCommand)[0].args[0].input.revision).toEqual({
      revisionType: "GitHub",
      gitHubLocation: { repository: "acme/site", commitId: sha },
    });
    expect(uploads(w)).toHaveLength(0);
  });

  it("GIVEN the appspec sets file_exists_behavior THEN the deployment follows it, and --file-exists-behavior with the same value is accepted", async () => {
    const w = world();
    w.revisionDir = makeRevision({
      "appspec.yml": "version: 0.0\nos: linux\nfile_exists_behavior: OVERWRITE\nfiles:\n  - source: index.html\n    destination: /var/www/html\n",
    });
    scriptDeployments(w.cdMock, { "d-1": [succeeded] });
    await release(w);
    await release(w, "--file-exists-behavior", "overwrite");
    const calls = w.cdMock.commandCalls(CreateDeploymentCommand).map((c) => c.args[0].input.fileExistsBehavior);
    expect(calls).toEqual(["OVERWRITE", "OVERWRITE"]);
  });

  it("GIVEN the appspec sets no file_exists_behavior THEN --file-exists-behavior decides", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [succeeded] });
    await release(w, "--file-exists-behavior", "retain");
    expect(w.cdMock.commandCalls(CreateDeploymentCommand)[0].args[0].input.fileExistsBehavior).toBe("RETAIN");
  });

  it("GIVEN the appspec sets OVERWRITE WHEN --file-exists-behavior retain THEN it is refused before AWS is called: the appspec's value would win silently", async () => {
    const w = world();
    w.revisionDir = makeRevision({
      "appspec.yml": "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /var/www/html\nfile_exists_behavior: OVERWRITE\n",
    });
    const refused = release(w, "--file-exists-behavior", "retain");
    await expect(refused).rejects.toThrow(
      /^--file-exists-behavior retain would be ignored: .*appspec\.yml:6 sets file_exists_behavior: OVERWRITE, and CodeDeploy lets the appspec's value win over the flag\. Drop the flag to release with OVERWRITE, or change file_exists_behavior in the appspec \(remove it to let the flag decide\); nothing was changed$/,
    );
    await expect(refused).rejects.toMatchObject({ exitCode: EXIT.refused });
    expect(w.stsMock.calls()).toHaveLength(0);
  });

  it("GIVEN a GitHub commit and --file-exists-behavior THEN it warns that the repository's appspec may override the flag, and passes the flag", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [succeeded] });
    const sha = "0123456789abcdef0123456789abcdef01234567";
    await runRelease(parseReleaseArgs(["--env", "dev", "--github", `acme/site@${sha}`, "--file-exists-behavior", "retain"]), ENV, w.deps);
    expect(w.out.all).toContain(
      "! --file-exists-behavior retain: if the repository's appspec.yml sets file_exists_behavior, CodeDeploy uses that instead of the flag",
    );
    expect(w.cdMock.commandCalls(CreateDeploymentCommand)[0].args[0].input.fileExistsBehavior).toBe("RETAIN");
  });
});

describe("a failed release", () => {
  it("GIVEN a hook fails THEN it names the instance, the hook, the script and the log tail, confirms the rollback and exits 1", async () => {
    const w = world();
    scriptDeployments(w.cdMock, {
      "d-1": [running(), hookFailed(), hookFailed({ rollbackDeploymentId: "d-RB", rollbackMessage: "Automatic rollback triggered" })],
      "d-RB": rolledBack,
    });

    expect(await release(w)).toBe(EXIT.failed);

    const text = w.out.all;
    expect(text).toContain("✗ deployment d-1 Failed (HEALTH_CONSTRAINTS): The overall deployment failed");
    expect(text).toContain("✗ i-1: AfterInstall failed in scripts/set_owner (ScriptFailed)");
    expect(text).toContain("    │ [stderr]chown: invalid user: 'ec2-user'");
    expect(text).toContain("rolling back: deployment d-RB");
    expect(text).toContain("✓ rolled back: d-RB succeeded; every instance runs the previous revision again");
    expect(holdsLock(w)).toBe(false);
  });

  it("GIVEN the deployment is still Created, then Queued, at the first polls THEN its targets are only listed once it runs, and a failed hook is still named with its instance, script and log tail", async () => {
    const w = world();
    scriptDeployments(w.cdMock, {
      "d-1": [created, queued, running(), hookFailed(), hookFailed({ rollbackDeploymentId: "d-RB" })],
      "d-RB": rolledBack,
    });

    expect(await release(w)).toBe(EXIT.failed);

    const text = w.out.all;
    expect(text).not.toContain("no progress per instance");
    expect(text).toContain("d-1: Created");
    expect(text).toContain("d-1: Queued");
    expect(text).toContain("i-1  ApplicationStop    … InProgress");
    expect(text).toContain("✗ i-1: AfterInstall failed in scripts/set_owner (ScriptFailed)");
    expect(text).toContain("  Script at specified location: scripts/set_owner run as user root failed with exit code 1");
    expect(text).toContain("    │ [stderr]chown: invalid user: 'ec2-user'");
    // The first ListDeploymentTargets of d-1 follows its third GetDeployment (the first InProgress one).
    const calls = w.cdMock.calls().map((c) => ({ command: c.args[0].constructor.name, id: (c.args[0].input as { deploymentId?: string }).deploymentId }));
    const gets = calls.flatMap((c, i) => (c.command === "GetDeploymentCommand" && c.id === "d-1" ? [i] : []));
    expect(calls.findIndex((c) => c.command === "ListDeploymentTargetsCommand" && c.id === "d-1")).toBeGreaterThan(gets[2]);
  });

  it("GIVEN CodeDeploy says DeploymentNotStarted when the targets are first listed THEN it keeps polling, shows progress per instance and names the failed hook", async () => {
    const w = world();
    scriptDeployments(w.cdMock, {
      "d-1": [{ ...running(), targetsNotStarted: true }, running(), hookFailed(), hookFailed({ rollbackDeploymentId: "d-RB" })],
      "d-RB": rolledBack,
    });

    expect(await release(w)).toBe(EXIT.failed);

    const text = w.out.all;
    expect(text).not.toContain("no progress per instance");
    expect(text).toContain("i-1  ApplicationStop    … InProgress");
    expect(text).toContain("✗ i-1: AfterInstall failed in scripts/set_owner (ScriptFailed)");
    expect(text).toContain("    │ [stderr]chown: invalid user: 'ec2-user'");
  });

  it("GIVEN the rollback is still Created at its first poll and then fails THEN its failed instance is named too, exit 3", async () => {
    const w = world();
    scriptDeployments(w.cdMock, {
      "d-1": [hookFailed({ rollbackDeploymentId: "d-RB" })],
      "d-RB": [created, running(), { ...hookFailed(), status: "Failed" }],
    });
    expect(await release(w)).toBe(EXIT.needsAttention);
    const text = w.out.all;
    expect(text).not.toContain("no progress per instance");
    const rollbackReport = text.slice(text.indexOf("rolling back: deployment d-RB"));
    expect(rollbackReport).toContain("✗ i-1: AfterInstall failed in scripts/set_owner (ScriptFailed)");
    expect(rollbackReport).toContain("✗ the rollback d-RB ended Failed");
  });

  it("GIVEN the rollback fails too THEN it says the fleet may be mixed and exits 3", async () => {
    const w = world();
    scriptDeployments(w.cdMock, {
      "d-1": [hookFailed({ rollbackDeploymentId: "d-RB" })],
      "d-RB": [running(), { ...hookFailed(), status: "Failed" }],
    });
    expect(await release(w)).toBe(EXIT.needsAttention);
    expect(w.out.all).toContain("✗ the rollback d-RB ended Failed: instances may run different revisions");
  });

  it("GIVEN the first deployment ever fails THEN it says CodeDeploy had nothing to roll back to and exits 3", async () => {
    const w = world();
    const message = "Automatic rollback not performed because no last successful deployment was found";
    scriptDeployments(w.cdMock, { "d-1": [hookFailed({ rollbackMessage: message })] });
    expect(await release(w)).toBe(EXIT.needsAttention);
    expect(w.out.all).toContain(`✗ no automatic rollback: ${message}`);
  });

  it("GIVEN CodeDeploy already has a deployment in progress on the group THEN it refuses, says how to find it, and unlocks", async () => {
    const w = world();
    w.cdMock.on(CreateDeploymentCommand).rejects(new DeploymentLimitExceededException({ message: "active deployment d-OTHER", $metadata: {} }));
    await expect(release(w)).rejects.toThrow("webfleet-dev-blue already has a deployment in progress");
    expect(holdsLock(w)).toBe(false);
  });
});

describe("timeouts", () => {
  it("GIVEN the deployment outlives --timeout-minutes THEN it is stopped with rollback, the rollback confirmed, exit 1", async () => {
    const w = world();
    const script = scriptDeployments(w.cdMock, { "d-1": [running()], "d-RB": rolledBack });
    w.cdMock.on(StopDeploymentCommand).callsFake(() => {
      script.replace("d-1", [{ status: "Stopped", rollbackInfo: { rollbackDeploymentId: "d-RB" } }]);
      return { status: "Pending", statusMessage: "Stop requested" };
    });

    expect(await release(w, "--timeout-minutes", "1", "--on-timeout", "rollback")).toBe(EXIT.failed);

    expect(w.cdMock.commandCalls(StopDeploymentCommand)[0].args[0].input).toEqual({ deploymentId: "d-1", autoRollbackEnabled: true });
    expect(w.clock.nowMs - Date.parse("2025-05-01T10:00:00Z")).toBeGreaterThanOrEqual(60_000);
    expect(w.out.all).toContain("timed out after 1 min: stopping d-1 and rolling back");
    expect(w.out.all).toContain("✓ rolled back: d-RB succeeded");
  });

  it("GIVEN --on-timeout leave THEN nothing is stopped, it prints how to watch and stop, keeps the lock for the running deployment, exit 3", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [running()] });
    expect(await release(w, "--timeout-minutes", "1", "--on-timeout", "leave")).toBe(EXIT.needsAttention);
    expect(w.cdMock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
    expect(w.out.all).toContain("aws deploy stop-deployment --region us-east-1 --deployment-id d-1 --auto-rollback-enabled");
    expect(lockOf(w)).toMatchObject({ id: "lock-bob", deploymentId: "d-1" });
    expect(w.out.all).toContain(KEPT);
  });

  it("GIVEN no --timeout-minutes THEN a slow deployment is followed to its end: CodeDeploy enforces the hooks' timeouts, not webfleet's guess", async () => {
    // GIVEN a healthy deployment that takes three hours
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [...Array(2000).fill(running()), succeeded] });
    // THEN it is never stopped, and the release succeeds
    expect(await release(w)).toBe(EXIT.ok);
    expect(w.cdMock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
    expect(w.clock.nowMs - T0).toBeGreaterThan(2 * 60 * 60 * 1000);
    expect(w.out.all).toContain("timeout: none of webfleet's own: CodeDeploy fails a hook at its timeout");
  });

  it("GIVEN --timeout-minutes without --on-timeout THEN it leaves the deployment running at the timeout (a slow one may be healthy), keeps the lock, exit 3", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": Array(100).fill(running()) });
    expect(await release(w, "--timeout-minutes", "1")).toBe(EXIT.needsAttention);
    expect(w.cdMock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
    expect(lockOf(w)).toMatchObject({ deploymentId: "d-1", left: true });
  });
});

describe("throttling", () => {
  const throttled = () => new ThrottlingException({ message: "Rate exceeded", $metadata: { httpStatusCode: 400 } });

  it("GIVEN CodeDeploy throttles the polling twice THEN the watcher backs off (5 → 10 → 20 s), then recovers and succeeds", async () => {
    const w = world();
    const script = scriptDeployments(w.cdMock, { "d-1": [running(), succeeded] });
    script.failNext("d-1", [throttled(), throttled()]);
    expect(await release(w)).toBe(EXIT.ok);
    expect(w.clock.sleeps.slice(0, 3)).toEqual([10_000, 20_000, 10_000]);
    expect(w.out.all).toContain("(GetDeployment: ThrottlingException; next poll in 10 s)");
  });

  it("GIVEN throttling never ends THEN it gives up watching (the deployment goes on), says how to follow it, and keeps the lock for it", async () => {
    const w = world();
    const script = scriptDeployments(w.cdMock, { "d-1": [running()] });
    script.failNext("d-1", Array.from({ length: 10 }, throttled));
    const result = release(w);
    await expect(result).rejects.toThrow("lost contact with CodeDeploy (5 GetDeployment errors in a row, last: ThrottlingException)");
    await expect(result).rejects.toMatchObject({ exitCode: EXIT.needsAttention });
    expect(Math.max(...w.clock.sleeps)).toBeLessThanOrEqual(60_000);
    expect(lockOf(w)).toMatchObject({ id: "lock-bob", deploymentId: "d-1" });
    expect(w.out.all).toContain(KEPT);
  });

  const denied = () =>
    new CodeDeployServiceException({ name: "AccessDeniedException", $fault: "client", $metadata: { httpStatusCode: 403 }, message: "denied" });

  it("GIVEN GetDeployment is denied THEN it is not retried: it says the deployment goes on and how to follow it, keeps the lock, exit 3", async () => {
    const w = world();
    const script = scriptDeployments(w.cdMock, { "d-1": [running()] });
    script.failNext("d-1", [denied()]);
    const result = release(w);
    await expect(result).rejects.toThrow("cannot watch d-1 (AccessDeniedException: denied); it goes on without us.");
    await expect(result).rejects.toMatchObject({ exitCode: EXIT.needsAttention });
    expect(w.clock.sleeps).toHaveLength(0);
    expect(lockOf(w)).toMatchObject({ id: "lock-bob", deploymentId: "d-1" });
  });

  it("GIVEN listing the targets is denied THEN it watches with counts only and still succeeds", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [running(), succeeded] });
    w.cdMock.on(ListDeploymentTargetsCommand).rejects(denied());
    expect(await release(w)).toBe(EXIT.ok);
    expect(w.out.all).toContain("(no progress per instance: AccessDeniedException: denied; showing counts only)");
    expect(w.out.all).toContain("instances: 2 succeeded");
  });
});

describe("Ctrl-C", () => {
  it("GIVEN no terminal (CI) THEN the deployment is left running, the way to stop it printed, the lock kept for it, exit 130", async () => {
    const w = world();
    scriptDeployments(w.cdMock, { "d-1": [running()] });
    w.clock.onSleep = (n) => n === 1 && w.interrupts.queue.push("SIGINT");
    expect(await release(w)).toBe(EXIT.interrupted);
    expect(w.cdMock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
    expect(w.out.all).toContain("Deployment d-1 is still running");
    expect(lockOf(w)).toMatchObject({ id: "lock-bob", deploymentId: "d-1" });
    expect(w.out.all).toContain(`${KEPT}, and npm run deploy (an instance refresh) or another release must not start under it.`);
    expect(w.out.all).toContain("Remove it then: npm run release -- --env dev --force-unlock");
  });

  it("GIVEN a release left d-1 running THEN the next release is refused while d-1 runs, told the lock is stale once it has ended, and --force-unlock clears the way", async () => {
    const w = world();
    const script = scriptDeployments(w.cdMock, { "d-1": [running()] });
    w.clock.onSleep = (n) => n === 1 && w.interrupts.queue.push("SIGINT");
    expect(await release(w)).toBe(EXIT.interrupted);
    w.clock.onSleep = undefined;

    // WHEN another release starts while d-1 runs THEN it is refused, naming the deployment to wait for
    await expect(release(w)).rejects.toThrow(/another release of dev is running: bob .* deployment d-1 \(InProgress\)\.\nWait for deployment d-1 to end/);

    // WHEN d-1 has ended THEN the refusal says the lock looks stale and how to remove it
    script.replace("d-1", [succeeded]);
    const stale = release(w);
    await expect(stale).rejects.toThrow("the release lock of dev looks stale: held by bob");
    await expect(stale).rejects.toThrow("deployment d-1 (Succeeded), which has ended");
    await expect(stale).rejects.toThrow("Remove it, then run again: npm run release -- --env dev --force-unlock");

    // WHEN --force-unlock runs THEN the lock is gone and the next release goes ahead
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--force-unlock"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(holdsLock(w)).toBe(false);
    w.cdMock.on(CreateDeploymentCommand).resolves({ deploymentId: "d-2" });
    script.replace("d-2", [succeeded]);
    expect(await release(w)).toBe(EXIT.ok);
    expect(holdsLock(w)).toBe(false);
  });

  it("GIVEN StopDeployment fails THEN the deployment may still run: the lock is kept", async () => {
    const w = world({ interactive: true });
    scriptDeployments(w.cdMock, { "d-1": [running()] });
    w.cdMock
      .on(StopDeploymentCommand)
      .rejects(new CodeDeployServiceException({ name: "AccessDeniedException", $fault: "client", $metadata: { httpStatusCode: 403 }, message: "denied" }));
    w.answers.push("s");
    w.clock.onSleep = (n) => n === 1 && w.interrupts.queue.push("SIGINT");
    await expect(release(w)).rejects.toThrow("denied");
    expect(lockOf(w)).toMatchObject({ id: "lock-bob", deploymentId: "d-1" });
  });

  it("GIVEN a terminal and the answer s THEN the deployment is stopped with rollback and the rollback confirmed, exit 1", async () => {
    const w = world({ interactive: true });
    const script = scriptDeployments(w.cdMock, { "d-1": [running()], "d-RB": rolledBack });
    w.cdMock.on(StopDeploymentCommand).callsFake(() => {
      script.replace("d-1", [{ status: "Stopped", rollbackInfo: { rollbackDeploymentId: "d-RB" } }]);
      return { status: "Pending" };
    });
    w.answers.push("s");
    w.clock.onSleep = (n) => n === 1 && w.interrupts.queue.push("SIGINT");
    expect(await release(w)).toBe(EXIT.failed);
    expect(w.out.all).toContain("stopped at your request: stopping d-1 and rolling back");
  });

  it("GIVEN a terminal and Enter THEN it keeps watching to the end", async () => {
    const w = world({ interactive: true });
    scriptDeployments(w.cdMock, { "d-1": [running(), running(), halfway, succeeded] });
    w.answers.push("");
    w.clock.onSleep = (n) => n === 1 && w.interrupts.queue.push("SIGINT");
    expect(await release(w)).toBe(EXIT.ok);
    expect(w.cdMock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
  });

  it("GIVEN Ctrl-C while the rollback runs THEN the rollback is never stopped", async () => {
    const w = world({ interactive: true });
    scriptDeployments(w.cdMock, { "d-1": [hookFailed({ rollbackDeploymentId: "d-RB" })], "d-RB": [running()] });
    w.answers.push("s");
    w.clock.onSleep = (n) => n === 1 && w.interrupts.queue.push("SIGINT");
    expect(await release(w)).toBe(EXIT.interrupted);
    expect(w.cdMock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
    expect(w.out.all).toContain("Deployment d-RB is still running");
    expect(lockOf(w)).toMatchObject({ id: "lock-bob", deploymentId: "d-RB" });
    expect(w.out.all).toContain("! kept the release lock of dev: deployment d-RB is still running");
  });

  it("GIVEN Ctrl-C before the deployment was created THEN nothing is deployed and the lock is released", async () => {
    const w = world();
    w.interrupts.queue.push("SIGINT");
    await expect(release(w)).rejects.toThrow("interrupted before the release started: nothing was deployed");
    expect(w.cdMock.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
    expect(holdsLock(w)).toBe(false);
  });
});

describe("refusals change nothing", () => {
  const changed = (w: World) => ({
    lock: w.s3Mock.commandCalls(PutObjectCommand).length - uploads(w).length,
    uploads: uploads(w).length,
    deployments: w.cdMock.commandCalls(CreateDeploymentCommand).length,
  });
  const nothing = { lock: 0, uploads: 0, deployments: 0 };

  it("GIVEN --dry-run THEN it prints the plan and the estimate, takes no lock and changes nothing", async () => {
    const w = world({ inService: 4 });
    expect(await release(w, "--dry-run", "--strategy", "half-at-a-time")).toBe(EXIT.ok);
    expect(changed(w)).toEqual(nothing);
    expect(w.out.all).toContain("1. deploy: blue (live) — webfleet-dev-blue with CodeDeployDefault.HalfAtATime, 2 of 4 at a time");
    expect(w.out.all).toContain("estimate: 4 instances, 2 at a time → 2 batches");
    expect(w.out.all).toContain("typical ≈ 2 min 45 s · worst case ≈ 4 min 35 s");
    expect(w.out.all).toMatch(/upload: s3:\/\/webfleet-dev-revisions-123456789012\/revisions\/[0-9a-f]{64}\.tgz \(would upload\)/);
    expect(w.out.all).toContain("dry run: nothing changed");
  });

  it("GIVEN another release holds the lock THEN it is refused, naming the holder, before any upload", async () => {
    const w = world({ lock: { id: "x", user: "alice", host: "laptop-7", startedAt: "2025-05-01T09:55:00.000Z" } });
    await expect(release(w)).rejects.toThrow("another release of dev is running: alice on host laptop-7 since 2025-05-01T09:55:00.000Z (5 min ago)");
    expect(changed(w)).toEqual({ ...nothing, lock: 1 });
    expect(lockOf(w)).toMatchObject({ id: "x", user: "alice" });
  });

  it("GIVEN the stack is not deployed THEN it says so and how to deploy it", async () => {
    const w = world({ params: { "/webfleet/dev/stack": undefined } });
    await expect(release(w)).rejects.toThrow(
      "webfleet-dev is not deployed (SSM /webfleet/dev/stack not found): run npm run deploy -- --env dev (it bakes the web AMI first)",
    );
    expect(changed(w)).toEqual(nothing);
  });

  it("GIVEN an invalid appspec THEN the validator's problems are shown and AWS is not even called", async () => {
    const w = world();
    w.revisionDir = makeRevision({ "appspec.yml": "version: 0.0\nos: linux\nhooks:\n  AfterInstal:\n    - location: scripts/set_owner\n" });
    await expect(release(w)).rejects.toThrow(
      /is not valid; nothing was changed:\n.*appspec.yml:4: hooks.AfterInstal: unknown lifecycle event \(did you mean AfterInstall\?\)/,
    );
    expect(w.stsMock.calls()).toHaveLength(0);
  });

  it("GIVEN a hook script that lost its executable bit THEN the validator refuses before anything else", async () => {
    const w = world();
    rmSync(join(w.revisionDir, "scripts/set_owner"));
    await expect(release(w)).rejects.toThrow(/scripts\/set_owner is not in the revision/);
    expect(w.stsMock.calls()).toHaveLength(0);
  });

  test.each`
    strategy             | message
    ${"bogus"}           | ${"--strategy 'bogus' is not a strategy; valid for dev: all-at-once, half-at-a-time, one-at-a-time, min-healthy=75%"}
    ${"min-healthy=50%"} | ${"--strategy 'min-healthy=50%': dev creates no deployment config for it"}
  `("GIVEN --strategy $strategy THEN it is refused before AWS is called", async ({ strategy, message }) => {
    const w = world();
    await expect(release(w, "--strategy", strategy)).rejects.toThrow(message);
    expect(w.stsMock.calls()).toHaveLength(0);
  });

  test.each`
    args                                                                                     | message
    ${["--strategy", "one-at-a-time", "--bake", "5m"]}                                       | ${"--bake applies only to blue-green and canary=<p1>,<p2>,...,100, not to the in-place strategy one-at-a-time: drop it, or release with --strategy blue-green or canary=10,50,100"}
    ${["--strategy", "all-at-once", "--keep-previous", "30m", "--same-revision"]}            | ${"--keep-previous and --same-revision apply only to blue-green and canary=<p1>,<p2>,...,100, not to the in-place strategy all-at-once: drop them"}
    ${["--strategy", "half-at-a-time", "--dry-run", "--instances", "4", "--bake", "5m"]}     | ${"--bake applies only to blue-green and canary=<p1>,<p2>,...,100, not to the in-place strategy half-at-a-time"}
    ${["--strategy", "min-healthy=75%", "--dry-run", "--instances", "4", "--same-revision"]} | ${"--same-revision applies only to blue-green and canary=<p1>,<p2>,...,100, not to the in-place strategy min-healthy=75%"}
  `("GIVEN $args THEN the blue/green-only flag is refused, exit 2, before any AWS call", async ({ args, message }) => {
    const w = world();
    const refused = runRelease(parseReleaseArgs(["--env", "dev", ...args]), ENV, w.deps);
    await expect(refused).rejects.toThrow(message);
    await expect(refused).rejects.toMatchObject({ exitCode: EXIT.refused });
    expect(w.stsMock.calls()).toHaveLength(0);
  });

  it("GIVEN no --strategy, the environment's default in place, and --smoke-path THEN it is refused before any AWS call", async () => {
    const w = world();
    const refused = runRelease(parseReleaseArgs(["--env", "dev", "--revision-dir", w.revisionDir, "--smoke-path", "/health"]), ENV_WITH_DEFAULT, w.deps);
    await expect(refused).rejects.toThrow("--smoke-path applies only to blue-green and canary=<p1>,<p2>,...,100, not to the in-place strategy one-at-a-time");
    expect(w.stsMock.calls()).toHaveLength(0);
  });

  it("GIVEN no --strategy and the deployed stack's default in place (the config names none) THEN --bake is refused before the lock", async () => {
    const w = world();
    const refused = runRelease(parseReleaseArgs(["--env", "dev", "--revision-dir", w.revisionDir, "--bake", "5m"]), ENV, w.deps);
    await expect(refused).rejects.toThrow("--bake applies only to blue-green and canary=<p1>,<p2>,...,100, not to the in-place strategy one-at-a-time");
    await expect(refused).rejects.toMatchObject({ exitCode: EXIT.refused });
    expect(changed(w)).toEqual(nothing);
  });

  it("GIVEN min-healthy=75% on a 2-instance fleet THEN it is refused: no instance could be taken out", async () => {
    const w = world({ inService: 2 });
    await expect(release(w, "--strategy", "min-healthy=75%")).rejects.toThrow("keeps 2 of 2 instances healthy, which leaves none to deploy to");
    expect(changed(w)).toEqual(nothing);
  });

  it("GIVEN the live color has no instance in service THEN it is refused", async () => {
    const w = world({ inService: 0 });
    await expect(release(w)).rejects.toThrow("the live color blue of webfleet-dev has no instance in service");
  });

  it("GIVEN an instance refresh is replacing the live fleet THEN it is refused until the refresh ends", async () => {
    const w = world({
      refreshes: [
        { InstanceRefreshId: "r-new", Status: "InProgress", PercentageComplete: 40, AutoScalingGroupName: "webfleet-dev-blue" },
        { InstanceRefreshId: "r-old", Status: "Successful", PercentageComplete: 100, AutoScalingGroupName: "webfleet-dev-blue" },
      ],
    });
    await expect(release(w)).rejects.toThrow("an instance refresh of webfleet-dev-blue is InProgress (40% done, r-new): the fleet is being replaced");
    expect(changed(w)).toEqual(nothing);
  });

  it("GIVEN only finished instance refreshes THEN it releases", async () => {
    const w = world({ refreshes: [{ InstanceRefreshId: "r-old", Status: "Successful", PercentageComplete: 100 }] });
    expect(await release(w, "--dry-run")).toBe(EXIT.ok);
  });

  it("GIVEN the live color parameter holds nonsense THEN it says what is valid and how to fix it", async () => {
    const w = world({ params: { "/webfleet/dev/live-color": "purple" } });
    await expect(release(w)).rejects.toThrow("SSM /webfleet/dev/live-color is 'purple', expected one of blue, green");
  });

  it("GIVEN no AWS credentials THEN it says how to provide them", async () => {
    const w = world();
    w.stsMock
      .on(GetCallerIdentityCommand)
      .rejects(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }));
    await expect(release(w)).rejects.toThrow("no AWS credentials found: set AWS_PROFILE");
  });
});

describe("--force-unlock", () => {
  it("GIVEN a stale lock THEN it is removed, its holder named, and nothing else happens", async () => {
    const w = world({ lock: { id: "x", user: "alice", host: "laptop-7", startedAt: "2025-05-01T08:00:00.000Z" } });
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--force-unlock"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(holdsLock(w)).toBe(false);
    expect(w.out.all).toContain("removed the release lock of dev, held by alice on host laptop-7");
    expect(w.cdMock.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  });
});
