/**
 * One AWS account in memory, behind mocked SDK clients (aws-sdk-client-mock): the EC2 images,
 * snapshots, instances and launch templates, the Auto Scaling groups and their refreshes, SSM
 * parameters, versioned S3 buckets (with the conditional writes the release lock relies on), the
 * load balancer, CodeDeploy deployments and STS. For the prune and teardown tests: they read
 * what exists, delete it, and read again.
 *
 * Paging is real (small pages on request), and a call can be made to fail a number of times
 * (throttling, a transient "in use") before it succeeds.
 */
import { mockClient } from "aws-sdk-client-mock";
import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  DescribeLaunchConfigurationsCommand,
  type AutoScalingGroup,
  type InstanceRefresh,
} from "@aws-sdk/client-auto-scaling";
import {
  CodeDeployClient,
  GetDeploymentCommand,
  ListDeploymentGroupsCommand,
  ListDeploymentsCommand,
  StopDeploymentCommand,
  type DeploymentStatus,
} from "@aws-sdk/client-codedeploy";
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  type Image,
} from "@aws-sdk/client-ec2";
import {
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
  ModifyLoadBalancerAttributesCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  DeleteParameterCommand,
  DeleteParametersCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

export const ACCOUNT = "123456789012";

/** An error as the SDK throws it: a name, and the HTTP status in `$metadata`. */
export function awsError(name: string, message = name, status = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, $fault: status >= 500 ? "server" : "client" });
}

export interface FakeImage {
  readonly id: string;
  readonly name: string;
  /** ISO 8601. */
  readonly created: string;
  readonly env: string;
  readonly snapshots: readonly string[];
  readonly state?: string;
  readonly project?: string;
}

export interface FakeInstance {
  readonly id: string;
  readonly imageId: string;
  state: string;
  readonly group?: string;
}

export interface FakeTemplate {
  readonly id: string;
  readonly name: string;
  /** Version number → image id (or `resolve:ssm:<name>`). */
  readonly versions: Map<number, string>;
  defaultVersion: number;
}

export interface FakeGroup {
  readonly name: string;
  readonly tags: Record<string, string>;
  readonly launchTemplate?: { readonly id: string; readonly version: string };
  readonly mixedTemplate?: { readonly id: string; readonly version: string };
  readonly launchConfiguration?: string;
}

export interface FakeVersion {
  readonly key: string;
  readonly versionId: string;
  readonly body: string;
  readonly etag: string;
  readonly deleteMarker: boolean;
}

export interface FakeDeployment {
  readonly id: string;
  readonly app: string;
  readonly group: string;
  status: DeploymentStatus;
  /** Polls after StopDeployment before it reports Stopped. @default 0 */
  stopAfterPolls?: number;
  stopRequested?: boolean;
}

/** A call made to the account: `<Command> <first argument>`. */
export type Call = string;

export class FakeAccount {
  readonly images = new Map<string, FakeImage>();
  readonly snapshots = new Set<string>();
  readonly instances = new Map<string, FakeInstance>();
  readonly templates = new Map<string, FakeTemplate>();
  readonly launchConfigurations = new Map<string, string>();
  readonly groups = new Map<string, FakeGroup>();
  readonly refreshes = new Map<string, InstanceRefresh[]>();
  readonly params = new Map<string, string>();
  readonly buckets = new Map<string, { region: string; versions: FakeVersion[] }>();
  readonly loadBalancers = new Map<string, { arn: string; deletionProtection: boolean }>();
  /** application → deployment group names. */
  readonly applications = new Map<string, Set<string>>();
  readonly deployments = new Map<string, FakeDeployment>();
  /** Every change, in order: `DeregisterImage ami-1`, `DeleteSnapshot snap-1`, ... */
  readonly changes: Call[] = [];
  /** Items per page of paged reads. */
  pageSize = 1000;
  /** Errors a command throws before it answers: command name → errors, first first. */
  readonly failures = new Map<string, Error[]>();
  /** S3 keys DeleteObjects refuses (AccessDenied). */
  readonly undeletableKeys = new Set<string>();

