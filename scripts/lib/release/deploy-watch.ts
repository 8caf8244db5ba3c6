/**
 * Creates a CodeDeploy deployment and watches it to the end: per-instance, per-event progress;
 * on failure the instance, hook, script and log tail, then the automatic rollback watched to
 * completion; a timeout; Ctrl-C. Every client, the clock, the output and the prompt are handed
 * in, so tests run the whole flow against mocks without waiting.
 */
import {
  BatchGetDeploymentTargetsCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  ListDeploymentTargetsCommand,
  StopDeploymentCommand,
  type CodeDeployClient,
  type DeploymentInfo,
  type RevisionLocation,
} from "@aws-sdk/client-codedeploy";
import { EXIT, CliError, type ExitCode } from "../cli/errors";
import { errorName, isThrottling, isTransient } from "../aws/errors";
import { formatDuration } from "../cli/duration";
import type { Prompt } from "../cli/prompt";
import { INTERRUPT_QUESTION, interruptAction, leftRunningMessage } from "./interrupt";
import { ProgressTracker, formatFailures, toTargetView, type TargetView } from "./progress";
import type { FileExistsBehavior, OnTimeout } from "./options";
import type { DeployStep } from "./strategies";

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface Output {
  write(text: string): unknown;
}

export type Signal = "SIGINT" | "SIGTERM";

/**
 * Ctrl-C and SIGTERM as a queue: {@link wait} only wakes the watcher, {@link take} consumes.
 * (A promise per signal would be lost when the poll interval wins the race.)
 */
export interface Interrupts {
  /** The oldest signal not yet taken. */
  take(): Signal | undefined;
  /** Resolves when a signal is waiting to be taken (at once if one is). Consumes nothing. */
  wait(): Promise<void>;
}

export type { Prompt };

export interface WatchDeps {
  readonly codedeploy: CodeDeployClient;
  readonly clock: Clock;
  readonly out: Output;
  readonly region: string;
  readonly interrupts?: Interrupts;
  /** Present only when stdin and stdout are a terminal. */
  readonly prompt?: Prompt;
  readonly poll?: Partial<PollPolicy>;
}

export interface PollPolicy {
  /** Between polls when all is well. */
  readonly intervalMs: number;
  /** Ceiling of the backoff on throttling. */
  readonly maxIntervalMs: number;
  /** Transient errors in a row before giving up watching (the deployment goes on). */
  readonly maxConsecutiveErrors: number;
  /** How long to wait for CodeDeploy to report the automatic rollback of a failed deployment. */
  readonly rollbackAppearMs: number;
}

export const DEFAULT_POLL: PollPolicy = { intervalMs: 5_000, maxIntervalMs: 60_000, maxConsecutiveErrors: 10, rollbackAppearMs: 120_000 };

const TERMINAL = new Set(["Succeeded", "Failed", "Stopped"]);
/**
 * A deployment in these states has no targets yet: ListDeploymentTargets and
 * BatchGetDeploymentTargets answer DeploymentNotStartedException.
 */
const NOT_STARTED = new Set(["Created", "Queued"]);

export function say(out: Output, ...lines: string[]): void {
  for (const l of lines) out.write(`${l}\n`);
}

export function consoleUrl(region: string, deploymentId: string): string {
  return `https://${region}.console.aws.amazon.com/codesuite/codedeploy/deployments/${deploymentId}?region=${region}`;
}

export type WatchOutcome =
  | { readonly kind: "finished"; readonly info: DeploymentInfo; readonly targets: readonly TargetView[] }
  | { readonly kind: "timed-out"; readonly info?: DeploymentInfo }
  | { readonly kind: "interrupted"; readonly action: "stop" | "leave"; readonly info?: DeploymentInfo };

/**
 * Polls with backoff: throttling doubles the interval (up to a ceiling); each poll cycle
 * without an error halves it again, down to the normal interval.
 */
