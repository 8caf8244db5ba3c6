import { Construct } from "constructs";
import type { ITerraformDependable } from "cdktf";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";

export interface IamRolesProps {
  /** Prefix of the role and profile names. */
  readonly namePrefix: string;
  /** ARN of the revision bucket: the only bucket the instances may read. */
  readonly revisionBucketArn: string;
  /**
   * The partition of the ARNs of AWS managed policies.
   * @default "aws"
   */
  readonly partition?: string;
  /** Region of the fleets: the instances read the CodeDeploy agent from its bucket there. */
  readonly region: string;
}

function trust(service: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  });
}

/**
 * The tutorial's two roles. CodeDeploy's service role (trusts codedeploy.amazonaws.com,
 * AWSCodeDeployRole, plus what launch-template Auto Scaling groups need) and the instance
 * role with its profile (Session Manager, read-only on the revision bucket).
 */
export class IamRoles extends Construct {
  readonly codeDeployRoleArn: string;
  readonly instanceRoleName: string;
  readonly instanceProfileArn: string;
  /** The service role's policies: a deployment group must outlive them (see Fleet). */
  readonly codeDeployRolePolicies: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: IamRolesProps) {
    super(scope, id);
    const partition = props.partition ?? "aws";

    const codeDeploy = new IamRole(this, "codedeploy", {
      name: `${props.namePrefix}-codedeploy`,
      description: "webfleet: lets CodeDeploy deploy to the fleets and control their traffic",
      assumeRolePolicy: trust("codedeploy.amazonaws.com"),
    });
    const managed = new IamRolePolicyAttachment(this, "codedeploy-managed", {
      role: codeDeploy.name,
      policyArn: `arn:${partition}:iam::aws:policy/service-role/AWSCodeDeployRole`,
    });

    const instance = new IamRole(this, "instance", {
      name: `${props.namePrefix}-instance`,
      description: "webfleet web instances: Session Manager and revision downloads",
      assumeRolePolicy: trust("ec2.amazonaws.com"),
    });
    new IamRolePolicyAttachment(this, "instance-ssm", {
      role: instance.name,
      policyArn: `arn:${partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
    });
    new IamRolePolicy(this, "instance-revisions", {
      name: "read-revisions",
      role: instance.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "ReadRevisions", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: `${props.revisionBucketArn}/*` },
          { Sid: "ListRevisions", Effect: "Allow", Action: ["s3:ListBucket"], Resource: props.revisionBucketArn },
          // The agent updates itself from AWS's bucket in another account, which takes an
          // allow on both sides (AWS's CodeDeploy guide asks for this grant).
          { Sid: "ReadCodeDeployAgent", Effect: "Allow", Action: ["s3:GetObject"], Resource: `arn:${partition}:s3:::aws-codedeploy-${props.region}/*` },
        ],
      }),
    });
    const profile = new IamInstanceProfile(this, "profile", { name: `${props.namePrefix}-instance`, role: instance.name });

    // CodeDeploy's docs: with a launch-template ASG, the service role also needs to launch
    // instances from the template and pass the instance role on.
    const launchTemplate = new IamRolePolicy(this, "codedeploy-launch-template", {
      name: "launch-template-asg",
      role: codeDeploy.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["ec2:RunInstances", "ec2:CreateTags"], Resource: "*" },
          { Effect: "Allow", Action: "iam:PassRole", Resource: instance.arn },
        ],
      }),
    });

    this.codeDeployRoleArn = codeDeploy.arn;
    this.codeDeployRolePolicies = [managed, launchTemplate];
    this.instanceRoleName = instance.name;
    this.instanceProfileArn = profile.arn;
  }
}
