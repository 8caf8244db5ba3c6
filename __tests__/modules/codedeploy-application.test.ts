import { CodedeployApp } from "@cdktf/provider-aws/lib/codedeploy-app";
import { CodedeployDeploymentConfig } from "@cdktf/provider-aws/lib/codedeploy-deployment-config";
import { CodeDeployApplication } from "../../modules/codedeploy-application";
import type { MinimumHealthyHosts } from "../../modules/names";
import { synthConstruct } from "../helpers/stack";

describe("CodeDeployApplication", () => {
  it("is an EC2/on-premises (Server) application", () => {
    expect(synthConstruct((s) => new CodeDeployApplication(s, "cd", { environment: "test", applicationName: "webfleet-test" }))).toHaveResourceWithProperties(
      CodedeployApp,
      { name: "webfleet-test", compute_platform: "Server" },
    );
  });

  it("creates a deployment config per minimum-healthy-hosts value and maps every strategy to a config", () => {
    let app!: CodeDeployApplication;
    const out = synthConstruct(
      (s) =>
        (app = new CodeDeployApplication(s, "cd", {
          environment: "test",
          applicationName: "webfleet-test",
          minimumHealthyHosts: [
            { type: "FLEET_PERCENT", value: 75 },
            { type: "HOST_COUNT", value: 2 },
          ],
        })),
    );
    expect(out).toHaveResourceWithProperties(CodedeployDeploymentConfig, {
      deployment_config_name: "webfleet-test-min-healthy-75-percent",
      compute_platform: "Server",
      minimum_healthy_hosts: { type: "FLEET_PERCENT", value: 75 },
    });
    expect(out).toHaveResourceWithProperties(CodedeployDeploymentConfig, { minimum_healthy_hosts: { type: "HOST_COUNT", value: 2 } });
    expect(Object.keys(app.deploymentConfigs)).toEqual(["all-at-once", "half-at-a-time", "one-at-a-time", "min-healthy=75%", "min-healthy=2"]);
    expect(app.deploymentConfigs["half-at-a-time"]).toBe("CodeDeployDefault.HalfAtATime");
  });

  test.each<[MinimumHealthyHosts[], string]>([
    [[{ type: "FLEET_PERCENT", value: 100 }], "minimumHealthyHosts (100%) must be a fleet percent from 1% to 99%"],
    [[{ type: "HOST_COUNT", value: 1.5 }], "minimumHealthyHosts (1.5) must be a host count >= 0"],
    [
      [
        { type: "HOST_COUNT", value: 2 },
        { type: "HOST_COUNT", value: 2 },
      ],
      "minimumHealthyHosts lists 2 twice",
    ],
  ])("refuses %j", (minimumHealthyHosts, message) => {
    expect(() => synthConstruct((s) => new CodeDeployApplication(s, "cd", { environment: "t", applicationName: "t", minimumHealthyHosts }))).toThrow(message);
  });
});
