/**
 * `npm run teardown`: the tutorial's cleanup checklist in an order that works, against an
 * in-memory account (mocked SDK clients) and a fake cdktf whose destroy removes what Terraform
 * owns, refuses at plan time while someone else holds the lock mirror, and stops at a revision
 * bucket that is not empty (it has no force_destroy), as Terraform does.
 */
import { GetDeploymentCommand } from "@aws-sdk/client-codedeploy";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LockInfo } from "../../../../scripts/lib/aws/environment";
import { executeCommand } from "../../../../scripts/lib/cli/command";
import { CliError, EXIT } from "../../../../scripts/lib/cli/errors";
import { Interrupt } from "../../../../scripts/lib/cli/interrupts";
import { LOCK_KEY } from "../../../../scripts/lib/release/lock";
import {
  formatTeardownResult,
  onlyBucketNotEmpty,
  teardownCommand,
  terraformErrors,
  type TeardownDeps,
  type TeardownOptions,
  type TeardownResult,
} from "../../../../scripts/lib/teardown/teardown";
import { command as teardown } from "../../../../scripts/teardown";
import { FakeClock, STACK } from "../../../helpers/aws-fakes";
import { awsError, FakeAccount } from "../../../helpers/fake-account";
import { BASE_ENV, FakeRunner, removeTempDirs, tempDir, type FakeCall } from "../../../helpers/fake-packer";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const DAY = 86_400_000;
const REVISIONS = "webfleet-dev-revisions-20250101120000000000000001";
const STATE_BUCKET = "team-tfstate";
const MIRROR = "/webfleet/dev/lock/holder";
const AMI_LIVE = "ami-0d00000000000b1e0";
const AMI_OLD = "ami-0d000000000000010";
const TERRAFORM_PARAMETERS = [
  "/webfleet/dev/stack",
  "/webfleet/dev/live-color",
  "/webfleet/dev/ami/blue",
  "/webfleet/dev/ami/green",
  "/webfleet/dev/weight/blue",
  "/webfleet/dev/weight/green",
  "/webfleet/dev/smoke-test-key",
];

const BASE = `${BASE_ENV}ami:
  blue: { parameter: {} }
  green: { parameter: {} }
`;
const configDir = tempDir("webfleet-teardown-config-");
const state = (bucket: string) => `stateBackend: { type: s3, bucket: ${bucket}, keyPrefix: webfleet }\n`;
writeFileSync(join(configDir, "dev.yaml"), BASE + state(STATE_BUCKET));
writeFileSync(join(configDir, "qa.yaml"), BASE + state(STATE_BUCKET));
writeFileSync(join(configDir, "solo.yaml"), BASE + state("solo-tfstate"));
writeFileSync(join(configDir, "stage.yaml"), BASE + "loadBalancer: { deletionProtection: true }\n");
writeFileSync(join(configDir, "prod.yaml"), BASE);
const cdktf = join(tempDir("webfleet-teardown-bin-"), "cdktf");
writeFileSync(cdktf, "#!/bin/sh\n");
afterAll(removeTempDirs);

/** dev, deployed: both fleets, a deployment and a refresh running, bundles in the bucket, two AMIs, its state in the team's bucket. */
function deployedDev(o: { deletionProtection?: boolean } = {}): FakeAccount {
  const a = new FakeAccount();
  a.params.set("/webfleet/dev/stack", JSON.stringify({ ...STACK, revisionBucket: REVISIONS }));
  a.params.set("/webfleet/dev/live-color", "blue");
  a.params.set("/webfleet/dev/ami/blue", AMI_LIVE);
  a.params.set("/webfleet/dev/ami/green", AMI_LIVE);
  a.params.set("/webfleet/dev/weight/blue", "100");
  a.params.set("/webfleet/dev/weight/green", "0");
  a.params.set("/webfleet/dev/smoke-test-key", "k-123");
  a.params.set(
    "/webfleet/dev/previous-color",
    JSON.stringify({ color: "green", desired: 2, since: "2025-06-01T10:00:00Z", until: "2025-06-01T14:00:00Z", strategy: "blue-green" }),
  );
  a.params.set("/webfleet/prod/ami/blue", "ami-0f000000000000001");
  a.addBucket(REVISIONS, { "bundles/r1.zip": "zip-1", "bundles/r2.zip": "zip-2" });
  a.putVersion(REVISIONS, "bundles/r1.zip", "zip-1b");
  a.putVersion(REVISIONS, "bundles/r2.zip", "", true);
  for (const color of ["blue", "green"]) {
    const name = `webfleet-dev-${color}`;
    a.templates.set(`lt-${color}`, { id: `lt-${color}`, name, versions: new Map([[1, AMI_LIVE]]), defaultVersion: 1 });
    a.groups.set(name, { name, tags: { project: "webfleet", environment: "dev", color }, launchTemplate: { id: `lt-${color}`, version: "1" } });
  }
  a.instances.set("i-b1", { id: "i-b1", imageId: AMI_LIVE, state: "running", group: "webfleet-dev-blue" });
  a.instances.set("i-b2", { id: "i-b2", imageId: AMI_LIVE, state: "running", group: "webfleet-dev-blue" });
  a.refreshes.set("webfleet-dev-green", [{ InstanceRefreshId: "r-green-1", Status: "InProgress", PercentageComplete: 40 }]);
  a.loadBalancers.set("webfleet-dev", {
    arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/webfleet-dev/1",
    deletionProtection: o.deletionProtection ?? false,
  });
  a.applications.set("webfleet-dev", new Set(["webfleet-dev-blue", "webfleet-dev-green"]));
  a.deployments.set("d-1", { id: "d-1", app: "webfleet-dev", group: "webfleet-dev-blue", status: "InProgress" });
  a.addImage({ id: AMI_LIVE, name: "webfleet-dev-al2023-x86_64-live", created: new Date(NOW - 5 * DAY).toISOString(), env: "dev", snapshots: ["snap-live"] });
  a.addImage({ id: AMI_OLD, name: "webfleet-dev-al2023-x86_64-old", created: new Date(NOW - 40 * DAY).toISOString(), env: "dev", snapshots: ["snap-old"] });
  a.addBucket(STATE_BUCKET, { "webfleet/dev/webfleet-dev.tfstate": "{}", "webfleet/qa/webfleet-qa.tfstate": "{}" });
  a.putVersion(STATE_BUCKET, "webfleet/dev/webfleet-dev.tfstate", '{"serial":2}');
  return a;
}

