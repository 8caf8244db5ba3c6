import {
  AGENT_SECONDS_PER_BATCH,
  DEFAULT_SCRIPT_TIMEOUT_SECONDS,
  START_SECONDS,
  defaultTimeoutMinutes,
  estimateDuration,
  formatEstimate,
  hookTime,
} from "../../../../scripts/lib/release/estimate";

const PROJECT = { deregistrationDelaySeconds: 30, healthCheckIntervalSeconds: 10, healthyThresholdCount: 2 };
const AWS_DEFAULTS = { deregistrationDelaySeconds: 300, healthCheckIntervalSeconds: 30, healthyThresholdCount: 5 };
// app/appspec.yml: AfterInstall 5 s, ValidateService 60 s.
const APP_HOOKS = hookTime({ AfterInstall: [{ timeout: 5 }], ValidateService: [{ timeout: 60 }] });

describe("hook time per instance", () => {
  it("GIVEN the sample app's hooks THEN the worst case is the sum of their timeouts and the typical case 5 s a script (or less)", () => {
    expect(APP_HOOKS).toMatchObject({ scripts: 2, worstSeconds: 65, typicalSeconds: 10 });
  });

  it("GIVEN a script without timeout THEN it counts as CodeDeploy's default of one hour", () => {
    expect(hookTime({ ApplicationStart: [{}] })).toMatchObject({ worstSeconds: DEFAULT_SCRIPT_TIMEOUT_SECONDS, typicalSeconds: 5 });
  });

  it("GIVEN hooks on every script event, several scripts on one THEN all of them count, in lifecycle order", () => {
    const t = hookTime({
      AfterAllowTraffic: [{ timeout: 10 }],
      BeforeBlockTraffic: [{ timeout: 30 }],
      AfterInstall: [{ timeout: 2 }, { timeout: 100 }],
    });
    expect(t.byEvent.map((e) => e.event)).toEqual(["BeforeBlockTraffic", "AfterInstall", "AfterAllowTraffic"]);
    expect(t).toMatchObject({ scripts: 4, worstSeconds: 142, typicalSeconds: 5 + 2 + 5 + 5 });
  });

  it("GIVEN a hook on an event that runs no script THEN it is not counted", () => {
    expect(hookTime({ Install: [{ timeout: 99 }] })).toMatchObject({ scripts: 0, worstSeconds: 0 });
  });
});

describe("rollout duration", () => {
  // Hand-computed: per batch = deregistration + interval × threshold + agent 15 s + hooks; total = 15 s + batches × per batch.
  test.each`
    case                                     | timings         | fleet | batch | batches | typical | worst
    ${"project defaults, one-at-a-time"}     | ${PROJECT}      | ${4}  | ${1}  | ${4}    | ${315}  | ${535}
    ${"project defaults, half-at-a-time"}    | ${PROJECT}      | ${4}  | ${2}  | ${2}    | ${165}  | ${275}
    ${"project defaults, all-at-once"}       | ${PROJECT}      | ${4}  | ${4}  | ${1}    | ${90}   | ${145}
    ${"AWS defaults, one-at-a-time"}         | ${AWS_DEFAULTS} | ${4}  | ${1}  | ${4}    | ${1915} | ${2135}
    ${"AWS defaults, half-at-a-time"}        | ${AWS_DEFAULTS} | ${4}  | ${2}  | ${2}    | ${965}  | ${1075}
    ${"AWS defaults, all-at-once"}           | ${AWS_DEFAULTS} | ${4}  | ${4}  | ${1}    | ${490}  | ${545}
    ${"5 instances in batches of 2: 3 runs"} | ${PROJECT}      | ${5}  | ${2}  | ${3}    | ${240}  | ${405}
  `("GIVEN $case THEN $batches batches, typical $typical s, worst $worst s", ({ timings, fleet, batch, batches, typical, worst }) => {
    const e = estimateDuration({ fleetSize: fleet, batchSize: batch, timings, hooks: APP_HOOKS });
    expect(e).toMatchObject({ batches, typicalSeconds: typical, worstSeconds: worst });
  });

  it("GIVEN the project defaults THEN a batch is 30 s deregistration + 20 s health checks + the agent + hooks", () => {
    const e = estimateDuration({ fleetSize: 2, batchSize: 1, timings: PROJECT, hooks: APP_HOOKS });
    expect(e).toMatchObject({ blockTrafficSeconds: 30, allowTrafficSeconds: 20, agentSeconds: AGENT_SECONDS_PER_BATCH });
    expect(e.perBatchWorstSeconds).toBe(30 + 20 + AGENT_SECONDS_PER_BATCH + 65);
    expect(e.worstSeconds).toBe(START_SECONDS + 2 * e.perBatchWorstSeconds);
  });

  it("GIVEN unknown hooks (a GitHub revision) THEN only traffic and agent time count, and the text says so", () => {
    const e = estimateDuration({ fleetSize: 2, batchSize: 1, timings: PROJECT });
    expect(e.worstSeconds).toBe(15 + 2 * 65);
    expect(formatEstimate(e, PROJECT).join("\n")).toContain("hooks: unknown");
  });

  test.each`
    fleet  | batch
    ${0}   | ${1}
    ${2}   | ${0}
    ${2}   | ${3}
    ${1.5} | ${1}
  `("GIVEN fleet $fleet and batch $batch THEN it refuses, naming the value", ({ fleet, batch }) => {
    expect(() => estimateDuration({ fleetSize: fleet, batchSize: batch, timings: PROJECT })).toThrow(/fleetSize|batchSize/);
  });
});

describe("what release prints", () => {
  it("GIVEN 4 instances one at a time THEN it shows every factor and both cases", () => {
    const text = formatEstimate(estimateDuration({ fleetSize: 4, batchSize: 1, timings: PROJECT, hooks: APP_HOOKS }), PROJECT).join("\n");
    expect(text).toContain("4 instances, 1 at a time → 4 batches");
    expect(text).toContain("BlockTraffic 30 s (deregistration delay)");
    expect(text).toContain("AllowTraffic 20 s (health check 10 s × 2)");
    expect(text).toContain("hooks (2 scripts) ≈ 10 s typical, 1 min 5 s if every one runs to its timeout");
    expect(text).toContain("typical ≈ 5 min 15 s · worst case ≈ 8 min 55 s");
  });

  test.each`
    case                            | worst   | hooks        | minutes
    ${"a short rollout: the floor"} | ${120}  | ${APP_HOOKS} | ${10}
    ${"worst case 20 min: +25 %"}   | ${1200} | ${APP_HOOKS} | ${25}
    ${"hooks unknown: + one hour"}  | ${120}  | ${undefined} | ${78}
  `("GIVEN $case THEN the default timeout is $minutes min", ({ worst, hooks, minutes }) => {
    const e = { ...estimateDuration({ fleetSize: 1, batchSize: 1, timings: PROJECT, hooks }), worstSeconds: worst };
    expect(defaultTimeoutMinutes(e)).toBe(minutes);
  });
});
