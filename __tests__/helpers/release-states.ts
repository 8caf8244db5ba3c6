/**
 * The release-state invariant (DESIGN.md): after any release step, a plan by anyone plans no
 * change to the weights, capacity or AMIs the release set, and a plan while someone else holds
 * the release lock is refused.
 *
 * `checkReleaseStates` plans a synthesized stack once per release state, in ONE `terraform test`
 * (one init, one .tftest.hcl, a `run` per state), and asserts per state that the planned listener
 * weights, each group's min/max by its role (and, when the state says what AWS has, exactly
 * that: the release sets min/max with the roles), and each launch template's AMI are what the
 * state says. Terraform has no "the plan is empty" assertion, and `terraform test` plans from an empty
 * state, so each run starts the release-state parameters from the state's values (their initial
 * values are Terraform variables) and asserts every attribute the release owns.
 */
import { COLORS, type Color, LOCK_ID_VARIABLE, otherColor, RELEASE_STATE_VARIABLES, releaseParameters, type Role } from "../../modules/names";
import type { WebfleetStack } from "../../modules/webfleet-stack";
import type { EnvironmentConfig } from "../../config/load";
import { addressOf, hcl, type Workspace } from "./terraform";
import { assertBlock, expectedWeights, listenerWeights, lockOverride, mockAwsProvider, targetGroupOverrides } from "./tftest";

/** Who holds the release lock, as the release tooling mirrors it to SSM. */
export interface LockHolder {
  readonly id: string;
  readonly user: string;
  readonly host: string;
  readonly startedAt: string;
  readonly [field: string]: unknown;
}

/** A release state: what the release set in AWS (and recorded in SSM), and who plans. */
export interface ReleaseStateCase {
  /** The run's name in the test file: letters, digits and _. */
  readonly name: string;
  readonly liveColor: Color;
  /** The listener weight of each color. */
  readonly weights: Readonly<Record<Color, number>>;
  /** The AMI of each color whose AMI comes from its SSM parameter (a pinned color's is the config's). */
  readonly amis?: Readonly<Partial<Record<Color, string>>>;
  /**
   * The desired capacity the release set per color. Terraform ignores it (the release owns it);
   * the run checks it fits the min/max Terraform plans for the color's role.
   * @default - not checked
   */
  readonly desired?: Readonly<Partial<Record<Color, number>>>;
  /**
   * Each group's min_size/max_size in AWS (the release sets them by role). The plan must set the
   * same: a difference is a change Terraform would make to what the release left.
   * @default - not checked
   */
  readonly minMax?: Readonly<Partial<Record<Color, { readonly min: number; readonly max: number }>>>;
  /** @default - nobody holds the lock */
  readonly lockHolder?: LockHolder;
  /** `TF_VAR_release_lock_id` of the plan. @default - none */
  readonly lockId?: string;
}

export interface ReleaseStateOutcome {
  readonly name: string;
  /** planned: every attribute matched; refused: the lock check stopped the plan; failed: see problems. */
  readonly outcome: "planned" | "refused" | "failed";
  /** What did not match, or why the run failed (empty when it went as the state says). */
  readonly problems: readonly string[];
  /**
   * The refusal's message. Only for the last refused state: `terraform test` shows no message
   * for an expected failure, and skips every run after an unexpected one, so the last refusal is
   * the one run without `expect_failures`.
   */
  readonly message?: string;
}

export interface ReleaseStateTarget {
  /** An initialized workspace of the synthesized stack (sharedWorkspace). */
  readonly workspace: Workspace;
  /** The stack that was synthesized there, for the addresses of what is asserted. */
  readonly stack: WebfleetStack;
  readonly config: EnvironmentConfig;
}

const refuses = (s: ReleaseStateCase) => s.lockHolder !== undefined && s.lockHolder.id !== s.lockId;

/** The role a color has in a state, and that role's configured capacity. */
function roleOf(config: EnvironmentConfig, state: ReleaseStateCase, color: Color): { role: Role; min: number; max: number } {
  const role: Role = color === state.liveColor ? "live" : "idle";
  return { role, ...config.capacity[role] };
}

/** The AMI a state gives a color's launch template: the state's (from its parameter) or the pinned id. */
function amiOf(config: EnvironmentConfig, state: ReleaseStateCase, color: Color): string {
  const source = config.ami[color];
  if ("id" in source) return source.id;
  const ami = state.amis?.[color];
  if (!ami) throw new Error(`release state ${state.name}: amis.${color} is required (${config.name}'s ${color} AMI comes from its SSM parameter)`);
  return ami;
}

