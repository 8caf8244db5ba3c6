import { parseStrategy } from "../../../../modules/names";
import {
  InPlaceStrategy,
  batchSize,
  checkStrategyAgainstConfig,
  resolveStrategy,
  type InPlaceRule,
  type ReleaseStep,
} from "../../../../scripts/lib/release/strategies";
import { hookTime } from "../../../../scripts/lib/release/estimate";
import { STACK } from "../../../helpers/aws-fakes";

const rule = (key: string): InPlaceRule => {
  const parsed = parseStrategy(key);
  if ("error" in parsed || parsed.spec.kind !== "in-place") throw new Error(`not in place: ${key}`);
  return parsed.spec.rule === "min-healthy" ? { type: "min-healthy", minimumHealthy: parsed.spec.minimumHealthy } : { type: parsed.spec.rule };
};
const APP_HOOKS = hookTime({ AfterInstall: [{ timeout: 5 }], ValidateService: [{ timeout: 60 }] });

describe("strategy keys (the grammar in modules/names.ts)", () => {
  test.each`
    text                   | key                   | kind
    ${"all-at-once"}       | ${"all-at-once"}      | ${"in-place"}
    ${"one-at-a-time"}     | ${"one-at-a-time"}    | ${"in-place"}
    ${"min-healthy=75%"}   | ${"min-healthy=75%"}  | ${"in-place"}
    ${"min-healthy=2"}     | ${"min-healthy=2"}    | ${"in-place"}
    ${" min-healthy=2 "}   | ${"min-healthy=2"}    | ${"in-place"}
    ${"blue-green"}        | ${"blue-green"}       | ${"blue-green"}
    ${"canary=10,50,100"}  | ${"canary=10,50,100"} | ${"canary"}
    ${"canary=5, 25 ,100"} | ${"canary=5,25,100"}  | ${"canary"}
  `("reads '$text' as $key ($kind)", ({ text, key, kind }) => {
    expect(parseStrategy(text)).toMatchObject({ key, spec: { kind } });
  });

  test.each`
    text                  | message
    ${"bogus"}            | ${"'bogus' is not a strategy; valid: all-at-once | half-at-a-time | one-at-a-time | min-healthy=<N>% | min-healthy=<N> | blue-green | canary=<p1>,<p2>,...,100"}
    ${"ONE-AT-A-TIME"}    | ${"is not a strategy"}
    ${"min-healthy="}     | ${"min-healthy takes a fleet percent (75%) or a host count (2)"}
    ${"min-healthy=100%"} | ${"a fleet percent is from 1% to 99%"}
    ${"canary"}           | ${"give rising percentages that end at 100"}
    ${"canary=10,50"}     | ${"the last step must be 100"}
    ${"canary=50,10,100"} | ${"the steps must rise"}
    ${"canary=10,10,100"} | ${"the steps must rise"}
    ${"canary=0,100"}     | ${"each step is a percent from 1 to 100"}
    ${"canary=10,x,100"}  | ${"give rising percentages that end at 100"}
    ${"canary=100"}       | ${"a canary needs a step below 100 first (canary=100 is blue-green)"}
  `("refuses '$text': $message", ({ text, message }) => {
    const parsed = parseStrategy(text);
    expect("error" in parsed && parsed.error).toContain(message);
  });
});

describe("batch size: instances out of service at once", () => {
  test.each`
    strategy             | fleet | batch
    ${"all-at-once"}     | ${4}  | ${4}
    ${"half-at-a-time"}  | ${4}  | ${2}
    ${"half-at-a-time"}  | ${5}  | ${2}
    ${"half-at-a-time"}  | ${1}  | ${1}
    ${"one-at-a-time"}   | ${4}  | ${1}
    ${"min-healthy=75%"} | ${4}  | ${1}
    ${"min-healthy=75%"} | ${8}  | ${2}
    ${"min-healthy=40%"} | ${9}  | ${5}
    ${"min-healthy=2"}   | ${4}  | ${2}
    ${"min-healthy=0"}   | ${3}  | ${3}
  `("GIVEN $strategy on $fleet instances THEN $batch at a time", ({ strategy, fleet, batch }) => {
    expect(batchSize(rule(strategy), fleet)).toBe(batch);
  });

  test.each`
    strategy             | fleet | message
    ${"min-healthy=75%"} | ${2}  | ${"--strategy min-healthy=75% keeps 2 of 2 instances healthy, which leaves none to deploy to"}
    ${"min-healthy=2"}   | ${2}  | ${"--strategy min-healthy=2 keeps 2 of 2 instances healthy"}
    ${"min-healthy=3"}   | ${1}  | ${"keeps 3 of 1 instance healthy"}
  `("GIVEN $strategy on $fleet instances THEN it refuses before CodeDeploy would fail", ({ strategy, fleet, message }) => {
    expect(() => batchSize(rule(strategy), fleet)).toThrow(message);
  });
});

