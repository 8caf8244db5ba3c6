/**
 * Blue/green and canary releases, end to end through `runRelease`, on a simulated account
 * (__tests__/helpers/twin-world.ts, whose groups enforce their min/max as AWS does): success; a
 * failure injected at every step (the traffic switch's ModifyListener and SSM writes, the
 * scale-down); an alarm during each canary step and during the bake; Ctrl-C at every step, during
 * a canary step and during the scale-down; the lock lost part-way. After every state: traffic
 * only to a color with healthy instances, SSM agreeing with the listener, and each group's
 * min/max the one Terraform derives from the live color in SSM.
 */
import { ModifyListenerCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { SetDesiredCapacityCommand, UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { CreateDeploymentCommand } from "@aws-sdk/client-codedeploy";
import { EXIT } from "../../../../scripts/lib/cli/errors";
import { runRelease } from "../../../../scripts/lib/release/flow";
import { LOCK_KEY, acquireLock } from "../../../../scripts/lib/release/lock";
import { parseReleaseArgs } from "../../../../scripts/lib/release/options";
import { runRollback } from "../../../../scripts/lib/release/rollback";
import { formatStatus, readStatus } from "../../../../scripts/lib/release/status";
import { STACK, T0, makeRevision, removeRevisions } from "../../../helpers/aws-fakes";
import { OLD_REVISION, PREVIOUS_REVISION, TwinWorld } from "../../../helpers/twin-world";

afterAll(removeRevisions);

const ENV = { name: "dev", region: "us-east-1", customMinimumHealthyHosts: [] };
const revisionDir = makeRevision();

function release(w: TwinWorld, ...flags: string[]) {
  return runRelease(parseReleaseArgs(["--env", "dev", "--revision-dir", revisionDir, ...flags]), ENV, w.deps);
}

/**
 * What every finished release leaves, and every state on the way: traffic only to healthy colors,
 * SSM agreeing with the listener, min/max by role as Terraform derives them; the lock is back.
 */
function expectConsistent(w: TwinWorld) {
  expect(w.violations).toEqual([]);
  expect(w.states.length).toBeGreaterThan(0);
  expect(w.states.filter((s) => !s.agrees)).toEqual([]);
  expect(w.states.filter((s) => !w.rolesAgree(s))).toEqual([]);
  expect(w.recordedAgrees()).toBe(true);
  expect(w.rolesAgree()).toBe(true);
  expect(w.bucket.objects.has(LOCK_KEY)).toBe(false);
  expect(w.ssm.params.has("/webfleet/dev/lock/holder")).toBe(false);
}

/** Everything as before the release: blue serves all traffic with the live role, green is back to 0 with the idle role. */
function expectRolledBack(w: TwinWorld) {
  expect(w.weights).toEqual({ blue: 100, green: 0 });
  expect(w.ssm.params.get("/webfleet/dev/live-color")).toBe("blue");
  expect(w.desired).toEqual({ blue: 4, green: 0 });
  expect({ min: w.min, max: w.max }).toEqual({ min: { blue: 2, green: 0 }, max: { blue: 4, green: 4 } });
  expectConsistent(w);
}

/** Blue/green done: green serves all traffic with the live role's min/max, blue is idle at 0. */
function expectReleased(w: TwinWorld) {
  expect(w.weights).toEqual({ blue: 0, green: 100 });
  expect(w.ssm.params.get("/webfleet/dev/live-color")).toBe("green");
  expect(w.desired).toEqual({ blue: 0, green: 4 });
  expect({ min: w.min, max: w.max }).toEqual({ min: { blue: 0, green: 2 }, max: { blue: 4, green: 4 } });
  expectConsistent(w);
}

const rollbackDeps = (w: TwinWorld) => ({ ...w.deps, whoami: { user: "bob", host: "laptop-9", caller: "arn:aws:sts::123456789012:assumed-role/dev/bob" } });

/** The UpdateAutoScalingGroup calls, as "green 2..4 desired 4". */
function sizeCalls(w: TwinWorld): string[] {
  return w.asMock.commandCalls(UpdateAutoScalingGroupCommand).map((c) => {
    const i = c.args[0].input;
    return `${i.AutoScalingGroupName === STACK.fleets.blue.autoScalingGroupName ? "blue" : "green"} ${i.MinSize}..${i.MaxSize} desired ${i.DesiredCapacity}`;
  });
}

/** Sends SIGTERM once, when a line containing `line` is written (the `nth` time). */
function ctrlCAt(w: TwinWorld, line: string, nth = 1) {
  let seen = 0;
  w.out.onLine = (text) => {
    if (text.includes(line) && ++seen === nth) w.interrupts.queue.push("SIGTERM");
  };
}

describe("a blue/green release", () => {
  it("GIVEN blue live with 4 instances THEN green comes up, gets the revision, passes its smoke test, takes all traffic in one switch, bakes, and blue scales down", async () => {
    const w = new TwinWorld();
    expect(await release(w, "--strategy", "blue-green", "--bake", "2m")).toBe(EXIT.ok);
    expectReleased(w);
    // One explicit deployment, to green, all at once.
    const created = w.cd.commandCalls(CreateDeploymentCommand);
    expect(created.map((c) => [c.args[0].input.deploymentGroupName, c.args[0].input.deploymentConfigName])).toEqual([
      [STACK.fleets.green.deploymentGroupName, "CodeDeployDefault.AllAtOnce"],
    ]);
    // Traffic went from 100/0 to 0/100 in one switch, never split.
    const distinct = [...new Set(w.states.map((s) => `${s.weights.blue}/${s.weights.green}`))];
    expect(distinct).toEqual(["100/0", "0/100"]);
    // No instance of the live color was ever out of service.
    expect(w.states.filter((s) => s.weights.blue === 100).every((s) => s.desired.blue === 4)).toBe(true);
    expect(w.out.all).toContain("→ smoke-test: green's pages through the keyed color route");
    expect(w.out.all).toContain("✓ / 200");
    expect(w.out.all).toMatch(/✓ released with blue-green in \d+ min/);
  });

  it("GIVEN the groups' min/max by role, as Terraform sets them (blue's min 2) THEN every size change sets min, max and desired together, and the old color can go to 0", async () => {
    const w = new TwinWorld();
    // The fake refuses what AWS refuses: blue cannot go below the live role's min by desired capacity alone.
    await expect(
      w.deps.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: STACK.fleets.blue.autoScalingGroupName, DesiredCapacity: 0 })),
    ).rejects.toThrow("New SetDesiredCapacity value 0 is below min value 2 for the AutoScalingGroup.");
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.ok);
    expect(sizeCalls(w)).toEqual([
      // scale-up: green to the live size, inside the idle role
      "green 0..4 desired 4",
      // the switch: green gets the live role, blue the idle role (still 4 instances)
      "green 2..4 desired 4",
      "blue 0..4 desired 4",
      // the scale-down: blue to the idle role's size
      "blue 0..4 desired 0",
    ]);
    expectReleased(w);
    expect(w.out.all).not.toContain("Nothing left to roll back to");
  });

  it("GIVEN the smoke test THEN it reaches green only, with the environment's key", async () => {
    const w = new TwinWorld();
    const seen: Record<string, string>[] = [];
    w.http = (_url, headers) => {
      seen.push(headers);
      return { status: 200, body: "<h1>hello</h1>\n" };
    };
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--smoke-path", "/health");
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((h) => h["X-Webfleet-Color"] === "green" && h["X-Webfleet-Smoke-Key"] === "key-123")).toBe(true);
  });

  it("GIVEN --same-revision and green's last revision is already the live one THEN no deployment is created: the launch deployment brought it", async () => {
    const w = new TwinWorld({ idleHasLiveRevision: true });
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--strategy", "blue-green", "--same-revision", "--bake", "1m"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(w.cd.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    expectConsistent(w);
  });

  test.each([
    ["holds the previous revision (an ordinary blue/green left it there)", { idleRevision: PREVIOUS_REVISION }],
    ["was never deployed", {}],
  ])("GIVEN --same-revision and green %s THEN the live revision is deployed to green before any traffic moves", async (_what, o) => {
    const w = new TwinWorld(o);
    // What green runs when traffic first moves to it.
    const atSwitch: unknown[] = [];
    w.onCall.push((key) => key === "ModifyListener" && atSwitch.push(w.lastSuccessful.green));
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--strategy", "blue-green", "--same-revision", "--bake", "1m"]), ENV, w.deps)).toBe(EXIT.ok);
    const deployments = w.cd.commandCalls(CreateDeploymentCommand).map((c) => c.args[0].input);
    expect(deployments.map((d) => [d.deploymentGroupName, d.revision])).toEqual([[STACK.fleets.green.deploymentGroupName, OLD_REVISION]]);
    expect(atSwitch[0]).toEqual(OLD_REVISION);
    expect(w.lastSuccessful.green).toEqual(OLD_REVISION);
    expectReleased(w);
  });

  it("GIVEN --same-revision --dry-run and green holds another revision THEN the plan deploys to green and the estimate counts it", async () => {
    const w = new TwinWorld({ idleRevision: PREVIOUS_REVISION });
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--strategy", "blue-green", "--same-revision", "--dry-run"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(w.out.all).toContain("2. deploy: the revision to green");
    expect(w.out.all).not.toContain("deploy skipped");
    const same = new TwinWorld({ idleHasLiveRevision: true });
    await runRelease(parseReleaseArgs(["--env", "dev", "--strategy", "blue-green", "--same-revision", "--dry-run"]), ENV, same.deps);
    expect(same.out.all).toContain("deploy skipped (the idle color runs the revision)");
  });

  it("GIVEN --keep-previous THEN blue stays up with the idle role's min/max, recorded for status and rollback, and release --finish scales it down", async () => {
    const w = new TwinWorld();
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m")).toBe(EXIT.ok);
    expect(w.desired).toEqual({ blue: 4, green: 4 });
    expect({ min: w.min, max: w.max }).toEqual({ min: { blue: 0, green: 2 }, max: { blue: 4, green: 4 } });
    expect(JSON.parse(w.ssm.params.get("/webfleet/dev/previous-color")!)).toMatchObject({ color: "blue", desired: 4, strategy: "blue-green" });
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--finish"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(w.ssm.params.has("/webfleet/dev/previous-color")).toBe(false);
    expectReleased(w);
  });

  it("GIVEN --keep-previous THEN the next release first scales the kept color down, then releases onto it", async () => {
    const w = new TwinWorld();
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m")).toBe(EXIT.ok);
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.ok);
    expect(w.out.all).toMatch(/finished the previous release: blue, kept up since .*, scaled down to 0/);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.desired).toEqual({ blue: 4, green: 0 });
    expect(w.ssm.params.has("/webfleet/dev/previous-color")).toBe(false);
    expectConsistent(w);
  });

  it("GIVEN SSM's previous-color names the live color (a stale record) THEN --finish forgets it and scales nothing", async () => {
    const w = new TwinWorld();
    w.ssm.params.set(
      "/webfleet/dev/previous-color",
      JSON.stringify({ color: "blue", desired: 4, since: "2025-05-01T09:00:00.000Z", until: "2025-05-01T09:30:00.000Z", strategy: "blue-green" }),
    );
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--finish"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(w.out.all).toContain("(SSM previous-color named blue, which is live: forgot it)");
    expect(w.ssm.params.has("/webfleet/dev/previous-color")).toBe(false);
    expect(w.desired).toEqual({ blue: 4, green: 0 });
    expect(w.asMock.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
  });

  it("GIVEN blue was scaled past the live role's max by hand THEN the release does not shrink it to give it its role: it stops at scale-up, blue keeps its 6", async () => {
    const w = new TwinWorld({ size: 6, capacity: { live: { min: 2, desired: 2, max: 4 }, idle: { min: 0, desired: 0, max: 8 } } });
    w.max.blue = 8;
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.failed);
    expect(w.out.all).toContain("blue (webfleet-dev-blue) runs 6 instances, more than the live role's max of 4");
    expect(w.desired).toEqual({ blue: 6, green: 0 });
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it("GIVEN the idle role cannot hold the live fleet THEN it is refused before anything changes", async () => {
    const w = new TwinWorld({ size: 6, capacity: { live: { min: 2, desired: 6, max: 8 }, idle: { min: 0, desired: 0, max: 4 } } });
    await expect(release(w, "--strategy", "blue-green")).rejects.toThrow("the idle role's max is 4: raise capacity.idle.max in config/dev.yaml to at least 6");
    expect(w.desired).toEqual({ blue: 6, green: 0 });
    expect(w.bucket.objects.has(LOCK_KEY)).toBe(false);
  });
});

