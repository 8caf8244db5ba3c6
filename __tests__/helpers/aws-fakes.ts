/**
 * Fakes for the release tests: a clock whose sleep only advances time, an output that
 * collects lines, an SSM parameter store, and a scripted CodeDeploy deployment timeline.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from "@aws-sdk/client-ssm";
import {
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  DeploymentNotStartedException,
  GetDeploymentCommand,
  ListDeploymentTargetsCommand,
  type DeploymentInfo,
  type DeploymentTarget,
  type LifecycleEvent,
  type LifecycleEventStatus,
  type TargetStatus,
} from "@aws-sdk/client-codedeploy";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import type { PublishedStack } from "../../modules/names";
import type { Clock, Output } from "../../scripts/lib/release/runtime";

export const T0 = Date.parse("2025-05-01T10:00:00Z");

export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  /** Called after each sleep with the number of sleeps so far (to inject a Ctrl-C mid-watch). */
  onSleep?: (count: number) => void;
  constructor(public nowMs = T0) {}
  now(): number {
    return this.nowMs;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += ms;
    this.onSleep?.(this.sleeps.length);
  }
}

export class FakeOutput implements Output {
  private text = "";
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  get all(): string {
    return this.text;
  }
}

export const STACK: PublishedStack = {
  environment: "dev",
  region: "us-east-1",
  applicationName: "webfleet-dev",
  revisionBucket: "webfleet-dev-revisions-123456789012",
  siteUrl: "http://webfleet-dev-123.us-east-1.elb.amazonaws.com/",
  listenerArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/webfleet-dev/1/2",
  alarmTopicArn: "arn:aws:sns:us-east-1:123456789012:webfleet-dev-alarms",
  alarmNames: { blue: ["webfleet-dev-blue-5xx", "webfleet-dev-blue-unhealthy-hosts"], green: ["webfleet-dev-green-5xx", "webfleet-dev-green-unhealthy-hosts"] },
  fleets: {
    blue: {
      autoScalingGroupName: "webfleet-dev-blue",
      deploymentGroupName: "webfleet-dev-blue",
      targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/webfleet-dev-blue/1",
      launchTemplateId: "lt-0123456789abcdef0",
    },
    green: {
      autoScalingGroupName: "webfleet-dev-green",
      deploymentGroupName: "webfleet-dev-green",
      targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/webfleet-dev-green/2",
      launchTemplateId: "lt-0123456789abcdef1",
    },
  },
  deploymentConfigs: {
    "all-at-once": "CodeDeployDefault.AllAtOnce",
    "half-at-a-time": "CodeDeployDefault.HalfAtATime",
    "one-at-a-time": "CodeDeployDefault.OneAtATime",
    "min-healthy=75%": "webfleet-dev-min-healthy-75-percent",
  },
  defaultStrategy: "one-at-a-time",
  capacity: { live: { min: 2, desired: 2, max: 4 }, idle: { min: 0, desired: 0, max: 4 } },
  timings: { deregistrationDelaySeconds: 30, healthCheckIntervalSeconds: 10, healthyThresholdCount: 2, healthCheckGracePeriodSeconds: 120 },
};

/** An in-memory SSM parameter store behind a mocked SSMClient. */
export function fakeParameterStore(initial: Record<string, string>): { client: SSMClient; mock: AwsClientStub<SSMClient>; params: Map<string, string> } {
  const client = new SSMClient({ region: "us-east-1" });
  const mock = mockClient(client);
  const params = new Map(Object.entries(initial));
  const notFound = (name: string) => new ParameterNotFound({ message: `${name} not found`, $metadata: {} });
  mock.on(GetParameterCommand).callsFake((input: { Name: string }) => {
    const value = params.get(input.Name);
    if (value === undefined) throw notFound(input.Name);
    return { Parameter: { Name: input.Name, Value: value } };
  });
  mock.on(GetParametersCommand).callsFake((input: { Names: string[] }) => ({
    Parameters: input.Names.filter((n) => params.has(n)).map((n) => ({ Name: n, Value: params.get(n), Version: 1 })),
    InvalidParameters: input.Names.filter((n) => !params.has(n)),
  }));
  mock.on(PutParameterCommand).callsFake((input: { Name: string; Value: string; Overwrite?: boolean }) => {
    if (!input.Overwrite && params.has(input.Name)) throw new ParameterAlreadyExists({ message: "exists", $metadata: {} });
    params.set(input.Name, input.Value);
    return { Version: 1 };
  });
  mock.on(DeleteParameterCommand).callsFake((input: { Name: string }) => {
    if (!params.delete(input.Name)) throw notFound(input.Name);
    return {};
  });
  return { client, mock, params };
}

