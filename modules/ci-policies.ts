/**
 * What each GitHub workflow may do in AWS, as IAM policy documents: one environment's release
 * role, its deploy role (`npm run deploy` and `npm run nightly`), and the read-only plan role;
 * and, next to them, what the commands those roles run call in AWS ({@link CI_COMMANDS}), so a
 * test can hold the two against each other and against the commands' code.
 *
 * Scoped to the environment's own things: names `webfleet-<env>-*`, SSM parameters under
 * `/webfleet/<env>/`, its state object, the keys the tools use in its revision bucket, and,
 * where an API cannot be scoped by name (EC2), the tags the stack and Packer put on what they
 * create. Actions that IAM authorizes only on `*` (the Service Authorization Reference lists no
 * resource type for them) are granted on `*`; nothing grants the action `*`.
 *
 * Pure data: the CI stack turns each document into a managed policy, tests read them.
 */
import { PARTITION } from "../config/regions";
import type { StateBackendConfig } from "../config/schema";
import { AWS_MANAGED_POLICIES } from "./iam";
import {
  CI_IAM_PATH,
  COLORS,
  IMAGE_TAGS,
  PROJECT,
  REVISION_BUCKET_KEYS,
  releaseParameters,
  resourcePrefix,
  stackName,
  type CiRoleKind,
  type PublishedStack,
} from "./names";
import { stateKey } from "./state-backend";

export type Condition = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export interface PolicyStatement {
  readonly Sid: string;
  /** Deny only where an allow elsewhere could be combined into a way around a limit (the workload boundary, other environments' networks). */
  readonly Effect: "Allow" | "Deny";
  readonly Action: readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Condition;
}

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: readonly PolicyStatement[];
}

/** One environment as its roles see it. */
export interface EnvironmentScope {
  readonly name: string;
  readonly region: string;
  readonly accountId: string;
  readonly stateBackend: StateBackendConfig;
}

export function policy(statements: readonly PolicyStatement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

function allow(Sid: string, Action: readonly string[], Resource: string | readonly string[], Condition?: Condition): PolicyStatement {
  return Condition ? { Sid, Effect: "Allow", Action, Resource, Condition } : { Sid, Effect: "Allow", Action, Resource };
}

function deny(Sid: string, Action: readonly string[], Resource: string | readonly string[], Condition?: Condition): PolicyStatement {
  return Condition ? { Sid, Effect: "Deny", Action, Resource, Condition } : { Sid, Effect: "Deny", Action, Resource };
}

/** The ARNs of one environment's things, as the stack and the tools name them. */
function arnsOf(env: EnvironmentScope) {
  const p = PARTITION;
  const at = `${env.region}:${env.accountId}`;
  const prefix = resourcePrefix(env.name);
  const parameters = releaseParameters(env.name);
  const parameter = (name: string) => `arn:${p}:ssm:${at}:parameter${name}`;
  const revisionBucket = `arn:${p}:s3:::${prefix}-revisions-*`;
  return {
    partition: p,
    parameter,
    /** Every parameter of the environment. */
    parameters: parameter(`${parameters.root}/*`),
    /** The same, and the path itself, which GetParametersByPath is authorized on. */
    parameterTree: [parameter(parameters.root), parameter(`${parameters.root}/*`)],
    /** Amazon Linux's public AMI parameters (no account): the stack's default AMI source, and the nightly's newest-AMI check. */
    publicAmiParameters: `arn:${p}:ssm:${env.region}::parameter/aws/service/ami-amazon-linux-latest/*`,
    /** What the region's CodeDeploy agent installer would install now (a bucket of AWS's own account, readable by all). */
    agentVersion: `arn:${p}:s3:::aws-codedeploy-${env.region}/latest/VERSION`,
    application: `arn:${p}:codedeploy:${at}:application:${prefix}`,
    deploymentGroups: `arn:${p}:codedeploy:${at}:deploymentgroup:${prefix}/*`,
    /** CodeDeploy's predefined configs and the environment's own: reading one is harmless. */
    anyDeploymentConfig: `arn:${p}:codedeploy:${at}:deploymentconfig:*`,
    ownDeploymentConfigs: `arn:${p}:codedeploy:${at}:deploymentconfig:${prefix}-*`,
    autoScalingGroups: `arn:${p}:autoscaling:${at}:autoScalingGroup:*:autoScalingGroupName/${prefix}-*`,
    loadBalancer: `arn:${p}:elasticloadbalancing:${at}:loadbalancer/app/${prefix}/*`,
    listeners: `arn:${p}:elasticloadbalancing:${at}:listener/app/${prefix}/*`,
    listenerRules: `arn:${p}:elasticloadbalancing:${at}:listener-rule/app/${prefix}/*`,
    targetGroups: `arn:${p}:elasticloadbalancing:${at}:targetgroup/${prefix}-*/*`,
    alarms: `arn:${p}:cloudwatch:${at}:alarm:${prefix}-*`,
    topics: `arn:${p}:sns:${at}:${prefix}-*`,
    /** EC2's quotas in Service Quotas (the release reads the On-Demand vCPU one). */
    ec2Quotas: `arn:${p}:servicequotas:${at}:ec2/*`,
    revisionBucket,
    lockObject: `${revisionBucket}/${REVISION_BUCKET_KEYS.lock}`,
    revisionObjects: `${revisionBucket}/${REVISION_BUCKET_KEYS.revisions}*`,
    imageObjects: `${revisionBucket}/${REVISION_BUCKET_KEYS.images}*`,
    roles: `arn:${p}:iam::${env.accountId}:role/${prefix}-*`,
    instanceProfiles: `arn:${p}:iam::${env.accountId}:instance-profile/${prefix}-*`,
    /** The instance role (modules/iam.ts), the one role the workload passes on (to EC2). */
    instanceRole: `arn:${p}:iam::${env.accountId}:role/${prefix}-instance`,
    workloadBoundary: workloadBoundaryArn(env.accountId, env.name),
    /** EC2 resources of a type in the environment's region and account: `ec2("security-group")`. */
    ec2: (type: string) => `arn:${p}:ec2:${at}:${type}/*`,
    /** AMIs and their snapshots, whose ARNs name no account (Amazon's AMIs are images too). */
    ec2Images: (type: "image" | "snapshot") => `arn:${p}:ec2:${env.region}::${type}/*`,
  };
}

/**
 * The permissions boundary the CI stack makes for an environment's workload roles (the instance
 * role and CodeDeploy's service role, modules/iam.ts), named after the environment so that each
 * environment's roles get their own ceiling.
 */
export function workloadBoundaryName(env: string): string {
  return `${resourcePrefix(env)}-workload-boundary`;
}

/** Its ARN: at the CI stack's IAM path, which no environment's deploy role may change. */
export function workloadBoundaryArn(accountId: string, env: string): string {
  return `arn:${PARTITION}:iam::${accountId}:policy${CI_IAM_PATH}${workloadBoundaryName(env)}`;
}

/** The tags the stack's provider sets on everything it creates (the fleets set them on their groups themselves). */
export function stackTags(env: string): Readonly<Record<string, string>> {
  return { project: PROJECT, environment: env };
}

/** The tags Packer sets (run_tags, run_volume_tags, and the AMI's and snapshots' tags): capitalized keys. */
export function packerTags(env: string): Readonly<Record<string, string>> {
  return { [IMAGE_TAGS.project]: PROJECT, [IMAGE_TAGS.environment]: env };
}

function ownedBy(tags: Readonly<Record<string, string>>): Condition {
  return { StringEquals: Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v])) };
}