/** What each destroy pass saw: the lock id it was given and the mirror at that moment. */
interface Pass {
  readonly lockId?: string;
  readonly mirrorId?: string;
  readonly exitCode: number;
}

/** A Terraform error as cdktf prints it: its stack's prefix, Terraform's diagnostic box, colour. */
export function terraformError(summary: string, ...detail: string[]): string[] {
  const box = (l: string) => `webfleet-dev  │ ${l}`;
  return ["webfleet-dev  ╷", box(`\u001b[31mError: \u001b[0m\u001b[1m${summary}\u001b[0m`), box(""), ...detail.map(box), "webfleet-dev  ╵"];
}
const bucketNotEmpty = (bucket: string) =>
  terraformError(
    `deleting S3 Bucket (${bucket}): operation error S3: DeleteBucket, https response error StatusCode: 409, RequestID: 7Q2, HostID: x9=, api error BucketNotEmpty: The bucket you tried to delete is not empty. You must delete all versions in the bucket.`,
  );
const CDKTF_FAILED = "Invoking Terraform CLI failed with exit code 1";

/**
 * `cdktf destroy webfleet-dev`, as Terraform would run it: refused at plan time while the mirror
 * names someone else; removes what the stack owns; stops at a load balancer with deletion
 * protection, and at a revision bucket that is not empty, saying so in its output (`say`).
 */
function fakeDestroy(a: FakeAccount, passes: Pass[], say: (lines: string[]) => void = () => undefined) {
  return (call: FakeCall): number => {
    const lockId = call.options.env?.TF_VAR_release_lock_id;
    const mirror = a.params.get(MIRROR);
    const mirrorId = mirror ? (JSON.parse(mirror) as LockInfo).id : undefined;
    let exitCode = 0;
    if (mirrorId && mirrorId !== lockId) {
      exitCode = 1;
      say(terraformError("Resource precondition failed", `the release lock of dev is held by ${mirrorId}`));
    } else {
      for (const name of ["webfleet-dev-blue", "webfleet-dev-green"]) {
        a.groups.delete(name);
        a.refreshes.delete(name);
      }
      for (const i of a.instances.values()) if (i.group?.startsWith("webfleet-dev-")) i.state = "terminated";
      a.templates.clear();
      a.applications.delete("webfleet-dev");
      for (const p of TERRAFORM_PARAMETERS) a.params.delete(p);
      const lb = a.loadBalancers.get("webfleet-dev");
      if (lb?.deletionProtection) {
        exitCode = 1;
        say(
          terraformError(
            `deleting ELBv2 Load Balancer (${lb.arn}): operation error Elastic Load Balancing v2: DeleteLoadBalancer, https response error StatusCode: 400, RequestID: 5e1, OperationNotPermitted: Load balancer '${lb.arn}' cannot be deleted because deletion protection is enabled`,
          ),
        );
      } else a.loadBalancers.delete("webfleet-dev");
      const bucket = a.buckets.get(REVISIONS);
      if (bucket && bucket.versions.length > 0) {
        exitCode = 1;
        say(bucketNotEmpty(REVISIONS));
      } else a.buckets.delete(REVISIONS);
    }
    if (exitCode) say([CDKTF_FAILED]);
    passes.push({ lockId, mirrorId, exitCode });
    a.changes.push(`cdktf destroy (exit ${exitCode})`);
    return exitCode;
  };
}

interface World {
  readonly a: FakeAccount;
  readonly runner: FakeRunner;
  readonly passes: Pass[];
  readonly logged: string[];
  readonly deferred: Array<() => unknown>;
  /** Adds lines to what the running `cdktf` prints. */
  readonly say: (lines: string[]) => void;
}

function world(a: FakeAccount): World {
  const runner = new FakeRunner();
  const passes: Pass[] = [];
  // What the fake cdktf prints, handed line by line to the caller's callbacks, as the real runner does.
  let printed: string[] = [];
  const say = (lines: string[]) => void printed.push(...lines);
  runner.cdktf = fakeDestroy(a, passes, say);
  const run = runner.run.bind(runner);
  runner.run = async (program, args, options = {}) => {
    printed = [];
    const result = await run(program, args, options);
    if (!program.endsWith("cdktf")) return result;
    for (const line of printed) options.onStdoutLine?.(line);
    return { ...result, stdout: printed.join("\n") };
  };
  return { a, runner, passes, logged: [], deferred: [], say };
}

function deps(w: World, o: Partial<TeardownDeps> = {}): TeardownDeps {
  return {
    runner: w.runner,
    sts: w.a.sts,
    ssm: w.a.ssm,
    s3: w.a.s3,
    ec2: w.a.ec2,
    autoScaling: w.a.autoScaling,
    elb: w.a.elb,
    codedeploy: w.a.codedeploy,
    clock: new FakeClock(NOW),
    log: (line) => void w.logged.push(line),
    whoami: { user: "alice", host: "laptop-7" },
    newLockId: () => "lock-teardown-1",
    repoRoot: "/repo",
    cdktf,
    configDir,
    defer: (cleanup) => {
      w.deferred.push(cleanup);
      return { run: async () => void (await cleanup()), drop: () => void w.deferred.splice(w.deferred.indexOf(cleanup), 1) };
    },
    stopWait: { timeoutMs: 60_000, pollMs: 5_000 },
    ...o,
  };
}

const options = (o: Partial<TeardownOptions> = {}): TeardownOptions => ({ env: "dev", apply: true, includeAmis: false, includeState: false, ...o });

const step = (r: TeardownResult, n: number) => r.steps[n - 1];