  readonly ec2 = new EC2Client({ region: "us-east-1" });
  readonly autoScaling = new AutoScalingClient({ region: "us-east-1" });
  readonly ssm = new SSMClient({ region: "us-east-1" });
  readonly s3 = new S3Client({ region: "us-east-1" });
  readonly elb = new ElasticLoadBalancingV2Client({ region: "us-east-1" });
  readonly codedeploy = new CodeDeployClient({ region: "us-east-1" });
  readonly sts = new STSClient({ region: "us-east-1" });
  readonly mocks = {
    ec2: mockClient(this.ec2),
    autoScaling: mockClient(this.autoScaling),
    ssm: mockClient(this.ssm),
    s3: mockClient(this.s3),
    elb: mockClient(this.elb),
    codedeploy: mockClient(this.codedeploy),
    sts: mockClient(this.sts),
  };
  private version = 0;

  constructor() {
    this.wireEc2();
    this.wireAutoScaling();
    this.wireSsm();
    this.wireS3();
    this.wireElb();
    this.wireCodeDeploy();
    this.mocks.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/alice` });
  }

  /** Makes `command` throw each of `errors` once, in order, before it answers again. */
  failNext(command: string, ...errors: Error[]): void {
    this.failures.set(command, [...(this.failures.get(command) ?? []), ...errors]);
  }

  /** How many times a command of this name (`DeregisterImageCommand`) was sent, to any client. */
  callCount(command: { name: string }): number {
    const calls: Array<{ args: readonly unknown[] }> = Object.values(this.mocks).flatMap((m) => m.calls() as Array<{ args: readonly unknown[] }>);
    return calls.filter((c) => (c.args[0] as object).constructor.name === command.name).length;
  }

  private fail(command: string): void {
    const queue = this.failures.get(command);
    const next = queue?.shift();
    if (next) throw next;
  }

  private page<T>(items: readonly T[], token: string | undefined): { items: T[]; next?: string } {
    const start = token ? Number(token) : 0;
    const end = start + this.pageSize;
    return { items: items.slice(start, end), next: end < items.length ? String(end) : undefined };
  }

  // -------------------------------------------------------------------------------------
  // EC2

  addImage(image: FakeImage): void {
    this.images.set(image.id, image);
    for (const s of image.snapshots) this.snapshots.add(s);
  }

  private wireEc2(): void {
    const m = this.mocks.ec2;
    m.on(DescribeImagesCommand).callsFake((input: { Owners?: string[]; Filters?: { Name: string; Values: string[] }[]; NextToken?: string }) => {
      this.fail("DescribeImages");
      if (!input.Owners?.includes("self")) throw new Error("the fake answers only Owners: [self]");
      const filter = (name: string) => input.Filters?.find((f) => f.Name === name)?.Values;
      const project = filter("tag:Project");
      const env = filter("tag:Environment");
      const images = [...this.images.values()].filter((i) => (!project || project.includes(i.project ?? "webfleet")) && (!env || env.includes(i.env)));
      const { items, next } = this.page(images, input.NextToken);
      return {
        Images: items.map((i): Image => ({
          ImageId: i.id,
          Name: i.name,
          CreationDate: i.created,
          State: (i.state ?? "available") as Image["State"],
          BlockDeviceMappings: i.snapshots.map((s, n) => ({ DeviceName: n === 0 ? "/dev/xvda" : `/dev/sd${"bcdef"[n]}`, Ebs: { SnapshotId: s } })),
          Tags: [
            { Key: "Project", Value: i.project ?? "webfleet" },
            { Key: "Environment", Value: i.env },
          ],
        })),
        NextToken: next,
      };
    });
    m.on(DeregisterImageCommand).callsFake((input: { ImageId: string }) => {
      this.fail("DeregisterImage");
      if (!this.images.delete(input.ImageId)) throw awsError("InvalidAMIID.Unavailable", `The image id '[${input.ImageId}]' is no longer available`);
      this.changes.push(`DeregisterImage ${input.ImageId}`);
      return {};
    });
    m.on(DeleteSnapshotCommand).callsFake((input: { SnapshotId: string }) => {
      this.fail("DeleteSnapshot");
      const user = [...this.images.values()].find((i) => i.snapshots.includes(input.SnapshotId));
      if (user) throw awsError("InvalidSnapshot.InUse", `The snapshot ${input.SnapshotId} is currently in use by ${user.id}`);
      if (!this.snapshots.delete(input.SnapshotId)) throw awsError("InvalidSnapshot.NotFound", `The snapshot '${input.SnapshotId}' does not exist.`);
      this.changes.push(`DeleteSnapshot ${input.SnapshotId}`);
      return {};
    });
    m.on(DescribeInstancesCommand).callsFake((input: { Filters?: { Name: string; Values: string[] }[]; NextToken?: string }) => {
      this.fail("DescribeInstances");
      const images = input.Filters?.find((f) => f.Name === "image-id")?.Values;
      const states = input.Filters?.find((f) => f.Name === "instance-state-name")?.Values;
      const found = [...this.instances.values()].filter((i) => (!images || images.includes(i.imageId)) && (!states || states.includes(i.state)));
      const { items, next } = this.page(found, input.NextToken);
      return {
        // One reservation per instance, as a fleet launched one at a time gets.
        Reservations: items.map((i) => ({
          Instances: [
            {
              InstanceId: i.id,
              ImageId: i.imageId,
              State: { Name: i.state as never },
              Tags: i.group ? [{ Key: "aws:autoscaling:groupName", Value: i.group }] : [],
            },
          ],
        })),
        NextToken: next,
      };
    });
    m.on(DescribeLaunchTemplateVersionsCommand).callsFake((input: { LaunchTemplateId?: string; LaunchTemplateName?: string; Versions?: string[] }) => {
      const t = [...this.templates.values()].find((x) => x.id === input.LaunchTemplateId || x.name === input.LaunchTemplateName);
      if (!t) throw awsError("InvalidLaunchTemplateId.NotFound", `The specified launch template, with template ID ${input.LaunchTemplateId}, does not exist.`);
      const asked = input.Versions?.[0] ?? "$Default";
      const n = asked === "$Latest" ? Math.max(...t.versions.keys()) : asked === "$Default" ? t.defaultVersion : Number(asked);
      const imageId = t.versions.get(n);
      if (imageId === undefined) throw awsError("InvalidLaunchTemplateId.VersionNotFound", `version ${asked} of ${t.id} does not exist`);
      return { LaunchTemplateVersions: [{ LaunchTemplateId: t.id, LaunchTemplateName: t.name, VersionNumber: n, LaunchTemplateData: { ImageId: imageId } }] };
    });
  }

  // -------------------------------------------------------------------------------------
  // Auto Scaling

  private wireAutoScaling(): void {
    const m = this.mocks.autoScaling;
    m.on(DescribeAutoScalingGroupsCommand).callsFake(
      (input: { AutoScalingGroupNames?: string[]; Filters?: { Name: string; Values: string[] }[]; NextToken?: string }) => {
        this.fail("DescribeAutoScalingGroups");
        const groups = [...this.groups.values()].filter(
          (g) =>
            (!input.AutoScalingGroupNames || input.AutoScalingGroupNames.includes(g.name)) &&
            (input.Filters ?? []).every((f) => f.Name.startsWith("tag:") && f.Values.includes(g.tags[f.Name.slice(4)])),
        );
        const { items, next } = this.page(groups, input.NextToken);
        return {
          AutoScalingGroups: items.map((g): AutoScalingGroup => ({
            AutoScalingGroupName: g.name,
            MinSize: 0,
            MaxSize: 4,
            DesiredCapacity: 0,
            DefaultCooldown: 300,
            AvailabilityZones: ["us-east-1a"],
            HealthCheckType: "ELB",
            CreatedTime: new Date(0),
            LaunchTemplate: g.launchTemplate ? { LaunchTemplateId: g.launchTemplate.id, Version: g.launchTemplate.version } : undefined,
            MixedInstancesPolicy: g.mixedTemplate
              ? { LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: g.mixedTemplate.id, Version: g.mixedTemplate.version } } }
              : undefined,
            LaunchConfigurationName: g.launchConfiguration,
            Tags: Object.entries(g.tags).map(([Key, Value]) => ({
              Key,
              Value,
              ResourceId: g.name,
              ResourceType: "auto-scaling-group",
              PropagateAtLaunch: true,
            })),
          })),
          NextToken: next,
        };
      },
    );
    m.on(DescribeLaunchConfigurationsCommand).callsFake((input: { LaunchConfigurationNames?: string[] }) => ({
      LaunchConfigurations: (input.LaunchConfigurationNames ?? [])
        .filter((n) => this.launchConfigurations.has(n))
        .map((n) => ({ LaunchConfigurationName: n, ImageId: this.launchConfigurations.get(n), InstanceType: "t3.micro", CreatedTime: new Date(0) })),
    }));
    m.on(DescribeInstanceRefreshesCommand).callsFake((input: { AutoScalingGroupName: string }) => ({
      InstanceRefreshes: this.refreshes.get(input.AutoScalingGroupName) ?? [],
    }));
    m.on(CancelInstanceRefreshCommand).callsFake((input: { AutoScalingGroupName: string }) => {
      const active = (this.refreshes.get(input.AutoScalingGroupName) ?? []).find((r) => !["Successful", "Failed", "Cancelled"].includes(String(r.Status)));
      if (!active) throw awsError("ActiveInstanceRefreshNotFoundFault", "No in progress or pending Instance Refresh found");
      active.Status = "Cancelled";
      this.changes.push(`CancelInstanceRefresh ${input.AutoScalingGroupName}`);
      return { InstanceRefreshId: active.InstanceRefreshId };
    });
  }

  // -------------------------------------------------------------------------------------
  // SSM

  private wireSsm(): void {
    const m = this.mocks.ssm;
    const notFound = (name: string) => awsError("ParameterNotFound", `${name} not found`);
    m.on(GetParameterCommand).callsFake((input: { Name: string }) => {
      const value = this.params.get(input.Name);
      if (value === undefined) throw notFound(input.Name);
      return { Parameter: { Name: input.Name, Value: value, Version: 1 } };
    });
    m.on(GetParametersCommand).callsFake((input: { Names: string[] }) => {
      this.fail("GetParameters");
      if (input.Names.length > 10) throw awsError("ValidationException", "at most 10 names");
      return {
        Parameters: input.Names.filter((n) => this.params.has(n)).map((n) => ({ Name: n, Value: this.params.get(n), Version: 1 })),
        InvalidParameters: input.Names.filter((n) => !this.params.has(n)),
      };
    });
    m.on(GetParametersByPathCommand).callsFake((input: { Path: string; Recursive?: boolean; NextToken?: string }) => {
      const folder = input.Path.endsWith("/") ? input.Path : `${input.Path}/`;
      const found = [...this.params.keys()].filter((n) => n.startsWith(folder) && (input.Recursive || !n.slice(folder.length).includes("/"))).sort();
      const { items, next } = this.page(found, input.NextToken);
      return { Parameters: items.map((n) => ({ Name: n, Value: this.params.get(n) })), NextToken: next };
    });
    m.on(PutParameterCommand).callsFake((input: { Name: string; Value: string; Overwrite?: boolean }) => {
      if (!input.Overwrite && this.params.has(input.Name)) throw awsError("ParameterAlreadyExists");
      this.params.set(input.Name, input.Value);
      return { Version: 1 };
    });
    m.on(DeleteParameterCommand).callsFake((input: { Name: string }) => {
      if (!this.params.delete(input.Name)) throw notFound(input.Name);
      this.changes.push(`DeleteParameter ${input.Name}`);
      return {};
    });
    m.on(DeleteParametersCommand).callsFake((input: { Names: string[] }) => {
      this.fail("DeleteParameters");
      if (input.Names.length > 10) throw awsError("ValidationException", "at most 10 names");
      const deleted = input.Names.filter((n) => this.params.delete(n));
      for (const n of deleted) this.changes.push(`DeleteParameter ${n}`);
      return { DeletedParameters: deleted, InvalidParameters: input.Names.filter((n) => !deleted.includes(n)) };
    });
  }

  // -------------------------------------------------------------------------------------
  // S3: versioned buckets

  addBucket(name: string, objects: Record<string, string> = {}, region = "us-east-1"): void {
    this.buckets.set(name, { region, versions: [] });
    for (const [key, body] of Object.entries(objects)) this.putVersion(name, key, body);
  }

  /** Writes a new version of `key` (or, with `deleteMarker`, hides it behind a delete marker). */
  putVersion(bucket: string, key: string, body: string, deleteMarker = false): FakeVersion {
    const v = { key, versionId: `v${++this.version}`, body, etag: `"etag-${this.version}"`, deleteMarker };
    this.buckets.get(bucket)!.versions.push(v);
    return v;
  }

  /** The current version of a key (undefined when absent or behind a delete marker). */
  current(bucket: string, key: string): FakeVersion | undefined {
    const versions = this.buckets.get(bucket)?.versions.filter((v) => v.key === key) ?? [];
    const last = versions[versions.length - 1];
    return last && !last.deleteMarker ? last : undefined;
  }

  private bucket(name: string) {
    const b = this.buckets.get(name);
    if (!b) throw awsError("NoSuchBucket", "The specified bucket does not exist", 404);
    return b;
  }

  private wireS3(): void {
    const m = this.mocks.s3;
    const conflict = () => awsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412);
    m.on(PutObjectCommand).callsFake((input: { Bucket: string; Key: string; Body?: unknown; IfNoneMatch?: string; IfMatch?: string }) => {
      this.bucket(input.Bucket);
      const current = this.current(input.Bucket, input.Key);
      if (input.IfNoneMatch === "*" && current) throw conflict();
      if (input.IfMatch !== undefined && current?.etag !== input.IfMatch) throw conflict();
      const v = this.putVersion(input.Bucket, input.Key, String(input.Body ?? ""));
      return { ETag: v.etag, VersionId: v.versionId };
    });
    m.on(GetObjectCommand).callsFake((input: { Bucket: string; Key: string }) => {
      this.bucket(input.Bucket);
      const v = this.current(input.Bucket, input.Key);
      if (!v) throw awsError("NoSuchKey", "The specified key does not exist.", 404);
      return { ETag: v.etag, Body: { transformToString: async () => v.body } };
    });
    m.on(DeleteObjectCommand).callsFake((input: { Bucket: string; Key: string; IfMatch?: string }) => {
      this.bucket(input.Bucket);
      const current = this.current(input.Bucket, input.Key);
      if (input.IfMatch !== undefined && !current) throw awsError("NoSuchKey", "The specified key does not exist.", 404);
      if (input.IfMatch !== undefined && current?.etag !== input.IfMatch) throw conflict();
      this.putVersion(input.Bucket, input.Key, "", true);
      this.changes.push(`DeleteObject ${input.Bucket}/${input.Key}`);
      return { DeleteMarker: true };
    });
    m.on(HeadBucketCommand).callsFake((input: { Bucket: string }) => {
      if (!this.buckets.has(input.Bucket)) throw awsError("NotFound", "Not Found", 404);
      return {};
    });
    m.on(ListBucketsCommand).callsFake((input: { Prefix?: string; BucketRegion?: string }) => ({
      Buckets: [...this.buckets.entries()]
        .filter(([name, b]) => name.startsWith(input.Prefix ?? "") && (!input.BucketRegion || b.region === input.BucketRegion))
        .map(([Name]) => ({ Name })),
    }));
    m.on(ListObjectVersionsCommand).callsFake((input: { Bucket: string; Prefix?: string; KeyMarker?: string; VersionIdMarker?: string }) => {
      this.fail("ListObjectVersions");
      const all = this.bucket(input.Bucket)
        .versions.filter((v) => v.key.startsWith(input.Prefix ?? ""))
        // By key, newest first, as S3 lists them.
        .sort((a, b) => (a.key === b.key ? Number(b.versionId.slice(1)) - Number(a.versionId.slice(1)) : a.key < b.key ? -1 : 1));
      const start = input.KeyMarker ? all.findIndex((v) => v.key === input.KeyMarker && v.versionId === input.VersionIdMarker) + 1 : 0;
      const items = all.slice(start, start + this.pageSize);
      const last = items[items.length - 1];
      const truncated = start + this.pageSize < all.length;
      return {
        Versions: items.filter((v) => !v.deleteMarker).map((v) => ({ Key: v.key, VersionId: v.versionId })),
        DeleteMarkers: items.filter((v) => v.deleteMarker).map((v) => ({ Key: v.key, VersionId: v.versionId })),
        IsTruncated: truncated,
        NextKeyMarker: truncated ? last.key : undefined,
        NextVersionIdMarker: truncated ? last.versionId : undefined,
      };
    });
    m.on(DeleteObjectsCommand).callsFake((input: { Bucket: string; Delete: { Objects: { Key: string; VersionId?: string }[] } }) => {
      this.fail("DeleteObjects");
      const b = this.bucket(input.Bucket);
      const errors: { Key: string; VersionId?: string; Code: string; Message: string }[] = [];
      for (const o of input.Delete.Objects) {
        if (this.undeletableKeys.has(o.Key)) {
          errors.push({ Key: o.Key, VersionId: o.VersionId, Code: "AccessDenied", Message: "Access Denied" });
          continue;
        }
        const i = b.versions.findIndex((v) => v.key === o.Key && v.versionId === o.VersionId);
        if (i >= 0) {
          b.versions.splice(i, 1);
          this.changes.push(`DeleteObjectVersion ${input.Bucket}/${o.Key}@${o.VersionId}`);
        }
      }
      return { Errors: errors.length ? errors : undefined };
    });
    m.on(DeleteBucketCommand).callsFake((input: { Bucket: string }) => {
      const b = this.bucket(input.Bucket);
      if (b.versions.length > 0)
        throw awsError("BucketNotEmpty", "The bucket you tried to delete is not empty. You must delete all versions in the bucket.", 409);
      this.buckets.delete(input.Bucket);
      this.changes.push(`DeleteBucket ${input.Bucket}`);
      return {};
    });
  }

  // -------------------------------------------------------------------------------------
  // Load balancer, CodeDeploy

  private wireElb(): void {
    const m = this.mocks.elb;
    m.on(DescribeLoadBalancersCommand).callsFake((input: { Names?: string[] }) => {
      const found = (input.Names ?? []).filter((n) => this.loadBalancers.has(n));
      if (found.length === 0) throw awsError("LoadBalancerNotFoundException", `Load balancers '[${input.Names?.join(", ")}]' not found`);
      return { LoadBalancers: found.map((n) => ({ LoadBalancerName: n, LoadBalancerArn: this.loadBalancers.get(n)!.arn })) };
    });
    const byArn = (arn: string) => [...this.loadBalancers.values()].find((l) => l.arn === arn)!;
    m.on(DescribeLoadBalancerAttributesCommand).callsFake((input: { LoadBalancerArn: string }) => ({
      Attributes: [
        { Key: "deletion_protection.enabled", Value: String(byArn(input.LoadBalancerArn).deletionProtection) },
        { Key: "idle_timeout.timeout_seconds", Value: "60" },
      ],
    }));
    m.on(ModifyLoadBalancerAttributesCommand).callsFake((input: { LoadBalancerArn: string; Attributes: { Key: string; Value: string }[] }) => {
      const lb = byArn(input.LoadBalancerArn);
      for (const a of input.Attributes) if (a.Key === "deletion_protection.enabled") lb.deletionProtection = a.Value === "true";
      this.changes.push(`ModifyLoadBalancerAttributes ${input.Attributes.map((a) => `${a.Key}=${a.Value}`).join(",")}`);
      return {};
    });
  }

  private wireCodeDeploy(): void {
    const m = this.mocks.codedeploy;
    m.on(ListDeploymentGroupsCommand).callsFake((input: { applicationName: string }) => {
      const groups = this.applications.get(input.applicationName);
      if (!groups) throw awsError("ApplicationDoesNotExistException", `No application found for name: ${input.applicationName}`);
      return { applicationName: input.applicationName, deploymentGroups: [...groups] };
    });
    m.on(ListDeploymentsCommand).callsFake((input: { applicationName: string; deploymentGroupName: string; includeOnlyStatuses?: string[] }) => {
      if (!this.applications.get(input.applicationName)?.has(input.deploymentGroupName)) throw awsError("DeploymentGroupDoesNotExistException");
      return {
        deployments: [...this.deployments.values()]
          .filter((d) => d.app === input.applicationName && d.group === input.deploymentGroupName)
          .filter((d) => !input.includeOnlyStatuses || input.includeOnlyStatuses.includes(d.status))
          .map((d) => d.id),
      };
    });
    m.on(GetDeploymentCommand).callsFake((input: { deploymentId: string }) => {
      const d = this.deployments.get(input.deploymentId);
      if (!d) throw awsError("DeploymentDoesNotExistException");
      if (d.stopRequested) {
        if ((d.stopAfterPolls ?? 0) <= 0) d.status = "Stopped";
        else d.stopAfterPolls = (d.stopAfterPolls ?? 0) - 1;
      }
      return { deploymentInfo: { deploymentId: d.id, status: d.status, applicationName: d.app, deploymentGroupName: d.group } };
    });
    m.on(StopDeploymentCommand).callsFake((input: { deploymentId: string; autoRollbackEnabled?: boolean }) => {
      const d = this.deployments.get(input.deploymentId);
      if (!d || ["Succeeded", "Failed", "Stopped"].includes(d.status)) throw awsError("DeploymentAlreadyCompletedException");
      d.stopRequested = true;
      this.changes.push(`StopDeployment ${input.deploymentId} rollback=${input.autoRollbackEnabled}`);
      return { status: "Pending" };
    });
  }
}