/** The tags a create call must put on what it creates (EC2's tag-on-create: TagSpecifications). */
function requestTags(tags: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v]));
}

/**
 * Whatever carries the project's tags for another environment (in either key case: the stack's
 * or Packer's). A deny with this condition keeps an environment's launches and new groups out of
 * the other environments' subnets, security groups and VPCs; untagged ones (the default VPC's)
 * stay usable.
 */
function otherEnvironments(tags: Readonly<Record<string, string>>, env: string): Condition {
  const [project, environment] = Object.keys(tags);
  return {
    StringEquals: { [`aws:ResourceTag/${project}`]: tags[project] },
    StringNotEquals: { [`aws:ResourceTag/${environment}`]: env },
  };
}

/** Terraform state: read (plan) or read and write (deploy), and the DynamoDB lock table when one is named. */
function stateStatements(env: EnvironmentScope, write: boolean): PolicyStatement[] {
  const backend = env.stateBackend;
  if (backend.type !== "s3") return [];
  const p = PARTITION;
  const key = stateKey(backend.keyPrefix, env.name, stackName(env.name));
  const out = [
    // The S3 backend lists the bucket (workspaces); object names are all it learns.
    allow("ListStateBucket", ["s3:ListBucket"], `arn:${p}:s3:::${backend.bucket}`),
    allow(
      write ? "WriteState" : "ReadState",
      write ? ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] : ["s3:GetObject"],
      // The state, and S3's lock file beside it (use_lockfile) that an apply writes and removes.
      write ? [`arn:${p}:s3:::${backend.bucket}/${key}`, `arn:${p}:s3:::${backend.bucket}/${key}.tflock`] : `arn:${p}:s3:::${backend.bucket}/${key}`,
    ),
  ];
  if (backend.dynamodbTable) {
    out.push(
      allow(
        "StateLockTable",
        // A read checks the state's digest in the table; an apply also takes and gives back the lock.
        write ? ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"] : ["dynamodb:GetItem"],
        `arn:${p}:dynamodb:${backend.region ?? env.region}:${env.accountId}:table/${backend.dynamodbTable}`,
      ),
    );
  }
  return out;
}

/** What `terraform plan` reads to refresh the environment's stack (every resource type it has, and its data sources). */
function refreshStatements(env: EnvironmentScope): PolicyStatement[] {
  const a = arnsOf(env);
  return [
    // These APIs take no resource ARN (or only `*` for a listing): read-only, account-wide.
    allow(
      "Describe",
      [
        "ec2:Describe*",
        "elasticloadbalancing:Describe*",
        "autoscaling:Describe*",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
        "ssm:DescribeParameters",
      ],
      "*",
    ),
    allow(
      "ReadParameters",
      ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:ListTagsForResource"],
      [...a.parameterTree, a.publicAmiParameters],
    ),
    allow(
      "ReadCodeDeploy",
      ["codedeploy:GetApplication", "codedeploy:GetDeploymentGroup", "codedeploy:GetDeploymentConfig", "codedeploy:ListTagsForResource"],
      [a.application, a.deploymentGroups, a.anyDeploymentConfig],
    ),
    allow("ReadTopic", ["sns:GetTopicAttributes", "sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource"], a.topics),
    allow(
      "ReadRoles",
      ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:GetInstanceProfile"],
      [a.roles, a.instanceProfiles],
    ),
    allow(
      "ReadRevisionBucket",
      [
        "s3:ListBucket",
        "s3:GetBucket*",
        "s3:GetAccelerateConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration",
      ],
      a.revisionBucket,
    ),
  ];
}

/**
 * `npm run release` (and the nightly's promotion, which is one): the release state in SSM, the
 * release lock (an S3 object in the revision bucket, changed only by conditional writes, and
 * mirrored in SSM), the bundle upload, a CodeDeploy deployment and its watch, and for blue/green
 * and canary the colors' capacity and the listener's weights.
 */
export function releasePolicy(env: EnvironmentScope): PolicyDocument {
  const a = arnsOf(env);
  const parameters = releaseParameters(env.name);
  const ownedByStack = ownedBy(stackTags(env.name));
  return policy([
    allow("ReadReleaseState", ["ssm:GetParameter", "ssm:GetParameters"], a.parameters),
    // Only the release's own parameters: never the AMI ids or the stack's published facts.
    allow(
      "WriteReleaseState",
      ["ssm:PutParameter"],
      [parameters.lockHolder, parameters.liveColor, parameters.previous, ...COLORS.map(parameters.weight)].map(a.parameter),
    ),
    allow("ClearReleaseState", ["ssm:DeleteParameter"], [parameters.lockHolder, parameters.previous].map(a.parameter)),
    // Without it a key that does not exist (no lock, no bundle yet) answers 403 instead of 404.
    allow("FindObjects", ["s3:ListBucket"], a.revisionBucket),
    allow("Revisions", ["s3:GetObject", "s3:PutObject"], a.revisionObjects),
    allow("ReadLock", ["s3:GetObject"], a.lockObject),
    // The lock changes only conditionally: taken with If-None-Match, kept and given back with If-Match.
    allow("TakeLock", ["s3:PutObject"], a.lockObject, { Null: { "s3:if-none-match": "false" } }),
    allow("HoldLock", ["s3:PutObject", "s3:DeleteObject"], a.lockObject, { Null: { "s3:if-match": "false" } }),
    allow(
      "Deploy",
      ["codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:ListDeployments", "codedeploy:GetDeploymentGroup"],
      a.deploymentGroups,
    ),
    // What CreateDeployment is checked against besides its group: AWS's own CI examples grant these with it.
    allow("DeploymentConfigs", ["codedeploy:GetDeploymentConfig"], a.anyDeploymentConfig),
    allow("DeploymentRevisions", ["codedeploy:RegisterApplicationRevision", "codedeploy:GetApplicationRevision"], a.application),
    // IAM authorizes these on `*` only: StopDeployment stops the deployment this release created.
    allow("WatchDeployment", ["codedeploy:ListDeploymentTargets", "codedeploy:BatchGetDeploymentTargets", "codedeploy:StopDeployment"], "*"),
    allow(
      "WatchFleets",
      [
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeInstanceRefreshes",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetHealth",
        "cloudwatch:DescribeAlarms",
        "ec2:DescribeInstanceTypes",
      ],
      "*",
    ),
    // Room for both colors at once: the account's On-Demand vCPU quota.
    allow("ReadQuota", ["servicequotas:GetServiceQuota"], a.ec2Quotas),
    allow("ShiftTraffic", ["elasticloadbalancing:ModifyListener"], a.listeners, ownedByStack),
    // A color's min, max and desired size together, as the role it takes needs (never its
    // subnets or launch configuration: launching from another template would also need
    // ec2:RunInstances, which a release has not).
    allow("ScaleFleets", ["autoscaling:UpdateAutoScalingGroup"], a.autoScalingGroups, {
      ...ownedByStack,
      Null: { "autoscaling:VPCZoneIdentifiers": "true", "autoscaling:LaunchConfigurationName": "true" },
    }),
  ]);
}

