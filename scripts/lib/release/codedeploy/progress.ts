/**
 * Per-instance, per-lifecycle-event progress of a deployment, as lines to print. Pure: the
 * watcher hands in what CodeDeploy reported, the tracker returns only what changed since.
 */
import type { DeploymentOverview, DeploymentTarget } from "@aws-sdk/client-codedeploy";
import { formatDuration } from "../../cli/duration";

export interface EventView {
  readonly name: string;
  readonly status: string;
  readonly startTime?: Date;
  readonly endTime?: Date;
  readonly diagnostics?: { readonly errorCode?: string; readonly scriptName?: string; readonly message?: string; readonly logTail?: string };
}

export interface TargetView {
  readonly id: string;
  readonly status: string;
  readonly events: readonly EventView[];
}

/** An instance target of BatchGetDeploymentTargets, flattened. */
export function toTargetView(t: DeploymentTarget): TargetView | undefined {
  const it = t.instanceTarget;
  if (!it) return undefined;
  return {
    id: it.targetId ?? "?",
    status: it.status ?? "Unknown",
    events: (it.lifecycleEvents ?? []).map((e) => ({
      name: e.lifecycleEventName ?? "?",
      status: e.status ?? "Unknown",
      startTime: e.startTime,
      endTime: e.endTime,
      diagnostics: e.diagnostics
        ? { errorCode: e.diagnostics.errorCode, scriptName: e.diagnostics.scriptName, message: e.diagnostics.message, logTail: e.diagnostics.logTail }
        : undefined,
    })),
  };
}

const MARK: Record<string, string> = { InProgress: "…", Succeeded: "✓", Failed: "✗", Skipped: "–", Ready: "✓" };

function took(e: { startTime?: Date; endTime?: Date }): string {
  return e.startTime && e.endTime ? ` (${formatDuration((e.endTime.getTime() - e.startTime.getTime()) / 1000)})` : "";
}

export function formatOverview(o: DeploymentOverview | undefined): string | undefined {
  if (!o) return undefined;
  const parts = (
    [
      ["succeeded", o.Succeeded],
      ["in progress", o.InProgress],
      ["pending", o.Pending],
      ["failed", o.Failed],
      ["skipped", o.Skipped],
    ] as const
  )
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([label, n]) => `${n} ${label}`);
  return parts.length ? `instances: ${parts.join(", ")}` : undefined;
}

/** Remembers what was printed; {@link update} returns the lines for what changed. */
export class ProgressTracker {
  private readonly seen = new Map<string, string>();
  private lastOverview: string | undefined;

  constructor(private readonly indent = "  ") {}

  update(targets: readonly TargetView[], overview?: DeploymentOverview): string[] {
    const lines: string[] = [];
    for (const t of [...targets].sort((a, b) => a.id.localeCompare(b.id))) {
      const width = Math.max(...targets.map((x) => x.id.length));
      const id = t.id.padEnd(width);
      for (const e of t.events) {
        // Pending is the default; Skipped is summarized per instance below.
        if (e.status === "Pending" || e.status === "Skipped" || e.status === "Unknown") continue;
        const key = `${t.id}/${e.name}`;
        if (this.seen.get(key) === e.status) continue;
        this.seen.set(key, e.status);
        lines.push(`${this.indent}${id}  ${e.name.padEnd(18)} ${MARK[e.status] ?? "?"} ${e.status}${e.status === "InProgress" ? "" : took(e)}`);
      }
      if (this.seen.get(t.id) !== t.status && ["Succeeded", "Failed", "Skipped"].includes(t.status)) {
        this.seen.set(t.id, t.status);
        const first = t.events.find((e) => e.startTime)?.startTime;
        const last = [...t.events].reverse().find((e) => e.endTime)?.endTime;
        const span = first && last ? ` in ${formatDuration((last.getTime() - first.getTime()) / 1000)}` : "";
        const word = t.status === "Succeeded" ? `done${span}` : t.status === "Failed" ? `failed${span}` : "skipped";
        lines.push(`${this.indent}${id}  ${MARK[t.status]} ${word}`);
      }
    }
    const o = formatOverview(overview);
    if (o && o !== this.lastOverview) {
      this.lastOverview = o;
      lines.push(`${this.indent}${o}`);
    }
    return lines;
  }
}

/** What failed, where: instance, lifecycle event, script, CodeDeploy's message and log tail. */
export function formatFailures(targets: readonly TargetView[], maxLogLines = 30): string[] {
  const lines: string[] = [];
  for (const t of targets) {
    if (t.status !== "Failed") continue;
    const failed = t.events.filter((e) => e.status === "Failed");
    if (failed.length === 0) {
      lines.push(`✗ ${t.id} failed (no lifecycle event reports a failure: see the CodeDeploy console)`);
      continue;
    }
    for (const e of failed) {
      const d = e.diagnostics ?? {};
      lines.push(`✗ ${t.id}: ${e.name} failed${d.scriptName ? ` in ${d.scriptName}` : ""}${d.errorCode ? ` (${d.errorCode})` : ""}`);
      if (d.message) lines.push(`  ${d.message.trim()}`);
      const tail = (d.logTail ?? "")
        .trimEnd()
        .split("\n")
        .filter((l) => l.length > 0);
      if (tail.length > 0) {
        lines.push("  log tail (from CodeDeploy):");
        for (const l of tail.slice(-maxLogLines)) lines.push(`    │ ${l}`);
      } else if (e.name === "AllowTraffic") {
        lines.push("  the instance did not pass the target group's health check in time (AllowTraffic runs no script)");
      }
    }
  }
  return lines;
}
