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
      // The release sets desired from these: Terraform only sets it at creation.
      capacity: { live: { min: 2, desired: 2, max: 4 }, idle: { min: 0, desired: 0, max: 4 } },
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

  it("sizes each color by its role, live or idle, from the live color Terraform reads in SSM, and leaves desired to the release", () => {
    // GIVEN capacity by role
    const json = synth({ capacity: { live: { min: 3, desired: 4, max: 8 }, idle: { min: 1, desired: 1, max: 6 } } });
    const live = /^aws_ssm_parameter\.release-state_live-color_[0-9A-F]+\.insecure_value$/;
    for (const asg of resources(json, "aws_autoscaling_group")) {
      const color = String(asg.name).replace("webfleet-test-", "");
      const byRole = (l: number, i: number) => expect.stringMatching(new RegExp(`^\\$\\{\\(${live.source.slice(1, -1)} == "${color}"\\) \\? ${l} : ${i}\\}$`));
      // THEN min, max and the first desired follow the role, and later changes to desired are the release's
      expect(asg).toMatchObject({
        min_size: byRole(3, 1),
        max_size: byRole(8, 6),
        desired_capacity: byRole(4, 1),
        lifecycle: { ignore_changes: ["desired_capacity"] },
      });
    }
  });

  it("tags what the fleets launch (instances, volumes, interfaces) with the config's tags, project, environment, managed-by and color", () => {
    const json = synth({ tags: { "cost-center": "web" } });
    for (const lt of resources(json, "aws_launch_template")) {
      const color = String(lt.name).replace("webfleet-test-", "");
      for (const spec of lt.tag_specifications as Array<{ tags: Record<string, string> }>) {
        expect(spec.tags).toEqual({
          "cost-center": "web",
          project: "webfleet",
          environment: "test",
          "managed-by": "cdktf",
          Name: `webfleet-test-${color}`,
          color,
        });
      }
    }
  });

  it("refuses to plan while someone else holds the release lock, on Terraform >= 1.9 (a validation that reads the lock)", () => {
    const json = synth() as ReturnType<typeof synth> & { variable: Record<string, unknown>; terraform: { required_version?: string } };
    expect(json.data?.aws_ssm_parameters_by_path?.release_lock).toMatchObject({ path: "/webfleet/test/lock/" });
    expect(Object.keys(json.variable)).toContain("release_lock_id");
    expect(json.terraform.required_version).toBe(">= 1.9.0");
  });

  it("needs Terraform >= 1.10 with shared state locked by S3's lock file", () => {
    const json = synth({ stateBackend: { type: "s3", bucket: "team-state", keyPrefix: "webfleet" } }) as ReturnType<typeof synth> & {
      terraform: { required_version?: string };
    };
    expect(json.terraform.required_version).toBe(">= 1.10.0");
  });
});