describe("a canary release", () => {
  it("GIVEN canary=10,50,100 THEN the weights step 90/10 → 50/50 → 0/100 with a bake after each, and blue scales down", async () => {
    const w = new TwinWorld();
    expect(await release(w, "--strategy", "canary=10,50,100", "--bake", "1m")).toBe(EXIT.ok);
    const distinct = [...new Set(w.states.map((s) => `${s.weights.blue}/${s.weights.green}`))];
    expect(distinct).toEqual(["100/0", "90/10", "50/50", "0/100"]);
    expect(w.desired).toEqual({ blue: 0, green: 4 });
    expectConsistent(w);
  });

  test.each([
    ["the 10 % step", "→ bake", 1],
    ["the 50 % step", "→ bake", 2],
    ["the 100 % step", "→ bake", 3],
  ])("GIVEN an alarm during %s THEN all traffic goes back to blue in one switch, green scales down, exit 1 naming the alarm", async (_what, line, nth) => {
    const w = new TwinWorld();
    let seen = 0;
    w.out.onLine = (text) => {
      if (text.includes(line) && ++seen === nth) w.fire("green");
    };
    expect(await release(w, "--strategy", "canary=10,50,100", "--bake", "1m")).toBe(EXIT.failed);
    expectRolledBack(w);
    expect(w.out.all).toContain("✗ bake: alarm: webfleet-dev-green-5xx (Threshold Crossed: 12 5xx in 1 minute)");
    expect(w.out.all).toContain("release rolled back at bake");
  });

  it("GIVEN an alarm that fires between two steps THEN the next switch does not happen", async () => {
    const w = new TwinWorld();
    let bakes = 0;
    w.out.onLine = (text) => {
      if (text.includes("→ traffic: blue 50 / green 50") && ++bakes === 1) w.fire("green");
    };
    expect(await release(w, "--strategy", "canary=10,50,100", "--bake", "1m")).toBe(EXIT.failed);
    expect(w.states.some((s) => s.weights.green === 50)).toBe(false);
    expect(w.out.all).toContain("alarm before the switch");
    expectRolledBack(w);
  });
});