/**
 * What `cdktf deploy` creates in EC2 that holds nothing until something is launched into it: a
 * new one touches nothing that exists, so these take no tag condition (another environment's
 * VPC is kept out by the NotInOtherEnvironments deny).
 */
const CONTAINER_CREATES = ["CreateVpc", "CreateSubnet", "CreateInternetGateway", "CreateRouteTable"];
/**
 * The stack's creates whose new resource must carry the environment's tags (the provider's
 * default tags, sent with the create call): its security groups and launch templates, and the
 * RunInstances check Auto Scaling makes with the caller's rights when a group is created or
 * updated from a launch template (the template's tag specifications are that check's request tags).
 */
const STACK_TAGGED_CREATES = ["CreateSecurityGroup", "CreateLaunchTemplate", "RunInstances"];
/**
 * What Packer's amazon-ebs builder creates (plugin 1.8.2), each with run_tags (Project,
 * Environment) on the new resource as it is made: the temporary key pair and security group,
 * the build instance with its network interface (and its volume, run_volume_tags), the AMI and
 * its snapshot. Its volumes and snapshots come with RunInstances and CreateImage, which authorize
 * them: it never calls CreateVolume or CreateSnapshot.
 */
const BUILD_CREATES = ["CreateKeyPair", "CreateSecurityGroup", "RunInstances", "CreateImage"];
/** The stack's calls whose new resources may be tagged as they are made. */
const STACK_TAGGING_CREATES = [
  ...CONTAINER_CREATES,
  ...STACK_TAGGED_CREATES,
  "CreateLaunchTemplateVersion",
  "AuthorizeSecurityGroupIngress",
  "AuthorizeSecurityGroupEgress",
];
/** What RunInstances creates: it names these new resources and the tags each gets. */
const LAUNCHED = ["instance", "volume", "network-interface"];

/**
 * The deploy role's documents, by concern (each one managed policy): what `npm run deploy` and
 * `npm run nightly` do. `cdktf deploy` creates and changes the whole stack (read, network, fleet,
 * iam); Packer launches a build instance and makes the AMI, and the nightly reads its build's
 * inputs, keeps package lists and reports to SNS (image); the nightly promotes a new image the
 * way a release does (rollout).
 */