describe("checking --strategy against config/<env>.yaml (offline)", () => {
  const custom = [{ type: "FLEET_PERCENT" as const, value: 75 }];

  it("GIVEN a configured key THEN it returns it", () => {
    expect(checkStrategyAgainstConfig("min-healthy=75%", "dev", custom)).toBe("min-healthy=75%");
  });

  it("GIVEN 'bogus' THEN the error lists the valid strategies", () => {
    expect(() => checkStrategyAgainstConfig("bogus", "dev", custom)).toThrow(
      "valid for dev: all-at-once, half-at-a-time, one-at-a-time, min-healthy=75%, blue-green, canary=<p1>,<p2>,...,100",
    );
  });

  test.each(["blue-green", "canary=10,50,100"])("GIVEN %s THEN it needs no deployment config of the environment", (key) => {
    expect(checkStrategyAgainstConfig(key, "dev", [])).toBe(key);
  });

  it("GIVEN canary steps that do not rise to 100 THEN one line says what is valid", () => {
    expect(() => checkStrategyAgainstConfig("canary=10,50", "dev", custom)).toThrow("--strategy 'canary=10,50': the last step must be 100");
  });

  it("GIVEN a min-healthy value the environment does not create THEN it says where to add it", () => {
    expect(() => checkStrategyAgainstConfig("min-healthy=50%", "dev", custom)).toThrow(/add 50% to deployment.minimumHealthyHosts in config\/dev.yaml/);
  });
});

describe("resolving against the deployed stack", () => {
  it("GIVEN no --strategy THEN the stack's default is used", () => {
    const s = resolveStrategy(undefined, STACK) as InPlaceStrategy;
    expect(s).toMatchObject({ key: "one-at-a-time", kind: "in-place", deploymentConfigName: "CodeDeployDefault.OneAtATime" });
  });

  it("GIVEN min-healthy=75% THEN it maps to the custom config the stack created", () => {
    expect(resolveStrategy("min-healthy=75%", STACK)).toMatchObject({ deploymentConfigName: "webfleet-dev-min-healthy-75-percent" });
  });

  it("GIVEN a key the deployed stack lacks THEN the error lists the deployed strategies and says to deploy", () => {
    expect(() => resolveStrategy("min-healthy=2", STACK)).toThrow(
      "--strategy 'min-healthy=2' has no deployment config in the deployed stack webfleet-dev; deployed strategies: all-at-once, half-at-a-time, one-at-a-time, min-healthy=75% (if config/dev.yaml lists it, run npx cdktf deploy webfleet-dev first)",
    );
  });
});

describe("an in-place plan", () => {
  it("GIVEN blue live with 4 instances, one-at-a-time THEN one deploy step to blue's group, with its estimate", () => {
    const plan = resolveStrategy("one-at-a-time", STACK).plan({
      env: "dev",
      stack: STACK,
      liveColor: "blue",
      fleetSize: 4,
      hooks: hookTime({ AfterInstall: [{ timeout: 5 }], ValidateService: [{ timeout: 60 }] }),
    });
    expect(plan.steps).toEqual([
      {
        kind: "deploy",
        color: "blue",
        deploymentGroupName: "webfleet-dev-blue",
        deploymentConfigName: "CodeDeployDefault.OneAtATime",
        fleetSize: 4,
        batchSize: 1,
        live: true,
      },
    ]);
    expect(plan.estimate).toMatchObject({ batches: 4, typicalSeconds: 315, worstSeconds: 535 });
  });

  it("GIVEN green live THEN the step targets green", () => {
    const plan = resolveStrategy("all-at-once", STACK).plan({ env: "dev", stack: STACK, liveColor: "green", fleetSize: 2 });
    expect(plan.steps[0]).toMatchObject({ color: "green", deploymentGroupName: "webfleet-dev-green", batchSize: 2 });
  });

  test.each(["all-at-once", "half-at-a-time", "one-at-a-time", "min-healthy=75%"])("%s describes its capacity, risk and duration", (key) => {
    const s = resolveStrategy(key, STACK);
    expect(s.summary.capacity.length).toBeGreaterThan(5);
    expect(s.summary.risk.length).toBeGreaterThan(5);
    expect(s.summary.duration.length).toBeGreaterThan(5);
  });
});

