/**
 * `release --force-unlock` after a release died part-way: before the lock goes, what SSM records
 * (weights, live color, the old color kept up) is compared with the listener and the Auto Scaling
 * groups, and every difference is repaired or reported, on the simulated account of the release
 * tests (__tests__/helpers/twin-world.ts).
 */
import { UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { EXIT } from "../../../../scripts/lib/cli/errors";
import { runRelease } from "../../../../scripts/lib/release/flow";
import { LOCK_KEY } from "../../../../scripts/lib/release/lock";
import { parseReleaseArgs } from "../../../../scripts/lib/release/options";
import { T0 } from "../../../helpers/aws-fakes";
import { TwinWorld } from "../../../helpers/twin-world";

const ENV = { name: "dev", region: "us-east-1", customMinimumHealthyHosts: [] };
const PREVIOUS = "/webfleet/dev/previous-color";
const DEAD = { id: "lock-dead", user: "carol", host: "ci-9", startedAt: new Date(T0 - 3600_000).toISOString(), state: "at traffic: blue 0 / green 100" };

/** A world whose release died holding the lock (object and mirror). */
function died(): TwinWorld {
  const w = new TwinWorld();
  w.bucket.objects.set(LOCK_KEY, { body: JSON.stringify(DEAD), etag: '"etag-dead"' });
  w.ssm.params.set("/webfleet/dev/lock/holder", JSON.stringify(DEAD));
  return w;
}

/** SSM's record of a color a release kept up (release --keep-previous), since 09:00 for 30 minutes. */
function keptUp(w: TwinWorld, color: "blue" | "green"): void {
  w.ssm.params.set(
    PREVIOUS,
    JSON.stringify({ color, desired: 4, since: "2025-05-01T09:00:00.000Z", until: "2025-05-01T09:30:00.000Z", strategy: "blue-green" }),
  );
}

/** The release died between the switch and its record: the listener sends all to green, SSM and the roles still say blue. */
function diedAtTheSwitch(): TwinWorld {
  const w = died();
  w.desired.green = 4;
  for (let i = 0; i < 4; i++) w.instances.green.push({ id: `i-green-${i}`, launchedAt: T0 - 3600_000, launchDeployment: false });
  w.weights = { blue: 0, green: 100 };
  return w;
}

function forceUnlock(w: TwinWorld, ...flags: string[]) {
  return runRelease(parseReleaseArgs(["--env", "dev", "--force-unlock", ...flags]), ENV, w.deps);
}

describe("--force-unlock reconciles SSM and the groups with what AWS does", () => {
  it("GIVEN a release died right after the switch THEN SSM's weights and live color follow the listener, the groups get the roles Terraform derives from it, and the lock goes", async () => {
    const w = diedAtTheSwitch();
    expect(await forceUnlock(w)).toBe(EXIT.ok);
    const said = w.out.all;
    expect(said).toContain("repaired: SSM weights blue 100 / green 0 → the listener's blue 0 / green 100");
    expect(said).toContain("repaired: SSM live color blue → green (it has all the traffic)");
    expect(said).toContain("repaired: blue's min/max 2..4 (desired 4) → the idle role's 0..4 (what Terraform derives from the live color green)");
    expect(said).toContain("repaired: green's min/max 0..4 (desired 4) → the live role's 2..4");
    expect(said).toContain("! blue takes no traffic but runs 4 instances (a release stopped part-way): npm run release -- --env dev --finish scales it down");
    expect(w.recordedAgrees()).toBe(true);
    expect(w.rolesAgree()).toBe(true);
    // Nobody's instances moved: only min and max.
    expect(w.desired).toEqual({ blue: 4, green: 4 });
    expect(w.bucket.objects.has(LOCK_KEY)).toBe(false);
    expect(w.ssm.params.has("/webfleet/dev/lock/holder")).toBe(false);
    // AND --finish then scales the old color down
    expect(await runRelease(parseReleaseArgs(["--env", "dev", "--finish"]), ENV, w.deps)).toBe(EXIT.ok);
    expect(w.desired).toEqual({ blue: 0, green: 4 });
    expect(w.rolesAgree()).toBe(true);
  });

  it("GIVEN --dry-run THEN it says what it would repair and changes nothing", async () => {
    const w = diedAtTheSwitch();
    expect(await forceUnlock(w, "--dry-run")).toBe(EXIT.ok);
    expect(w.out.all).toContain("would repair: SSM live color blue → green");
    expect(w.out.all).toContain("would repair: green's min/max 0..4 (desired 4) → the live role's 2..4");
    expect(w.ssm.params.get("/webfleet/dev/live-color")).toBe("blue");
    expect(w.asMock.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(w.bucket.objects.has(LOCK_KEY)).toBe(true);
  });

  it("GIVEN SSM's previous-color names the color that is live again (a rollback died before forgetting it) THEN the stale record is forgotten", async () => {
    const w = died();
    keptUp(w, "blue");
    expect(await forceUnlock(w)).toBe(EXIT.ok);
    expect(w.out.all).toContain(
      "repaired: SSM previous-color names blue as kept up since 2025-05-01T09:00:00.000Z, but blue takes 100 % of the traffic: forgot the record",
    );
    expect(w.ssm.params.has(PREVIOUS)).toBe(false);
  });

  it("GIVEN SSM's previous-color names a color that was scaled down THEN the stale record is forgotten (rollback would find nothing there)", async () => {
    const w = died();
    keptUp(w, "green");
    expect(await forceUnlock(w)).toBe(EXIT.ok);
    expect(w.out.all).toContain(
      "repaired: SSM previous-color names green as kept up since 2025-05-01T09:00:00.000Z, but green runs 0 instances (it was scaled down)",
    );
    expect(w.ssm.params.has(PREVIOUS)).toBe(false);
  });

  it("GIVEN a kept color that is really up THEN its record stays and nothing is said about it", async () => {
    const w = diedAtTheSwitch();
    w.ssm.params.set("/webfleet/dev/live-color", "green");
    w.ssm.params.set("/webfleet/dev/weight/blue", "0");
    w.ssm.params.set("/webfleet/dev/weight/green", "100");
    Object.assign(w.min, { blue: 0, green: 2 });
    keptUp(w, "blue");
    expect(await forceUnlock(w)).toBe(EXIT.ok);
    expect(w.out.all).not.toMatch(/repaired|^!/m);
    expect(w.ssm.params.has(PREVIOUS)).toBe(true);
  });

  it("GIVEN the live color runs fewer healthy instances than it should THEN it is reported", async () => {
    const w = died();
    w.instances.blue.splice(1);
    expect(await forceUnlock(w)).toBe(EXIT.ok);
    expect(w.out.all).toContain(
      "! the live color blue has 1 healthy instance of 4 desired (the live role's min is 2): watch it recover with npm run status -- --env dev --watch before the next release",
    );
  });

  it("GIVEN the live color below the live role's min (a tool set min 0 and scaled it to 1) THEN the role is given back, which raises it to the min, and the shortfall is reported", async () => {
    const w = died();
    w.min.blue = 0;
    w.desired.blue = 1;
    w.instances.blue.splice(1);
    expect(await forceUnlock(w)).toBe(EXIT.ok);
    expect(w.out.all).toContain("repaired: blue's min/max 0..4 (desired 1) → the live role's 2..4");
    expect(w.out.all).toContain("! the live color blue has 1 healthy instance of 2 desired (the live role's min is 2)");
    expect({ min: w.min.blue, desired: w.desired.blue }).toEqual({ min: 2, desired: 2 });
  });

  it("GIVEN a group whose size does not fit its role THEN it is reported, not scaled by a forced unlock", async () => {
    const w = died();
    Object.assign(w.max, { green: 8 });
    w.desired.green = 6;
    expect(await forceUnlock(w)).toBe(EXIT.ok);
    expect(w.out.all).toContain("! green's min/max 0..8 (desired 6) does not fit the idle role's 0..4: scale it first");
    expect(w.desired.green).toBe(6);
    expect(w.asMock.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
  });
});
