import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { IamRoles } from "../../modules/iam";
import { doc, resources, synthConstruct } from "../helpers/stack";

const json = () =>
  doc(synthConstruct((scope) => new IamRoles(scope, "iam", { namePrefix: "webfleet-test", revisionBucketArn: "arn:aws:s3:::revisions", region: "eu-west-1" })));
const policy = (r: Record<string, unknown>, key: string) => JSON.parse(String(r[key]));

describe("IamRoles", () => {
  it("gives CodeDeploy a role it can assume, with AWSCodeDeployRole", () => {
    const roles = resources(json(), "aws_iam_role");
    const codedeploy = roles.find((r) => r.name === "webfleet-test-codedeploy")!;
    expect(policy(codedeploy, "assume_role_policy").Statement[0]).toMatchObject({
      Principal: { Service: "codedeploy.amazonaws.com" },
      Action: "sts:AssumeRole",
    });
    expect(
      synthConstruct((s) => new IamRoles(s, "iam", { namePrefix: "x", revisionBucketArn: "arn:aws:s3:::r", region: "eu-west-1" })),
    ).toHaveResourceWithProperties(IamRolePolicyAttachment, { policy_arn: "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole" });
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

  it("makes an instance profile for the instance role", () => {
    const [profile] = resources(json(), "aws_iam_instance_profile");
    expect(profile).toMatchObject({ name: "webfleet-test-instance", role: expect.stringContaining("aws_iam_role.iam_instance") });
  });
});