describe("Ctrl-C during a canary", () => {
  test.each([
    ["the 10 % switch", "→ traffic: blue 90 / green 10", 1],
    ["the 10 % bake", "→ bake", 1],
    ["the 50 % switch", "→ traffic: blue 50 / green 50", 1],
    ["the 50 % bake", "→ bake", 2],
    ["the 100 % switch", "→ traffic: blue 0 / green 100", 1],
    ["the last bake", "→ bake", 3],
  ])("GIVEN Ctrl-C at %s THEN all traffic goes back to blue in one switch, green scales down, exit 130", async (_what, line, nth) => {
    const w = new TwinWorld();
    ctrlCAt(w, line, nth);
    const switches = () => w.elbMock.commandCalls(ModifyListenerCommand).length;
    expect(await release(w, "--strategy", "canary=10,50,100", "--bake", "1m")).toBe(EXIT.interrupted);
    expectRolledBack(w);
    // The way back is one switch, from wherever the canary stood.
    const back = w.elbMock.commandCalls(ModifyListenerCommand).at(-1)!.args[0].input.DefaultActions![0].ForwardConfig!.TargetGroups!;
    expect(back.map((g) => g.Weight)).toEqual([100, 0]);
    expect(switches()).toBeGreaterThanOrEqual(2);
  });
});