class Poller {
  private intervalMs: number;
  private errors = 0;
  private failedThisCycle = false;

  constructor(
    private readonly deps: WatchDeps,
    private readonly policy: PollPolicy,
    private readonly deploymentId: string,
  ) {
    this.intervalMs = policy.intervalMs;
  }

  /** How long to wait before the next cycle; ends the current cycle. */
  nextWaitMs(): number {
    if (!this.failedThisCycle) this.intervalMs = Math.max(this.policy.intervalMs, Math.floor(this.intervalMs / 2));
    this.failedThisCycle = false;
    return this.intervalMs;
  }

  /** The call's result, or undefined after a transient error (throttling, 5xx, network). */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await fn();
      this.errors = 0;
      return result;
    } catch (e) {
      if (!isTransient(e)) throw e;
      this.errors++;
      this.failedThisCycle = true;
      if (isThrottling(e)) this.intervalMs = Math.min(this.policy.maxIntervalMs, this.intervalMs * 2);
      if (this.errors >= this.policy.maxConsecutiveErrors) {
        throw new CliError(
          `lost contact with CodeDeploy (${this.errors} ${what} errors in a row, last: ${errorName(e)}): the deployment goes on without us.\n` +
            leftRunningMessage(this.deploymentId, this.deps.region),
          EXIT.needsAttention,
          this.deploymentId,
        );
      }
      say(this.deps.out, `  (${what}: ${errorName(e) || "error"}; next poll in ${formatDuration(this.intervalMs / 1000)})`);
      return undefined;
    }
  }
}

/**
 * The deployment's instance targets; undefined while CodeDeploy says the deployment has not
 * started (DeploymentNotStartedException: it can still say so just after GetDeployment said
 * InProgress). Not started is "no targets yet", not a missing permission: keep polling.
 */
async function fetchTargets(codedeploy: CodeDeployClient, deploymentId: string): Promise<TargetView[] | undefined> {
  try {
    return await listTargets(codedeploy, deploymentId);
  } catch (e) {
    if (errorName(e) === "DeploymentNotStartedException") return undefined;
    throw e;
  }
}

async function listTargets(codedeploy: CodeDeployClient, deploymentId: string): Promise<TargetView[]> {
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await codedeploy.send(new ListDeploymentTargetsCommand({ deploymentId, nextToken }));
    ids.push(...(page.targetIds ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const views: TargetView[] = [];
  for (let i = 0; i < ids.length; i += 25) {
    const out = await codedeploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ids.slice(i, i + 25) }));
    for (const t of out.deploymentTargets ?? []) {
      const v = toTargetView(t);
      if (v) views.push(v);
    }
  }
  return views;
}

async function getDeployment(codedeploy: CodeDeployClient, deploymentId: string): Promise<DeploymentInfo> {
  const out = await codedeploy.send(new GetDeploymentCommand({ deploymentId }));
  if (!out.deploymentInfo) throw new Error(`GetDeployment ${deploymentId} returned no deploymentInfo`);
  return out.deploymentInfo;
}