describe("npm run teardown -- --apply", () => {
  it("GIVEN a deployed environment THEN it locks, stops what moves, turns protection off, empties the bucket, destroys, and cleans up, in that order", async () => {
    const w = world(deployedDev({ deletionProtection: true }));
    const r = await teardownCommand(deps(w), options({ includeAmis: true, includeState: true }));

    const c = w.a.changes;
    const at = (change: string) => {
      const i = c.findIndex((x) => x.startsWith(change));
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    };
    const order = [
      at("StopDeployment d-1 rollback=false"),
      at("CancelInstanceRefresh webfleet-dev-green"),
      at("ModifyLoadBalancerAttributes deletion_protection.enabled=false"),
      at(`DeleteObjectVersion ${REVISIONS}/bundles/`),
      at("cdktf destroy (exit 1)"),
      at(`DeleteObject ${REVISIONS}/${LOCK_KEY}`),
      at(`DeleteObjectVersion ${REVISIONS}/${LOCK_KEY}`),
      at("cdktf destroy (exit 0)"),
      at(`DeregisterImage ${AMI_OLD}`),
      at("DeleteSnapshot snap-old"),
      at("DeleteParameter /webfleet/dev/previous-color"),
      at(`DeleteObjectVersion ${STATE_BUCKET}/webfleet/dev/`),
      at(`DeleteParameter ${MIRROR}`),
    ];
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(c.at(-1)).toBe(`DeleteParameter ${MIRROR}`);
    expect(r.exitCode).toBe(EXIT.ok);
    expect(formatTeardownResult(r).at(-1)).toBe("webfleet-dev is torn down.");
  });

  it("GIVEN the destroy THEN cdktf runs with this lock's id, CHECKPOINT_DISABLE=1, --auto-approve, and the mirror holds the lock through both passes", async () => {
    const w = world(deployedDev());
    const r = await teardownCommand(deps(w), options());
    const calls = w.runner.callsOf("cdktf");
    expect(calls.map((x) => x.args)).toEqual([
      ["destroy", "webfleet-dev", "--auto-approve"],
      ["destroy", "webfleet-dev", "--auto-approve"],
    ]);
    expect(calls[0].options).toMatchObject({ cwd: "/repo", stdio: "pipe", env: { CHECKPOINT_DISABLE: "1", TF_VAR_release_lock_id: "lock-teardown-1" } });
    expect(w.passes).toEqual([
      { lockId: "lock-teardown-1", mirrorId: "lock-teardown-1", exitCode: 1 },
      { lockId: "lock-teardown-1", mirrorId: "lock-teardown-1", exitCode: 0 },
    ]);
    expect(step(r, 1).lines[0]).toBe(`took s3://${REVISIONS}/${LOCK_KEY} (id lock-teardown-1), mirrored to ${MIRROR}`);
    expect(step(r, 5).lines).toEqual([
      `first pass: stopped at s3://${REVISIONS}, which still holds the lock object (BucketNotEmpty), as expected`,
      "destroyed webfleet-dev",
    ]);
    // Terraform's output reaches the log as it comes, and the expected error is said to be expected.
    expect(w.logged).toContain(`webfleet-dev  │ \u001b[31mError: \u001b[0m\u001b[1m${bucketNotEmpty(REVISIONS)[1].split("\u001b[1m")[1]}`);
    expect(w.logged).toContain(
      "that BucketNotEmpty error is expected: the revision bucket still holds this teardown's lock object. Giving the object back (the SSM mirror stays), emptying the bucket, destroying again",
    );
    expect(w.a.params.has(MIRROR)).toBe(false);
    expect(w.a.buckets.has(REVISIONS)).toBe(false);
    expect(r.notes).toContain("gave back the release lock of dev");
  });

  it("GIVEN the lock is taken THEN it records who holds it and why (purpose teardown), while it holds it", async () => {
    const w = world(deployedDev());
    let seen: LockInfo | undefined;
    const destroy = fakeDestroy(w.a, w.passes);
    w.runner.cdktf = (call) => {
      seen ??= JSON.parse(w.a.params.get(MIRROR)!) as LockInfo;
      return destroy(call);
    };
    await teardownCommand(deps(w), options());
    expect(seen).toEqual({
      id: "lock-teardown-1",
      user: "alice (arn:aws:iam::123456789012:user/alice)",
      host: "laptop-7",
      startedAt: "2025-06-01T12:00:00.000Z",
      purpose: "teardown",
    });
  });

  it("GIVEN without --include-amis and --include-state THEN the AMIs and the state stay, and the report says so", async () => {
    const w = world(deployedDev());
    const r = await teardownCommand(deps(w), options());
    expect(w.a.images.size).toBe(2);
    expect(step(r, 6).skipped).toBe("without --include-amis: the 2 AMIs of dev stay (Packer's, not Terraform's)");
    expect(step(r, 8).skipped).toBe(`without --include-state: s3://${STATE_BUCKET}/webfleet/dev/ stays`);
    expect(w.a.buckets.get(STATE_BUCKET)!.versions.some((v) => v.key.startsWith("webfleet/dev/"))).toBe(true);
    expect(r.exitCode).toBe(EXIT.ok);
  });

  it("GIVEN --include-amis THEN every AMI of the environment goes, but not one an instance of another fleet still runs", async () => {
    const a = deployedDev();
    a.instances.set("i-other", { id: "i-other", imageId: AMI_OLD, state: "stopped", group: "someone-elses-fleet" });
    const w = world(a);
    const r = await teardownCommand(deps(w), options({ includeAmis: true }));
    expect([...a.images.keys()]).toEqual([AMI_OLD]);
    expect(a.snapshots.has("snap-live")).toBe(false);
    expect(step(r, 6).lines).toEqual([
      `keeps ${AMI_OLD} (webfleet-dev-al2023-x86_64-old): instance i-other (stopped)`,
      "deregistered 1 AMI and its 1 snapshot",
    ]);
  });

  it("GIVEN --include-state and another environment keeps its state in the bucket THEN only this environment's objects go, and the bucket stays", async () => {
    const w = world(deployedDev());
    const r = await teardownCommand(deps(w), options({ includeState: true }));
    expect(w.a.buckets.get(STATE_BUCKET)!.versions.map((v) => v.key)).toEqual(["webfleet/qa/webfleet-qa.tfstate"]);
    expect(step(r, 8).lines).toEqual([
      `deleted s3://${STATE_BUCKET}/webfleet/dev/: 2 object versions and 0 delete markers`,
      `keeps the bucket ${STATE_BUCKET}: it holds webfleet/qa/webfleet-qa.tfstate (state of webfleet-qa); ${join(configDir, "qa.yaml")} keeps its state there`,
    ]);
  });

  it("GIVEN --include-state and the bucket holds only this environment's state THEN the bucket goes too; with anyone else's state in it, it stays", async () => {
    const alone = world(new FakeAccount());
    alone.a.addBucket("solo-tfstate", { "webfleet/solo/webfleet-solo.tfstate": "{}" });
    alone.a.putVersion("solo-tfstate", "webfleet/solo/webfleet-solo.tfstate.tflock", "", true);
    const r = await teardownCommand(deps(alone), options({ env: "solo", includeState: true }));
    expect(alone.a.buckets.has("solo-tfstate")).toBe(false);
    expect(step(r, 8).lines).toEqual(["deleted s3://solo-tfstate/webfleet/solo/: 1 object version and 1 delete marker", "deleted the bucket solo-tfstate"]);

    const shared = world(new FakeAccount());
    shared.a.addBucket("solo-tfstate", { "webfleet/solo/webfleet-solo.tfstate": "{}", "webfleet/webfleet-state-bootstrap.tfstate": "{}" });
    const kept = await teardownCommand(deps(shared), options({ env: "solo", includeState: true }));
    expect(shared.a.buckets.has("solo-tfstate")).toBe(true);
    expect(step(kept, 8).lines[1]).toBe(
      "keeps the bucket solo-tfstate: it holds webfleet/webfleet-state-bootstrap.tfstate (state of webfleet-state-bootstrap)",
    );
  });

  it("GIVEN a release holds the lock THEN it is refused naming the holder, and nothing is deleted", async () => {
    const a = deployedDev();
    const holder: LockInfo = { id: "lock-bob", user: "bob", host: "ci-runner-3", startedAt: "2025-06-01T11:48:00.000Z" };
    a.putVersion(REVISIONS, LOCK_KEY, JSON.stringify(holder));
    a.params.set(MIRROR, JSON.stringify(holder));
    const w = world(a);
    const refused = teardownCommand(deps(w), options({ includeAmis: true, includeState: true }));
    await expect(refused).rejects.toThrow(CliError);
    await expect(refused).rejects.toThrow(/^another release of dev is running: bob on host ci-runner-3 since 2025-06-01T11:48:00.000Z \(12 min ago\)/);
    expect(a.changes).toEqual([]);
    expect(w.runner.callsOf("cdktf")).toEqual([]);
    expect(JSON.parse(a.params.get(MIRROR)!)).toEqual(holder);
  });

  it("GIVEN everything is already gone (a second run) THEN it completes with nothing to delete", async () => {
    const w = world(deployedDev());
    expect((await teardownCommand(deps(w), options({ includeAmis: true, includeState: true }))).exitCode).toBe(EXIT.ok);
    const before = w.a.changes.length;
    const again = await teardownCommand(deps(w), options({ includeAmis: true, includeState: true }));
    expect(again.exitCode).toBe(EXIT.ok);
    expect(w.a.changes.slice(before)).toEqual(["cdktf destroy (exit 0)"]);
    expect(again.steps.map((s) => [s.step, s.lines, s.problems])).toEqual([
      [1, ["no revision bucket: nothing to lock (the stack is gone)"], []],
      [2, ["nothing in flight"], []],
      [3, ["no load balancer webfleet-dev"], []],
      [4, ["no revision bucket: nothing to empty"], []],
      [5, ["destroyed webfleet-dev"], []],
      [6, ["no AMIs of dev"], []],
      [7, ["nothing left under /webfleet/dev"], []],
      [8, [`s3://${STATE_BUCKET}/webfleet/dev/: nothing (already gone)`, expect.stringMatching(/^keeps the bucket team-tfstate: it holds webfleet\/qa/)], []],
    ]);
  });

  it("GIVEN the environment was never deployed THEN it runs through with nothing to delete", async () => {
    const w = world(new FakeAccount());
    const r = await teardownCommand(deps(w), options({ env: "qa" }));
    expect(r.exitCode).toBe(EXIT.ok);
    expect(w.a.changes).toEqual(["cdktf destroy (exit 0)"]);
  });
});

