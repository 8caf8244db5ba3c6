/**
 * A simulated AWS account for blue/green and canary releases: both colors' Auto Scaling groups
 * (instances boot, wait for the launch deployment, register, turn healthy, as time passes on a
 * fake clock), the listener's weights, target health, CodeDeploy deployments, alarms, SSM and
 * the lock bucket, all behind aws-sdk-client-mock (the SDK's own request code, no network).
 *
 * Each group has a min and a max, which AWS enforces as it does: SetDesiredCapacity refuses a
 * size outside them, UpdateAutoScalingGroup refuses a desired capacity outside the min/max it
 * sets. The groups start with the roles Terraform gives them (the live color the live role's
 * min/max, the other the idle role's), from the published stack's capacity.
 *
 * After every call that changes traffic or capacity, the world checks the first invariant:
 * traffic never points at a color with no healthy instance. Each state a command leaves is
 * recorded (`states`) when it records its progress in the release lock (each step, a rollback,
 * the end) and when it gives the lock back: for the second invariant (Terraform plans no change
 * to what the release set), and to check that SSM agrees with the listener after each of them.
 */
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import {
  AutoScalingClient,
  AutoScalingServiceException,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  ListDeploymentTargetsCommand,
  ListDeploymentsCommand,
  StopDeploymentCommand,
  type RevisionLocation,
} from "@aws-sdk/client-codedeploy";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeListenersCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { DeleteParameterCommand, ParameterNotFound, PutParameterCommand } from "@aws-sdk/client-ssm";
import { COLORS, otherColor, type Color, type FleetCapacity, type PublishedStack, type Role } from "../../modules/names";
import type { ReleaseDeps, ReleaseInterrupts } from "../../scripts/lib/release/flow";
import type { Signal } from "../../scripts/lib/release/runtime";
import { FakeClock, FakeOutput, STACK, T0, fakeBucket, fakeParameterStore } from "./aws-fakes";

/** Seconds from launch to InService without a launch deployment, and what the launch deployment adds. */
export const BOOT_S = 90;
export const LAUNCH_DEPLOYMENT_S = 60;
/** Seconds from InService to healthy in the target group (interval × threshold). */
export const HEALTHY_AFTER_S = 20;
/** Seconds an explicit deployment to the idle color takes. */
export const DEPLOYMENT_S = 120;

interface Instance {
  readonly id: string;
  readonly launchedAt: number;
  /** Held in Pending:Wait by a launch deployment. */
  readonly launchDeployment: boolean;
}

interface Deployment {
  readonly id: string;
  readonly color: Color;
  readonly revision: RevisionLocation;
  readonly createdAt: number;
  status: string;
}

/** What a command left after a step: the values Terraform must plan no change to. */
export interface RecordedState {
  readonly weights: Record<Color, number>;
  readonly liveColor: string;
  readonly desired: Record<Color, number>;
  /** Each group's min_size and max_size in AWS. */
  readonly min: Record<Color, number>;
  readonly max: Record<Color, number>;
  readonly lockHeld: boolean;
  /** SSM's weights and live color agreed with the listener at this state. */
  readonly agrees: boolean;
}

/** The key a failure or a hook is injected at: `ModifyListener`, `PutParameter /webfleet/dev/weight/green`, `UpdateAutoScalingGroup blue`. */
export type CallKey = string;

export class FakeInterrupts implements ReleaseInterrupts {
  readonly queue: Signal[] = [];
  take(): Signal | undefined {
    return this.queue.shift();
  }
  wait(): Promise<void> {
    return this.queue.length ? Promise.resolve() : new Promise<void>(() => undefined);
  }
  hold<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}