describe("a failure at every step rolls back", () => {
  test.each<[string, (w: TwinWorld) => void, string]>([
    [
      "scale-up: a launch is abandoned (a failed launch deployment)",
      (w) =>
        w.activities.green.push({
          StatusCode: "Cancelled",
          StatusMessage: "Lifecycle Action with token x was abandoned with Lifecycle Action Result: ABANDON",
          StartTime: new Date(T0 + 1000),
        }),
      "could not launch an instance: Cancelled",
    ],
    ["deploy: the deployment to green fails", (w) => (w.failNextDeployment = true), "✗ deploy: release failed: d-"],
    ["smoke-test: a page answers 500", (w) => (w.http = () => ({ status: 500, body: "oops" })), "answered 500, expected 200"],
  ])("%s", async (_what, inject, cause) => {
    const w = new TwinWorld();
    inject(w);
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.failed);
    expectRolledBack(w);
    expect(w.out.all).toContain(cause);
  });

  it("bake: an alarm while green has all the traffic sends it back to blue (blue is still up)", async () => {
    const w = new TwinWorld();
    w.out.onLine = (text) => {
      if (text.includes("→ bake")) w.fire("green");
    };
    expect(await release(w, "--strategy", "blue-green", "--bake", "5m")).toBe(EXIT.failed);
    expectRolledBack(w);
  });

  it("traffic: ModifyListener fails THEN nothing moved: SSM still says blue, green scales down, exit 1", async () => {
    const w = new TwinWorld();
    w.fail("ModifyListener");
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.failed);
    expectRolledBack(w);
    expect(w.out.all).toContain("✗ shift-traffic: InternalFailure: ModifyListener failed (injected)");
    expect(w.out.all).toContain("traffic never left blue 100 / green 0");
  });

  it("traffic: the SSM weight write fails after ModifyListener THEN the listener goes back in one switch and SSM records it, exit 1", async () => {
    const w = new TwinWorld();
    w.fail("PutParameter /webfleet/dev/weight/green");
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.failed);
    expectRolledBack(w);
    expect(w.elbMock.commandCalls(ModifyListenerCommand)).toHaveLength(2);
    expect(w.out.all).toMatch(/traffic back to blue 100 \/ green 0 in \d+ s/);
  });

  it("traffic: SSM keeps failing THEN traffic is back on blue all the same, and the exit 3 says what was done and how to see the rest", async () => {
    const w = new TwinWorld();
    w.fail("PutParameter /webfleet/dev/weight/green", 10);
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.needsAttention);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.violations).toEqual([]);
    expect(w.out.all).toContain(
      "the rollback did not finish (PutParameter /webfleet/dev/weight/green failed (injected)); done: traffic back to blue 100 / green 0",
    );
  });

  it("traffic: giving green the live role fails at the switch THEN it rolls back: blue live with its role, green idle at 0, exit 1", async () => {
    const w = new TwinWorld();
    w.out.onLine = (text) => {
      if (text.includes("→ traffic")) w.fail("UpdateAutoScalingGroup green");
    };
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.failed);
    expectRolledBack(w);
  });

  it("scale-down: it fails THEN the release says so, exit 3: green serves everything, blue is still up and recorded as kept (not 'nothing left to roll back to')", async () => {
    const w = new TwinWorld();
    w.out.onLine = (text) => {
      if (text.includes("→ scale-down")) w.fail("UpdateAutoScalingGroup blue");
    };
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.needsAttention);
    expect(w.out.all).not.toContain("Nothing left to roll back to");
    expect(w.out.all).toContain(
      "released, but the old color blue could not be scaled down (InternalFailure: UpdateAutoScalingGroup blue failed (injected)); green serves all traffic and has the live role; it is still up (4 desired), recorded as kept",
    );
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    expect(w.desired).toEqual({ blue: 4, green: 4 });
    expect(JSON.parse(w.ssm.params.get("/webfleet/dev/previous-color")!)).toMatchObject({ color: "blue", desired: 4 });
    expectConsistent(w);
    // AND npm run rollback returns to it
    expect(await runRollback(rollbackDeps(w), "dev", { dryRun: false })).toBe(EXIT.ok);
    expectRolledBack(w);
  });

  it("GIVEN green is not ready in time THEN the release rolls back", async () => {
    const w = new TwinWorld();
    w.onTick.push((world) => world.instances.green.splice(0)); // instances keep disappearing
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.failed);
    expect(w.out.all).toContain("not ready in time");
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.desired.green).toBe(0);
  });
});

