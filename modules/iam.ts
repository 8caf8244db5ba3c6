import { Construct } from "constructs";
import type { ITerraformDependable } from "cdktf";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
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
  /** The CodeDeploy application: the service role may be assumed for its deployment groups only. */
  readonly applicationName: string;
  /**
   * The launch templates CodeDeploy may launch instances from (launch-template Auto Scaling
   * groups). The templates need this construct's instance profile, so the stack passes lazy
   * values that resolve once the fleets exist.
   */
  readonly launchTemplateArns: readonly string[];
  /**
   * The account that owns the roles, for the trust policy's confused-deputy conditions and the
   * ARNs of what may be tagged.
   * @default - the account of the credentials Terraform runs with (aws_caller_identity)
   */
  readonly accountId?: string;
  /**
   * A managed policy set as the permissions boundary of both roles: the most they can ever do,
   * whatever policies they get. An environment deployed by CI names the boundary the CI stack
   * makes for it, the only one its deploy role may create and change these roles with.
   * @default - none
   */
  readonly permissionsBoundaryArn?: string;
}

/** The AWS managed policies the stack attaches (CI's deploy role may attach these and no other). */
export const AWS_MANAGED_POLICIES = { codeDeploy: "service-role/AWSCodeDeployRole", sessionManager: "AmazonSSMManagedInstanceCore" } as const;

function trust(service: string, condition?: Record<string, Record<string, string>>): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole", ...(condition ? { Condition: condition } : {}) }],
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
    const account = props.accountId ?? new DataAwsCallerIdentity(this, "account").accountId;

    // Confused deputy: CodeDeploy assumes the role only on behalf of this account's deployment
    // groups of this application (CodeDeploy's guide: aws:SourceArn is the deployment group ARN).
    const codeDeploy = new IamRole(this, "codedeploy", {
      name: `${props.namePrefix}-codedeploy`,
      description: "webfleet: lets CodeDeploy deploy to the fleets and control their traffic",
      permissionsBoundary: props.permissionsBoundaryArn,
      assumeRolePolicy: trust("codedeploy.amazonaws.com", {
        StringEquals: { "aws:SourceAccount": account },
        ArnLike: { "aws:SourceArn": `arn:${partition}:codedeploy:${props.region}:${account}:deploymentgroup:${props.applicationName}/*` },
      }),
    });
    const managed = new IamRolePolicyAttachment(this, "codedeploy-managed", {
      role: codeDeploy.name,
      policyArn: `arn:${partition}:iam::aws:policy/${AWS_MANAGED_POLICIES.codeDeploy}`,
    });

    const instance = new IamRole(this, "instance", {
      name: `${props.namePrefix}-instance`,
      description: "webfleet web instances: Session Manager and revision downloads",
      permissionsBoundary: props.permissionsBoundaryArn,
      assumeRolePolicy: trust("ec2.amazonaws.com"),
    });
    new IamRolePolicyAttachment(this, "instance-ssm", {
      role: instance.name,
      policyArn: `arn:${partition}:iam::aws:policy/${AWS_MANAGED_POLICIES.sessionManager}`,
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
    // instances from the template and pass the instance role on. Scoped as EC2's guide shows:
    // RunInstances authorizes every resource of a launch (instance, volumes, network interface,
    // subnet, security group, image, the template) and ec2:LaunchTemplate is set on each, so one
    // statement allows launches from the fleets' templates and nothing else; tags only while
    // launching; the instance role only to EC2.
    const ec2 = `arn:${partition}:ec2:${props.region}:${account}`;
    const launchTemplate = new IamRolePolicy(this, "codedeploy-launch-template", {
      name: "launch-template-asg",
      role: codeDeploy.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "LaunchFromTheFleetTemplates",
            Effect: "Allow",
            Action: "ec2:RunInstances",
            Resource: "*",
            Condition: { ArnLike: { "ec2:LaunchTemplate": [...props.launchTemplateArns] } },
          },
          {
            Sid: "TagWhatTheLaunchCreates",
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: ["instance", "volume", "network-interface"].map((type) => `${ec2}:${type}/*`),
            Condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
          },
          {
            Sid: "PassTheInstanceRoleToEc2",
            Effect: "Allow",
            Action: "iam:PassRole",
            Resource: instance.arn,
            Condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
          },
        ],
      }),
    });

    this.codeDeployRoleArn = codeDeploy.arn;
    this.codeDeployRolePolicies = [managed, launchTemplate];
    this.instanceRoleName = instance.name;
    this.instanceProfileArn = profile.arn;
  }
}
