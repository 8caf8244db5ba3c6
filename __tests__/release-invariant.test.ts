/**
 * The invariant DESIGN.md asks of every release step, for real: releases run on the simulated
 * account (helpers/twin-world.ts) — blue/green and canary that succeed, that roll back on an
 * alarm, that fail at the scale-down, that keep the old color (then `npm run rollback`, or
 * `release --finish`, or the next release) — every state they leave is recorded (weights, live
 * color, each color's size and min/max, the AMIs), and ONE `terraform test` (one init, a `run`
 * per state: helpers/release-states.ts) plans the synthesized dev stack from each of those
 * states against the AWS provider mirror. Each plan must keep what the release set — weights,
 * min/max by role exactly as AWS has them, desired within them, AMIs — (the release itself plans
 * with its own lock id while it holds the lock); a state the stack cannot keep is caught; and a
 * plan by anyone else while the lock is held is refused, naming the holder.
 *
 * @slow terraform: a `terraform test` with the AWS provider, a provider process per state
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../main";
import { stackName } from "../modules/names";
import type { WebfleetStack } from "../modules/webfleet-stack";
import { runRelease } from "../scripts/lib/release/flow";
import { parseReleaseArgs } from "../scripts/lib/release/options";
import { runRollback } from "../scripts/lib/release/rollback";
import { makeRevision, removeRevisions } from "./helpers/aws-fakes";
import { checkReleaseStates, type ReleaseStateCase } from "./helpers/release-states";
import { detectTerraform, removeSharedWorkspaces, sharedWorkspace, stackDirOf } from "./helpers/terraform";
import { describeWithTool } from "./helpers/tools";
import { TwinWorld, type RecordedState } from "./helpers/twin-world";

const detection = detectTerraform();
const describeTerraform = describeWithTool("terraform test of every state a release leaves", detection.ok ? undefined : detection.why);

const AMI = { blue: "ami-0a1d0a1d0a1d0a1d0", green: "ami-0e5e0e5e0e5e0e5e0" };
const ENV = { name: "dev", region: "us-east-1", customMinimumHealthyHosts: [] };
const HOLDER = { id: "lock-bob", user: "bob", host: "laptop-9", startedAt: "2025-05-01T10:00:00.000Z" };

type Run = (...flags: string[]) => Promise<number>;

/**
 * The distinct states what `script` runs leaves on a fresh world (dev's live fleet: 2 instances,
 * as config/dev.yaml): `release(...)` is `npm run release -- --env dev …`, `rollback()` is
 * `npm run rollback -- --env dev`.
 */