describe("Ctrl-C at every step rolls back", () => {
  test.each(["→ scale-up", "→ deploy", "→ smoke-test", "→ traffic", "→ bake", "→ scale-down"])(
    "GIVEN Ctrl-C at '%s' THEN everything is put back and the lock given back, exit 130",
    async (line) => {
      const w = new TwinWorld();
      let sent = false;
      w.out.onLine = (text) => {
        if (!sent && text.includes(line)) {
          sent = true;
          w.interrupts.queue.push("SIGTERM");
        }
      };
      const code = await release(w, "--strategy", "blue-green", "--bake", "1m");
      expect([EXIT.interrupted, EXIT.failed]).toContain(code);
      expectRolledBack(w);
      // The lock said, at each step, what it left.
      expect(w.out.all).toContain("release rolled back at");
    },
  );

  it("GIVEN Ctrl-C at keep-previous THEN it rolls back too: blue is still up", async () => {
    const w = new TwinWorld();
    ctrlCAt(w, "→ keep blue up");
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m")).toBe(EXIT.interrupted);
    expectRolledBack(w);
    expect(w.ssm.params.has("/webfleet/dev/previous-color")).toBe(false);
  });

  it("GIVEN Ctrl-C while blue is being scaled down THEN it is past the point of no return: the release finishes, says so, exit 0", async () => {
    const w = new TwinWorld();
    w.onCall.push((key) => {
      if (key === "UpdateAutoScalingGroup blue" && w.weights.green === 100 && w.desired.blue === 4 && w.min.blue === 0) w.interrupts.queue.push("SIGINT");
    });
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m")).toBe(EXIT.ok);
    expect(w.out.all).toContain("(SIGINT came while blue was being scaled down: past the point of no return, the release finishes)");
    expectReleased(w);
  });
});