describe("what is in flight", () => {
  it("GIVEN the stopped deployment takes a while to end THEN it waits for it before the destroy", async () => {
    const a = deployedDev();
    a.deployments.get("d-1")!.stopAfterPolls = 3;
    const w = world(a);
    const clock = new FakeClock(NOW);
    const r = await teardownCommand(deps(w, { clock }), options());
    expect(clock.sleeps).toEqual([5_000, 5_000, 5_000]);
    expect(w.logged).toContain("waiting for deployment d-1 (InProgress) to end");
    expect(step(r, 2).lines).toEqual([
      "stopped deployment d-1 (InProgress) of webfleet-dev-blue",
      "stopped instance refresh r-green-1 of webfleet-dev-green: InProgress 40%",
    ]);
  });

  it("GIVEN it does not end within the wait THEN the destroy goes ahead, and the report says what was still ending", async () => {
    const a = deployedDev();
    a.deployments.get("d-1")!.stopAfterPolls = 1_000;
    const w = world(a);
    const r = await teardownCommand(deps(w), options());
    expect(step(r, 2).lines.at(-1)).toBe("still ending after the wait: deployment d-1 (InProgress) (the destroy goes ahead)");
    expect(w.runner.callsOf("cdktf")).toHaveLength(2);
    expect(r.exitCode).toBe(EXIT.ok);
  });
});

