/**
 * The invariant DESIGN.md asks of every release step, for real: a blue/green and a canary
 * release run on the simulated account (helpers/twin-world.ts), every state they leave is
 * recorded (weights, live color, each color's size, the AMIs), and ONE `terraform test` (one
 * init, a `run` per state: helpers/release-states.ts) plans the synthesized dev stack from each
 * of those states against the AWS provider mirror. Each plan must keep what the release set (the
 * release itself plans with its own lock id while it holds the lock); a state the stack cannot
 * keep is caught; and a plan by anyone else while the lock is held is refused, naming the holder.
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

/** The distinct states a release on a fresh world leaves (dev's live fleet: 2 instances, as config/dev.yaml). */
async function statesOf(...flags: string[]): Promise<RecordedState[]> {
  const world = new TwinWorld({ size: 2 });
  world.ssm.params.set("/webfleet/dev/ami/blue", AMI.blue);
  world.ssm.params.set("/webfleet/dev/ami/green", AMI.green);
  const code = await runRelease(parseReleaseArgs(["--env", "dev", "--revision-dir", makeRevision(), ...flags]), ENV, world.deps);
  expect(code).toBe(0);
  expect(world.violations).toEqual([]);
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
    // While the release holds the lock, it is the one planning (with its lock id).
    ...(s.lockHeld ? { lockHolder: HOLDER, lockId: HOLDER.id } : {}),
  };
}

afterAll(removeRevisions);

describeTerraform("every state a release leaves, planned by terraform", () => {
  const tooling = detection.ok ? detection.tooling : undefined!;
  afterAll(removeSharedWorkspaces);

  it("plans no change to what blue/green and canary releases set, at every step, and refuses anyone else while the lock is held", async () => {
    const blueGreen = await statesOf("--strategy", "blue-green", "--bake", "1m");
    const canary = await statesOf("--strategy", "canary=10,50,100", "--bake", "1m");
    // The canary passes through split traffic with both colors up.
    expect(canary.some((s) => s.weights.green === 10 && s.desired.green === 2)).toBe(true);
    // Each distinct state once (a blue/green's states are a canary's too).
    const distinct = new Map<string, RecordedState>();
    for (const s of [...blueGreen, ...canary]) distinct.set(JSON.stringify(s), s);
    const cases = [...distinct.values()].map((s, i) => asCase(`state_${i}_${s.liveColor}_${s.weights.blue}_${s.weights.green}`, s));
    // Cases no release of ours leaves, to show the check bites: green scaled past the idle
    // role's max, and plans under the lock with a wrong lock id or none (the last one shows its message).
    const mid = canary.find((s) => s.weights.green === 50)!;
    cases.push(
      { ...asCase("idle_scaled_past_its_max", blueGreen[0]), desired: { blue: 2, green: 5 } },
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

    const special = ["idle_scaled_past_its_max", "lock_held_wrong_id", "someone_else_mid_canary"];
    expect(outcomes.filter((o) => !special.includes(o.name))).toEqual(cases.slice(0, -3).map((c) => ({ name: c.name, outcome: "planned", problems: [] })));
    expect(outcomes.find((o) => o.name === "idle_scaled_past_its_max")).toEqual({
      name: "idle_scaled_past_its_max",
      outcome: "failed",
      problems: [expect.stringContaining("green (idle): the release set desired 5, outside the planned 0..4")],
    });
    expect(outcomes.find((o) => o.name === "lock_held_wrong_id")).toEqual({ name: "lock_held_wrong_id", outcome: "refused", problems: [] });
    const refused = outcomes.find((o) => o.name === "someone_else_mid_canary")!;
    expect(refused).toMatchObject({ outcome: "refused", problems: [] });
    expect(refused.message).toContain("webfleet-dev is locked by bob@laptop-9 since 2025-05-01T10:00:00.000Z");
    expect(refused.message).not.toContain(HOLDER.id);
  }, 600_000);
});