describe("the lock", () => {
  it("GIVEN another release holds it THEN a blue/green release is refused, naming the holder, and nothing changes", async () => {
    const w = new TwinWorld();
    await acquireLock(
      { env: "dev", bucket: STACK.revisionBucket, s3: w.deps.s3, ssm: w.deps.ssm },
      { id: "x", user: "alice", host: "ci-3", startedAt: new Date(T0).toISOString() },
      { nowMs: T0 },
    );
    await expect(release(w, "--strategy", "blue-green")).rejects.toThrow("another release of dev is running: alice on host ci-3");
    expect(w.desired).toEqual({ blue: 4, green: 0 });
  });

  it("GIVEN the lock is forced away and taken by someone else during the bake THEN the release stops at once, touching nothing more", async () => {
    const w = new TwinWorld();
    let done = false;
    w.out.onLine = (text) => {
      if (!done && text.includes("→ bake")) {
        done = true;
        // What S3 holds after alice's --force-unlock and her own release took the lock.
        w.bucket.objects.set(LOCK_KEY, {
          body: JSON.stringify({ id: "x", user: "alice", host: "ci-3", startedAt: new Date(T0).toISOString() }),
          etag: '"etag-alice"',
        });
      }
    };
    await expect(release(w, "--strategy", "blue-green", "--bake", "2m")).rejects.toThrow("is no longer this release's");
    expect(JSON.parse(w.bucket.objects.get(LOCK_KEY)!.body)).toMatchObject({ user: "alice" });
    expect(w.violations).toEqual([]);
  });
});

describe("the lock lost while a rollback is recorded", () => {
  it("GIVEN an alarm rolls the release back and the lock was taken away meanwhile THEN it says the rollback finished (not that it did not), and leaves alice's lock alone", async () => {
    const w = new TwinWorld();
    w.out.onLine = (text) => {
      if (text.includes("→ bake")) w.fire("green");
      if (text.includes("rolling back:")) {
        w.bucket.objects.set(LOCK_KEY, {
          body: JSON.stringify({ id: "x", user: "alice", host: "ci-3", startedAt: new Date(T0).toISOString() }),
          etag: '"etag-alice"',
        });
      }
    };
    expect(await release(w, "--strategy", "blue-green", "--bake", "5m")).toBe(EXIT.failed);
    expect(w.out.all).toContain("! the rollback finished, but the release lock was no longer this release's when it was recorded");
    expect(w.out.all).not.toContain("the rollback did not finish");
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.desired).toEqual({ blue: 4, green: 0 });
    expect(JSON.parse(w.bucket.objects.get(LOCK_KEY)!.body)).toMatchObject({ user: "alice" });
  });
});

