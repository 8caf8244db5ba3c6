/**
 * Blue/green and canary on the twin fleets. The idle color is brought up to the live color's
 * size, gets the revision (all at once: it takes no traffic), is smoke-tested through the keyed
 * color route, then takes traffic: all at once (blue/green) or in rising steps (canary), each
 * followed by a bake with its alarms watched. The old color stays up until the last bake ends
 * (or longer, with --keep-previous), so a rollback is one weight switch.
 *
 * The steps only say what to do; executing them (and rolling back) is the release flow's.
 */
import { otherColor, type Color } from "../../../../modules/names";
import { CliError } from "../../cli/errors";
import { formatDuration } from "../../cli/duration";
import { estimateTwin } from "../estimate-twin";
import type { PlanInput, ReleasePlan, ReleaseStep, Strategy, StrategySummary } from "./types";

/** How long the new color's alarms are watched after each switch, unless --bake says otherwise. */
export const DEFAULT_BAKE_SECONDS = 300;

function weights(live: Color, idle: Color, onIdle: number): Record<Color, number> {
  return { [live]: 100 - onIdle, [idle]: onIdle } as Record<Color, number>;
}

export class TwinStrategy implements Strategy {
  readonly summary: StrategySummary;

  constructor(
    readonly key: string,
    readonly kind: "blue-green" | "canary",
    /** Percent of traffic on the new color at each switch; [100] for blue/green. */
    readonly percentages: readonly number[],
  ) {
    this.summary =
      kind === "blue-green"
        ? {
            capacity:
              "100 %: the live color keeps serving while the idle color is brought up, deployed and smoke-tested; both colors run at once until the bake ends",
            risk: "low: users meet the new revision only after its smoke test, all at once; a rollback is one weight switch while the old color is up",
            duration: "scale-up + one deployment to the idle color + one switch, then a bake",
          }
        : {
            capacity: "100 %: the live color keeps serving; both colors run at once until the last bake ends",
            risk: `lowest: ${percentages[0]} % of requests meet the new revision first; an alarm at any step sends all traffic back in one switch`,
            duration: `scale-up + one deployment to the idle color + ${percentages.length} switches, each followed by a bake`,
          };
  }

  plan(input: PlanInput): ReleasePlan {
    const live = input.liveColor;
    const idle = otherColor(live);
    const size = input.fleetSize;
    if (input.idleMax !== undefined && input.idleMax < size) {
      throw new CliError(
        `--strategy ${this.key} brings the idle color ${idle} up to the live fleet's ${size} instance${size === 1 ? "" : "s"}, but the idle role's max is ${input.idleMax}: ` +
          `raise capacity.idle.max in config/${input.env}.yaml to at least ${size} and deploy the stack, or release in place`,
      );
    }
    const bake = input.bakeSeconds ?? DEFAULT_BAKE_SECONDS;
    // The deploy step always: the executor skips it only when the idle color's last successful
    // deployment is the revision (checked when it runs, not assumed from --same-revision: after an
    // ordinary blue/green the idle color holds the previous revision, and traffic must not go there).
    const steps: ReleaseStep[] = [
      { kind: "scale-up", color: idle, desired: size },
      {
        kind: "deploy",
        color: idle,
        deploymentGroupName: input.stack.fleets[idle].deploymentGroupName,
        deploymentConfigName: "CodeDeployDefault.AllAtOnce",
        fleetSize: size,
        batchSize: size,
        live: false,
      },
      { kind: "smoke-test", color: idle, paths: input.smokePaths ?? [] },
    ];
    for (const p of this.percentages) {
      steps.push({ kind: "shift-traffic", weights: weights(live, idle, p), to: p === 100 ? idle : live });
      steps.push({ kind: "bake", color: idle, seconds: bake });
    }
    if (input.keepPreviousSeconds !== undefined) steps.push({ kind: "keep-previous", color: live, seconds: input.keepPreviousSeconds });
    else steps.push({ kind: "scale-down", color: live, desired: input.idleDesired ?? 0 });
    return {
      strategy: this.key,
      kind: this.kind,
      summary: this.summary,
      steps,
      estimate: estimateTwin({
        fleetSize: size,
        timings: input.stack.timings,
        hooks: input.hooks,
        percentages: this.percentages,
        bakeSeconds: bake,
        sameRevision: input.idleRunsRevision,
      }),
    };
  }
}

/** `blue-green → 100` or `canary=10,50,100 → 10 → 50 → 100` for messages. */
export function describeShifts(percentages: readonly number[], bakeSeconds: number): string {
  return `${percentages.map((p) => `${p} %`).join(" → ")} on the new color, a ${formatDuration(bakeSeconds)} bake after each`;
}
