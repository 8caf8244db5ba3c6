import {
  InPlaceStrategy,
  batchSize,
  checkStrategyAgainstConfig,
  parseStrategyKey,
  resolveStrategy,
  type InPlaceRule,
} from "../../../../scripts/lib/release/strategies";
import { hookTime } from "../../../../scripts/lib/release/estimate";
import { STACK } from "../../../helpers/aws-fakes";

const rule = (key: string): InPlaceRule => parseStrategyKey(key)!.rule;

describe("strategy keys", () => {
  test.each`
    text                 | key
    ${"all-at-once"}     | ${"all-at-once"}
    ${"one-at-a-time"}   | ${"one-at-a-time"}
    ${"min-healthy=75%"} | ${"min-healthy=75%"}
    ${"min-healthy=2"}   | ${"min-healthy=2"}
    ${" min-healthy=2 "} | ${"min-healthy=2"}
  `("reads '$text' as $key", ({ text, key }) => {
    expect(parseStrategyKey(text)?.key).toBe(key);
  });

  test.each(["bogus", "blue-green", "min-healthy=", "min-healthy=75 %", "ONE-AT-A-TIME"])("'%s' is no strategy", (text) => {
    expect(parseStrategyKey(text)).toBeUndefined();
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
      "--strategy 'bogus' is not a strategy; valid for dev: all-at-once, half-at-a-time, one-at-a-time, min-healthy=75%",
    );
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