/** Watches one deployment until it ends, the deadline passes, or the user interrupts. */
export async function watchDeployment(
  deps: WatchDeps,
  deploymentId: string,
  opts: { readonly deadlineMs: number; readonly phase: "deploy" | "rollback" },
): Promise<WatchOutcome> {
  const policy = { ...DEFAULT_POLL, ...deps.poll };
  const poller = new Poller(deps, policy, deploymentId);
  const tracker = new ProgressTracker();
  const startedMs = deps.clock.now();
  const stamp = () => {
    const s = Math.max(0, Math.round((deps.clock.now() - startedMs) / 1000));
    return `[${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}]`;
  };
  let info: DeploymentInfo | undefined;
  let lastStatus: string | undefined;
  let perInstance = true;

  for (;;) {
    let fresh: DeploymentInfo | undefined;
    try {
      fresh = await poller.call("GetDeployment", () => getDeployment(deps.codedeploy, deploymentId));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(
        `cannot watch ${deploymentId} (${errorName(e)}: ${e instanceof Error ? e.message : String(e)}); it goes on without us.\n${leftRunningMessage(deploymentId, deps.region)}`,
        EXIT.needsAttention,
        deploymentId,
      );
    }
    if (fresh) {
      info = fresh;
      let targets: TargetView[] | undefined;
      if (perInstance && !NOT_STARTED.has(info.status ?? "")) {
        try {
          targets = await poller.call("deployment targets", () => fetchTargets(deps.codedeploy, deploymentId));
        } catch (e) {
          if (e instanceof CliError) throw e;
          // Progress per instance is a nicety: without codedeploy:ListDeploymentTargets, show the counts.
          perInstance = false;
          say(deps.out, `  (no progress per instance: ${errorName(e)}: ${e instanceof Error ? e.message : String(e)}; showing counts only)`);
        }
      }
      if (info.status !== lastStatus) {
        lastStatus = info.status;
        say(deps.out, `${stamp()} ${deploymentId}: ${info.status}`);
      }
      for (const line of tracker.update(targets ?? [], info.deploymentOverview)) say(deps.out, `${stamp()}${line}`);
      if (TERMINAL.has(info.status ?? "")) {
        // A terminal deployment needs its final targets for the failure report.
        const final = targets ?? (perInstance ? ((await fetchTargets(deps.codedeploy, deploymentId).catch(() => undefined)) ?? []) : []);
        return { kind: "finished", info, targets: final };
      }
    }
    if (deps.clock.now() >= opts.deadlineMs) return { kind: "timed-out", info };

    await Promise.race([...(deps.interrupts ? [deps.interrupts.wait()] : []), deps.clock.sleep(poller.nextWaitMs())]);
    const signal = deps.interrupts?.take();
    while (deps.interrupts?.take()); // one decision for a burst of Ctrl-Cs
    if (signal) {
      const action = await decide(deps, opts.phase, signal);
      if (action !== "keep-watching") return { kind: "interrupted", action, info };
      say(deps.out, "  keeping watch");
    }
  }
}

async function decide(deps: WatchDeps, phase: "deploy" | "rollback", signal: Signal): Promise<"stop" | "leave" | "keep-watching"> {
  const interactive = deps.prompt !== undefined;
  let answer: string | null | undefined;
  for (;;) {
    const action = interruptAction({ interactive, phase, signal, answer });
    if (action !== "ask") return action;
    answer = await deps.prompt!.ask(INTERRUPT_QUESTION);
  }
}

export interface DeployContext {
  readonly applicationName: string;
  readonly revision: RevisionLocation;
  readonly description: string;
  readonly fileExistsBehavior: FileExistsBehavior;
  /** How long to watch the deployment (and, separately, its rollback). */
  readonly timeoutMs: number;
  readonly onTimeout: OnTimeout;
  /** Called once the deployment exists (the flow records its id in the release lock). */
  readonly onCreated?: (deploymentId: string) => Promise<void>;
}

export interface StepResult {
  readonly exitCode: ExitCode;
  readonly deploymentId?: string;
  readonly summary: string;
  /** The deployment (or its rollback) that is still running when the step returns; the release keeps its lock for it. */
  readonly leftRunning?: string;
}

