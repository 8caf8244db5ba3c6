import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { CodedeployDeploymentGroup } from "@cdktf/provider-aws/lib/codedeploy-deployment-group";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { Fn, Op, Token } from "cdktf";
import { Fleet, type FleetProps } from "../../modules/fleet";
import { doc, resources, synthConstruct } from "../helpers/stack";

const base: FleetProps = {
  namePrefix: "webfleet-test",
  color: "green",
  amiId: "ami-0123456789abcdef0",
  instanceType: "t3.micro",
  instanceProfileArn: "arn:aws:iam::123456789012:instance-profile/x",
  securityGroupId: "sg-1",
  subnetIds: ["subnet-a", "subnet-b"],
  capacity: { min: 1, desired: 2, max: 3 },
  targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/1",
  targetGroupName: "webfleet-test-green",
  applicationName: "webfleet-test",
  serviceRoleArn: "arn:aws:iam::123456789012:role/codedeploy",
  deploymentConfigName: "CodeDeployDefault.OneAtATime",
  alarmNames: ["green-5xx", "green-unhealthy"],
  notificationTopicArn: "arn:aws:sns:us-east-1:123456789012:events",
};

const synth = (overrides: Partial<FleetProps> = {}) => synthConstruct((scope) => new Fleet(scope, "fleet", { ...base, ...overrides }));

