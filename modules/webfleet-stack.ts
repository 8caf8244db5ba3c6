import { Construct } from "constructs";
import { Fn, Lazy, Op, TerraformOutput, TerraformStack, Token } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import type { EnvironmentConfig } from "../config/load";
import { Alarms } from "./alarms";
import { CodeDeployApplication } from "./codedeploy-application";
import { Fleet } from "./fleet";
import { IamRoles } from "./iam";
import { LoadBalancer } from "./load-balancer";
import { COLORS, type Color, type FleetCapacity, PROJECT, type PublishedStack, releaseParameters, resourcePrefix, revisionBucketPrefix } from "./names";
import { Network } from "./network";
import { ReleaseLockCheck } from "./release-lock";
import { ReleaseState } from "./release-state";
import { RevisionBucket } from "./revision-bucket";
import { SecurityGroups } from "./security-groups";
import { configureStateBackend } from "./state-backend";

export interface WebfleetStackProps {
  /** The validated environment file. */
  readonly config: EnvironmentConfig;
  /**
   * AMI a color's parameter is created with when it does not exist yet (`npm run deploy` passes
   * the AMI it just built). Ignored once the parameter exists.
   * @default - the config's `initialValue`, else Amazon Linux 2023's public parameter
   */
  readonly initialAmi?: Readonly<Partial<Record<Color, string>>>;
}

/** One environment's whole web tier: `cdktf deploy webfleet-<env>`. */
export class WebfleetStack extends TerraformStack {
  readonly fleets: Record<Color, Fleet>;
  readonly loadBalancer: LoadBalancer;

