/**
 * Auto Scaling instance refreshes: which ones a deploy started, and waiting for them with
 * progress. Terraform starts a refresh when a fleet's launch template changes (a new AMI)
 * and returns at once; `npm run deploy` waits here until every such refresh has ended.
 */
import { DescribeInstanceRefreshesCommand, type AutoScalingClient, type InstanceRefresh, type InstanceRefreshStatus } from "@aws-sdk/client-auto-scaling";
import { ErrorRun } from "../aws/error-run";
import type { Log } from "../cli/output";

/** Statuses after which nothing more happens. Only `Successful` is a success. */
export const SUCCEEDED: readonly InstanceRefreshStatus[] = ["Successful"];
export const FAILED: readonly InstanceRefreshStatus[] = ["Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"];

export function isTerminal(status: string | undefined): boolean {
  return status !== undefined && ([...SUCCEEDED, ...FAILED] as string[]).includes(status);
}

/** The refreshes of a group, newest first (as the API returns them), every page. */
export async function listRefreshes(autoScaling: AutoScalingClient, groupName: string): Promise<InstanceRefresh[]> {
  const all: InstanceRefresh[] = [];
  let token: string | undefined;
  do {
    const page = await autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: groupName, NextToken: token }));
    all.push(...(page.InstanceRefreshes ?? []));
    token = page.NextToken;
  } while (token);
  return all;
}

/** The refresh ids each group has now; taken before a deploy, so that the deploy's new ones stand out. */
export async function snapshotRefreshIds(autoScaling: AutoScalingClient, groupNames: readonly string[]): Promise<Map<string, Set<string>>> {
  const known = new Map<string, Set<string>>();
  for (const name of groupNames) {
    const ids = (await listRefreshes(autoScaling, name)).map((r) => r.InstanceRefreshId).filter((id): id is string => !!id);
    known.set(name, new Set(ids));
  }
  return known;
}

/** How far local and AWS clocks may disagree when a group had no snapshot (it did not exist before). */
export const CLOCK_SKEW_MS = 2 * 60 * 1000;

/**
 * The refreshes started by this deploy: those not in the group's snapshot, or, for a group
 * that had none (new in this deploy), those started after `startedAt` minus the clock skew.
 */
export function refreshesStartedByDeploy(
  refreshes: readonly InstanceRefresh[],
  options: { readonly knownIds?: ReadonlySet<string>; readonly startedAt: Date; readonly clockSkewMs?: number },
): InstanceRefresh[] {
  const since = options.startedAt.getTime() - (options.clockSkewMs ?? CLOCK_SKEW_MS);
  return refreshes.filter((r) => {
    if (!r.InstanceRefreshId) return false;
    if (options.knownIds) return !options.knownIds.has(r.InstanceRefreshId);
    return r.StartTime !== undefined && r.StartTime.getTime() >= since;
  });
}

/** One refresh to wait for, with a label for messages (the color). */
export interface WatchedRefresh {
  readonly label: string;
  readonly groupName: string;
  readonly refreshId: string;
}

export interface RefreshOutcome extends WatchedRefresh {
  /**
   * The last status seen; `TimedOut` when the wait ended first, `LostContact` when a long run of
   * AWS errors ended it (the refresh goes on in AWS either way).
   */
  readonly status: InstanceRefreshStatus | "TimedOut" | "LostContact";
  readonly percentage?: number;
  readonly reason?: string;
  readonly ok: boolean;
}

/** `InProgress 40% (3 instances to update)`, `RollbackInProgress 50% of the rollback`, ... */
export function describeProgress(r: InstanceRefresh): string {
  const status = r.Status ?? "Unknown";
  if (status === "RollbackInProgress" || status === "RollbackSuccessful" || status === "RollbackFailed") {
    const pct = r.RollbackDetails?.PercentageCompleteOnRollback;
    const why = r.RollbackDetails?.RollbackReason ?? r.StatusReason;
    return `${status}${pct !== undefined ? ` ${pct}% of the rollback` : ""}${why ? `: ${why}` : ""}`;
  }
  const parts = [status];
  if (r.PercentageComplete !== undefined) parts.push(`${r.PercentageComplete}%`);
  let text = parts.join(" ");
  if (r.InstancesToUpdate !== undefined && !isTerminal(status)) text += ` (${r.InstancesToUpdate} instance${r.InstancesToUpdate === 1 ? "" : "s"} to update)`;
  if (r.StatusReason && (FAILED as readonly string[]).includes(status)) text += `: ${r.StatusReason}`;
  return text;
}

export interface WaitDeps {
  readonly autoScaling: AutoScalingClient;
  readonly log: Log;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly signal?: AbortSignal;
  /** For the command that watches a refresh left running. @default - the client's region */
  readonly region?: string;
}

