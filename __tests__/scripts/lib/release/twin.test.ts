/**
 * Blue/green and canary releases, end to end through `runRelease`, on a simulated account
 * (__tests__/helpers/twin-world.ts): success; a failure injected at every step; an alarm during
 * each canary step and during the bake; Ctrl-C at every step; the lock lost part-way. After every
 * state: traffic only to a color with healthy instances, and SSM agreeing with the listener.
 */
import { CreateDeploymentCommand } from "@aws-sdk/client-codedeploy";
import { EXIT } from "../../../../scripts/lib/cli/errors";
import { runRelease } from "../../../../scripts/lib/release/flow";
import { LOCK_KEY, acquireLock } from "../../../../scripts/lib/release/lock";
import { parseReleaseArgs } from "../../../../scripts/lib/release/options";
import { runRollback } from "../../../../scripts/lib/release/rollback";
import { formatStatus, readStatus } from "../../../../scripts/lib/release/status";
import { STACK, T0, makeRevision, removeRevisions } from "../../../helpers/aws-fakes";
import { TwinWorld } from "../../../helpers/twin-world";

afterAll(removeRevisions);

const ENV = { name: "dev", region: "us-east-1", customMinimumHealthyHosts: [] };
const revisionDir = makeRevision();

function release(w: TwinWorld, ...flags: string[]) {
  return runRelease(parseReleaseArgs(["--env", "dev", "--revision-dir", revisionDir, ...flags]), ENV, w.deps);
}

/** What every finished release leaves: the invariants held, SSM agrees with the listener, the lock is back. */
function expectConsistent(w: TwinWorld) {
  expect(w.violations).toEqual([]);
  expect(w.recordedAgrees()).toBe(true);
  expect(w.bucket.objects.has(LOCK_KEY)).toBe(false);
  expect(w.ssm.params.has("/webfleet/dev/lock/holder")).toBe(false);
}

/** Everything as before the release: blue serves all traffic, green is back to 0. */
function expectRolledBack(w: TwinWorld) {
  expect(w.weights).toEqual({ blue: 100, green: 0 });
  expect(w.ssm.params.get("/webfleet/dev/live-color")).toBe("blue");
  expect(w.desired).toEqual({ blue: 4, green: 0 });
  expectConsistent(w);
}

describe("a blue/green release", () => {
  it("GIVEN blue live with 4 instances THEN green comes up, gets the revision, passes its smoke test, takes all traffic in one switch, bakes, and blue scales down", async () => {
    const w = new TwinWorld();
    expect(await release(w, "--strategy", "blue-green", "--bake", "2m")).toBe(EXIT.ok);
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    expect(w.ssm.params.get("/webfleet/dev/live-color")).toBe("green");
    expect(w.desired).toEqual({ blue: 0, green: 4 });
    expectConsistent(w);
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

  it("GIVEN --keep-previous THEN blue stays up, recorded for status and rollback, and release --finish scales it down", async () => {
    const w = new TwinWorld();
    expect(await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m")).toBe(EXIT.ok);
    expect(w.desired).toEqual({ blue: 4, green: 4 });
    expect(JSON.parse(w.ssm.params.get("/webfleet/dev/previous-color")!)).toMatchObject({ color: "blue", desired: 4, strategy: "blue-green" });
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--finish"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(w.desired).toEqual({ blue: 0, green: 4 });
    expect(w.ssm.params.has("/webfleet/dev/previous-color")).toBe(false);
    expectConsistent(w);
  });

  it("GIVEN the idle role cannot hold the live fleet THEN it is refused before anything changes", async () => {
    const w = new TwinWorld({ size: 6 });
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
  test.each(["→ scale-up", "→ deploy", "→ smoke-test", "→ traffic", "→ bake"])(
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
    },
  );
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

describe("npm run rollback", () => {
  const rollbackDeps = (w: TwinWorld) => ({ ...w.deps, whoami: { user: "bob", host: "laptop-9", caller: "arn:aws:sts::123456789012:assumed-role/dev/bob" } });

  it("GIVEN a release kept blue up THEN rollback sends all traffic to blue in one switch, records it, and scales green down", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m");
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    const switches = () => w.states.filter((s, i) => i > 0 && `${s.weights.blue}` !== `${w.states[i - 1].weights.blue}`).length;
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

  it("GIVEN --dry-run THEN it says what it would do and changes nothing", async () => {
    const w = new TwinWorld();
    await release(w, "--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m");
    expect(await runRollback(rollbackDeps(w), "dev", { dryRun: true })).toBe(EXIT.ok);
    expect(w.out.all).toContain("would switch traffic blue 0 / green 100 → all on blue (one ModifyListener call)");
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });
});