describe("waiting for what was stopped, through AWS errors the SDK gave up on", () => {
  const throttled = () => Object.assign(awsError("ThrottlingException", "Rate exceeded"), { $retryable: { throttling: true } });
  /** GetDeployment as the fake account answers it, but throwing `errors` (then forever `forever`) once d-1 is being stopped. */
  function throttleTheStop(w: World, errors: number, forever?: Error) {
    let left = errors;
    w.a.mocks.codedeploy.on(GetDeploymentCommand).callsFake((input: { deploymentId: string }) => {
      const d = w.a.deployments.get(input.deploymentId)!;
      if (d.stopRequested) {
        if (left > 0) {
          left--;
          throw throttled();
        }
        if (forever) throw forever;
        d.status = "Stopped";
      }
      return { deploymentInfo: { deploymentId: d.id, status: d.status, applicationName: d.app, deploymentGroupName: d.group } };
    });
  }

  it("GIVEN a few throttling errors in a row THEN it says so, keeps looking, and goes on to the destroy once the stop has ended", async () => {
    const w = world(deployedDev());
    throttleTheStop(w, 3);
    const r = await teardownCommand(deps(w), options());
    expect(w.logged.filter((l) => l.startsWith("could not look at"))).toEqual([
      "could not look at deployment d-1 (InProgress), instance refresh r-green-1 of webfleet-dev-green (InProgress) (1 AWS error in a row, last: ThrottlingException (Rate exceeded)); looking again in 5 s",
      "could not look at deployment d-1 (InProgress), instance refresh r-green-1 of webfleet-dev-green (InProgress) (2 AWS errors in a row, last: ThrottlingException (Rate exceeded)); looking again in 5 s",
      "could not look at deployment d-1 (InProgress), instance refresh r-green-1 of webfleet-dev-green (InProgress) (3 AWS errors in a row, last: ThrottlingException (Rate exceeded)); looking again in 5 s",
    ]);
    expect(step(r, 2).problems).toEqual([]);
    expect(w.runner.callsOf("cdktf")).toHaveLength(2);
    expect(r.exitCode).toBe(EXIT.ok);
  });

  it("GIVEN throttling that never ends THEN after ten in a row it stops before the destroy, saying the stop goes on in AWS and how to watch it, and gives the lock back", async () => {
    const w = world(deployedDev());
    throttleTheStop(w, 0, throttled());
    const r = await teardownCommand(deps(w, { stopWait: { timeoutMs: 600_000, pollMs: 5_000 } }), options());
    expect(w.a.mocks.codedeploy.commandCalls(GetDeploymentCommand).length).toBe(1 + 10); // the look before the stop, then ten failed ones
    expect(step(r, 2).problems).toEqual([
      "lost contact with AWS while waiting for deployment d-1 (InProgress), instance refresh r-green-1 of webfleet-dev-green (InProgress) to end " +
        "(10 AWS errors in a row, last: ThrottlingException (Rate exceeded)): the stop goes on in AWS, and nothing was destroyed; " +
        "watch it with aws deploy get-deployment --region us-east-1 --deployment-id d-1 --query deploymentInfo.status; " +
        "aws autoscaling describe-instance-refreshes --auto-scaling-group-name webfleet-dev-green --instance-refresh-ids r-green-1 --region us-east-1 " +
        "(or the EC2 console: Auto Scaling groups, webfleet-dev-green, Instance refresh)",
    ]);
    expect(w.runner.callsOf("cdktf")).toEqual([]);
    expect(step(r, 5).skipped).toBe("not run: the teardown stopped at step 2");
    expect(w.a.params.has(MIRROR)).toBe(false);
    expect(r.notes[0]).toMatch(
      /^stopped at step 2 \(stop in-flight deployments and instance refreshes\); what was done stays done: run npm run teardown -- --env dev --apply again/,
    );
    expect(r.exitCode).toBe(EXIT.needsAttention);
  });

  it("GIVEN an error that is not transient while waiting (access denied) THEN it stops at once, naming it", async () => {
    const w = world(deployedDev());
    throttleTheStop(w, 0, awsError("AccessDeniedException", "not authorized to perform codedeploy:GetDeployment", 403));
    const r = await teardownCommand(deps(w), options());
    expect(w.a.mocks.codedeploy.commandCalls(GetDeploymentCommand).length).toBe(2);
    expect(step(r, 2).problems).toEqual(["AccessDeniedException: not authorized to perform codedeploy:GetDeployment"]);
    expect(w.runner.callsOf("cdktf")).toEqual([]);
  });
});