/** An object of the fake bucket: its body and ETag. */
export interface FakeObject {
  body: string;
  etag: string;
}

/**
 * An in-memory S3 bucket behind a mocked S3Client, with S3's conditional writes: PutObject with
 * `If-None-Match: *` fails (412) when the key exists, with `If-Match` when the ETag differs;
 * DeleteObject with `If-Match` likewise. That is what the release lock relies on.
 */
export function fakeBucket(initial: Record<string, string> = {}): { client: S3Client; mock: AwsClientStub<S3Client>; objects: Map<string, FakeObject> } {
  const client = new S3Client({ region: "us-east-1" });
  const mock = mockClient(client);
  let version = 0;
  const etag = () => `"etag-${++version}"`;
  const objects = new Map<string, FakeObject>(Object.entries(initial).map(([k, body]) => [k, { body, etag: etag() }]));
  const failed = (name: string, status: number) => new S3ServiceException({ name, $fault: "client", $metadata: { httpStatusCode: status }, message: name });
  mock.on(PutObjectCommand).callsFake((input: { Key: string; Body?: unknown; IfNoneMatch?: string; IfMatch?: string }) => {
    const current = objects.get(input.Key);
    if (input.IfNoneMatch === "*" && current) throw failed("PreconditionFailed", 412);
    if (input.IfMatch !== undefined && (!current || current.etag !== input.IfMatch)) throw failed("PreconditionFailed", 412);
    const body = typeof input.Body === "string" ? input.Body : Buffer.isBuffer(input.Body) ? input.Body.toString("utf8") : String(input.Body ?? "");
    const object = { body, etag: etag() };
    objects.set(input.Key, object);
    return { ETag: object.etag };
  });
  mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const object = objects.get(input.Key);
    if (!object) throw failed("NoSuchKey", 404);
    return { ETag: object.etag, Body: { transformToString: async () => object.body } };
  });
  mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const object = objects.get(input.Key);
    if (!object) throw failed("NotFound", 404);
    return { ETag: object.etag };
  });
  mock.on(DeleteObjectCommand).callsFake((input: { Key: string; IfMatch?: string }) => {
    const current = objects.get(input.Key);
    if (input.IfMatch !== undefined && current && current.etag !== input.IfMatch) throw failed("PreconditionFailed", 412);
    objects.delete(input.Key);
    return {};
  });
  return { client, mock, objects };
}

/** One poll's worth of what CodeDeploy reports about a deployment. */
export interface Frame {
  readonly status: string;
  readonly targets?: readonly { id: string; status: TargetStatus; events?: readonly LifecycleEvent[] }[];
  readonly overview?: DeploymentInfo["deploymentOverview"];
  readonly rollbackInfo?: DeploymentInfo["rollbackInfo"];
  readonly errorInformation?: DeploymentInfo["errorInformation"];
  /**
   * The targets calls throw DeploymentNotStartedException, as CodeDeploy does while a deployment
   * is Created or Queued (always, for those statuses) and, briefly, just after it started.
   */
  readonly targetsNotStarted?: boolean;
}

export interface DeploymentScript {
  /** GetDeployment calls so far, per deployment. */
  readonly polls: Record<string, number>;
  /** From now on, the deployment follows these frames (e.g. after StopDeployment). */
  replace(id: string, frames: readonly Frame[]): void;
  /** The next GetDeployment calls of the deployment throw these errors, in order. */
  failNext(id: string, errors: readonly Error[]): void;
}

/**
 * Scripts deployments: each GetDeployment of a deployment moves to its next frame (the last
 * one repeats); the targets calls answer from the current frame.
 */
