import { Construct } from "constructs";
import { Fn, type ITerraformDependable, Op, Token } from "cdktf";
import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { CodedeployDeploymentGroup } from "@cdktf/provider-aws/lib/codedeploy-deployment-group";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { HEALTH_CHECK, type Color, type FleetCapacity } from "./names";

export type { FleetCapacity };

/** AWS's public parameters of stock images: no web server, no health endpoint, no agent. */
export const STOCK_IMAGE_PREFIX = "resolve:ssm:/aws/service/";

export interface FleetProps {
  /** Prefix of the names; the fleet is `<prefix>-<color>`. */
  readonly namePrefix: string;
  readonly color: Color;
  /** AMI id (or `resolve:ssm:...`) of the launch template. */
  readonly amiId: string;
  readonly instanceType: string;
  readonly instanceProfileArn: string;
  readonly securityGroupId: string;
  /** Subnets in at least two availability zones. */
  readonly subnetIds: string[];
  /**
   * The group's size. Terraform owns min and max; desired only at creation (the release sets it
   * afterwards, so later changes to it are ignored). Values may be tokens (capacity by role).
   */
  readonly capacity: FleetCapacity;
  /** The color's target group: the ASG registers into it and CodeDeploy controls its traffic. */
  readonly targetGroupArn: string;
  readonly targetGroupName: string;
  /** CodeDeploy application and its service role. */
  readonly applicationName: string;
  readonly serviceRoleArn: string;
  /** Config of deployments that name none (releases always name one). */
  readonly deploymentConfigName: string;
  /** Alarms that stop and roll back a deployment to this fleet. */
  readonly alarmNames: readonly string[];
  /** SNS topic for the deployment group's triggers. */
  readonly notificationTopicArn: string;
  /**
   * What the service role's permissions hang on. The deployment group is created after them
   * and destroyed before them, so CodeDeploy can still remove its ASG hooks on destroy.
   * @default - none
   */
  readonly serviceRolePolicies?: ITerraformDependable[];
  /**
   * EC2 key pair for SSH. Prefer Session Manager: the instances' security group has no port 22.
   * @default - no key pair
   */
  readonly keyName?: string;
  /**
   * Size of the encrypted gp3 root volume.
   * @default 8
   */
  readonly rootVolumeSizeGiB?: number;
  /**
   * Seconds after launch before ELB health checks can mark an instance unhealthy.
   * @default 120
   */
  readonly healthCheckGracePeriodSeconds?: number;
  /**
   * Tags of the instances, their volumes and network interfaces, on top of `Name` and `color`:
   * the provider's default tags do not reach what an Auto Scaling group launches, so the caller
   * passes them here (project, environment and the config's own tags).
   * @default - only Name and color
   */
  readonly instanceTags?: Readonly<Record<string, string>>;
}

/**
 * One color's fleet: a launch template, the Auto Scaling group that runs it behind the
 * color's target group, and the IN_PLACE CodeDeploy deployment group with traffic control
 * on that target group. Used once per color.
 */
export class Fleet extends Construct {
  readonly launchTemplate: LaunchTemplate;
  readonly autoScalingGroup: AutoscalingGroup;
  readonly deploymentGroup: CodedeployDeploymentGroup;
  readonly healthCheckGracePeriodSeconds: number;