describe("npm run rollback", () => {
  it("GIVEN a release kept blue up THEN rollback sends all traffic to blue in one switch, records it, gives the roles back and scales green down", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m");
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    const switches = () => w.elbMock.commandCalls(ModifyListenerCommand).length;
    const before = switches();
    expect(await runRollback(rollbackDeps(w), "dev", { dryRun: false })).toBe(EXIT.ok);
    expect(switches() - before).toBe(1);
    expectRolledBack(w);
    expect(w.ssm.params.has("/webfleet/dev/previous-color")).toBe(false);
    expect(w.out.all).toMatch(/✓ all traffic on blue \(0 s from the decision\)/);
  });

  it("GIVEN the kept color is shown by status, with its age THEN status names it and how to return to it", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m");
    w.clock.nowMs += 5 * 60_000;
    const status = await readStatus(w.deps, "dev", w.clock.now());
    expect(status).toMatchObject({ liveColor: "green", weights: { blue: 0, green: 100 }, previous: { color: "blue" } });
    expect(status.colors.find((c) => c.color === "blue")).toMatchObject({ role: "kept", desired: 4, healthy: 4 });
    expect(formatStatus(status).join("\n")).toMatch(/previous: blue kept up for 5 min .* npm run rollback -- --env dev returns to it/);
  });

  it("GIVEN the old color was scaled down THEN rollback says what it would take, exit 2, and changes nothing", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m");
    await expect(runRollback(rollbackDeps(w), "dev", { dryRun: false })).rejects.toThrow(
      "nothing to roll back to: the previous color blue is not kept up (0 instances desired; the last release scaled it down). Going back now takes a release of the earlier revision",
    );
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it("GIVEN the scale-down of green fails after the switch THEN exit 3 (not 'refused, nothing changed'), saying traffic is on blue and how to scale green down", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m");
    w.onCall.push((key) => {
      if (key === "UpdateAutoScalingGroup green" && w.weights.blue === 100 && w.min.green === 0 && w.failures.size === 0) w.fail(key);
    });
    const done = runRollback(rollbackDeps(w), "dev", { dryRun: false });
    await expect(done).rejects.toMatchObject({ exitCode: EXIT.needsAttention });
    await expect(done).rejects.toThrow(
      "rolled traffic back, but not all the way: all traffic is on blue; SSM records it (blue live); blue has the live role, green the idle role; then it stopped: UpdateAutoScalingGroup green failed (injected). green takes no traffic but is still up: npm run release -- --env dev --finish scales it down",
    );
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.bucket.objects.has(LOCK_KEY)).toBe(false);
    expect(w.states.filter((s) => !s.agrees || !w.rolesAgree(s))).toEqual([]);
    // AND --finish does what it says
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--finish"]), ENV, w.deps)).toBe(EXIT.ok);
    expectRolledBack(w);
  });

  it("GIVEN the lock is taken away after the switch THEN exit 3 saying the switch is done and green still up (not that the rollback did not finish), alice's lock left alone", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m");
    w.out.onLine = (text) => {
      if (text.includes("✓ all traffic on blue"))
        w.bucket.objects.set(LOCK_KEY, {
          body: JSON.stringify({ id: "x", user: "alice", host: "ci-3", startedAt: new Date(T0).toISOString() }),
          etag: '"etag-alice"',
        });
    };
    const done = runRollback(rollbackDeps(w), "dev", { dryRun: false });
    await expect(done).rejects.toMatchObject({ exitCode: EXIT.needsAttention });
    await expect(done).rejects.toThrow(
      /^rolled traffic back, but not all the way: all traffic is on blue; SSM records it \(blue live\); blue has the live role, green the idle role; the release lock was taken away before green was scaled down/,
    );
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.desired.green).toBe(4);
    expect(JSON.parse(w.bucket.objects.get(LOCK_KEY)!.body)).toMatchObject({ user: "alice" });
  });

  it("GIVEN --dry-run THEN it says what it would do and changes nothing", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m");
    expect(await runRollback(rollbackDeps(w), "dev", { dryRun: true })).toBe(EXIT.ok);
    expect(w.out.all).toContain("would switch traffic blue 0 / green 100 → all on blue (one ModifyListener call)");
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });
});
