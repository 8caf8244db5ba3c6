import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { IamRoles, type IamRolesProps } from "../../modules/iam";
import { doc, resources, synthConstruct } from "../helpers/stack";

const props: IamRolesProps = {
  namePrefix: "webfleet-test",
  revisionBucketArn: "arn:aws:s3:::revisions",
  region: "eu-west-1",
  applicationName: "webfleet-test",
  launchTemplateArns: ["arn:aws:ec2:eu-west-1:123456789012:launch-template/lt-0blue", "arn:aws:ec2:eu-west-1:123456789012:launch-template/lt-0green"],
  accountId: "123456789012",
};
const json = (overrides: Partial<IamRolesProps> = {}) => doc(synthConstruct((scope) => new IamRoles(scope, "iam", { ...props, ...overrides })));
const policy = (r: Record<string, unknown>, key: string) => JSON.parse(String(r[key]));
type Statement = { Sid?: string; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, unknown>> };
const launchPolicy = (j = json()) =>
  policy(
    resources(j, "aws_iam_role_policy").find((p) => p.name === "launch-template-asg")!,
    "policy",
  ).Statement as Statement[];

describe("IamRoles", () => {
  it("gives CodeDeploy a role it can assume, with AWSCodeDeployRole", () => {
    const codedeploy = resources(json(), "aws_iam_role").find((r) => r.name === "webfleet-test-codedeploy")!;
    expect(policy(codedeploy, "assume_role_policy").Statement[0]).toMatchObject({
      Principal: { Service: "codedeploy.amazonaws.com" },
      Action: "sts:AssumeRole",
    });
    expect(synthConstruct((s) => new IamRoles(s, "iam", props))).toHaveResourceWithProperties(IamRolePolicyAttachment, {
      policy_arn: "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole",
    });
  });

  it("lets CodeDeploy assume its role only for this account's deployment groups of this application (confused deputy)", () => {
    const codedeploy = resources(json(), "aws_iam_role").find((r) => r.name === "webfleet-test-codedeploy")!;
    expect(policy(codedeploy, "assume_role_policy").Statement[0].Condition).toEqual({
      StringEquals: { "aws:SourceAccount": "123456789012" },
      ArnLike: { "aws:SourceArn": "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:webfleet-test/*" },
    });
  });

  it("reads the account from the credentials Terraform runs with when none is given", () => {
    const j = json({ accountId: undefined });
    expect(Object.keys(j.data?.aws_caller_identity ?? {})).toHaveLength(1);
    const codedeploy = resources(j, "aws_iam_role").find((r) => r.name === "webfleet-test-codedeploy")!;
    expect(policy(codedeploy, "assume_role_policy").Statement[0].Condition.StringEquals["aws:SourceAccount"]).toMatch(
      /^\$\{data\.aws_caller_identity\.iam_account_[0-9A-F]+\.account_id\}$/,
    );
  });

  it("lets CodeDeploy launch only from the fleets' launch templates, tag only what the launch creates, and pass the instance role only to EC2", () => {
    const statements = launchPolicy();
    expect(statements.find((s) => s.Action === "ec2:RunInstances")).toEqual({
      Sid: "LaunchFromTheFleetTemplates",
      Effect: "Allow",
      Action: "ec2:RunInstances",
      Resource: "*",
      Condition: { ArnLike: { "ec2:LaunchTemplate": props.launchTemplateArns } },
    });
    expect(statements.find((s) => s.Action === "ec2:CreateTags")).toMatchObject({
      Resource: [
        "arn:aws:ec2:eu-west-1:123456789012:instance/*",
        "arn:aws:ec2:eu-west-1:123456789012:volume/*",
        "arn:aws:ec2:eu-west-1:123456789012:network-interface/*",
      ],
      Condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
    });
    expect(statements.find((s) => s.Action === "iam:PassRole")).toMatchObject({
      Resource: expect.stringMatching(/^\$\{aws_iam_role\.iam_instance_[0-9A-F]+\.arn\}$/),
      Condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
    });
    // Nothing else, and nothing unconditional on "*".
    expect(statements).toHaveLength(3);
    expect(statements.filter((s) => [s.Resource].flat().includes("*") && !s.Condition)).toEqual([]);
  });

  it("lets the instances use Session Manager, read the revision bucket and the region's CodeDeploy agent, and nothing else of S3", () => {
    const j = json();
    const attachments = resources(j, "aws_iam_role_policy_attachment").map((a) => a.policy_arn);
    expect(attachments).toContain("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
    const read = resources(j, "aws_iam_role_policy").find((p) => p.name === "read-revisions")!;
    const statements = policy(read, "policy").Statement as Array<{ Action: string[]; Resource: string }>;
    expect(statements.flatMap((s) => s.Action).sort()).toEqual(["s3:GetObject", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]);
    expect(statements.map((s) => s.Resource)).toEqual(["arn:aws:s3:::revisions/*", "arn:aws:s3:::revisions", "arn:aws:s3:::aws-codedeploy-eu-west-1/*"]);
  });

  it("caps both roles with the permissions boundary when one is given, and sets none otherwise", () => {
    const boundary = "arn:aws:iam::123456789012:policy/webfleet-ci/webfleet-test-workload-boundary";
    const boundaries = (j: ReturnType<typeof json>) => resources(j, "aws_iam_role").map((r) => [r.name, r.permissions_boundary]);
    expect(boundaries(json({ permissionsBoundaryArn: boundary }))).toEqual([
      ["webfleet-test-codedeploy", boundary],
      ["webfleet-test-instance", boundary],
    ]);
    expect(boundaries(json())).toEqual([
      ["webfleet-test-codedeploy", undefined],
      ["webfleet-test-instance", undefined],
    ]);
  });

  it("makes an instance profile for the instance role", () => {
    const [profile] = resources(json(), "aws_iam_instance_profile");
    expect(profile).toMatchObject({ name: "webfleet-test-instance", role: expect.stringContaining("aws_iam_role.iam_instance") });
  });
});