/** CreateDeployment's refusals, as messages that say what to do. */
function explainCreateError(e: unknown, step: DeployStep): Error {
  const name = errorName(e);
  const message = e instanceof Error ? e.message : String(e);
  switch (name) {
    case "DeploymentLimitExceededException":
      return new CliError(
        `CodeDeploy refused: ${step.deploymentGroupName} already has a deployment in progress (${message}). ` +
          `Wait for it, or stop it: aws deploy list-deployments --deployment-group-name ${step.deploymentGroupName} --include-only-statuses InProgress`,
      );
    case "DeploymentConfigDoesNotExistException":
    case "DeploymentGroupDoesNotExistException":
    case "ApplicationDoesNotExistException":
      return new CliError(`CodeDeploy refused: ${message} — the published stack is out of date: run npx cdktf deploy for this environment`);
    case "InvalidRevisionException":
    case "RevisionDoesNotExistException":
    case "InvalidGitHubAccountTokenException":
    case "GitHubAccountTokenDoesNotExistException":
      return new CliError(`CodeDeploy refused the revision: ${message}`);
    default:
      return e instanceof Error ? e : new Error(message);
  }
}

async function stopDeployment(deps: WatchDeps, deploymentId: string): Promise<void> {
  try {
    const out = await deps.codedeploy.send(new StopDeploymentCommand({ deploymentId, autoRollbackEnabled: true }));
    say(deps.out, `stopping ${deploymentId} with rollback: ${out.status ?? "Pending"}${out.statusMessage ? ` (${out.statusMessage})` : ""}`);
  } catch (e) {
    if (errorName(e) === "DeploymentAlreadyCompletedException") {
      say(deps.out, `${deploymentId} had already ended`);
      return;
    }
    throw e;
  }
}

/**
 * After a deployment failed or was stopped: waits for CodeDeploy's automatic rollback to
 * appear and watches it to the end. Confirms (exit 1) only when the rollback succeeded.
 */
export async function confirmRollback(deps: WatchDeps, deploymentId: string, timeoutMs: number): Promise<StepResult> {
  const policy = { ...DEFAULT_POLL, ...deps.poll };
  const poller = new Poller(deps, policy, deploymentId);
  const giveUp = deps.clock.now() + policy.rollbackAppearMs;
  let rollbackId: string | undefined;
  for (;;) {
    const info = await poller.call("GetDeployment", () => getDeployment(deps.codedeploy, deploymentId));
    rollbackId = info?.rollbackInfo?.rollbackDeploymentId;
    if (rollbackId) break;
    const message = info?.rollbackInfo?.rollbackMessage;
    if (message && TERMINAL.has(info?.status ?? "")) {
      say(deps.out, `✗ no automatic rollback: ${message}`);
      return { exitCode: EXIT.needsAttention, deploymentId, summary: `${deploymentId} ended ${info?.status}; CodeDeploy did not roll back (${message})` };
    }
    if (deps.clock.now() >= giveUp) {
      return {
        exitCode: EXIT.needsAttention,
        deploymentId,
        summary: `CodeDeploy reported no rollback of ${deploymentId} within ${formatDuration(policy.rollbackAppearMs / 1000)}: check ${consoleUrl(deps.region, deploymentId)}`,
      };
    }
    await deps.clock.sleep(poller.nextWaitMs());
  }

  say(deps.out, "", `rolling back: deployment ${rollbackId} redeploys the last successful revision (${consoleUrl(deps.region, rollbackId)})`);
  const outcome = await watchDeployment(deps, rollbackId, { deadlineMs: deps.clock.now() + timeoutMs, phase: "rollback" });
  if (outcome.kind === "finished" && outcome.info.status === "Succeeded") {
    return { exitCode: EXIT.failed, deploymentId, summary: `✓ rolled back: ${rollbackId} succeeded; every instance runs the previous revision again` };
  }
  if (outcome.kind === "finished") {
    say(deps.out, ...formatFailures(outcome.targets));
    return {
      exitCode: EXIT.needsAttention,
      deploymentId,
      summary: `✗ the rollback ${rollbackId} ended ${outcome.info.status}: instances may run different revisions; see ${consoleUrl(deps.region, rollbackId)}`,
    };
  }
  say(deps.out, leftRunningMessage(rollbackId, deps.region));
  return {
    exitCode: outcome.kind === "interrupted" ? EXIT.interrupted : EXIT.needsAttention,
    deploymentId,
    leftRunning: rollbackId,
    summary: outcome.kind === "interrupted" ? `left the rollback ${rollbackId} running` : `the rollback ${rollbackId} did not finish in time`,
  };
}