describe("Fleet", () => {
  it("launches the given AMI with IMDSv2 required, an encrypted gp3 root, the instance profile and no key pair", () => {
    const out = synth();
    expect(out).toHaveResourceWithProperties(LaunchTemplate, {
      image_id: "ami-0123456789abcdef0",
      instance_type: "t3.micro",
      iam_instance_profile: { arn: base.instanceProfileArn },
      metadata_options: expect.objectContaining({ http_tokens: "required", http_endpoint: "enabled", http_put_response_hop_limit: 1 }),
      block_device_mappings: [expect.objectContaining({ ebs: expect.objectContaining({ encrypted: "true", volume_type: "gp3" }) })],
    });
    expect(resources(doc(out), "aws_launch_template")[0].key_name).toBeUndefined();
  });

  it("tags what the group launches (instances, volumes, interfaces) with the caller's tags, its name and color", () => {
    // GIVEN tags the provider's default tags would not carry to launched instances
    const lt = resources(doc(synth({ instanceTags: { project: "webfleet", "cost-center": "web", color: "not-mine" } })), "aws_launch_template")[0];
    // THEN every launched resource type carries them, and the fleet's own Name and color win
    const specs = lt.tag_specifications as Array<{ resource_type: string; tags: Record<string, string> }>;
    expect(specs.map((s) => s.resource_type)).toEqual(["instance", "volume", "network-interface"]);
    for (const spec of specs) expect(spec.tags).toEqual({ project: "webfleet", "cost-center": "web", Name: "webfleet-test-green", color: "green" });
  });

  it("leaves desired capacity to the release after creation, and keeps min and max", () => {
    const [asg] = resources(doc(synth()), "aws_autoscaling_group");
    expect(asg.lifecycle).toEqual({ ignore_changes: ["desired_capacity"] });
  });

  it("runs an explicit template version behind its target group, with ELB health checks and an instance refresh", () => {
    const out = synth();
    expect(out).toHaveResourceWithProperties(AutoscalingGroup, {
      name: "webfleet-test-green",
      min_size: 1,
      desired_capacity: 2,
      max_size: 3,
      vpc_zone_identifier: ["subnet-a", "subnet-b"],
      target_group_arns: [base.targetGroupArn],
      health_check_type: "ELB",
      health_check_grace_period: 120,
      instance_refresh: expect.objectContaining({
        strategy: "Rolling",
        preferences: expect.objectContaining({ min_healthy_percentage: 100, max_healthy_percentage: 200 }),
      }),
    });
    const asg = resources(doc(out), "aws_autoscaling_group")[0] as { launch_template: { version: string } };
    expect(asg.launch_template.version).toMatch(/^\$\{aws_launch_template\.fleet_template_[0-9A-F]+\.latest_version\}$/);
    expect(asg.launch_template.version).not.toBe("$Latest");
  });

  it("deploys in place with traffic control on its target group, rolling back on failure and on alarm", () => {
    expect(synth()).toHaveResourceWithProperties(CodedeployDeploymentGroup, {
      deployment_group_name: "webfleet-test-green",
      autoscaling_groups: [expect.stringMatching(/^\$\{aws_autoscaling_group\.fleet_asg_[0-9A-F]+\.name\}$/)],
      deployment_style: { deployment_type: "IN_PLACE", deployment_option: "WITH_TRAFFIC_CONTROL" },
      load_balancer_info: { target_group_info: [{ name: "webfleet-test-green" }] },
      auto_rollback_configuration: { enabled: true, events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] },
      alarm_configuration: expect.objectContaining({ enabled: true, alarms: ["green-5xx", "green-unhealthy"] }),
      trigger_configuration: [expect.objectContaining({ trigger_target_arn: base.notificationTopicArn })],
      termination_hook_enabled: true,
      outdated_instances_strategy: "UPDATE",
    });
  });

  it("is created after, and destroyed before, the service role's policies", () => {
    const out = synthConstruct((scope) => {
      const policy = new IamRolePolicy(scope, "policy", { role: "r", policy: "{}" });
      new Fleet(scope, "fleet", { ...base, serviceRolePolicies: [policy] });
    });
    const [group] = resources(doc(out), "aws_codedeploy_deployment_group");
    expect(group.depends_on).toEqual([expect.stringMatching(/^aws_iam_role_policy\.policy/)]);
  });

  it("refuses at plan time to boot instances from a stock image held by a parameter, also when capacity is known only then", () => {
    const out = synthConstruct((scope) => new Fleet(scope, "fleet", { ...base, amiId: Token.asString(Fn.lower("AMI")) }));
    const [lt] = resources(doc(out), "aws_launch_template") as Array<{ lifecycle?: { precondition: Array<{ condition: string; error_message: string }> } }>;
    expect(lt.lifecycle?.precondition).toEqual([
      {
        condition: '${!startswith(lower("AMI"), "resolve:ssm:/aws/service/")}',
        error_message: expect.stringContaining("the green fleet (desired 2) would boot a stock Amazon Linux image"),
      },
    ]);
    const idle = synthConstruct(
      (scope) => new Fleet(scope, "fleet", { ...base, amiId: Token.asString(Fn.lower("AMI")), capacity: { min: 0, desired: 0, max: 2 } }),
    );
    expect(resources(doc(idle), "aws_launch_template")[0].lifecycle).toBeUndefined();
    // Capacity by role is known at plan time only: the check holds unless that capacity is 0.
    const byRole = synthConstruct(
      (scope) =>
        new Fleet(scope, "fleet", {
          ...base,
          amiId: Token.asString(Fn.lower("AMI")),
          capacity: { min: 0, desired: Token.asNumber(Fn.conditional(Op.eq(Fn.lower("LIVE"), "green"), 2, 0)), max: 4 },
        }),
    );
    const [role] = resources(doc(byRole), "aws_launch_template") as Array<{ lifecycle: { precondition: Array<{ condition: string; error_message: string }> } }>;
    expect(role.lifecycle.precondition).toEqual([
      {
        condition: '${((tonumber((lower("LIVE") == "green") ? 2 : 0) < 1) || !startswith(lower("AMI"), "resolve:ssm:/aws/service/"))}',
        error_message: expect.stringContaining('the green fleet (desired ${(lower("LIVE") == "green") ? 2 : 0}) would boot a stock Amazon Linux image'),
      },
    ]);
  });

  test.each([
    [
      { amiId: "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" },
      "the green fleet (desired 2) would boot a stock Amazon Linux image",
    ],
    [{ capacity: { min: 4, desired: 4, max: 2 } }, "green capacity: min (4) must be <= max (2)"],
    [{ capacity: { min: 1, desired: 5, max: 3 } }, "green capacity: desired (5) must be between min (1) and max (3)"],
    [{ subnetIds: ["subnet-a"] }, 'subnetIds (["subnet-a"]) must list at least 2 subnets'],
    [{ rootVolumeSizeGiB: 4 }, "rootVolumeSizeGiB (4) must be >= 8"],
  ])("refuses %j", (overrides, message) => {
    expect(() => synth(overrides as Partial<FleetProps>)).toThrow(message);
  });
});