export interface TwinWorldOptions {
  readonly live?: Color;
  /** Instances of the live color. @default 4 */
  readonly size?: number;
  /** The idle color's last successful revision equals the live one's (launch deployments bring it). */
  readonly idleHasLiveRevision?: boolean;
  /** The idle color's last successful revision (after an ordinary blue/green: the previous one). @default - never deployed */
  readonly idleRevision?: RevisionLocation;
  /** Capacity by role, as the stack publishes it. @default - STACK's: live 2/2/4, idle 0/0/4 */
  readonly capacity?: Readonly<Record<Role, FleetCapacity>>;
}

const MIRROR = "/webfleet/dev/lock/holder";

function validationError(message: string): Error {
  return new AutoScalingServiceException({ name: "ValidationError", $fault: "client", $metadata: { httpStatusCode: 400 }, message });
}

/** The revision before OLD_REVISION: what the idle color holds after an ordinary blue/green. */
export const PREVIOUS_REVISION: RevisionLocation = {
  revisionType: "S3",
  s3Location: { bucket: STACK.revisionBucket, key: "revisions/previous.tgz", bundleType: "tgz", eTag: "previous" },
};

export const OLD_REVISION: RevisionLocation = {
  revisionType: "S3",
  s3Location: { bucket: STACK.revisionBucket, key: "revisions/old.tgz", bundleType: "tgz", eTag: "old" },
};

export class TwinWorld {
  readonly clock = new FakeClock();
  /** Progress; `onLine` sees each line as it is written (to inject a Ctrl-C at a step). */
  readonly out = new (class extends FakeOutput {
    onLine?: (text: string) => void;
    write(chunk: string): boolean {
      super.write(chunk);
      this.onLine?.(chunk);
      return true;
    }
  })();
  readonly interrupts = new FakeInterrupts();
  readonly ssm = fakeParameterStore({});
  readonly bucket = fakeBucket();
  readonly instances: Record<Color, Instance[]> = { blue: [], green: [] };
  readonly desired: Record<Color, number> = { blue: 0, green: 0 };
  readonly min: Record<Color, number> = { blue: 0, green: 0 };
  readonly max: Record<Color, number> = { blue: 0, green: 0 };
  /** The published stack (its capacity by role). */
  readonly stack: PublishedStack;
  /** Calls that fail: each key's errors, in order, one per call. */
  readonly failures = new Map<CallKey, Error[]>();
  /** Called before each call that changes something, with its key (to inject a Ctrl-C mid-step). */
  readonly onCall: Array<(key: CallKey) => void> = [];
  weights: Record<Color, number> = { blue: 100, green: 0 };
  readonly deployments: Deployment[] = [];
  readonly lastSuccessful: Partial<Record<Color, RevisionLocation>> = {};
  readonly alarms = new Map<string, { state: string; reason: string }>();
  readonly states: RecordedState[] = [];
  readonly violations: string[] = [];
  /** Hooks to inject failures and events: called with the world at each poll (sleep). */
  readonly onTick: Array<(w: TwinWorld) => void> = [];
  /** Scaling activities the group reports (to inject an abandoned launch). */
  readonly activities: Record<Color, { StatusCode: string; StatusMessage: string; StartTime: Date }[]> = { blue: [], green: [] };
  /** A deployment created now fails. */
  failNextDeployment = false;
  /** The smoke test's answer for a path, per color. */
  http: (url: string, headers: Record<string, string>) => { status: number; body: string } = () => ({ status: 200, body: "<h1>hello</h1>\n" });
  readonly deps: ReleaseDeps;
  /** The mocks, for what a command asked of AWS. */
  readonly cd: AwsClientStub<CodeDeployClient>;
  readonly asMock: AwsClientStub<AutoScalingClient>;
  readonly elbMock: AwsClientStub<ElasticLoadBalancingV2Client>;
  private seq = 0;