async function statesOf(script: (release: Run, rollback: () => Promise<number>, world: TwinWorld) => Promise<void>): Promise<RecordedState[]> {
  const world = new TwinWorld({ size: 2 });
  world.ssm.params.set("/webfleet/dev/ami/blue", AMI.blue);
  world.ssm.params.set("/webfleet/dev/ami/green", AMI.green);
  const revisionDir = makeRevision();
  const release: Run = (...flags) =>
    runRelease(parseReleaseArgs(["--env", "dev", ...(flags.includes("--finish") ? [] : ["--revision-dir", revisionDir]), ...flags]), ENV, world.deps);
  const rollback = () =>
    runRollback({ ...world.deps, whoami: { ...world.deps.whoami, caller: "arn:aws:sts::123456789012:assumed-role/dev/bob" } }, "dev", { dryRun: false });
  await script(release, rollback, world);
  expect(world.violations).toEqual([]);
  // After every state, not only at the end: SSM agrees with the listener.
  expect(world.states.filter((s) => !s.agrees)).toEqual([]);
  const seen = new Set<string>();
  return world.states.filter((s) => {
    const key = JSON.stringify(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function asCase(name: string, s: RecordedState): ReleaseStateCase {
  return {
    name,
    liveColor: s.liveColor as "blue" | "green",
    weights: s.weights,
    amis: AMI,
    desired: s.desired,
    minMax: { blue: { min: s.min.blue, max: s.max.blue }, green: { min: s.min.green, max: s.max.green } },
    // While the release holds the lock, it is the one planning (with its lock id).
    ...(s.lockHeld ? { lockHolder: HOLDER, lockId: HOLDER.id } : {}),
  };
}

afterAll(removeRevisions);

describeTerraform("every state a release leaves, planned by terraform", () => {
  const tooling = detection.ok ? detection.tooling : undefined!;
  afterAll(removeSharedWorkspaces);

  it("plans no change to what blue/green and canary releases, their rollbacks, failures, --keep-previous and npm run rollback set, at every step, and refuses anyone else while the lock is held", async () => {
    const blueGreen = await statesOf(async (release) => expect(await release("--strategy", "blue-green", "--bake", "1m")).toBe(0));
    const canary = await statesOf(async (release) => expect(await release("--strategy", "canary=10,50,100", "--bake", "1m")).toBe(0));
    // Rolled back by an alarm once green had all the traffic (the roles had changed).
    const alarmed = await statesOf(async (release, _rollback, world) => {
      world.out.onLine = (text) => text.includes("→ bake") && world.fire("green");
      expect(await release("--strategy", "blue-green", "--bake", "1m")).toBe(1);
    });
    // A failure at the scale-down: blue stays up, recorded as kept; then npm run rollback returns to it.
    const scaleDownFailed = await statesOf(async (release, rollback, world) => {
      world.out.onLine = (text) => text.includes("→ scale-down") && world.fail("UpdateAutoScalingGroup blue");
      expect(await release("--strategy", "blue-green", "--bake", "1m")).toBe(3);
      expect(await rollback()).toBe(0);
    });
    // --keep-previous, then --finish; --keep-previous, then the next release (which finishes first).
    const keptThenFinished = await statesOf(async (release) => {
      expect(await release("--strategy", "blue-green", "--bake", "1m", "--keep-previous", "30m")).toBe(0);
      expect(await release("--finish")).toBe(0);
    });
    const keptThenReleased = await statesOf(async (release) => {
      expect(await release("--strategy", "canary=50,100", "--bake", "1m", "--keep-previous", "30m")).toBe(0);
      expect(await release("--strategy", "blue-green", "--bake", "1m")).toBe(0);
    });
    // The canary passes through split traffic with both colors up; --keep-previous leaves both up with green live.
    expect(canary.some((s) => s.weights.green === 10 && s.desired.green === 2)).toBe(true);
    expect(keptThenFinished.some((s) => s.liveColor === "green" && s.desired.blue === 2 && s.min.blue === 0 && s.min.green === 2)).toBe(true);
    // Each distinct state once (a blue/green's states are a canary's too).
    const distinct = new Map<string, RecordedState>();
    for (const s of [...blueGreen, ...canary, ...alarmed, ...scaleDownFailed, ...keptThenFinished, ...keptThenReleased]) distinct.set(JSON.stringify(s), s);
    const cases = [...distinct.values()].map((s, i) => asCase(`state_${i}_${s.liveColor}_${s.weights.blue}_${s.weights.green}`, s));
    // Cases no release of ours leaves, to show the check bites: green scaled past the idle
    // role's max; green made live with only its desired capacity set (min/max left as the idle
    // role's, as releases did before they set the roles); and plans under the lock with a wrong
    // lock id or none (the last one shows its message).
    const mid = canary.find((s) => s.weights.green === 50)!;
    const done = blueGreen.at(-1)!;
    cases.push(
      { ...asCase("idle_scaled_past_its_max", blueGreen[0]), desired: { blue: 2, green: 5 } },
      { ...asCase("live_switched_without_its_role", done), minMax: { blue: { min: 2, max: 4 }, green: { min: 0, max: 4 } } },
      { ...asCase("lock_held_wrong_id", mid), lockId: "an-old-lock-id" },
      { ...asCase("someone_else_mid_canary", mid), lockId: undefined },
    );

    const outdir = mkdtempSync(join(tmpdir(), "webfleet-invariant-"));
    const built = buildApp({ environments: ["dev"], outdir });
    built.app.synth();
    const workspace = await sharedWorkspace(tooling, stackDirOf(outdir, stackName("dev")));
    const outcomes = await checkReleaseStates(
      { workspace, stack: built.app.node.findChild(stackName("dev")) as WebfleetStack, config: built.environments[0] },
      cases,
    );

    const special = ["idle_scaled_past_its_max", "live_switched_without_its_role", "lock_held_wrong_id", "someone_else_mid_canary"];
    expect(outcomes.filter((o) => !special.includes(o.name))).toEqual(cases.slice(0, -4).map((c) => ({ name: c.name, outcome: "planned", problems: [] })));
    expect(outcomes.find((o) => o.name === "idle_scaled_past_its_max")).toEqual({
      name: "idle_scaled_past_its_max",
      outcome: "failed",
      problems: [expect.stringContaining("green (idle): the release set desired 5, outside the planned 0..4")],
    });
    expect(outcomes.find((o) => o.name === "live_switched_without_its_role")).toEqual({
      name: "live_switched_without_its_role",
      outcome: "failed",
      problems: [
        expect.stringContaining("blue: AWS has min 2, max 4 (the release set them); the plan would set 0..4"),
        expect.stringContaining("green: AWS has min 0, max 4 (the release set them); the plan would set 2..4"),
      ],
    });
    expect(outcomes.find((o) => o.name === "lock_held_wrong_id")).toEqual({ name: "lock_held_wrong_id", outcome: "refused", problems: [] });
    const refused = outcomes.find((o) => o.name === "someone_else_mid_canary")!;
    expect(refused).toMatchObject({ outcome: "refused", problems: [] });
    expect(refused.message).toContain("webfleet-dev is locked by bob@laptop-9 since 2025-05-01T10:00:00.000Z");
    expect(refused.message).not.toContain(HOLDER.id);
  }, 600_000);
});