describe("the destroy's first pass", () => {
  const ACCESS_DENIED =
    "deleting IAM Role (webfleet-dev-instance): operation error IAM: DeleteRole, https response error StatusCode: 403, RequestID: 9f1, api error AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:DeleteRole";

  it("GIVEN a real failure (access denied) THEN it is not retried: the teardown stops at step 5 with that error, never calls it expected, and gives the whole lock back", async () => {
    const w = world(deployedDev());
    w.runner.cdktf = () => (w.say([...terraformError(ACCESS_DENIED), CDKTF_FAILED]), 1);
    const r = await teardownCommand(deps(w), options());
    expect(w.runner.callsOf("cdktf")).toHaveLength(1);
    expect(step(r, 5).lines).toEqual([]);
    expect(step(r, 5).problems).toEqual([expect.stringContaining(`failed (exit 1): ${ACCESS_DENIED}; Terraform's output above`)]);
    expect(w.logged.some((l) => /expected/.test(l))).toBe(false);
    // The lock was still whole (object and mirror): both are given back, nothing else of the bucket was touched.
    expect(w.a.current(REVISIONS, LOCK_KEY)).toBeUndefined();
    expect(w.a.params.has(MIRROR)).toBe(false);
    expect(w.a.changes.filter((c) => c.startsWith(`DeleteObjectVersion ${REVISIONS}/${LOCK_KEY}`))).toEqual([]);
    expect(r.notes).toContain("gave back the release lock of dev");
    expect(r.exitCode).toBe(EXIT.needsAttention);
  });

  it("GIVEN the expected BucketNotEmpty and another error together THEN it is not retried either, and both are reported", async () => {
    const w = world(deployedDev());
    w.runner.cdktf = () => (w.say([...bucketNotEmpty(REVISIONS), ...terraformError(ACCESS_DENIED), CDKTF_FAILED]), 1);
    const r = await teardownCommand(deps(w), options());
    expect(w.runner.callsOf("cdktf")).toHaveLength(1);
    expect(step(r, 5).problems[0]).toContain("api error BucketNotEmpty");
    expect(step(r, 5).problems[0]).toContain(ACCESS_DENIED);
  });

  it("GIVEN a failure with no Terraform error in the output (cdktf itself failed) THEN it is not retried", async () => {
    const w = world(deployedDev());
    w.runner.cdktf = () => (w.say(["Error: Could not find cdktf.json", CDKTF_FAILED]), 1);
    const r = await teardownCommand(deps(w), options());
    expect(w.runner.callsOf("cdktf")).toHaveLength(1);
    expect(step(r, 5).problems[0]).toMatch(/^cdktf destroy webfleet-dev failed \(exit 1\): Could not find cdktf\.json; /);
  });

  describe("reading Terraform's errors", () => {
    it("reads each error's summary through cdktf's prefix, the diagnostic box and colours, and leaves out cdktf's closing line", () => {
      expect(
        terraformErrors(
          [...bucketNotEmpty("b-1"), "webfleet-dev  some progress", ...terraformError(ACCESS_DENIED, "with aws_iam_role.x"), CDKTF_FAILED].join("\n"),
        ),
      ).toEqual([expect.stringMatching(/^deleting S3 Bucket \(b-1\): .*api error BucketNotEmpty: /), ACCESS_DENIED]);
    });

    it("reads a summary without the box (no colour, plain output), and not its detail", () => {
      expect(terraformErrors("Error: deleting S3 Bucket (b-1): api error BucketNotEmpty: not empty\n\n  with aws_s3_bucket.revisions,\n")).toEqual([
        "deleting S3 Bucket (b-1): api error BucketNotEmpty: not empty",
      ]);
    });

    const cases: [name: string, errors: string[], expected: boolean][] = [
      ["only BucketNotEmpty on the lock's bucket", [`deleting S3 Bucket (${REVISIONS}): api error BucketNotEmpty: x`], true],
      ["no error at all", [], false],
      ["BucketNotEmpty on another bucket", ["deleting S3 Bucket (someone-elses): api error BucketNotEmpty: x"], false],
      ["another error beside it", [`deleting S3 Bucket (${REVISIONS}): api error BucketNotEmpty: x`, ACCESS_DENIED], false],
      ["the bucket named in another error", [`deleting S3 Bucket (${REVISIONS}): api error AccessDenied: x`], false],
    ];
    test.each(cases.map(([name, errors, expected]) => ({ name, errors, expected })))("GIVEN $name THEN expected is $expected", ({ errors, expected }) => {
      expect(onlyBucketNotEmpty(errors, REVISIONS)).toBe(expected);
    });
  });
});

describe("partial failures", () => {
  it("GIVEN an object of the revision bucket cannot be deleted THEN it stops before the destroy, says which, and gives the lock back", async () => {
    const a = deployedDev();
    a.undeletableKeys.add("bundles/r1.zip");
    const w = world(a);
    const r = await teardownCommand(deps(w), options({ includeAmis: true }));
    expect(w.runner.callsOf("cdktf")).toEqual([]);
    expect(step(r, 4).problems).toEqual([
      `s3://${REVISIONS}/bundles/r1.zip (version v3): AccessDenied: Access Denied`,
      `s3://${REVISIONS}/bundles/r1.zip (version v1): AccessDenied: Access Denied`,
    ]);
    expect(step(r, 5).skipped).toBe("not run: the teardown stopped at step 4");
    expect(a.images.size).toBe(2);
    expect(a.params.has(MIRROR)).toBe(false);
    expect(a.current(REVISIONS, LOCK_KEY)).toBeUndefined();
    expect(r.exitCode).toBe(EXIT.needsAttention);
    expect(r.notes[0]).toBe(
      "stopped at step 4 (empty the revision bucket (all but the lock object)); what was done stays done: run npm run teardown -- --env dev --apply again to go on",
    );
  });

  const ACCESS_DENIED =
    "deleting IAM Role (webfleet-dev-instance): operation error IAM: DeleteRole, https response error StatusCode: 403, RequestID: 9f1, api error AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:DeleteRole";

  it("GIVEN the destroy fails THEN the later steps do not run (the state and parameters still describe what is left) and the lock is given back", async () => {
    const w = world(deployedDev());
    w.runner.cdktf = () => (w.say([...terraformError(ACCESS_DENIED), CDKTF_FAILED]), 1);
    const r = await teardownCommand(deps(w), options({ includeAmis: true, includeState: true }));
    expect(w.runner.callsOf("cdktf")).toHaveLength(1);
    expect(step(r, 5).problems[0]).toBe(
      `cdktf destroy webfleet-dev failed (exit 1): ${ACCESS_DENIED}; Terraform's output above says what it could not destroy; what it did destroy is gone, the rest is still in the state`,
    );
    for (const n of [6, 7, 8]) expect(step(r, n).skipped).toBe("not run: the teardown stopped at step 5");
    expect(w.a.images.size).toBe(2);
    expect(w.a.params.has("/webfleet/dev/previous-color")).toBe(true);
    expect(w.a.params.has(MIRROR)).toBe(false);
    expect(r.exitCode).toBe(EXIT.needsAttention);
  });

  it("GIVEN a snapshot and a parameter cannot be deleted THEN the rest is done, each one is reported with why, and the exit code says needs attention", async () => {
    const w = world(deployedDev());
    w.a.failNext("DeleteSnapshot", awsError("UnauthorizedOperation", "not authorized"));
    w.a.failNext("DeleteParameters", awsError("AccessDeniedException", "not allowed"));
    const r = await teardownCommand(deps(w), options({ includeAmis: true, includeState: true }));
    expect(step(r, 6).problems).toEqual([
      `${AMI_LIVE} was deregistered but its snapshot snap-live was not deleted (UnauthorizedOperation: not authorized): aws ec2 delete-snapshot --snapshot-id snap-live --region us-east-1`,
    ]);
    expect(step(r, 7).problems).toEqual(["/webfleet/dev/previous-color not deleted (AccessDeniedException: not allowed)"]);
    expect(w.a.images.size).toBe(0);
    expect(step(r, 8).problems).toEqual([]);
    expect(r.exitCode).toBe(EXIT.needsAttention);
    const text = formatTeardownResult(r);
    expect(text).toContain("   ! /webfleet/dev/previous-color not deleted (AccessDeniedException: not allowed)");
    expect(text.at(-1)).toBe("not everything was deleted: the lines with ! say what and why");
  });

  it("GIVEN Ctrl-C during the destroy THEN it stops there, gives the lock back and exits 130", async () => {
    const w = world(deployedDev());
    const controller = new AbortController();
    w.runner.cdktf = () => {
      controller.abort(new Interrupt("SIGINT", false));
      return 130;
    };
    const r = await teardownCommand(deps(w, { signal: controller.signal }), options());
    expect(w.runner.callsOf("cdktf")).toHaveLength(1);
    expect(step(r, 5).problems).toEqual(["interrupted here"]);
    expect(r.notes[0]).toMatch(/^interrupted at step 5 \(destroy the stack\)/);
    expect(w.a.params.has(MIRROR)).toBe(false);
    expect(w.a.current(REVISIONS, LOCK_KEY)).toBeUndefined();
    expect(w.deferred).toEqual([]);
    expect(r.exitCode).toBe(EXIT.interrupted);
  });
});