export function scriptDeployments(mock: AwsClientStub<CodeDeployClient>, initial: Record<string, readonly Frame[]>): DeploymentScript {
  const timelines: Record<string, readonly Frame[]> = { ...initial };
  const position: Record<string, number> = {};
  const polls: Record<string, number> = {};
  const failures: Record<string, Error[]> = {};
  const current = (id: string): Frame => {
    const frames = timelines[id];
    if (!frames) throw new Error(`no timeline for ${id}`);
    return frames[Math.min(Math.max(0, (position[id] ?? 0) - 1), frames.length - 1)];
  };
  mock.on(GetDeploymentCommand).callsFake((input: { deploymentId: string }) => {
    const id = input.deploymentId;
    polls[id] = (polls[id] ?? 0) + 1;
    const error = failures[id]?.shift();
    if (error) throw error;
    position[id] = (position[id] ?? 0) + 1;
    const f = current(id);
    return {
      deploymentInfo: {
        deploymentId: id,
        status: f.status,
        deploymentOverview: f.overview,
        rollbackInfo: f.rollbackInfo,
        errorInformation: f.errorInformation,
      } as DeploymentInfo,
    };
  });
  const started = (id: string): Frame => {
    const f = current(id);
    if (f.targetsNotStarted || f.status === "Created" || f.status === "Queued") {
      throw new DeploymentNotStartedException({ message: "The specified deployment has not started.", $metadata: { httpStatusCode: 400 } });
    }
    return f;
  };
  mock
    .on(ListDeploymentTargetsCommand)
    .callsFake((input: { deploymentId: string }) => ({ targetIds: (started(input.deploymentId).targets ?? []).map((t) => t.id) }));
  mock.on(BatchGetDeploymentTargetsCommand).callsFake((input: { deploymentId: string; targetIds: string[] }) => ({
    deploymentTargets: (started(input.deploymentId).targets ?? [])
      .filter((t) => input.targetIds.includes(t.id))
      .map((t): DeploymentTarget => ({
        deploymentTargetType: "InstanceTarget",
        instanceTarget: { targetId: t.id, status: t.status, lifecycleEvents: [...(t.events ?? [])] },
      })),
  }));
  return {
    polls,
    replace(id, frames) {
      timelines[id] = frames;
      position[id] = 0;
    },
    failNext(id, errors) {
      failures[id] = [...(failures[id] ?? []), ...errors];
    },
  };
}

export const EVENTS = [
  "BeforeBlockTraffic",
  "BlockTraffic",
  "AfterBlockTraffic",
  "ApplicationStop",
  "DownloadBundle",
  "BeforeInstall",
  "Install",
  "AfterInstall",
  "ApplicationStart",
  "ValidateService",
  "BeforeAllowTraffic",
  "AllowTraffic",
  "AfterAllowTraffic",
];

/** Lifecycle events of an instance: the first `done` succeeded, then `next` with its status, the rest pending. */
export function events(done: number, next?: { status: LifecycleEventStatus; diagnostics?: LifecycleEvent["diagnostics"] }): LifecycleEvent[] {
  return EVENTS.map((name, i) => {
    if (i < done) return { lifecycleEventName: name, status: "Succeeded", startTime: new Date(T0 + i * 2000), endTime: new Date(T0 + i * 2000 + 1000) };
    if (i === done && next) return { lifecycleEventName: name, status: next.status, startTime: new Date(T0 + i * 2000), diagnostics: next.diagnostics };
    return { lifecycleEventName: name, status: next?.status === "Failed" ? "Skipped" : "Pending" };
  });
}

const made: string[] = [];

/** Removes the folders {@link makeRevision} made (call in afterAll). */
export function removeRevisions(): void {
  for (const dir of made.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}-copy`, { recursive: true, force: true });
  }
}

/** Lifecycle events of an instance the deployment skipped (another one failed first). */
export function skipped(): LifecycleEvent[] {
  return EVENTS.map((name) => ({ lifecycleEventName: name, status: "Skipped" }));
}

/**
 * A valid revision folder like app/: appspec.yml with two hooks and executable scripts, and only
 * the page installed under the web root (the validator refuses appspec.yml or a hook script there).
 */
export function makeRevision(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "webfleet-release-"));
  made.push(dir);
  const all: Record<string, string> = {
    "appspec.yml": [
      "version: 0.0",
      "os: linux",
      "files:",
      "  - source: index.html",
      "    destination: /var/www/html",
      "hooks:",
      "  AfterInstall:",
      "    - location: scripts/set_owner",
      "      timeout: 5",
      "  ValidateService:",
      "    - location: scripts/validate_service",
      "      timeout: 60",
      "",
    ].join("\n"),
    "index.html": "<h1>hello</h1>\n",
    "scripts/set_owner": "#!/bin/bash\nset -euo pipefail\nchown -R ec2-user /var/www/html\n",
    "scripts/validate_service": "#!/bin/bash\nset -euo pipefail\ncurl -fsS http://localhost/\n",
    ...files,
  };
  for (const [path, content] of Object.entries(all)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), content);
    chmodSync(join(dir, path), path.startsWith("scripts/") ? 0o755 : 0o644);
  }
  return dir;
}