  constructor(scope: Construct, id: string, props: WebfleetStackProps) {
    super(scope, id);
    const config = props.config;
    const env = config.name;
    const prefix = resourcePrefix(env);

    new AwsProvider(this, "aws", {
      region: config.region,
      defaultTags: [{ tags: { ...config.tags, project: PROJECT, environment: env, "managed-by": "cdktf" } }],
    });
    // The lock check and the release-state variables validate against other objects (1.9+); an
    // S3 backend with its lock file raises it to 1.10 (set after this, so it wins).
    this.addOverride("terraform.required_version", ">= 1.9.0");
    configureStateBackend(this, config.stateBackend, { environment: env, stackName: id, defaultRegion: config.region });
    // Refuses to plan while a release holds the environment (before anything else is planned).
    new ReleaseLockCheck(this, "release-lock", { environment: env });

    const network = new Network(this, "network", { network: config.network, namePrefix: prefix, instanceType: config.instanceType });
    const securityGroups = new SecurityGroups(this, "security-groups", {
      vpcId: network.vpcId,
      namePrefix: prefix,
      clientCidrs: config.clientCidrs,
      https: config.certificateArn !== undefined,
    });
    const revisions = new RevisionBucket(this, "revisions", { bucketNamePrefix: revisionBucketPrefix(env) });
    const application = new CodeDeployApplication(this, "codedeploy", {
      environment: env,
      applicationName: prefix,
      minimumHealthyHosts: config.customMinimumHealthyHosts,
    });
    const iam = new IamRoles(this, "iam", {
      namePrefix: prefix,
      revisionBucketArn: revisions.bucketArn,
      region: config.region,
      applicationName: application.applicationName,
      // The templates need the instance profile made here: their ARNs resolve at synth.
      launchTemplateArns: COLORS.map((color) => Lazy.stringValue({ produce: () => this.fleets[color].launchTemplate.arn })),
      permissionsBoundaryArn: config.permissionsBoundaryArn,
    });

    const releaseState = new ReleaseState(this, "release-state", {
      environment: env,
      ami: config.ami,
      defaultInitialAmi: props.initialAmi,
      architecture: config.architecture,
    });
    // Capacity by role: each color gets the live or the idle role's values, by the live color
    // Terraform reads from SSM (the release switches it).
    const capacityOf = (color: Color): FleetCapacity => {
      const byRole = (key: keyof FleetCapacity) =>
        Token.asNumber(Fn.conditional(Op.eq(releaseState.liveColor, color), config.capacity.live[key], config.capacity.idle[key]));
      return { min: byRole("min"), desired: byRole("desired"), max: byRole("max") };
    };

    this.loadBalancer = new LoadBalancer(this, "load-balancer", {
      namePrefix: prefix,
      vpcId: network.vpcId,
      subnetIds: network.subnetIds,
      securityGroupId: securityGroups.loadBalancerGroupId,
      weights: { blue: releaseState.weight("blue"), green: releaseState.weight("green") },
      smokeTestKey: releaseState.smokeTestKey,
      certificateArn: config.certificateArn,
      deletionProtection: config.loadBalancer.deletionProtection,
      idleTimeoutSeconds: config.loadBalancer.idleTimeoutSeconds,
      deregistrationDelaySeconds: config.deployment.deregistrationDelaySeconds,
    });
    const lb = this.loadBalancer;

    const alarms = new Alarms(this, "alarms", {
      namePrefix: prefix,
      loadBalancerArnSuffix: lb.loadBalancer.arnSuffix,
      targetGroupArnSuffixes: { blue: lb.targetGroups.blue.arnSuffix, green: lb.targetGroups.green.arnSuffix },
      notificationEmails: config.deployment.notificationEmails,
    });

    this.fleets = {} as Record<Color, Fleet>;
    for (const color of COLORS) {
      this.fleets[color] = new Fleet(this, `fleet-${color}`, {
        namePrefix: prefix,
        color,
        amiId: releaseState.amiId(color),
        instanceType: config.instanceType,
        instanceProfileArn: iam.instanceProfileArn,
        securityGroupId: securityGroups.instanceGroupId,
        subnetIds: network.subnetIds,
        capacity: capacityOf(color),
        targetGroupArn: lb.targetGroups[color].arn,
        targetGroupName: lb.targetGroups[color].name,
        applicationName: application.applicationName,
        serviceRoleArn: iam.codeDeployRoleArn,
        serviceRolePolicies: iam.codeDeployRolePolicies,
        deploymentConfigName: application.deploymentConfigs[config.deployment.defaultStrategy],
        alarmNames: alarms.alarmNames[color],
        notificationTopicArn: alarms.topicArn,
        // Default tags skip what the group launches: the instances, volumes and interfaces.
        instanceTags: { ...config.tags, project: PROJECT, environment: env, "managed-by": "cdktf" },
      });
    }

    // What the release and deploy scripts need, published where the whole team reads it.
    const published: PublishedStack = {
      environment: env,
      region: config.region,
      applicationName: application.applicationName,
      revisionBucket: revisions.bucketName,
      siteUrl: lb.siteUrl,
      listenerArn: lb.listener.arn,
      alarmTopicArn: alarms.topicArn,
      alarmNames: alarms.alarmNames,
      fleets: Object.fromEntries(
        COLORS.map((color) => [
          color,
          {
            autoScalingGroupName: this.fleets[color].autoScalingGroup.name,
            deploymentGroupName: this.fleets[color].deploymentGroup.deploymentGroupName,
            targetGroupArn: lb.targetGroups[color].arn,
            launchTemplateId: this.fleets[color].launchTemplate.id,
          },
        ]),
      ) as PublishedStack["fleets"],
      deploymentConfigs: application.deploymentConfigs,
      defaultStrategy: config.deployment.defaultStrategy,
      capacity: config.capacity,
      timings: {
        deregistrationDelaySeconds: lb.deregistrationDelaySeconds,
        healthCheckIntervalSeconds: lb.healthCheckIntervalSeconds,
        healthyThresholdCount: lb.healthyThresholdCount,
        healthCheckGracePeriodSeconds: this.fleets.blue.healthCheckGracePeriodSeconds,
      },
    };
    new SsmParameter(this, "published-stack", {
      name: releaseParameters(env).stack,
      description: "webfleet: what the release scripts need to know about this stack (written by cdktf deploy)",
      type: "String",
      insecureValue: JSON.stringify(published),
    });

    new TerraformOutput(this, "site_url", { value: lb.siteUrl, description: "The site, through the load balancer" });
    new TerraformOutput(this, "application_name", { value: application.applicationName, description: "CodeDeploy application" });
    new TerraformOutput(this, "revision_bucket", { value: revisions.bucketName, description: "Bucket of revision bundles" });
    for (const color of COLORS) {
      new TerraformOutput(this, `asg_${color}`, { value: this.fleets[color].autoScalingGroup.name, description: `Auto Scaling group of the ${color} fleet` });
      new TerraformOutput(this, `deployment_group_${color}`, {
        value: this.fleets[color].deploymentGroup.deploymentGroupName,
        description: `CodeDeploy deployment group of the ${color} fleet`,
      });
    }
  }
}