function runBlock(target: ReleaseStateTarget, state: ReleaseStateCase, expectRefusal: boolean): string {
  const { stack, config } = target;
  const variables: Record<string, unknown> = {
    [RELEASE_STATE_VARIABLES.liveColor]: state.liveColor,
    ...Object.fromEntries(COLORS.map((c) => [RELEASE_STATE_VARIABLES.weight(c), state.weights[c]])),
    ...Object.fromEntries(COLORS.filter((c) => "parameter" in config.ami[c]).map((c) => [RELEASE_STATE_VARIABLES.ami(c), amiOf(config, state, c)])),
    ...(state.lockId !== undefined ? { [LOCK_ID_VARIABLE]: state.lockId } : {}),
  };
  let out = `run ${hcl(state.name)} {
  command = plan
  variables {
${Object.entries(variables)
  .map(([k, v]) => `    ${k} = ${hcl(v)}`)
  .join("\n")}
  }
`;
  if (state.lockHolder) out += lockOverride(releaseParameters(config.name).lockHolder, state.lockHolder);
  if (expectRefusal) return `${out}  expect_failures = [var.${LOCK_ID_VARIABLE}]\n}\n`;
  if (refuses(state)) return `${out}}\n`; // the last refusal: run bare, so that its message is seen

  out += assertBlock(
    `${listenerWeights(stack)} == ${expectedWeights(state.weights)}`,
    `"listener weights: planned \${jsonencode(${listenerWeights(stack)})}, the state has ${COLORS.map((c) => `${c} ${state.weights[c]}`).join(", ")}"`,
  );
  for (const color of COLORS) {
    const asg = addressOf(stack.fleets[color].autoScalingGroup);
    const { role, min, max } = roleOf(config, state, color);
    out += assertBlock(
      `${asg}.min_size == ${min} && ${asg}.max_size == ${max}`,
      `"${color} (${role}): planned min \${${asg}.min_size}, max \${${asg}.max_size}; the ${role} role has ${min}..${max}"`,
    );
    const aws = state.minMax?.[color];
    if (aws) {
      out += assertBlock(
        `${asg}.min_size == ${aws.min} && ${asg}.max_size == ${aws.max}`,
        `"${color}: AWS has min ${aws.min}, max ${aws.max} (the release set them); the plan would set \${${asg}.min_size}..\${${asg}.max_size}"`,
      );
    }
    const desired = state.desired?.[color];
    if (desired !== undefined) {
      out += assertBlock(
        `${asg}.min_size <= ${desired} && ${desired} <= ${asg}.max_size`,
        `"${color} (${role}): the release set desired ${desired}, outside the planned \${${asg}.min_size}..\${${asg}.max_size}"`,
      );
    }
    const template = addressOf(stack.fleets[color].launchTemplate);
    const ami = amiOf(config, state, color);
    out += assertBlock(`${template}.image_id == ${hcl(ami)}`, `"${color} launch template: planned image \${${template}.image_id}, the state has ${ami}"`);
  }
  return `${out}}\n`;
}

/** The whole test file: the mocked provider, the target group ARNs, then a run per state (refusals last). */
export function releaseStatesTestFile(target: ReleaseStateTarget, states: readonly ReleaseStateCase[]): string {
  for (const s of states) if (!/^\w+$/.test(s.name)) throw new Error(`release state name ${JSON.stringify(s.name)}: letters, digits and _ only`);
  const ordered = [...states.filter((s) => !refuses(s)), ...states.filter(refuses)];
  const lastRefusal = ordered.filter(refuses).at(-1);
  return [
    mockAwsProvider(target.config.region),
    targetGroupOverrides(target.stack),
    ...ordered.map((s) => runBlock(target, s, refuses(s) && s !== lastRefusal)),
  ].join("\n");
}

/** Plans every state in one `terraform test` and says, per state, whether it went as the state says. */
export async function checkReleaseStates(target: ReleaseStateTarget, states: readonly ReleaseStateCase[]): Promise<ReleaseStateOutcome[]> {
  const report = await target.workspace.test(`release-states-${target.config.name}`, releaseStatesTestFile(target, states));
  const lastRefusal = states.filter(refuses).at(-1);
  return states.map((state) => {
    const run = report.runs[state.name];
    const details = (run?.diagnostics ?? []).map((d) => `${d.summary}: ${d.detail}`);
    if (!run) return { name: state.name, outcome: "failed", problems: [`no run reported:\n${report.output}`] };
    if (!refuses(state)) {
      return run.status === "pass"
        ? { name: state.name, outcome: "planned", problems: [] }
        : { name: state.name, outcome: "failed", problems: details.length ? details : [`run ${run.status}`] };
    }
    if (state !== lastRefusal) {
      return run.status === "pass"
        ? { name: state.name, outcome: "refused", problems: [] }
        : { name: state.name, outcome: "failed", problems: details.length ? details : [`run ${run.status}: the lock check did not refuse`] };
    }
    const refusal = run.diagnostics.find((d) => d.severity === "error" && d.detail.includes(" is locked by "));
    return refusal
      ? { name: state.name, outcome: "refused", problems: details.filter((d) => !d.includes(refusal.detail)), message: refusal.detail.replace(/\s+/g, " ") }
      : { name: state.name, outcome: "failed", problems: details.length ? details : [`run ${run.status}: the lock check did not refuse`] };
  });
}

/** A state where `live` serves everything and the other color idles. */
export function settled(name: string, live: Color, amis: Readonly<Partial<Record<Color, string>>>): ReleaseStateCase {
  return { name, liveColor: live, weights: { [live]: 100, [otherColor(live)]: 0 } as Record<Color, number>, amis };
}