function failureReport(deps: WatchDeps, info: DeploymentInfo, targets: readonly TargetView[]): void {
  const err = info.errorInformation;
  say(deps.out, "", `✗ deployment ${info.deploymentId} ${info.status}${err?.code ? ` (${err.code})` : ""}${err?.message ? `: ${err.message}` : ""}`);
  const lines = formatFailures(targets);
  if (lines.length) say(deps.out, ...lines);
}

/** Runs one `deploy` step: CreateDeployment, watch, and whatever the outcome calls for. */
export async function executeDeployStep(deps: WatchDeps, step: DeployStep, ctx: DeployContext): Promise<StepResult> {
  let deploymentId: string;
  try {
    const out = await deps.codedeploy.send(
      new CreateDeploymentCommand({
        applicationName: ctx.applicationName,
        deploymentGroupName: step.deploymentGroupName,
        deploymentConfigName: step.deploymentConfigName,
        revision: ctx.revision,
        description: ctx.description.slice(0, 256),
        fileExistsBehavior: ctx.fileExistsBehavior,
        autoRollbackConfiguration: { enabled: true, events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"] },
      }),
    );
    if (!out.deploymentId) throw new Error("CreateDeployment returned no deploymentId");
    deploymentId = out.deploymentId;
  } catch (e) {
    throw explainCreateError(e, step);
  }
  say(deps.out, `created deployment ${deploymentId}: ${consoleUrl(deps.region, deploymentId)}`);
  await ctx.onCreated?.(deploymentId);

  const outcome = await watchDeployment(deps, deploymentId, { deadlineMs: deps.clock.now() + ctx.timeoutMs, phase: "deploy" });

  if (outcome.kind === "finished") {
    const { info, targets } = outcome;
    if (info.status === "Succeeded") {
      const failedLast = formatFailures(targets);
      if (failedLast.length) {
        // one-at-a-time succeeds even when the last instance fails: say so loudly.
        say(deps.out, "", "! the deployment succeeded, but an instance failed (one-at-a-time tolerates a failure on the last instance):", ...failedLast);
      }
      return { exitCode: EXIT.ok, deploymentId, summary: `✓ released: ${deploymentId} succeeded on ${step.color} (${step.deploymentGroupName})` };
    }
    failureReport(deps, info, targets);
    const result = await confirmRollback(deps, deploymentId, ctx.timeoutMs);
    return { ...result, summary: `release failed: ${deploymentId} ${info.status}.\n${result.summary}` };
  }

  if (outcome.kind === "interrupted" && outcome.action === "leave") {
    say(deps.out, "", leftRunningMessage(deploymentId, deps.region));
    return { exitCode: EXIT.interrupted, deploymentId, summary: `left ${deploymentId} running`, leftRunning: deploymentId };
  }

  if (outcome.kind === "timed-out" && ctx.onTimeout === "leave") {
    say(deps.out, "", `timed out after ${formatDuration(ctx.timeoutMs / 1000)} (--on-timeout leave):`, leftRunningMessage(deploymentId, deps.region));
    return { exitCode: EXIT.needsAttention, deploymentId, summary: `timed out; left ${deploymentId} running`, leftRunning: deploymentId };
  }

  // Timed out (--on-timeout rollback) or the user chose to stop: stop with rollback, confirm it.
  const why = outcome.kind === "timed-out" ? `timed out after ${formatDuration(ctx.timeoutMs / 1000)}` : "stopped at your request";
  say(deps.out, "", `${why}: stopping ${deploymentId} and rolling back`);
  await stopDeployment(deps, deploymentId);
  const result = await confirmRollback(deps, deploymentId, ctx.timeoutMs);
  return { ...result, summary: `release ${why}.\n${result.summary}` };
}
