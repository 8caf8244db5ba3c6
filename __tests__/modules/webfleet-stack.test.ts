import { Testing } from "cdktf";
import { WebfleetStack } from "../../modules/webfleet-stack";
import type { PublishedStack } from "../../modules/names";
import { doc, environment, resources } from "../helpers/stack";

function synth(overrides: Record<string, unknown> = {}, initialAmi?: { blue?: string; green?: string }) {
  const stack = new WebfleetStack(Testing.app(), "webfleet-test", { config: environment(overrides), initialAmi });
  return doc(Testing.synth(stack));
}

describe("WebfleetStack", () => {
  it("tags everything with project and environment by default, plus the config's own tags", () => {
    const json = synth({ tags: { "cost-center": "web" } });
    expect(json.provider?.aws[0]).toMatchObject({
      region: "us-east-1",
      default_tags: [{ tags: { project: "webfleet", environment: "test", "managed-by": "cdktf", "cost-center": "web" } }],
    });
  });

  it("feeds each color's launch template from its AMI source", () => {
    const json = synth();
    const templates = Object.fromEntries(resources(json, "aws_launch_template").map((t) => [t.name, t.image_id]));
    expect(templates["webfleet-test-blue"]).toBe("ami-0123456789abcdef0");
    expect(templates["webfleet-test-green"]).toMatch(/^\$\{aws_ssm_parameter\.release-state_ami-green_[0-9A-F]+\.insecure_value\}$/);
  });

  it("weights the listener from the weight parameters", () => {
    const [listener] = resources(synth(), "aws_lb_listener") as Array<{ default_action: Array<{ forward: { target_group: Array<{ weight: string }> } }> }>;
    const weights = listener.default_action[0].forward.target_group.map((g) => g.weight);
    expect(weights).toEqual([
      expect.stringMatching(/^\$\{tonumber\(aws_ssm_parameter\.release-state_weight-blue_[0-9A-F]+\.insecure_value\)\}$/),
      expect.stringMatching(/^\$\{tonumber\(aws_ssm_parameter\.release-state_weight-green_[0-9A-F]+\.insecure_value\)\}$/),
    ]);
  });

  it("gives the deployment groups the environment's default strategy", () => {
    const groups = resources(synth({ deployment: { defaultStrategy: "min-healthy=2", minimumHealthyHosts: [2] } }), "aws_codedeploy_deployment_group");
    expect(groups.map((g) => g.deployment_config_name)).toEqual([
      expect.stringContaining("aws_codedeploy_deployment_config"),
      expect.stringContaining("aws_codedeploy_deployment_config"),
    ]);
  });

  it("publishes what the release scripts need to SSM", () => {
    const params = resources(synth(), "aws_ssm_parameter");
    const published = params.find((p) => p.name === "/webfleet/test/stack")!;
    expect(published.lifecycle).toBeUndefined();
    const value = JSON.parse(String(published.insecure_value)) as PublishedStack;
    expect(value).toMatchObject({
      environment: "test",
      region: "us-east-1",
      defaultStrategy: "one-at-a-time",
      deploymentConfigs: { "all-at-once": "CodeDeployDefault.AllAtOnce", "one-at-a-time": "CodeDeployDefault.OneAtATime" },
      timings: { deregistrationDelaySeconds: 30, healthCheckIntervalSeconds: 10, healthyThresholdCount: 2, healthCheckGracePeriodSeconds: 120 },
    });
    expect(value.fleets.green.autoScalingGroupName).toContain("aws_autoscaling_group");
  });

  it("outputs the site URL, ASGs, deployment groups, revision bucket and application", () => {
    expect(Object.keys(synth().output ?? {}).sort()).toEqual([
      "application_name",
      "asg_blue",
      "asg_green",
      "deployment_group_blue",
      "deployment_group_green",
      "revision_bucket",
      "site_url",
    ]);
  });

  it("starts with green live when only green has capacity", () => {
    const params = resources(synth({ capacity: { blue: { min: 0, desired: 0, max: 2 }, green: { min: 1, desired: 1, max: 2 } } }), "aws_ssm_parameter");
    expect(params.find((p) => p.name === "/webfleet/test/live-color")?.insecure_value).toBe("green");
  });
});
