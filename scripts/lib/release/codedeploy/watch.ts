/**
 * Watches one CodeDeploy deployment to its end: per-instance, per-event progress, the outcome,
 * and what Ctrl-C means while it runs.
 */
import {
  BatchGetDeploymentTargetsCommand,
  GetDeploymentCommand,
  ListDeploymentTargetsCommand,
  type CodeDeployClient,
  type DeploymentInfo,
} from "@aws-sdk/client-codedeploy";
import { CliError, EXIT } from "../../cli/errors";
import { errorName } from "../../aws/errors";
import { INTERRUPT_QUESTION, interruptAction, leftRunningMessage } from "./interrupt";
import { DEFAULT_POLL, Poller, type WatchDeps } from "./poller";
import { ProgressTracker, toTargetView, type TargetView } from "./progress";
import { say, type Signal } from "../runtime";

export const TERMINAL = new Set(["Succeeded", "Failed", "Stopped"]);
/**
 * A deployment in these states has no targets yet: ListDeploymentTargets and
 * BatchGetDeploymentTargets answer DeploymentNotStartedException.
 */
const NOT_STARTED = new Set(["Created", "Queued"]);

export type WatchOutcome =
  | { readonly kind: "finished"; readonly info: DeploymentInfo; readonly targets: readonly TargetView[] }
  | { readonly kind: "timed-out"; readonly info?: DeploymentInfo }
  | { readonly kind: "interrupted"; readonly action: "stop" | "leave"; readonly info?: DeploymentInfo };

/**
 * The deployment's instance targets; undefined while CodeDeploy says the deployment has not
 * started (DeploymentNotStartedException: it can still say so just after GetDeployment said
 * InProgress). Not started is "no targets yet", not a missing permission: keep polling.
 */
export async function fetchTargets(codedeploy: CodeDeployClient, deploymentId: string): Promise<TargetView[] | undefined> {
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

export async function getDeployment(codedeploy: CodeDeployClient, deploymentId: string): Promise<DeploymentInfo> {
  const out = await codedeploy.send(new GetDeploymentCommand({ deploymentId }));
  if (!out.deploymentInfo) throw new Error(`GetDeployment ${deploymentId} returned no deploymentInfo`);
  return out.deploymentInfo;
}

/** Watches one deployment until it ends, the deadline passes, or the user interrupts. */
export async function watchDeployment(
  deps: WatchDeps,
  deploymentId: string,
  opts: {
    readonly deadlineMs: number;
    readonly phase: "deploy" | "rollback";
    /** What Ctrl-C does without asking (a deployment to a color that takes no traffic is just stopped). @default - ask, or leave it running without a terminal */
    readonly onInterrupt?: "stop";
  },
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
      const action = opts.onInterrupt ?? (await decide(deps, opts.phase, signal));
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