describe("a blue/green plan", () => {
  const plan = (o: Partial<Parameters<ReturnType<typeof resolveStrategy>["plan"]>[0]> = {}, key = "blue-green") =>
    resolveStrategy(key, STACK).plan({ env: "dev", stack: STACK, liveColor: "blue", fleetSize: 4, hooks: APP_HOOKS, ...o });
  const kinds = (steps: readonly ReleaseStep[]) =>
    steps.map((s) => `${s.kind}${"color" in s ? ` ${s.color}` : ""}${s.kind === "shift-traffic" ? ` ${s.weights.blue}/${s.weights.green}` : ""}`);

  it("GIVEN blue live THEN green comes up, gets the revision, is smoke-tested, takes all traffic, bakes, and blue scales down", () => {
    expect(kinds(plan().steps)).toEqual(["scale-up green", "deploy green", "smoke-test green", "shift-traffic 0/100", "bake green", "scale-down blue"]);
    expect(plan().steps[0]).toEqual({ kind: "scale-up", color: "green", desired: 4 });
    expect(plan().steps[1]).toMatchObject({
      kind: "deploy",
      deploymentGroupName: "webfleet-dev-green",
      deploymentConfigName: "CodeDeployDefault.AllAtOnce",
      live: false,
    });
  });

  it("GIVEN the idle color already runs the revision (--same-revision, read from AWS) THEN the deploy step is still planned, and the estimate counts no deployment", () => {
    const known = plan({ idleRunsRevision: true });
    expect(kinds(known.steps)).toContain("deploy green");
    expect(known.estimate.kind === "twin" && known.estimate.deploySeconds).toEqual([0, 0]);
    // Not known (an offline preview): the deployment is counted.
    const unknown = plan();
    expect(unknown.estimate.kind === "twin" && unknown.estimate.deploySeconds[0]).toBeGreaterThan(0);
  });

  it("GIVEN --keep-previous THEN blue stays up instead of scaling down", () => {
    expect(plan({ keepPreviousSeconds: 1800 }).steps.at(-1)).toEqual({ kind: "keep-previous", color: "blue", seconds: 1800 });
  });

  it("GIVEN a canary THEN the weights step through its percentages, each followed by a bake", () => {
    expect(kinds(plan({ bakeSeconds: 60 }, "canary=10,50,100").steps)).toEqual([
      "scale-up green",
      "deploy green",
      "smoke-test green",
      "shift-traffic 90/10",
      "bake green",
      "shift-traffic 50/50",
      "bake green",
      "shift-traffic 0/100",
      "bake green",
      "scale-down blue",
    ]);
  });

  it("GIVEN the idle role cannot hold the live fleet THEN it refuses, naming the max and where to raise it", () => {
    expect(() => plan({ idleMax: 2 })).toThrow("the idle role's max is 2: raise capacity.idle.max in config/dev.yaml to at least 4");
  });

  test.each`
    instances | fullTrafficAtMost | oneAtATime
    ${4}      | ${5 * 60}         | ${315}
    ${20}     | ${6 * 60}         | ${1515}
  `(
    "GIVEN $instances instances THEN full traffic in <= $fullTrafficAtMost s (one-at-a-time in place: $oneAtATime s), rollback <= 10 s",
    ({ instances, fullTrafficAtMost, oneAtATime }) => {
      const e = plan({ fleetSize: instances, bakeSeconds: 300 }).estimate;
      expect(e.kind).toBe("twin");
      if (e.kind !== "twin") return;
      expect(e.fullTrafficSeconds).toBeLessThanOrEqual(fullTrafficAtMost);
      expect(e.rollbackSeconds).toBeLessThanOrEqual(10);
      expect(
        resolveStrategy("one-at-a-time", STACK).plan({ env: "dev", stack: STACK, liveColor: "blue", fleetSize: instances, hooks: APP_HOOKS }).estimate
          .typicalSeconds,
      ).toBe(oneAtATime);
    },
  );
});