  constructor(o: TwinWorldOptions = {}) {
    const live = o.live ?? "blue";
    const size = o.size ?? 4;
    const idle = otherColor(live);
    this.stack = { ...STACK, capacity: o.capacity ?? STACK.capacity };
    this.weights = { [live]: 100, [idle]: 0 } as Record<Color, number>;
    this.desired[live] = size;
    // As Terraform left them: min/max by role, from the live color.
    for (const c of COLORS) {
      const role = this.stack.capacity[c === live ? "live" : "idle"];
      this.min[c] = role.min;
      this.max[c] = role.max;
    }
    for (let i = 0; i < size; i++) this.instances[live].push({ id: `i-${live}-${i}`, launchedAt: T0 - 3600_000, launchDeployment: false });
    this.lastSuccessful[live] = OLD_REVISION;
    if (o.idleHasLiveRevision) this.lastSuccessful[idle] = OLD_REVISION;
    if (o.idleRevision) this.lastSuccessful[idle] = o.idleRevision;
    for (const [k, v] of Object.entries({
      "/webfleet/dev/stack": JSON.stringify(this.stack),
      "/webfleet/dev/live-color": live,
      "/webfleet/dev/weight/blue": String(this.weights.blue),
      "/webfleet/dev/weight/green": String(this.weights.green),
      "/webfleet/dev/smoke-test-key": "key-123",
    })) {
      this.ssm.params.set(k, v);
    }
    for (const c of COLORS) for (const name of STACK.alarmNames[c]) this.alarms.set(name, { state: "OK", reason: "" });
    this.clock.onSleep = () => {
      for (const f of this.onTick) f(this);
      this.progress();
    };

    const autoScaling = new AutoScalingClient({ region: "us-east-1" });
    const as = mockClient(autoScaling);
    this.asMock = as;
    as.on(DescribeAutoScalingGroupsCommand).callsFake((input: { AutoScalingGroupNames: string[] }) => {
      const color = this.colorOfGroup(input.AutoScalingGroupNames[0]);
      return {
        AutoScalingGroups: [
          {
            AutoScalingGroupName: input.AutoScalingGroupNames[0],
            DesiredCapacity: this.desired[color],
            MinSize: this.min[color],
            MaxSize: this.max[color],
            Instances: this.instances[color].map((i) => ({ InstanceId: i.id, LifecycleState: this.lifecycle(color, i), HealthStatus: "Healthy" })),
          },
        ],
      };
    });
    // AWS refuses a desired capacity outside the group's min and max.
    as.on(SetDesiredCapacityCommand).callsFake((input: { AutoScalingGroupName: string; DesiredCapacity: number }) => {
      const color = this.colorOfGroup(input.AutoScalingGroupName);
      this.call(`SetDesiredCapacity ${color}`);
      const d = input.DesiredCapacity;
      if (d < this.min[color]) throw validationError(`New SetDesiredCapacity value ${d} is below min value ${this.min[color]} for the AutoScalingGroup.`);
      if (d > this.max[color]) throw validationError(`New SetDesiredCapacity value ${d} is above max value ${this.max[color]} for the AutoScalingGroup.`);
      this.setDesired(color, d);
      this.check("SetDesiredCapacity");
      return {};
    });
    as.on(UpdateAutoScalingGroupCommand).callsFake((input: { AutoScalingGroupName: string; MinSize?: number; MaxSize?: number; DesiredCapacity?: number }) => {
      const color = this.colorOfGroup(input.AutoScalingGroupName);
      this.call(`UpdateAutoScalingGroup ${color}`);
      const min = input.MinSize ?? this.min[color];
      const max = input.MaxSize ?? this.max[color];
      if (min > max) throw validationError(`Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
      const d = input.DesiredCapacity;
      if (d !== undefined && (d < min || d > max))
        throw validationError(`Desired capacity:${d} must be between the specified min size:${min} and max size:${max}`);
      this.min[color] = min;
      this.max[color] = max;
      // Without a desired capacity, AWS moves the current one into the new bounds.
      this.setDesired(color, d ?? Math.min(Math.max(this.desired[color], min), max));
      this.check("UpdateAutoScalingGroup");
      return {};
    });
    as.on(DescribeScalingActivitiesCommand).callsFake((input: { AutoScalingGroupName: string }) => ({
      Activities: this.activities[this.colorOfGroup(input.AutoScalingGroupName)],
    }));
    as.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: [] });

    const elb = new ElasticLoadBalancingV2Client({ region: "us-east-1" });
    const elbMock = mockClient(elb);
    this.elbMock = elbMock;
    elbMock.on(DescribeListenersCommand).callsFake(() => ({
      Listeners: [
        {
          ListenerArn: STACK.listenerArn,
          DefaultActions: [
            {
              Type: "forward",
              ForwardConfig: { TargetGroups: COLORS.map((c) => ({ TargetGroupArn: STACK.fleets[c].targetGroupArn, Weight: this.weights[c] })) },
            },
          ],
        },
      ],
    }));
    elbMock
      .on(ModifyListenerCommand)
      .callsFake((input: { DefaultActions: { ForwardConfig: { TargetGroups: { TargetGroupArn: string; Weight: number }[] } }[] }) => {
        this.call("ModifyListener");
        const groups = input.DefaultActions[0].ForwardConfig.TargetGroups;
        for (const c of COLORS) this.weights[c] = groups.find((g) => g.TargetGroupArn === STACK.fleets[c].targetGroupArn)?.Weight ?? 0;
        this.check("ModifyListener");
        return {};
      });
    elbMock.on(DescribeTargetHealthCommand).callsFake((input: { TargetGroupArn: string }) => {
      const color = COLORS.find((c) => STACK.fleets[c].targetGroupArn === input.TargetGroupArn)!;
      return {
        TargetHealthDescriptions: this.instances[color].map((i) => ({
          Target: { Id: i.id },
          TargetHealth: { State: this.isHealthy(color, i) ? "healthy" : "initial" },
        })),
      };
    });

    const codedeploy = new CodeDeployClient({ region: "us-east-1" });
    const cd = mockClient(codedeploy);
    this.cd = cd;
    cd.on(GetDeploymentGroupCommand).callsFake((input: { deploymentGroupName: string }) => {
      const color = COLORS.find((c) => STACK.fleets[c].deploymentGroupName === input.deploymentGroupName)!;
      const last = [...this.deployments].reverse().find((d) => d.color === color && d.status === "Succeeded");
      const id = last?.id ?? (this.lastSuccessful[color] ? `d-before-${color}` : undefined);
      return { deploymentGroupInfo: { lastSuccessfulDeployment: id ? { deploymentId: id } : undefined } };
    });
    cd.on(CreateDeploymentCommand).callsFake((input: { deploymentGroupName: string; revision: RevisionLocation }) => {
      const color = COLORS.find((c) => STACK.fleets[c].deploymentGroupName === input.deploymentGroupName)!;
      const d: Deployment = {
        id: `d-${++this.seq}`,
        color,
        revision: input.revision,
        createdAt: this.clock.now(),
        status: this.failNextDeployment ? "Failing" : "InProgress",
      };
      this.failNextDeployment = false;
      this.deployments.push(d);
      return { deploymentId: d.id };
    });
    cd.on(GetDeploymentCommand).callsFake((input: { deploymentId: string }) => {
      const before = /^d-before-(blue|green)$/.exec(input.deploymentId);
      if (before) return { deploymentInfo: { deploymentId: input.deploymentId, status: "Succeeded", revision: this.lastSuccessful[before[1] as Color] } };
      // CodeDeploy's automatic rollback of a failed deployment: it succeeds.
      if (input.deploymentId.endsWith("-rb")) return { deploymentInfo: { deploymentId: input.deploymentId, status: "Succeeded" } };
      const d = this.deployments.find((x) => x.id === input.deploymentId);
      if (!d) throw new Error(`no deployment ${input.deploymentId}`);
      const rollbackInfo = d.status === "Failed" ? { rollbackDeploymentId: `${d.id}-rb` } : undefined;
      return { deploymentInfo: { deploymentId: d.id, status: d.status === "Failing" ? "InProgress" : d.status, revision: d.revision, rollbackInfo } };
    });
    cd.on(ListDeploymentsCommand).callsFake((input: { deploymentGroupName: string }) => {
      const color = COLORS.find((c) => STACK.fleets[c].deploymentGroupName === input.deploymentGroupName)!;
      return { deployments: this.deployments.filter((d) => d.color === color && ["InProgress", "Failing"].includes(d.status)).map((d) => d.id) };
    });
    cd.on(ListDeploymentTargetsCommand).resolves({ targetIds: [] });
    cd.on(BatchGetDeploymentTargetsCommand).resolves({ deploymentTargets: [] });
    cd.on(StopDeploymentCommand).callsFake((input: { deploymentId: string }) => {
      const d = this.deployments.find((x) => x.id === input.deploymentId);
      if (d) d.status = "Stopped";
      return { status: "Pending" };
    });

    const cloudwatch = new CloudWatchClient({ region: "us-east-1" });
    mockClient(cloudwatch)
      .on(DescribeAlarmsCommand)
      .callsFake((input: { AlarmNames: string[] }) => ({
        MetricAlarms: input.AlarmNames.filter((n) => this.alarms.get(n)?.state === "ALARM").map((n) => ({
          AlarmName: n,
          StateValue: "ALARM",
          StateReason: this.alarms.get(n)!.reason,
        })),
      }));

    const sts = new STSClient({ region: "us-east-1" });
    mockClient(sts).on(GetCallerIdentityCommand).resolves({ Arn: "arn:aws:sts::123456789012:assumed-role/dev/bob" });

    this.deps = {
      ssm: this.ssm.client,
      s3: this.bucket.client,
      codedeploy,
      autoScaling,
      sts,
      elb,
      cloudwatch,
      http: async (url, headers) => this.http(url, headers),
      clock: this.clock,
      out: this.out,
      interrupts: this.interrupts,
      whoami: { user: "bob", host: "laptop-9" },
      newLockId: () => "lock-bob",
      poll: { intervalMs: 5_000, maxIntervalMs: 60_000, maxConsecutiveErrors: 5, rollbackAppearMs: 60_000 },
      bundle: { env: {}, gitSourceDate: async () => T0 / 1000 },
    };
    // A command records its progress in the lock (and so in its SSM mirror) after each step, and
    // gives the lock back at the end: those are the states it leaves.
    this.ssm.mock.on(PutParameterCommand).callsFake((input: { Name: string; Value: string }) => {
      this.call(`PutParameter ${input.Name}`);
      this.ssm.params.set(input.Name, input.Value);
      if (input.Name === MIRROR) this.record();
      return { Version: 1 };
    });
    this.ssm.mock.on(DeleteParameterCommand).callsFake((input: { Name: string }) => {
      this.call(`DeleteParameter ${input.Name}`);
      if (!this.ssm.params.delete(input.Name)) throw new ParameterNotFound({ message: `${input.Name} not found`, $metadata: {} });
      if (input.Name === MIRROR) this.record();
      return {};
    });
  }

  /** A call that changes something: the hooks see it, then an injected failure (if any) is thrown. */
  private call(key: CallKey): void {
    for (const f of this.onCall) f(key);
    const next = this.failures.get(key)?.shift();
    if (next) throw next;
  }

  /** The next `times` calls of `key` fail with `error` (a throttled or refused AWS call). */
  fail(key: CallKey, times = 1, error: Error = Object.assign(new Error(`${key} failed (injected)`), { name: "InternalFailure" })): void {
    this.failures.set(key, [...(this.failures.get(key) ?? []), ...Array.from({ length: times }, () => error)]);
  }

  private colorOfGroup(name: string): Color {
    return COLORS.find((c) => STACK.fleets[c].autoScalingGroupName === name)!;
  }

  private setDesired(color: Color, n: number): void {
    this.desired[color] = n;
    while (this.instances[color].length > n) this.instances[color].pop();
    while (this.instances[color].length < n) {
      this.instances[color].push({
        id: `i-${color}-${++this.seq}`,
        launchedAt: this.clock.now(),
        launchDeployment: this.lastSuccessful[color] !== undefined || this.deployments.some((d) => d.color === color && d.status === "Succeeded"),
      });
    }
  }

  private inServiceAt(i: Instance): number {
    return i.launchedAt + (BOOT_S + (i.launchDeployment ? LAUNCH_DEPLOYMENT_S : 0)) * 1000;
  }

  private lifecycle(_color: Color, i: Instance): string {
    const now = this.clock.now();
    if (now >= this.inServiceAt(i)) return "InService";
    return now >= i.launchedAt + BOOT_S * 1000 ? "Pending:Wait" : "Pending";
  }

  isHealthy(_color: Color, i: Instance): boolean {
    return this.clock.now() >= this.inServiceAt(i) + HEALTHY_AFTER_S * 1000;
  }

  healthy(color: Color): number {
    return this.instances[color].filter((i) => this.isHealthy(color, i)).length;
  }

  /** Moves deployments on as time passes. */
  private progress(): void {
    for (const d of this.deployments) {
      if ((d.status === "InProgress" || d.status === "Failing") && this.clock.now() >= d.createdAt + DEPLOYMENT_S * 1000) {
        d.status = d.status === "Failing" ? "Failed" : "Succeeded";
        if (d.status === "Succeeded") this.lastSuccessful[d.color] = d.revision;
      }
    }
    this.check("time");
  }

  /** The first invariant: no traffic to a color without a healthy instance. */
  check(after: string): void {
    for (const c of COLORS) {
      if (this.weights[c] > 0 && this.healthy(c) === 0) this.violations.push(`after ${after}: ${c} has weight ${this.weights[c]} but no healthy instance`);
    }
  }

  /** Records the state a command leaves (at each record in the lock, and when it gives the lock back). */
  record(): void {
    this.states.push({
      weights: { ...this.weights },
      liveColor: this.ssm.params.get("/webfleet/dev/live-color") ?? "",
      desired: { ...this.desired },
      min: { ...this.min },
      max: { ...this.max },
      lockHeld: this.ssm.params.has(MIRROR),
      agrees: this.recordedAgrees(),
    });
  }

  /**
   * Each group's min/max is its role's by the live color SSM records (what Terraform would set),
   * and its desired capacity fits them: now, or in a recorded state.
   */
  rolesAgree(state?: RecordedState): boolean {
    const s = state ?? { liveColor: this.ssm.params.get("/webfleet/dev/live-color"), min: this.min, max: this.max, desired: this.desired };
    return COLORS.every((c) => {
      const role = this.stack.capacity[c === s.liveColor ? "live" : "idle"];
      return s.min[c] === role.min && s.max[c] === role.max && s.desired[c] >= role.min && s.desired[c] <= role.max;
    });
  }

  /** SSM's record of the weights and live color agrees with the listener. */
  recordedAgrees(): boolean {
    const full = COLORS.find((c) => this.weights[c] === 100);
    return (
      COLORS.every((c) => this.ssm.params.get(`/webfleet/dev/weight/${c}`) === String(this.weights[c])) &&
      (full === undefined || this.ssm.params.get("/webfleet/dev/live-color") === full)
    );
  }

  /** Sets an alarm of `color` firing from now on. */
  fire(color: Color, reason = "Threshold Crossed: 12 5xx in 1 minute"): void {
    this.alarms.set(STACK.alarmNames[color][0], { state: "ALARM", reason });
  }
}
