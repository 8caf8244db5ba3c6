import { ProgressTracker, formatFailures, toTargetView, type TargetView } from "../../../../../scripts/lib/release/codedeploy/progress";
import type { TargetStatus } from "@aws-sdk/client-codedeploy";
import { events, skipped } from "../../../../helpers/aws-fakes";

const view = (id: string, status: TargetStatus, evs: ReturnType<typeof events>): TargetView =>
  toTargetView({ deploymentTargetType: "InstanceTarget", instanceTarget: { targetId: id, status, lifecycleEvents: evs } })!;

describe("progress per instance and lifecycle event", () => {
  it("GIVEN successive polls THEN only what changed is printed, event by event, then the instance", () => {
    const tracker = new ProgressTracker("");
    const first = tracker.update([view("i-1", "InProgress", events(1, { status: "InProgress" })), view("i-2", "Pending", events(0))], {
      InProgress: 1,
      Pending: 1,
    });
    expect(first).toEqual(["i-1  BeforeBlockTraffic ✓ Succeeded (1 s)", "i-1  BlockTraffic       … InProgress", "instances: 1 in progress, 1 pending"]);
    expect(
      tracker.update([view("i-1", "InProgress", events(1, { status: "InProgress" })), view("i-2", "Pending", events(0))], { InProgress: 1, Pending: 1 }),
    ).toEqual([]);
    const done = tracker.update([view("i-1", "Succeeded", events(13)), view("i-2", "Pending", events(0))], { Succeeded: 1, Pending: 1 });
    expect(done[0]).toBe("i-1  BlockTraffic       ✓ Succeeded (1 s)");
    expect(done).toContain("i-1  AfterAllowTraffic  ✓ Succeeded (1 s)");
    expect(done).toContain("i-1  ✓ done in 25 s");
    expect(done[done.length - 1]).toBe("instances: 1 succeeded, 1 pending");
  });

  it("GIVEN a failed hook THEN the report names the instance, event, script, error code, message and log tail", () => {
    const failed = view(
      "i-0abc",
      "Failed",
      events(7, {
        status: "Failed",
        diagnostics: {
          errorCode: "ScriptFailed",
          scriptName: "scripts/set_owner",
          message: "Script at specified location: scripts/set_owner run as user root failed with exit code 1",
          logTail: "[stdout]chown: invalid user: 'ec2-user'\n[stderr]exit 1\n",
        },
      }),
    );
    expect(formatFailures([failed, view("i-0def", "Skipped", skipped())])).toEqual([
      "✗ i-0abc: AfterInstall failed in scripts/set_owner (ScriptFailed)",
      "  Script at specified location: scripts/set_owner run as user root failed with exit code 1",
      "  log tail (from CodeDeploy):",
      "    │ [stdout]chown: invalid user: 'ec2-user'",
      "    │ [stderr]exit 1",
    ]);
  });

  it("GIVEN AllowTraffic failed THEN the report says the instance never passed the health check", () => {
    const failed = view(
      "i-1",
      "Failed",
      events(11, { status: "Failed", diagnostics: { errorCode: "UnknownError", message: "instance failed health checks" } }),
    );
    expect(formatFailures([failed]).join("\n")).toContain("did not pass the target group's health check in time");
  });
});