export function deployPolicies(env: EnvironmentScope): Record<string, PolicyDocument> {
  const a = arnsOf(env);
  const p = a.partition;
  const ec2 = (names: readonly string[]) => names.map((n) => `ec2:${n}`);
  return {
    rollout: releasePolicy(env),
    read: policy([...stateStatements(env, true), ...refreshStatements(env)]),
    network: policy([
      // What the stack creates carries the environment's tags from the start; what exists may be
      // changed only when it carries them (CreateTags included, so nothing foreign can be adopted
      // by tagging it, and nothing new tagged for another environment).
      allow("Create", ec2(CONTAINER_CREATES), "*"),
      allow("NewSecurityGroups", ["ec2:CreateSecurityGroup"], a.ec2("security-group"), { StringEquals: requestTags(stackTags(env.name)) }),
      // The VPC a new group goes into: the default VPC carries no tags (Packer's group goes there too).
      allow("InVpcs", ["ec2:CreateSecurityGroup"], a.ec2("vpc")),
      allow("NewLaunchTemplates", ["ec2:CreateLaunchTemplate"], a.ec2("launch-template"), { StringEquals: requestTags(stackTags(env.name)) }),
      allow("TagOnCreate", ["ec2:CreateTags"], "*", {
        StringEquals: { "ec2:CreateAction": STACK_TAGGING_CREATES, ...requestTags(stackTags(env.name)) },
      }),
      // Auto Scaling checks that whoever creates or updates a group may launch from its template:
      // instances, volumes and interfaces tagged by the template, from the environment's own
      // template and security group (subnets and AMIs: LaunchInto, in the image document).
      allow("LaunchFromTemplates", ["ec2:RunInstances"], LAUNCHED.map(a.ec2), { StringEquals: requestTags(stackTags(env.name)) }),
      allow("OwnTemplatesAndGroups", ["ec2:RunInstances"], [a.ec2("launch-template"), a.ec2("security-group")], ownedBy(stackTags(env.name))),
      // Nothing goes into another environment's tagged subnets, security groups or VPC, whatever
      // the tags of what is launched or created there.
      ...[stackTags(env.name), packerTags(env.name)].map((tags, i) =>
        deny(
          i === 0 ? "NotInOtherEnvironments" : "NotInOtherEnvironmentsBuilds",
          ec2(["RunInstances", "CreateSecurityGroup", "CreateSubnet", "CreateRouteTable"]),
          [a.ec2("subnet"), a.ec2("security-group"), a.ec2("vpc")],
          otherEnvironments(tags, env.name),
        ),
      ),
      // A rule is a resource of its own, created by the authorize call: its group must be ours.
      allow(
        "NewSecurityGroupRules",
        ec2(["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]),
        `arn:${p}:ec2:*:${env.accountId}:security-group-rule/*`,
      ),
      allow(
        "ChangeOwnNetwork",
        ec2([
          "CreateTags",
          "DeleteTags",
          "ModifyVpcAttribute",
          "DeleteVpc",
          "ModifySubnetAttribute",
          "DeleteSubnet",
          "AttachInternetGateway",
          "DetachInternetGateway",
          "DeleteInternetGateway",
          "CreateRoute",
          "ReplaceRoute",
          "DeleteRoute",
          "AssociateRouteTable",
          "DisassociateRouteTable",
          "DeleteRouteTable",
          "AuthorizeSecurityGroupIngress",
          "AuthorizeSecurityGroupEgress",
          "RevokeSecurityGroupIngress",
          "RevokeSecurityGroupEgress",
          "ModifySecurityGroupRules",
          "UpdateSecurityGroupRuleDescriptionsIngress",
          "UpdateSecurityGroupRuleDescriptionsEgress",
          "DeleteSecurityGroup",
          "CreateLaunchTemplateVersion",
          "ModifyLaunchTemplate",
          "DeleteLaunchTemplate",
          "DeleteLaunchTemplateVersions",
        ]),
        "*",
        ownedBy(stackTags(env.name)),
      ),
    ]),
    image: policy([
      // Packer's build instance, temporary key pair and security group, and the image: each made
      // with the environment's tags (run_tags, run_volume_tags), and the parts it launches with
      // must be its own.
      allow("LaunchBuildInstance", ["ec2:RunInstances"], LAUNCHED.map(a.ec2), { StringEquals: requestTags(packerTags(env.name)) }),
      allow("LaunchWithOwnParts", ["ec2:RunInstances"], [a.ec2("security-group"), a.ec2("key-pair")], ownedBy(packerTags(env.name))),
      // The default VPC's subnets and Amazon's AMIs carry no tags of ours (another environment's
      // tagged subnets are denied in the network document).
      allow("LaunchInto", ["ec2:RunInstances"], [a.ec2("subnet"), a.ec2Images("image")]),
      allow("NewBuildParts", ec2(["CreateKeyPair", "CreateSecurityGroup"]), [a.ec2("key-pair"), a.ec2("security-group")], {
        StringEquals: requestTags(packerTags(env.name)),
      }),
      allow("BakeImage", ["ec2:CreateImage"], [a.ec2Images("image"), a.ec2Images("snapshot")], { StringEquals: requestTags(packerTags(env.name)) }),
      allow("FromOwnBuildInstance", ["ec2:CreateImage"], a.ec2("instance"), ownedBy(packerTags(env.name))),
      allow("TagBuildOnCreate", ["ec2:CreateTags"], "*", { StringEquals: { "ec2:CreateAction": BUILD_CREATES, ...requestTags(packerTags(env.name)) } }),
      allow(
        "ChangeOwnBuild",
        ec2([
          "CreateTags",
          "StopInstances",
          "TerminateInstances",
          "DeleteVolume",
          "AuthorizeSecurityGroupIngress",
          "DeleteSecurityGroup",
          "DeleteKeyPair",
          "ModifyImageAttribute",
          "EnableImageDeprecation",
          "DeregisterImage",
          "DeleteSnapshot",
        ]),
        "*",
        ownedBy(packerTags(env.name)),
      ),
      // The nightly's build key names the agent version the image would get.
      allow("ReadAgentVersion", ["s3:GetObject"], a.agentVersion),
      allow("PackageLists", ["s3:GetObject", "s3:PutObject"], a.imageObjects),
      allow("ReportNight", ["sns:Publish"], a.topics),
    ]),
    fleet: policy([
      allow(
        "OwnLoadBalancer",
        [
          "elasticloadbalancing:CreateLoadBalancer",
          "elasticloadbalancing:CreateTargetGroup",
          "elasticloadbalancing:CreateListener",
          "elasticloadbalancing:CreateRule",
          "elasticloadbalancing:AddTags",
          "elasticloadbalancing:RemoveTags",
          "elasticloadbalancing:ModifyLoadBalancerAttributes",
          "elasticloadbalancing:ModifyTargetGroup",
          "elasticloadbalancing:ModifyTargetGroupAttributes",
          "elasticloadbalancing:ModifyListener",
          "elasticloadbalancing:ModifyListenerAttributes",
          "elasticloadbalancing:ModifyRule",
          "elasticloadbalancing:SetRulePriorities",
          "elasticloadbalancing:SetSecurityGroups",
          "elasticloadbalancing:SetSubnets",
          "elasticloadbalancing:DeleteRule",
          "elasticloadbalancing:DeleteListener",
          "elasticloadbalancing:DeleteTargetGroup",
          "elasticloadbalancing:DeleteLoadBalancer",
        ],
        [a.loadBalancer, a.listeners, a.listenerRules, a.targetGroups],
      ),
      allow(
        "OwnFleets",
        [
          "autoscaling:CreateAutoScalingGroup",
          "autoscaling:UpdateAutoScalingGroup",
          "autoscaling:DeleteAutoScalingGroup",
          "autoscaling:CreateOrUpdateTags",
          "autoscaling:DeleteTags",
          "autoscaling:AttachLoadBalancerTargetGroups",
          "autoscaling:DetachLoadBalancerTargetGroups",
          "autoscaling:AttachTrafficSources",
          "autoscaling:DetachTrafficSources",
          "autoscaling:StartInstanceRefresh",
          "autoscaling:CancelInstanceRefresh",
          "autoscaling:SetDesiredCapacity",
          "autoscaling:SuspendProcesses",
          "autoscaling:ResumeProcesses",
          "autoscaling:EnableMetricsCollection",
          "autoscaling:DisableMetricsCollection",
        ],
        a.autoScalingGroups,
      ),
      allow(
        "OwnDeployments",
        [
          "codedeploy:CreateApplication",
          "codedeploy:UpdateApplication",
          "codedeploy:DeleteApplication",
          "codedeploy:CreateDeploymentGroup",
          "codedeploy:UpdateDeploymentGroup",
          "codedeploy:DeleteDeploymentGroup",
          "codedeploy:CreateDeploymentConfig",
          "codedeploy:DeleteDeploymentConfig",
          "codedeploy:TagResource",
          "codedeploy:UntagResource",
        ],
        [a.application, a.deploymentGroups, a.ownDeploymentConfigs],
      ),
      allow("OwnAlarms", ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource"], a.alarms),
      allow(
        "OwnTopic",
        [
          "sns:CreateTopic",
          "sns:DeleteTopic",
          "sns:SetTopicAttributes",
          "sns:Subscribe",
          "sns:Unsubscribe",
          "sns:SetSubscriptionAttributes",
          "sns:TagResource",
          "sns:UntagResource",
        ],
        a.topics,
      ),
      // Terraform's parameters, and the AMI ids `npm run deploy` publishes.
      allow(
        "OwnParameters",
        ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"],
        a.parameters,
      ),
      allow(
        "OwnRevisionBucket",
        [
          "s3:CreateBucket",
          "s3:DeleteBucket",
          "s3:PutBucketPolicy",
          "s3:DeleteBucketPolicy",
          "s3:PutBucketVersioning",
          "s3:PutEncryptionConfiguration",
          "s3:PutBucketPublicAccessBlock",
          "s3:PutBucketOwnershipControls",
          "s3:PutLifecycleConfiguration",
          "s3:PutBucketTagging",
        ],
        a.revisionBucket,
      ),
    ]),
    iam: policy([
      // The environment's roles and instance profile as Terraform manages them. What can change
      // a role's permissions (its inline and attached policies, its boundary) is allowed only on
      // a role whose permissions boundary is the environment's workload boundary (CreateRole: the
      // new role's), which the CI stack owns: whatever these write, the role can do no more than
      // the boundary allows. Not here: iam:UpdateAssumeRolePolicy, which IAM cannot condition on
      // the boundary (nor on the new trust policy): with it the role could make a role trust
      // itself and assume it. The stack's trust policies are fixed (CodeDeploy's names only this
      // account's deployment groups), so a change to one is applied by a person.
      allow(
        "OwnRoles",
        [
          "iam:DeleteRole",
          "iam:UpdateRole",
          "iam:UpdateRoleDescription",
          "iam:TagRole",
          "iam:UntagRole",
          "iam:CreateInstanceProfile",
          "iam:DeleteInstanceProfile",
          "iam:AddRoleToInstanceProfile",
          "iam:RemoveRoleFromInstanceProfile",
          "iam:TagInstanceProfile",
          "iam:UntagInstanceProfile",
        ],
        [a.roles, a.instanceProfiles],
      ),
      allow(
        "BoundedRoles",
        ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary"],
        a.roles,
        { StringEquals: { "iam:PermissionsBoundary": a.workloadBoundary } },
      ),
      // Only the AWS managed policies the stack attaches, never AdministratorAccess, and only to
      // a bounded role.
      allow("AttachStackPolicies", ["iam:AttachRolePolicy"], a.roles, {
        ArnEquals: { "iam:PolicyARN": Object.values(AWS_MANAGED_POLICIES).map((name) => `arn:${p}:iam::aws:policy/${name}`) },
        StringEquals: { "iam:PermissionsBoundary": a.workloadBoundary },
      }),
      // The instance role goes to EC2 (launch template), the service role to CodeDeploy.
      allow("PassStackRoles", ["iam:PassRole"], a.roles, { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "codedeploy.amazonaws.com"] } }),
      // The first Auto Scaling group and load balancer of an account create these.
      allow("ServiceLinkedRoles", ["iam:CreateServiceLinkedRole"], `arn:${p}:iam::${env.accountId}:role/aws-service-role/*`, {
        StringEquals: { "iam:AWSServiceName": ["autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com"] },
      }),
      // No role loses its boundary, and the boundary itself never changes, whatever else is
      // granted: both are the CI stack's, applied by a person.
      deny("KeepBoundaries", ["iam:DeleteRolePermissionsBoundary"], "*"),
      deny(
        "BoundaryUnchanged",
        ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
        a.workloadBoundary,
      ),
    ]),
  };
}

/**
 * What the AWS managed policies the stack attaches (modules/iam.ts) allow, as AWS publishes them
 * (AWSCodeDeployRole v12 of September 2026, AmazonSSMManagedInstanceCore v2, both on `*`). The
 * workload boundary keeps each action, on the environment's own resources where the action takes
 * one. AWS may add an action to a new version: a boundary without it would refuse it, so compare
 * when CodeDeploy or Session Manager misbehave (`aws iam get-policy-version`).
 */
export const AWS_MANAGED_POLICY_ACTIONS: Readonly<Record<keyof typeof AWS_MANAGED_POLICIES, readonly string[]>> = {
  codeDeploy: [
    "autoscaling:CompleteLifecycleAction",
    "autoscaling:DeleteLifecycleHook",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLifecycleHooks",
    "autoscaling:PutLifecycleHook",
    "autoscaling:RecordLifecycleActionHeartbeat",
    "autoscaling:CreateAutoScalingGroup",
    "autoscaling:CreateOrUpdateTags",
    "autoscaling:UpdateAutoScalingGroup",
    "autoscaling:EnableMetricsCollection",
    "autoscaling:DescribePolicies",
    "autoscaling:DescribeScheduledActions",
    "autoscaling:DescribeNotificationConfigurations",
    "autoscaling:SuspendProcesses",
    "autoscaling:ResumeProcesses",
    "autoscaling:AttachLoadBalancers",
    "autoscaling:AttachLoadBalancerTargetGroups",
    "autoscaling:PutScalingPolicy",
    "autoscaling:PutScheduledUpdateGroupAction",
    "autoscaling:PutNotificationConfiguration",
    "autoscaling:PutWarmPool",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DeleteAutoScalingGroup",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus",
    "ec2:TerminateInstances",
    "tag:GetResources",
    "sns:Publish",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:PutMetricAlarm",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeInstanceHealth",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
  ],
  sessionManager: [
    "ssm:DescribeAssociation",
    "ssm:GetDeployablePatchSnapshotForInstance",
    "ssm:GetDocument",
    "ssm:DescribeDocument",
    "ssm:GetManifest",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:ListAssociations",
    "ssm:ListInstanceAssociations",
    "ssm:PutInventory",
    "ssm:PutComplianceItems",
    "ssm:PutConfigurePackageResult",
    "ssm:UpdateAssociationStatus",
    "ssm:UpdateInstanceAssociationStatus",
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
  ],
};

/** Actions of the AWS managed policies the workload boundary leaves out, and why. */
export const NOT_IN_WORKLOAD_BOUNDARY: Readonly<Record<string, string>> = {
  "elasticloadbalancing:RegisterInstancesWithLoadBalancer": "Classic Load Balancers: the stack has none (its ALB takes targets by RegisterTargets)",
  "elasticloadbalancing:DeregisterInstancesFromLoadBalancer": "Classic Load Balancers: the stack has none (its ALB takes targets by RegisterTargets)",
};

/** Reads that take no resource narrower than `*` (Describe, and the tagging API's GetResources). */
const isReadOnly = (action: string) => /^[a-z0-9-]+:(Describe|Get|List)/.test(action);

/**
 * The permissions boundary of an environment's workload roles (the instance role and CodeDeploy's
 * service role): the most any role the environment's deploy role creates or changes can do. It
 * is what those roles need (modules/iam.ts: the two AWS managed policies, the revision reads, the
 * launch-template grants), on the environment's own resources: a role that the deploy role made
 * to trust itself, whatever its policies, can reach nothing of another environment and nothing
 * in IAM but passing the instance role to EC2.
 */
export function workloadBoundaryPolicy(env: EnvironmentScope): PolicyDocument {
  const a = arnsOf(env);
  const { codeDeploy, sessionManager } = AWS_MANAGED_POLICY_ACTIONS;
  const parameterReads = ["ssm:GetParameter", "ssm:GetParameters"];
  const tags = stackTags(env.name);
  return policy([
    allow("Read", codeDeploy.filter(isReadOnly), "*"),
    // The SSM agent's own calls; the parameters it may read are the environment's.
    allow(
      "SessionManagerAgent",
      sessionManager.filter((action) => !parameterReads.includes(action)),
      "*",
    ),
    allow("OwnParameters", parameterReads, a.parameters),
    allow("ReadRevisions", ["s3:GetObject", "s3:GetObjectVersion"], `${a.revisionBucket}/*`),
    allow("ListRevisions", ["s3:ListBucket"], a.revisionBucket),
    allow("ReadCodeDeployAgent", ["s3:GetObject"], `arn:${a.partition}:s3:::aws-codedeploy-${env.region}/*`),
    allow(
      "OwnFleets",
      codeDeploy.filter((action) => action.startsWith("autoscaling:") && !isReadOnly(action)),
      a.autoScalingGroups,
    ),
    allow("OwnTargets", ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"], a.targetGroups),
    allow("OwnInstances", ["ec2:TerminateInstances"], a.ec2("instance"), ownedBy(tags)),
    allow("OwnTopic", ["sns:Publish"], a.topics),
    allow("OwnAlarms", ["cloudwatch:PutMetricAlarm"], a.alarms),
    // Launches only from the environment's templates (RunInstances names the template as a
    // resource of its own, and sets ec2:LaunchTemplate on every other one).
    allow("FromOwnTemplates", ["ec2:RunInstances"], a.ec2("launch-template"), ownedBy(tags)),
    allow("WhatTemplatesLaunch", ["ec2:RunInstances"], [...[...LAUNCHED, "subnet", "security-group"].map(a.ec2), a.ec2Images("image")], {
      ArnLike: { "ec2:LaunchTemplate": a.ec2("launch-template") },
    }),
    allow("TagLaunches", ["ec2:CreateTags"], LAUNCHED.map(a.ec2), { StringEquals: { "ec2:CreateAction": "RunInstances" } }),
    allow("PassInstanceRole", ["iam:PassRole"], a.instanceRole, { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } }),
  ]);
}

/**
 * The deploy role's documents that only the commands' own calls and Packer's need (the others
 * are Terraform's, for the stack's resources): each of their grants must be used by a command.
 */
export const COMMAND_DEPLOY_DOCUMENTS = ["rollout", "image"] as const;

/**
 * What `npm run nightly -- --dry-run` reads besides what a plan refreshes (the environment's
 * parameters, Amazon Linux's public AMI parameter, Describe*): the agent version its build key
 * names, and the deployment of a release that holds the lock. The nightly workflow's decide job
 * runs it with the plan role.
 */
function nightlyDecisionStatements(env: EnvironmentScope): PolicyStatement[] {
  const a = arnsOf(env);
  return [allow("ReadAgentVersion", ["s3:GetObject"], a.agentVersion), allow("ReadLockDeployment", ["codedeploy:GetDeployment"], a.deploymentGroups)];
}

/**
 * The plan role's document for one environment: read its state and refresh its stack, and the
 * nightly's dry run; nothing else.
 */
export function planPolicy(env: EnvironmentScope): PolicyDocument {
  return policy([...stateStatements(env, false), ...refreshStatements(env), ...nightlyDecisionStatements(env)]);
}

/** What the CI stack itself is, for the plan role when its state is in S3. */
export interface CiScope {
  readonly accountId: string;
  readonly region: string;
  readonly stateBackend: StateBackendConfig;
  readonly oidcProviderArn: string;
}

/**
 * The plan role's document for the CI stack itself, when its state is shared: that state (its
 * key follows the environments' rule, with `ci` for the environment), its roles, policies and
 * OIDC provider.
 */
export function planCiPolicy(ci: CiScope): PolicyDocument | undefined {
  if (ci.stateBackend.type !== "s3") return undefined;
  const p = PARTITION;
  return policy([
    ...stateStatements({ name: "ci", region: ci.region, accountId: ci.accountId, stateBackend: ci.stateBackend }, false),
    allow(
      "ReadCiRoles",
      [
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListPolicyVersions",
        "iam:GetOpenIDConnectProvider",
      ],
      [`arn:${p}:iam::${ci.accountId}:role${CI_IAM_PATH}*`, `arn:${p}:iam::${ci.accountId}:policy${CI_IAM_PATH}*`, ci.oidcProviderArn],
    ),
  ]);
}

// ---------------------------------------------------------------------------------------------
// What the commands call. For each command a workflow runs, every AWS call it can make, on the
// resources it makes it on; a test checks that the command's code makes no other SDK call, that
// its role allows each of these, and that the command-driven documents grant nothing else.

/** IAM's service prefix of each AWS SDK v3 client package (`@aws-sdk/client-<name>`) the scripts use. */
export const IAM_PREFIX_OF_CLIENT: Readonly<Record<string, string>> = {
  "auto-scaling": "autoscaling",
  cloudwatch: "cloudwatch",
  codedeploy: "codedeploy",
  ec2: "ec2",
  "elastic-load-balancing-v2": "elasticloadbalancing",
  s3: "s3",
  "service-quotas": "servicequotas",
  sns: "sns",
  ssm: "ssm",
  sts: "sts",
};

/** SDK operations whose IAM action has another name (S3's), or that need no permission at all. */
const ACTIONS_OF_OPERATION: Readonly<Record<string, readonly string[]>> = {
  "s3:HeadObject": ["s3:GetObject"],
  "s3:HeadBucket": ["s3:ListBucket"],
  "s3:ListObjectsV2": ["s3:ListBucket"],
  "s3:ListObjectVersions": ["s3:ListBucketVersions"],
  "s3:ListBuckets": ["s3:ListAllMyBuckets"],
  // Each key of the batch is a DeleteObject, or a DeleteObjectVersion when it names a version.
  "s3:DeleteObjects": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
  // Who am I: answered for any credentials, no policy can deny it.
  "sts:GetCallerIdentity": [],
};

/** The IAM actions an SDK operation (`GetObjectCommand` → `GetObject`) of `@aws-sdk/client-<client>` is authorized as. */
export function iamActionsOf(client: string, operation: string): readonly string[] {
  const prefix = IAM_PREFIX_OF_CLIENT[client];
  if (!prefix) throw new Error(`@aws-sdk/client-${client}: its IAM service prefix is unknown; add it to IAM_PREFIX_OF_CLIENT (modules/ci-policies.ts)`);
  return ACTIONS_OF_OPERATION[`${prefix}:${operation}`] ?? [`${prefix}:${operation}`];
}

/** A resource a call is authorized on, with the tags it carries when IAM looks at it. */
export interface CallResource {
  readonly arn: string;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface AwsCall {
  /** The IAM action. */
  readonly action: string;
  /** What it is authorized on: `*` for an action IAM authorizes on nothing narrower. */
  readonly on: readonly (string | CallResource)[];
  /** What else IAM sees of the request: S3's conditional-write headers, EC2's create action. */
  readonly request?: Readonly<Record<string, string>>;
  /** Why it is needed when it is not an SDK call of the command's own modules. */
  readonly implied?: string;
}

/** An environment as its commands find it: its scope, what its stack published, and Amazon's source AMI parameter for its architecture. */
export interface DeployedEnvironment extends EnvironmentScope {
  readonly stack: PublishedStack;
  /** `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-<line>-<arch>` (scripts/lib/nightly/key.ts). */
  readonly sourceAmiParameter: string;
}

/** Programs a command runs that call AWS themselves, with the command's credentials. */
export type CiTool = "packer" | "terraform";

export interface CommandAccess {
  /** The CI role the workflows run it with. */
  readonly role: CiRoleKind;
  readonly tools: readonly CiTool[];
  /** Every AWS call of its own code, for one deployed environment. */
  readonly calls: (env: DeployedEnvironment) => readonly AwsCall[];
  /** IAM actions of SDK operations its modules import but it never makes, and why they are imported. */
  readonly importedOnly?: Readonly<Record<string, string>>;
  /**
   * Its `--dry-run`, when a workflow runs that with another role (the nightly workflow's decide
   * job, with the read-only plan role): the role, and every AWS call the dry run makes (some of
   * `calls`: a dry run stops before anything changes).
   */
  readonly dryRun?: { readonly role: CiRoleKind; readonly calls: (env: DeployedEnvironment) => readonly AwsCall[] };
}

function call(action: string, on: readonly (string | CallResource)[], more: Omit<AwsCall, "action" | "on"> = {}): AwsCall {
  return { action, on, ...more };
}

function callsOf(actions: readonly string[], on: readonly (string | CallResource)[]): AwsCall[] {
  return actions.map((action) => call(action, on));
}

/** A few concrete names of what a stack or a build makes, where only their form matters. */
const EXAMPLE = {
  etag: '"0123456789abcdef0123456789abcdef"',
  sha256: "0123456789abcdef".repeat(4),
  amiId: "ami-0123456789abcdef0",
  instanceId: "i-0123456789abcdef0",
  groupId: "0c1d2e3f-0123-4567-89ab-0123456789ab",
} as const;

/** The names of the parameters the environment reader asks for in one GetParameters (scripts/lib/aws/environment.ts). */
function stateParameters(env: string): string[] {
  const n = releaseParameters(env);
  return [n.stack, n.liveColor, n.lockHolder, n.previous, ...COLORS.map(n.ami), ...COLORS.map(n.weight)];
}

/** `npm run release`: the same calls make the nightly's promotion. */
function releaseCalls(env: DeployedEnvironment): AwsCall[] {
  const a = arnsOf(env);
  const s = env.stack;
  const n = releaseParameters(env.name);
  const at = `${env.region}:${env.accountId}`;
  const bucket = `arn:${a.partition}:s3:::${s.revisionBucket}`;
  const lock = `${bucket}/${REVISION_BUCKET_KEYS.lock}`;
  const bundle = `${bucket}/${REVISION_BUCKET_KEYS.revisions}${EXAMPLE.sha256}.tgz`;
  const groups = COLORS.map((c) => `arn:${a.partition}:codedeploy:${at}:deploymentgroup:${s.applicationName}/${s.fleets[c].deploymentGroupName}`);
  const tags = stackTags(env.name);
  const fleets = COLORS.map((c) => ({
    arn: `arn:${a.partition}:autoscaling:${at}:autoScalingGroup:${EXAMPLE.groupId}:autoScalingGroupName/${s.fleets[c].autoScalingGroupName}`,
    tags,
  }));
  return [
    call("ssm:GetParameters", stateParameters(env.name).map(a.parameter)),
    call("ssm:GetParameter", [a.parameter(n.smokeTestKey)]),
    call("ssm:PutParameter", [n.lockHolder, n.liveColor, n.previous, ...COLORS.map(n.weight)].map(a.parameter)),
    call("ssm:DeleteParameter", [n.lockHolder, n.previous].map(a.parameter)),
    call("s3:ListBucket", [bucket], {
      implied: "without it, GetObject and HeadObject of a key that does not exist (no lock, no bundle yet) answer 403, not 404",
    }),
    call("s3:GetObject", [lock, bundle]),
    call("s3:PutObject", [bundle]),
    call("s3:PutObject", [lock], { request: { "s3:if-none-match": "*" } }),
    call("s3:PutObject", [lock], { request: { "s3:if-match": EXAMPLE.etag } }),
    call("s3:DeleteObject", [lock], { request: { "s3:if-match": EXAMPLE.etag } }),
    ...callsOf(["codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:ListDeployments", "codedeploy:GetDeploymentGroup"], groups),
    call(
      "codedeploy:GetDeploymentConfig",
      Object.values(s.deploymentConfigs).map((name) => `arn:${a.partition}:codedeploy:${at}:deploymentconfig:${name}`),
      { implied: "CreateDeployment's deployment config" },
    ),
    ...["codedeploy:RegisterApplicationRevision", "codedeploy:GetApplicationRevision"].map((action) =>
      call(action, [`arn:${a.partition}:codedeploy:${at}:application:${s.applicationName}`], { implied: "CreateDeployment registers its revision" }),
    ),
    ...callsOf(["codedeploy:StopDeployment", "codedeploy:ListDeploymentTargets", "codedeploy:BatchGetDeploymentTargets"], ["*"]),
    ...callsOf(["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities", "autoscaling:DescribeInstanceRefreshes"], ["*"]),
    call("autoscaling:UpdateAutoScalingGroup", fleets),
    ...callsOf(["elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetHealth"], ["*"]),
    call("elasticloadbalancing:ModifyListener", [{ arn: s.listenerArn, tags }]),
    ...callsOf(["cloudwatch:DescribeAlarms", "ec2:DescribeInstanceTypes"], ["*"]),
    call("servicequotas:GetServiceQuota", [`arn:${a.partition}:servicequotas:${at}:ec2/L-1216C47A`]),
  ];
}

/** `npm run deploy`'s own calls (Packer and Terraform aside). */
function deployCalls(env: DeployedEnvironment): AwsCall[] {
  const a = arnsOf(env);
  const n = releaseParameters(env.name);
  const at = `${env.region}:${env.accountId}`;
  const s = env.stack;
  return [
    call("ssm:GetParameters", stateParameters(env.name).map(a.parameter)),
    // A release lock's deployment: ended (a stale lock) or running.
    call(
      "codedeploy:GetDeployment",
      COLORS.map((c) => `arn:${a.partition}:codedeploy:${at}:deploymentgroup:${s.applicationName}/${s.fleets[c].deploymentGroupName}`),
    ),
    // Where the build instance runs: the default VPC (a subnet only with --subnet-id).
    ...callsOf(["ec2:DescribeVpcs", "ec2:DescribeSubnets"], ["*"]),
    call(
      "ssm:PutParameter",
      COLORS.map((c) => a.parameter(n.ami(c))),
    ),
    call("autoscaling:DescribeInstanceRefreshes", ["*"]),
  ];
}

/** `npm run nightly`: a deploy and a release, and its own. */
function nightlyCalls(env: DeployedEnvironment): AwsCall[] {
  const a = arnsOf(env);
  const images = `arn:${a.partition}:s3:::${env.stack.revisionBucket}/${REVISION_BUCKET_KEYS.images}${EXAMPLE.amiId}/packages.txt`;
  return [
    ...deployCalls(env),
    ...releaseCalls(env),
    call("ssm:GetParameter", [`arn:${a.partition}:ssm:${env.region}::parameter${env.sourceAmiParameter}`]),
    call("ec2:DescribeImages", ["*"]),
    call("s3:GetObject", [a.agentVersion, images]),
    call("s3:PutObject", [images]),
    call("sns:Publish", [env.stack.alarmTopicArn]),
  ];
}

/**
 * `npm run nightly -- --dry-run` (scripts/lib/nightly/nightly.ts, up to its dry-run report): the
 * environment's state, the deployment of a release that holds the lock (only to describe it),
 * and tonight's build key (the newest AL2023 AMI and its name, the agent version), against the
 * images built for the environment. It takes no lock and builds, publishes and reports nothing.
 */
function nightlyDryRunCalls(env: DeployedEnvironment): AwsCall[] {
  const a = arnsOf(env);
  const s = env.stack;
  const at = `${env.region}:${env.accountId}`;
  return [
    call("ssm:GetParameters", stateParameters(env.name).map(a.parameter)),
    call(
      "codedeploy:GetDeployment",
      COLORS.map((c) => `arn:${a.partition}:codedeploy:${at}:deploymentgroup:${s.applicationName}/${s.fleets[c].deploymentGroupName}`),
    ),
    call("ssm:GetParameter", [`arn:${a.partition}:ssm:${env.region}::parameter${env.sourceAmiParameter}`]),
    call("ec2:DescribeImages", ["*"]),
    call("s3:GetObject", [a.agentVersion]),
  ];
}

/**
 * `packer build` of packer/webfleet.pkr.hcl with the Amazon plugin's amazon-ebs builder, as CI
 * runs it (no --copy-to, no --session-manager, no --iam-instance-profile): a temporary key pair
 * and security group, a build instance in the default VPC reached by SSH, the AMI and its
 * snapshot, tagged with Project and Environment as each is created. (CopyImage, instance
 * profiles and Session Manager are for people's runs with those options; no CI role has them.)
 */
function packerCalls(env: EnvironmentScope): AwsCall[] {
  const p = PARTITION;
  const at = `${env.region}:${env.accountId}`;
  const tags = packerTags(env.name);
  // AMIs and snapshots have no account in their ARNs.
  const made = (type: string, id: string): CallResource => ({
    arn: type === "image" || type === "snapshot" ? `arn:${p}:ec2:${env.region}::${type}/${id}` : `arn:${p}:ec2:${at}:${type}/${id}`,
  });
  const own = (type: string, id: string): CallResource => ({ ...made(type, id), tags });
  const newOnes = {
    keyPair: made("key-pair", "packer_0123456789abcdef"),
    group: made("security-group", "sg-0123456789abcdef0"),
    rule: made("security-group-rule", "sgr-0123456789abcdef0"),
    instance: made("instance", EXAMPLE.instanceId),
    volume: made("volume", "vol-0123456789abcdef0"),
    eni: made("network-interface", "eni-0123456789abcdef0"),
    image: made("image", EXAMPLE.amiId),
    snapshot: made("snapshot", "snap-0123456789abcdef0"),
  };
  const ours = {
    keyPair: own("key-pair", "packer_0123456789abcdef"),
    group: own("security-group", "sg-0123456789abcdef0"),
    instance: own("instance", EXAMPLE.instanceId),
    volume: own("volume", "vol-0123456789abcdef0"),
    image: own("image", EXAMPLE.amiId),
    snapshot: own("snapshot", "snap-0123456789abcdef0"),
  };
  const foreign = {
    vpc: made("vpc", "vpc-0123456789abcdef0"),
    subnet: made("subnet", "subnet-0123456789abcdef0"),
    sourceImage: { arn: `arn:${p}:ec2:${env.region}::image/ami-0fedcba9876543210` },
  };
  // What Packer creates, it creates with run_tags (and run_volume_tags): the request's tags.
  const withTags = requestTags(tags);
  const create = (action: string, on: CallResource[]) => call(action, on, { request: withTags });
  const tagOnCreate = (createAction: string, on: CallResource[]) => call("ec2:CreateTags", on, { request: { "ec2:CreateAction": createAction, ...withTags } });
  return [
    ...callsOf(
      [
        "ec2:DescribeImages",
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        "ec2:DescribeInstanceTypeOfferings",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeInstances",
        "ec2:DescribeVolumes",
      ],
      ["*"],
    ),
    create("ec2:CreateKeyPair", [newOnes.keyPair]),
    tagOnCreate("CreateKeyPair", [newOnes.keyPair]),
    create("ec2:CreateSecurityGroup", [newOnes.group, foreign.vpc]),
    tagOnCreate("CreateSecurityGroup", [newOnes.group]),
    call("ec2:AuthorizeSecurityGroupIngress", [ours.group, newOnes.rule]),
    create("ec2:RunInstances", [newOnes.instance, newOnes.volume, newOnes.eni, ours.group, ours.keyPair, foreign.subnet, foreign.sourceImage]),
    tagOnCreate("RunInstances", [newOnes.instance, newOnes.volume, newOnes.eni]),
    call("ec2:StopInstances", [ours.instance]),
    create("ec2:CreateImage", [newOnes.image, ours.instance, newOnes.snapshot]),
    tagOnCreate("CreateImage", [newOnes.image, newOnes.snapshot]),
    // The AMI's own tags and description, IMDSv2 only, and its deprecation date.
    call("ec2:CreateTags", [ours.image, ours.snapshot]),
    call("ec2:ModifyImageAttribute", [ours.image]),
    call("ec2:EnableImageDeprecation", [ours.image]),
    // Cleanup, and a build that fails after CreateImage removes what it made.
    call("ec2:TerminateInstances", [ours.instance]),
    call("ec2:DeleteVolume", [ours.volume]),
    call("ec2:DeleteSecurityGroup", [ours.group]),
    call("ec2:DeleteKeyPair", [ours.keyPair]),
    call("ec2:DeregisterImage", [ours.image]),
    call("ec2:DeleteSnapshot", [ours.snapshot]),
  ];
}

/**
 * What the tools call. Terraform's calls are every resource type's create, read, update and
 * delete: the deploy role's read, network, fleet and iam documents, and the plan role's.
 */
export const CI_TOOL_CALLS: Readonly<Record<CiTool, ((env: EnvironmentScope) => readonly AwsCall[]) | undefined>> = {
  packer: packerCalls,
  terraform: undefined,
};

/** Every npm command a workflow runs with an AWS role, and what it calls. */
export const CI_COMMANDS: Readonly<Record<string, CommandAccess>> = {
  release: { role: "release", tools: [], calls: releaseCalls },
  deploy: {
    role: "deploy",
    tools: ["packer", "terraform"],
    calls: deployCalls,
    importedOnly: {
      "s3:GetObject": "scripts/lib/release/lock.ts: a deploy reads the lock's SSM mirror, never the lock object",
      "s3:PutObject": "scripts/lib/release/lock.ts: a deploy never takes the lock",
      "s3:DeleteObject": "scripts/lib/release/lock.ts: a deploy never gives a lock back",
      "ssm:DeleteParameter": "scripts/lib/release/lock.ts: a deploy never removes the lock's mirror",
      "autoscaling:DescribeAutoScalingGroups": "scripts/lib/aws/environment.ts: readFleet is a release's",
    },
  },
  nightly: {
    role: "deploy",
    tools: ["packer", "terraform"],
    calls: nightlyCalls,
    dryRun: { role: "plan", calls: nightlyDryRunCalls },
    importedOnly: {
      "ec2:DeregisterImage": "scripts/lib/image/prune.ts, for listImages: the night prunes nothing",
      "ec2:DeleteSnapshot": "scripts/lib/image/prune.ts, for listImages: the night prunes nothing",
      "ec2:DescribeLaunchTemplateVersions": "scripts/lib/image/prune.ts, for listImages: the night prunes nothing",
      "ec2:DescribeInstances": "scripts/lib/image/prune.ts, for listImages: the night prunes nothing",
      "autoscaling:DescribeLaunchConfigurations": "scripts/lib/image/prune.ts, for listImages: the night prunes nothing",
    },
  },
  // The plan job's stacks list (`npm run synth`), offline; its terraform plan is Terraform's.
  synth: { role: "plan", tools: [], calls: () => [] },
};

/**
 * Commands no workflow may run with a CI role, and why. The test of the workflows refuses a job
 * that runs one.
 */
export const NOT_FROM_CI: Readonly<Record<string, string>> = {
  teardown:
    "refused: it deletes the environment (cdktf destroy, every version in the revision bucket, the AMIs, the state); " +
    "a role allowed that would turn a leaked workflow token into the loss of the environment. A person runs it, after its dry run",
  "ami:prune": "run by people (a dry run unless --apply): no workflow needs images deregistered",
  rollback: "run by people, after looking at what went wrong: a CI job's release already rolls back on its own",
  status: "run by people to look at an environment; the release job prints the same as it goes",
  ami: "npm run deploy builds the AMI in CI; npm run ami is for people's builds (--copy-to, --session-manager)",
};