  constructor(scope: Construct, id: string, props: FleetProps) {
    super(scope, id);
    const name = `${props.namePrefix}-${props.color}`;
    const rootVolumeSizeGiB = props.rootVolumeSizeGiB ?? 8;
    this.healthCheckGracePeriodSeconds = props.healthCheckGracePeriodSeconds ?? HEALTH_CHECK.gracePeriodSeconds;
    const { min, desired, max } = props.capacity;

    if (![min, desired, max].some(Token.isUnresolved)) {
      if (min > max) throw new Error(`${props.color} capacity: min (${min}) must be <= max (${max})`);
      if (desired < min || desired > max) throw new Error(`${props.color} capacity: desired (${desired}) must be between min (${min}) and max (${max})`);
    }
    if (rootVolumeSizeGiB < 8) throw new Error(`rootVolumeSizeGiB (${rootVolumeSizeGiB}) must be >= 8 (Amazon Linux 2023's snapshot size)`);
    if (!Token.isUnresolved(props.subnetIds) && props.subnetIds.length < 2) {
      throw new Error(`subnetIds (${JSON.stringify(props.subnetIds)}) must list at least 2 subnets in different availability zones`);
    }

    // The caller's tags first: Name and color are the fleet's own.
    const tags = { ...props.instanceTags, Name: name, color: props.color };
    // A fleet with instances must boot the baked web AMI: a stock image serves no /health, so
    // the ELB health check would replace its instances in a loop. Checked at plan time, so
    // nothing is created; an AMI parameter's value (and capacity by role) is only known then.
    const stockImage = `the ${props.color} fleet (desired ${Token.isUnresolved(desired) ? Token.asString(desired) : desired}) would boot a stock Amazon Linux image (no web server, no health endpoint, no CodeDeploy agent)`;
    if (!Token.isUnresolved(props.amiId) && !Token.isUnresolved(desired) && desired > 0 && props.amiId.startsWith(STOCK_IMAGE_PREFIX)) {
      throw new Error(`${stockImage}: set ami.${props.color} to the baked web AMI`);
    }
    const baked = Op.not(Fn.startswith(props.amiId, STOCK_IMAGE_PREFIX));
    const bakedWhenInService = !Token.isUnresolved(props.amiId)
      ? undefined
      : Token.isUnresolved(desired)
        ? // tonumber() keeps a conditional token in parentheses; Op drops a literal 0, hence < 1.
          Op.or(Op.lt(Fn.tonumber(desired), 1), baked)
        : desired > 0
          ? baked
          : undefined;
    this.launchTemplate = new LaunchTemplate(this, "template", {
      name,
      description: `webfleet ${props.color} fleet`,
      imageId: props.amiId,
      instanceType: props.instanceType,
      keyName: props.keyName,
      iamInstanceProfile: { arn: props.instanceProfileArn },
      updateDefaultVersion: true,
      metadataOptions: {
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: "disabled",
      },
      blockDeviceMappings: [
        {
          deviceName: "/dev/xvda",
          ebs: { volumeSize: rootVolumeSizeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" },
        },
      ],
      networkInterfaces: [
        {
          deviceIndex: 0,
          // Public subnets and no NAT: the agent reaches CodeDeploy and S3 directly.
          associatePublicIpAddress: "true",
          securityGroups: [props.securityGroupId],
          deleteOnTermination: "true",
        },
      ],
      monitoring: { enabled: true },
      tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags })),
      tags: { color: props.color },
      lifecycle: bakedWhenInService
        ? {
            precondition: [
              {
                condition: bakedWhenInService,
                errorMessage: `${stockImage}. Build the web AMI first: npm run deploy -- --env <env> creates the AMI parameters with it.`,
              },
            ],
          }
        : undefined,
    });

    this.autoScalingGroup = new AutoscalingGroup(this, "asg", {
      name,
      minSize: min,
      maxSize: max,
      desiredCapacity: desired,
      vpcZoneIdentifier: props.subnetIds,
      // The release scales the colors (blue/green, canary); Terraform sets desired only at creation.
      lifecycle: { ignoreChanges: ["desired_capacity"] },
      targetGroupArns: [props.targetGroupArn],
      healthCheckType: "ELB",
      healthCheckGracePeriod: this.healthCheckGracePeriodSeconds,
      // An explicit version: a new template version is a planned change, and it starts a refresh.
      launchTemplate: { id: this.launchTemplate.id, version: Token.asString(this.launchTemplate.latestVersion) },
      instanceRefresh: {
        strategy: "Rolling",
        preferences: {
          // Launch before terminating: capacity never drops below desired during a refresh.
          minHealthyPercentage: 100,
          maxHealthyPercentage: 200,
          skipMatching: true,
          // No autoRollback: Terraform updates the group to the new version before it starts
          // the refresh, so a rollback would return to the new version (provider issue #34189),
          // and AWS refuses rollback for templates whose image is a resolve:ssm: reference.
        },
      },
      terminationPolicies: ["OldestLaunchTemplate", "OldestInstance"],
      tag: Object.entries(tags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
    });

    this.deploymentGroup = new CodedeployDeploymentGroup(this, "deployment-group", {
      appName: props.applicationName,
      deploymentGroupName: name,
      serviceRoleArn: props.serviceRoleArn,
      deploymentConfigName: props.deploymentConfigName,
      autoscalingGroups: [this.autoScalingGroup.name],
      deploymentStyle: { deploymentType: "IN_PLACE", deploymentOption: "WITH_TRAFFIC_CONTROL" },
      loadBalancerInfo: { targetGroupInfo: [{ name: props.targetGroupName }] },
      autoRollbackConfiguration: { enabled: true, events: ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] },
      alarmConfiguration: { enabled: true, alarms: [...props.alarmNames], ignorePollAlarmFailure: false },
      triggerConfiguration: [
        {
          triggerName: `${name}-events`,
          triggerTargetArn: props.notificationTopicArn,
          triggerEvents: ["DeploymentFailure", "DeploymentRollback", "DeploymentStop", "DeploymentSuccess", "InstanceFailure"],
        },
      ],
      // Lets in-flight deployment hooks finish (BlockTraffic, ApplicationStop) on scale-in.
      terminationHookEnabled: true,
      // An instance launched during a deployment gets the new revision in a follow-up deployment.
      outdatedInstancesStrategy: "UPDATE",
      tags: { color: props.color },
      dependsOn: props.serviceRolePolicies,
    });
  }
}