describe("npm run teardown (dry run)", () => {
  it("GIVEN a deployed environment THEN it lists every step with what it would delete, and changes nothing", async () => {
    const w = world(deployedDev({ deletionProtection: true }));
    const r = await teardownCommand(deps(w), options({ apply: false, includeAmis: true, includeState: true }));
    expect(w.a.changes).toEqual([]);
    expect(w.runner.callsOf("cdktf")).toEqual([]);
    expect(w.a.params.has(MIRROR)).toBe(false);
    expect(r.exitCode).toBe(EXIT.ok);
    expect(formatTeardownResult(r)).toEqual([
      "dry run: nothing is deleted. webfleet-dev in us-east-1, in this order:",
      "1. take the release lock",
      `   s3://${REVISIONS}/${LOCK_KEY} is free: would take it (purpose teardown) and mirror it to ${MIRROR}`,
      "2. stop in-flight deployments and instance refreshes",
      "   would stop deployment d-1 (InProgress) of webfleet-dev-blue",
      "   would stop instance refresh r-green-1 of webfleet-dev-green: InProgress 40%",
      "3. turn off the load balancer's deletion protection",
      expect.stringMatching(
        /^ {3}would turn deletion protection of webfleet-dev off \(the next cdktf deploy of .*dev\.yaml would turn it back on; the destroy follows at once\)$/,
      ),
      "4. empty the revision bucket (all but the lock object)",
      `   s3://${REVISIONS}: would delete 3 object versions and 1 delete marker (the lock object ${LOCK_KEY} stays until step 5)`,
      "5. destroy the stack",
      "   cdktf destroy webfleet-dev --auto-approve with TF_VAR_release_lock_id=<this teardown's lock id>",
      "   it removes everything but the revision bucket, which still holds the lock object; then the object is given back (the SSM mirror stays), the bucket emptied, and a second pass removes it",
      "6. deregister the environment's AMIs and delete their snapshots",
      `   would deregister ${AMI_LIVE} (webfleet-dev-al2023-x86_64-live) and delete snap-live`,
      `   would deregister ${AMI_OLD} (webfleet-dev-al2023-x86_64-old) and delete snap-old`,
      "   (the instances of webfleet-dev-blue, webfleet-dev-green do not count: the destroy removes them first)",
      "7. remove what is left under the SSM folder",
      `   cdktf destroy removes ${[...TERRAFORM_PARAMETERS].sort().join(", ")}`,
      "   would delete /webfleet/dev/previous-color",
      `   ${MIRROR}, the lock's mirror, goes last`,
      "8. remove the Terraform state",
      `   would delete s3://${STATE_BUCKET}/webfleet/dev/: 2 object versions and 0 delete markers`,
      expect.stringMatching(
        /^ {3}keeps the bucket team-tfstate: it holds webfleet\/qa\/webfleet-qa\.tfstate \(state of webfleet-qa\); .*qa\.yaml keeps its state there$/,
      ),
      "pre-flight: no blocker found",
      "run again with --apply to do it",
    ]);
  });

  it("GIVEN a release holds the lock THEN the dry run names the holder as a blocker and exits 2", async () => {
    const a = deployedDev();
    const holder: LockInfo = { id: "lock-bob", user: "bob", host: "ci-runner-3", startedAt: "2025-06-01T11:48:00.000Z" };
    a.putVersion(REVISIONS, LOCK_KEY, JSON.stringify(holder));
    const r = await teardownCommand(deps(world(a)), options({ apply: false }));
    expect(r.blockers).toEqual([`another release of dev is running: bob on host ci-runner-3 since 2025-06-01T11:48:00.000Z (12 min ago); wait for it to end`]);
    expect(r.exitCode).toBe(EXIT.refused);
  });

  it("GIVEN no AWS credentials THEN it lists what it could not check and the blocker, and reads nothing else", async () => {
    const w = world(deployedDev());
    w.a.mocks.sts.on(GetCallerIdentityCommand).rejects(awsError("CredentialsProviderError", "Could not load credentials from any providers"));
    const r = await teardownCommand(deps(w), options({ apply: false }));
    expect(r.blockers).toEqual([expect.stringMatching(/^no AWS credentials found: set AWS_PROFILE/)]);
    expect(r.notChecked).toHaveLength(5);
    expect(step(r, 6).skipped).toBe("without --include-amis: the environment's AMIs stay (Packer's, not Terraform's)");
    expect(r.notChecked[0]).toBe("1. take the release lock: what exists is read from AWS, and there are no working credentials");
    expect(r.exitCode).toBe(EXIT.refused);
    expect(formatTeardownResult(r)).toContain("   cdktf destroy webfleet-dev --auto-approve with TF_VAR_release_lock_id=<this teardown's lock id>");
  });
});