export interface WaitOptions {
  readonly pollSeconds?: number;
  readonly timeoutMinutes?: number;
  /** A line even without change, this often, so a CI log shows the wait is alive. */
  readonly heartbeatSeconds?: number;
}

/** How to watch a refresh this command no longer waits for. */
export function watchRefreshCommand(groupName: string, refreshId: string, region: string | undefined): string {
  return (
    `aws autoscaling describe-instance-refreshes --auto-scaling-group-name ${groupName} --instance-refresh-ids ${refreshId}${region ? ` --region ${region}` : ""}` +
    ` (or the EC2 console: Auto Scaling groups, ${groupName}, Instance refresh)`
  );
}

async function regionOf(deps: WaitDeps): Promise<string | undefined> {
  if (deps.region) return deps.region;
  try {
    return await deps.autoScaling.config.region();
  } catch {
    return undefined;
  }
}

/**
 * Polls each refresh until it ends (or the timeout passes), logging a line whenever its
 * status or percentage changes. Returns one outcome per refresh; `ok` only for Successful.
 * Throttling and network trouble that outlast the SDK's retries are ridden out (the refresh
 * does not stop for them); only a long run of them ends the wait, saying how to watch the
 * refresh. An error that is not transient (access denied) is thrown.
 */
export async function waitForRefreshes(deps: WaitDeps, refreshes: readonly WatchedRefresh[], options: WaitOptions = {}): Promise<RefreshOutcome[]> {
  const pollMs = (options.pollSeconds ?? 15) * 1000;
  const deadline = deps.now() + (options.timeoutMinutes ?? 60) * 60 * 1000;
  const heartbeatMs = (options.heartbeatSeconds ?? 120) * 1000;
  const pending = new Map(refreshes.map((r) => [r.refreshId, r]));
  const last = new Map<string, { text: string; at: number; refresh?: InstanceRefresh }>();
  const outcomes = new Map<string, RefreshOutcome>();
  const errors = new ErrorRun();

  while (pending.size > 0) {
    for (const watched of [...pending.values()]) {
      const page = await errors.attempt(() =>
        deps.autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: watched.groupName, InstanceRefreshIds: [watched.refreshId] })),
      );
      if (!page) {
        if (errors.exhausted) break;
        deps.log(`${watched.label} (${watched.groupName}): could not read the refresh (${errors.describe()}); looking again in ${pollMs / 1000} s`);
        continue;
      }
      const r = page.InstanceRefreshes?.find((x) => x.InstanceRefreshId === watched.refreshId);
      if (!r) {
        deps.log(`${watched.label} (${watched.groupName}): instance refresh ${watched.refreshId} not found yet`);
        continue;
      }
      const text = describeProgress(r);
      const seen = last.get(watched.refreshId);
      if (!seen || seen.text !== text || deps.now() - seen.at >= heartbeatMs) {
        deps.log(`${watched.label} (${watched.groupName}): ${text}`);
        last.set(watched.refreshId, { text, at: deps.now(), refresh: r });
      } else {
        last.set(watched.refreshId, { ...seen, refresh: r });
      }
      if (isTerminal(r.Status)) {
        pending.delete(watched.refreshId);
        const status = r.Status as InstanceRefreshStatus;
        outcomes.set(watched.refreshId, {
          ...watched,
          status,
          percentage: r.PercentageComplete,
          reason: r.StatusReason ?? r.RollbackDetails?.RollbackReason,
          ok: (SUCCEEDED as readonly string[]).includes(status),
        });
      }
    }
    if (pending.size === 0) break;
    if (errors.exhausted) {
      const region = await regionOf(deps);
      for (const watched of pending.values()) {
        const r = last.get(watched.refreshId)?.refresh;
        outcomes.set(watched.refreshId, {
          ...watched,
          status: "LostContact",
          percentage: r?.PercentageComplete,
          reason:
            `stopped waiting: lost contact with Auto Scaling (${errors.describe()}) while ${r?.Status ?? "not started"}; ` +
            `the refresh goes on in AWS: watch it with ${watchRefreshCommand(watched.groupName, watched.refreshId, region)}`,
          ok: false,
        });
      }
      break;
    }
    if (deps.signal?.aborted || deps.now() >= deadline) {
      for (const watched of pending.values()) {
        const r = last.get(watched.refreshId)?.refresh;
        outcomes.set(watched.refreshId, {
          ...watched,
          status: "TimedOut",
          percentage: r?.PercentageComplete,
          reason: deps.signal?.aborted
            ? `stopped waiting (interrupted) while ${r?.Status ?? "not started"}; the refresh goes on in AWS`
            : `still ${r?.Status ?? "not started"} after ${options.timeoutMinutes ?? 60} minutes; the refresh goes on in AWS`,
          ok: false,
        });
      }
      break;
    }
    await deps.sleep(pollMs);
  }
  return refreshes.map((r) => outcomes.get(r.refreshId)!);
}