describe("refusals, before anything is read", () => {
  test.each(["../etc/passwd", "dev/../dev", "/etc/passwd", "dev.yaml", ""])(
    "GIVEN --env %j, not an environment name THEN it is refused naming the value typed, before any file is read",
    async (env) => {
      const w = world(deployedDev());
      const refused = teardownCommand(deps(w), options({ env }));
      await expect(refused).rejects.toThrow(
        `--env '${env}': not an environment name: give the name of a file in config/ without .yaml (letters, digits and -), one of dev, prod, qa, solo, stage`,
      );
      await expect(refused).rejects.toMatchObject({ exitCode: EXIT.refused });
      expect(w.a.changes).toEqual([]);
    },
  );

  it("GIVEN npm run teardown -- --env ../etc/passwd THEN it exits 2 with one line naming the value typed", async () => {
    const err = { text: "", write: (t: string) => ((err.text += t), true) };
    const code = await executeCommand(teardown, ["--env", "../etc/passwd"], { stdout: { write: () => true }, stderr: err, exit: () => undefined });
    expect(code).toBe(EXIT.refused);
    expect(err.text).toMatch(
      /^error: --env '\.\.\/etc\/passwd': not an environment name: give the name of a file in config\/ without \.yaml \(letters, digits and -\), one of [a-z, -]+\n$/,
    );
  });

  describe("GIVEN another environment's file is broken", () => {
    const brokenDir = tempDir("webfleet-teardown-broken-");
    writeFileSync(join(brokenDir, "dev.yaml"), BASE + state(STATE_BUCKET));
    writeFileSync(join(brokenDir, "qa.yaml"), "region: [us-east-1\n");
    const brokenLine = new RegExp(
      `^--include-amis: the environment file of qa is broken, so the AMIs it refers to are not known and would not be kept: ${join(brokenDir, "qa.yaml").replace(/[.]/g, "\\.")}: not valid YAML: .*\\. Fix it, or run without --include-amis; nothing was deleted$`,
    );

    it("WHEN --apply --include-amis THEN it is refused (exit 2) naming the file, before the lock or any change", async () => {
      const w = world(deployedDev());
      const refused = teardownCommand(deps(w, { configDir: brokenDir }), options({ includeAmis: true }));
      await expect(refused).rejects.toThrow(brokenLine);
      await expect(refused).rejects.toMatchObject({ exitCode: EXIT.refused });
      expect(w.a.changes).toEqual([]);
      expect(w.runner.callsOf("cdktf")).toEqual([]);
      expect(w.a.images.size).toBe(2);
    });

    it("WHEN a dry run with --include-amis THEN it is the blocker, and step 6 says a real run is refused", async () => {
      const w = world(deployedDev());
      const r = await teardownCommand(deps(w, { configDir: brokenDir }), options({ apply: false, includeAmis: true }));
      expect(r.blockers).toEqual([expect.stringMatching(brokenLine)]);
      expect(step(r, 6).skipped).toBe("a real run is refused before it starts: an environment file is broken (below)");
      expect(r.exitCode).toBe(EXIT.refused);
      expect(w.a.changes).toEqual([]);
    });

    it("WHEN without --include-amis THEN it goes ahead: no AMI is touched, so no other file is needed", async () => {
      const w = world(deployedDev());
      const r = await teardownCommand(deps(w, { configDir: brokenDir }), options());
      expect(r.exitCode).toBe(EXIT.ok);
      expect(w.a.images.size).toBe(2);
    });
  });

  it("GIVEN an environment with no file THEN it is refused with the valid ones", async () => {
    await expect(teardownCommand(deps(world(new FakeAccount())), options({ env: "staging" }))).rejects.toThrow(
      /^unknown environment 'staging': no .*staging\.yaml; valid environments: dev, prod, qa, solo, stage$/,
    );
  });

  test.each`
    env        | reason
    ${"prod"}  | ${"it is prod"}
    ${"stage"} | ${"sets loadBalancer.deletionProtection: true"}
  `("GIVEN $env with --apply and no --confirm THEN it is refused in one line, nothing deleted", async ({ env, reason }) => {
    const w = world(new FakeAccount());
    const refused = teardownCommand(deps(w), options({ env }));
    await expect(refused).rejects.toThrow(
      new RegExp(`^tearing down ${env} needs its name typed again \\(.*${reason}\\): add --confirm ${env}; nothing was deleted$`),
    );
    expect(w.a.changes).toEqual([]);
  });

  it("GIVEN AWS refuses a read THEN it is refused in one line that says what and that nothing was deleted", async () => {
    const w = world(deployedDev());
    w.a.mocks.s3.on(ListBucketsCommand).rejects(awsError("AccessDenied", "Access Denied", 403));
    await expect(teardownCommand(deps(w), options())).rejects.toThrow("could not read what dev has in AWS (AccessDenied: Access Denied); nothing was deleted");
    expect(w.a.changes).toEqual([]);
    expect(w.a.params.has(MIRROR)).toBe(false);
  });

  it("GIVEN prod with --apply --confirm prod THEN it goes ahead", async () => {
    const w = world(new FakeAccount());
    const r = await teardownCommand(deps(w), options({ env: "prod", confirm: "prod" }));
    expect(r.exitCode).toBe(EXIT.ok);
    expect(w.runner.callsOf("cdktf")[0].args).toEqual(["destroy", "webfleet-prod", "--auto-approve"]);
  });

  it("GIVEN --confirm names another environment THEN it is refused, also in a dry run", async () => {
    await expect(teardownCommand(deps(world(new FakeAccount())), options({ env: "prod", apply: false, confirm: "dev" }))).rejects.toThrow(
      "--confirm 'dev': must repeat the environment's name exactly (--env prod --confirm prod)",
    );
  });

  it("GIVEN prod in a dry run without --confirm THEN the plan is shown and the missing confirmation is its blocker", async () => {
    const r = await teardownCommand(deps(world(new FakeAccount())), options({ env: "prod", apply: false }));
    expect(r.blockers).toEqual(["tearing down prod needs its name typed again (it is prod): add --confirm prod; nothing was deleted"]);
    expect(r.exitCode).toBe(EXIT.refused);
  });
});
