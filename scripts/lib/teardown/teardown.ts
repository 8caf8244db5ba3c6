/**
 * `npm run teardown`: the tutorial's cleanup checklist as one command, in an order that works.
 *
 * 1. take the release lock (purpose teardown): refused, naming the holder, while a release runs;
 * 2. stop in-flight CodeDeploy deployments and cancel instance refreshes, and wait for them;
 * 3. turn the load balancer's deletion protection off where it is on (the stack's next plan
 *    would turn it back on: the destroy follows at once);
 * 4. empty the revision bucket (every version and delete marker; it has no force_destroy),
 *    except the lock object, which lives there;
 * 5. `cdktf destroy webfleet-<env> --auto-approve` with this lock's id in
 *    `TF_VAR_release_lock_id`. The first pass removes everything but the revision bucket, which
 *    still holds the lock object; when that (S3's BucketNotEmpty on this bucket) is its only
 *    error, the object is given back (the SSM mirror stays: see TeardownLock), the bucket
 *    emptied, and a second pass removes the bucket. Any other error stops the teardown there
 *    with that error. So the lock guards the environment through the long part, and no
 *    Terraform state is edited by hand;
 * 6. with --include-amis: the environment's AMIs and snapshots (the prune module, keep 0, no
 *    age; never one an instance of another fleet uses);
 * 7. SSM parameters under /webfleet/<env>/ that Terraform does not manage (previous-color, ...);
 * 8. with --include-state: the environment's state objects in the S3 state bucket, and the
 *    bucket only when nothing else is in it;
 * then the lock's mirror goes, last.
 *
 * A dry run (the default) reads what exists and prints each step with what it would delete. A
 * real run stops at the first step that fails before the destroy (nothing is destroyed) and
 * reports everything it could not delete afterwards. What is already gone is skipped, so running
 * it twice is harmless.
 */
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import type { EC2Client } from "@aws-sdk/client-ec2";
import {
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  ModifyLoadBalancerAttributesCommand,
  type ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import type { S3Client } from "@aws-sdk/client-s3";
import { DeleteParametersCommand, paginateGetParametersByPath, type SSMClient } from "@aws-sdk/client-ssm";
import type { STSClient } from "@aws-sdk/client-sts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { listEnvironments, loadEnvironment, loadEnvironments, type EnvironmentConfig } from "../../../config/load";
import { COLORS, LOCK_ID_VARIABLE, releaseParameters, resourcePrefix, stackName } from "../../../modules/names";
import { readEnvironmentState, type EnvironmentState, type HeldLock, type LockInfo } from "../aws/environment";
import { errorName } from "../aws/errors";
import { requireAwsCredentials } from "../aws/credentials";
import { retrying } from "../aws/retry";
import { CliError, EXIT, invalid, type ExitCode } from "../cli/errors";
import type { Defer } from "../cli/interrupts";
import type { Log } from "../cli/output";
import { Preflight } from "../cli/preflight";
import { formatCommand, type Runner } from "../cli/runner";
import { requireTool } from "../cli/tools";
import { TERRAFORM_REQUIREMENT } from "../deploy/deploy";
import { REPO_ROOT } from "../image/build";
import { configReferences, countImages, deleteImages, deletionProblems, listImages, planPrune, type PrunePolicy } from "../image/prune";
import { describeHolder, forceUnlockCommand, LOCK_KEY, readLock, type LockPlace } from "../release/lock";
import type { Clock } from "../release/runtime";
import { bucketExists, countVersions, deleteBucket, deleteVersions, findRevisionBuckets, listVersions } from "./buckets";
import { describeInFlight, environmentGroups, findInFlight, stopInFlight, type StopWait } from "./in-flight";
import { heldBy, TeardownLock } from "./lock";
import { describeStatePlan, planState, removeState, stateLocation } from "./state";

export interface TeardownOptions {
  readonly env: string;
  /** Without it: a dry run that reads and changes nothing. */
  readonly apply: boolean;
  readonly includeAmis: boolean;
  readonly includeState: boolean;
  /** The environment's name typed again: needed by prod and any environment with deletion protection. */
  readonly confirm?: string;
}

export interface TeardownDeps {
  readonly runner: Runner;
  readonly sts: STSClient;
  readonly ssm: SSMClient;
  /** S3 in the environment's region (the revision bucket). */
  readonly s3: S3Client;
  /** S3 in another region (a state bucket elsewhere). @default - `s3` */
  readonly s3For?: (region: string) => S3Client;
  readonly ec2: EC2Client;
  readonly autoScaling: AutoScalingClient;
  readonly elb: ElasticLoadBalancingV2Client;
  readonly codedeploy: CodeDeployClient;
  readonly clock: Clock;
  readonly log: Log;
  readonly whoami: { readonly user: string; readonly host: string };
  readonly newLockId: () => string;
  /** Aborted by Ctrl-C: the teardown stops after the current call, gives the lock back and says where it stopped. */
  readonly signal?: AbortSignal;
  /** Registers the lock's release for a second Ctrl-C. @default - none */
  readonly defer?: Defer;
  readonly repoRoot?: string;
  /** The cdktf executable. @default node_modules/.bin/cdktf */
  readonly cdktf?: string;
  /** Where the environment files are. @default config/ */
  readonly configDir?: string;
  readonly stopWait?: StopWait;
}

/** One step of the checklist: what it would do (dry run) or did, and what it could not. */
export interface StepReport {
  readonly step: number;
  readonly title: string;
  readonly lines: string[];
  /** What could not be done, and why. */
  readonly problems: string[];
  /** Why the step did not run. */
  skipped?: string;
}

export interface TeardownResult {
  readonly environment: string;
  readonly stack: string;
  readonly region: string;
  readonly dryRun: boolean;
  readonly steps: readonly StepReport[];
  /** Dry run: what would stop a real run. */
  readonly blockers: readonly string[];
  /** Dry run: what could not be read, and why. */
  readonly notChecked: readonly string[];
  /** The closing lines: the lock given back, where a real run stopped. */
  readonly notes: readonly string[];
  readonly exitCode: ExitCode;
}

const TITLES = [
  "take the release lock",
  "stop in-flight deployments and instance refreshes",
  "turn off the load balancer's deletion protection",
  "empty the revision bucket (all but the lock object)",
  "destroy the stack",
  "deregister the environment's AMIs and delete their snapshots",
  "remove what is left under the SSM folder",
  "remove the Terraform state",
] as const;

/** Why an environment needs its name typed again (`--confirm <env>`), or undefined. */
export function confirmationReason(env: EnvironmentConfig): string | undefined {
  if (env.name === "prod") return "it is prod";
  if (env.loadBalancer.deletionProtection) return `${env.file} sets loadBalancer.deletionProtection: true`;
  return undefined;
}

/**
 * `--env` is a name, never a path: `--env ../etc/passwd` would otherwise send the config loader
 * looking for etc/passwd.yaml (and `../config/dev` would read dev's file under another name).
 * Refused with the value as typed, before any file is looked for. The loader's own rule
 * (config/load.ts) then decides what a valid name is.
 */
export function checkEnvName(name: string, configDir?: string): void {
  if (/^[A-Za-z0-9-]+$/.test(name)) return;
  const known = listEnvironments(configDir);
  throw invalid(
    "--env",
    name,
    `not an environment name: give the name of a file in config/ without .yaml (letters, digits and -)${known.length ? `, one of ${known.join(", ")}` : ""}`,
  );
}

/** `--confirm` must repeat the environment's name; prod and protected environments need it. */
export function checkConfirmation(env: EnvironmentConfig, confirm: string | undefined): void {
  if (confirm !== undefined && confirm !== env.name) {
    throw new CliError(`--confirm '${confirm}': must repeat the environment's name exactly (--env ${env.name} --confirm ${env.name})`);
  }
}

function requireConfirmation(env: EnvironmentConfig, confirm: string | undefined): void {
  const reason = confirmationReason(env);
  if (reason && confirm !== env.name) {
    throw new CliError(`tearing down ${env.name} needs its name typed again (${reason}): add --confirm ${env.name}; nothing was deleted`);
  }
}

/** What exists, read once before the steps. */
interface Found {
  readonly state: EnvironmentState;
  /** Revision buckets that exist: the published one, or those with the environment's name prefix. */
  readonly revisionBuckets: readonly string[];
  /** Where the lock lives (the published revision bucket, or the one found by name). */
  readonly lockBucket?: string;
  readonly groups: readonly string[];
  readonly applicationName: string;
}

class Teardown {
  readonly steps: StepReport[] = TITLES.map((title, i) => ({ step: i + 1, title, lines: [], problems: [] }));
  readonly notes: string[] = [];
  private changed = false;
  /** The lock could not be given back: someone must remove it. */
  private lockLeft = false;
  private lock?: TeardownLock;
  private caller?: string;
  private readonly stack: string;
  private readonly cdktf: string;
  private readonly repoRoot: string;

  constructor(
    private readonly deps: TeardownDeps,
    private readonly env: EnvironmentConfig,
    private readonly o: TeardownOptions,
    private readonly pre: Preflight,
  ) {
    this.stack = stackName(env.name);
    this.repoRoot = deps.repoRoot ?? REPO_ROOT;
    this.cdktf = deps.cdktf ?? join(this.repoRoot, "node_modules", ".bin", "cdktf");
  }

  private get dryRun(): boolean {
    return !this.o.apply;
  }

  private step(n: number): StepReport {
    return this.steps[n - 1];
  }

  private get sleep() {
    return (ms: number) => this.deps.clock.sleep(ms);
  }

  private checkInterrupt(): void {
    if (this.deps.signal?.aborted) throw this.deps.signal.reason ?? new CliError("interrupted", EXIT.interrupted);
  }

  // -------------------------------------------------------------------------------------
  // Check

  async check(): Promise<Found | undefined> {
    await this.pre.check(() => requireConfirmation(this.env, this.o.confirm));
    // Before anything changes: the AMIs another environment uses are known only from its file.
    if (this.o.includeAmis) await this.pre.check(() => this.otherEnvironments());
    await this.pre.check(() => {
      if (!existsSync(this.cdktf)) throw new CliError(`cdktf CLI not found at ${this.cdktf}: run \`npm ci\``);
    });
    await this.pre.check(() => requireTool(this.deps.runner, TERRAFORM_REQUIREMENT));
    const identity = await this.pre.check(() => requireAwsCredentials(this.deps.sts, this.env.region));
    if (!identity) {
      if (!this.o.includeAmis) this.step(6).skipped = "without --include-amis: the environment's AMIs stay (Packer's, not Terraform's)";
      if (!this.o.includeState) this.step(8).skipped = "without --include-state: the Terraform state stays";
      for (const s of this.steps.filter((x) => x.step !== 5 && !x.skipped)) {
        this.pre.skip(`${s.step}. ${s.title}`, "what exists is read from AWS, and there are no working credentials");
      }
      return undefined;
    }
    this.caller = identity.arn;
    if (!this.dryRun) this.deps.log(`AWS account ${identity.account} as ${identity.arn}; tearing down ${this.stack} in ${this.env.region}`);
    const found = await this.pre.check(() => this.discover());
    if (found && this.dryRun) await this.checkLockFree(found);
    return found;
  }

  /** What exists: the published state, the revision buckets, the fleets' groups. An AWS error is a refusal: nothing was deleted yet. */
  private async discover(): Promise<Found> {
    try {
      return await this.read();
    } catch (e) {
      if (e instanceof CliError || !isAwsError(e)) throw e;
      throw new CliError(
        `could not read what ${this.env.name} has in AWS (${errorName(e)}: ${e instanceof Error ? e.message : String(e)}); nothing was deleted`,
      );
    }
  }

  private async read(): Promise<Found> {
    const state = await readEnvironmentState(this.deps.ssm, this.env.name);
    const published = state.stack?.revisionBucket;
    const byName = await findRevisionBuckets(this.deps.s3, this.env.name, this.env.region);
    const revisionBuckets = [...new Set([...(published && (await bucketExists(this.deps.s3, published)) ? [published] : []), ...byName])];
    const groups = await environmentGroups(
      this.deps.autoScaling,
      this.env.name,
      COLORS.flatMap((c) => (state.stack ? [state.stack.fleets[c].autoScalingGroupName] : [])),
    );
    return {
      state,
      revisionBuckets,
      lockBucket: revisionBuckets[0],
      groups,
      applicationName: state.stack?.applicationName ?? resourcePrefix(this.env.name),
    };
  }

  private place(bucket: string | undefined): LockPlace | undefined {
    return bucket ? { env: this.env.name, bucket, s3: this.deps.s3, ssm: this.deps.ssm, codedeploy: this.deps.codedeploy } : undefined;
  }

  /** Dry run: who holds the lock now (the object when the bucket exists, else the mirror). */
  private async checkLockFree(found: Found): Promise<void> {
    const place = this.place(found.lockBucket);
    const held: HeldLock | undefined = place ? (await readLock(place))?.held : found.state.lock;
    const s = this.step(1);
    if (!held) {
      s.lines.push(
        place
          ? `s3://${place.bucket}/${LOCK_KEY} is free: would take it (purpose teardown) and mirror it to ${releaseParameters(this.env.name).lockHolder}`
          : "no revision bucket: nothing to lock (the stack is gone)",
      );
      return;
    }
    const what = held.info?.purpose && held.info.purpose !== "release" ? held.info.purpose : "release";
    await this.pre.check(() => {
      throw place
        ? new CliError(`another ${what} of ${this.env.name} is running: ${describeHolder(held, this.deps.clock.now())}; wait for it to end`)
        : heldBy(this.env.name, held, this.deps.clock.now());
    });
    s.lines.push(`held by ${describeHolder(held, this.deps.clock.now())}`);
  }

  // -------------------------------------------------------------------------------------
  // Dry run: every step with what it would delete

  async plan(found: Found): Promise<void> {
    await this.look(2, async (s) => {
      const inFlight = await findInFlight(this.deps, found.applicationName, found.groups);
      const items = describeInFlight(inFlight);
      s.lines.push(...(items.length ? items.map((i) => `would stop ${i}`) : ["nothing in flight"]));
    });
    await this.look(3, async (s) => {
      const lb = await this.findLoadBalancer();
      s.lines.push(
        !lb
          ? `no load balancer ${resourcePrefix(this.env.name)}`
          : lb.deletionProtection
            ? `would turn deletion protection of ${lb.name} off (the next cdktf deploy of ${this.env.file} would turn it back on; the destroy follows at once)`
            : `deletion protection of ${lb.name} is off: nothing to change`,
      );
    });
    await this.look(4, async (s) => {
      if (found.revisionBuckets.length === 0) s.lines.push("no revision bucket: nothing to empty");
      for (const bucket of found.revisionBuckets) {
        const versions = (await listVersions(this.deps.s3, bucket)).filter((v) => !(bucket === found.lockBucket && v.key === LOCK_KEY));
        s.lines.push(
          `s3://${bucket}: would delete ${countVersions(versions)}${bucket === found.lockBucket ? ` (the lock object ${LOCK_KEY} stays until step 5)` : ""}`,
        );
      }
    });
    this.planDestroy(found.lockBucket !== undefined);
    await this.look(6, (s) => this.images(s, found));
    await this.look(7, (s) => this.parameters(s));
    await this.look(8, (s) => this.state(s));
  }

  /** Step 5 in a dry run: what it runs, and why twice when the lock lives in the bucket. */
  planDestroy(locked: boolean): void {
    const s = this.step(5);
    s.lines.push(`${this.destroyCommand()} with ${locked ? `TF_VAR_${LOCK_ID_VARIABLE}=<this teardown's lock id>` : "no lock id (nothing is locked)"}`);
    if (locked) {
      s.lines.push(
        "it removes everything but the revision bucket, which still holds the lock object; then the object is given back (the SSM mirror stays), the bucket emptied, and a second pass removes it",
      );
    }
  }

  /** Runs a dry-run reader; an AWS error is listed as not checked instead of ending the preview. */
  private async look(n: number, read: (s: StepReport) => Promise<void>): Promise<void> {
    try {
      await read(this.step(n));
    } catch (e) {
      if (e instanceof CliError) throw e;
      this.pre.skip(`${n}. ${TITLES[n - 1]}`, `${errorName(e) || "error"}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // -------------------------------------------------------------------------------------
  // Real run

  async act(found: Found): Promise<void> {
    const now = this.deps.clock.now();
    const info: LockInfo = {
      id: this.deps.newLockId(),
      user: this.caller ? `${this.deps.whoami.user} (${this.caller})` : this.deps.whoami.user,
      host: this.deps.whoami.host,
      startedAt: new Date(now).toISOString(),
      purpose: "teardown",
    };
    // Refused here (exit 2, nothing changed) while anyone holds it.
    this.lock = await TeardownLock.take(this.env.name, this.place(found.lockBucket), found.state.lock, info, now);
    const deferred = this.deps.defer?.(() => this.giveBack());
    this.step(1).lines.push(
      this.lock.state === "held"
        ? `took s3://${found.lockBucket}/${LOCK_KEY} (id ${info.id}), mirrored to ${releaseParameters(this.env.name).lockHolder}`
        : "no revision bucket: nothing to lock (the stack is gone)",
    );
    let current = 2;
    try {
      this.checkInterrupt();
      await this.stopInFlight(found);
      current = 3;
      this.checkInterrupt();
      await this.turnOffDeletionProtection();
      current = 4;
      this.checkInterrupt();
      if (!(await this.emptyRevisionBuckets(found))) return;
      current = 5;
      this.checkInterrupt();
      if (!(await this.destroy(found))) return;
      current = 6;
      this.checkInterrupt();
      await this.images(this.step(6), found);
      current = 7;
      this.checkInterrupt();
      await this.parameters(this.step(7));
      current = 8;
      this.checkInterrupt();
      await this.state(this.step(8));
    } catch (e) {
      const interrupted = e instanceof CliError && e.exitCode === EXIT.interrupted;
      // A CliError is already one line for people; an AWS error is named, as AWS named it.
      this.step(current).problems.push(
        interrupted ? "interrupted here" : e instanceof CliError ? e.message : `${errorName(e) || "error"}: ${e instanceof Error ? e.message : String(e)}`,
      );
      if (!interrupted && !(e instanceof CliError) && !isAwsError(e)) throw e;
      this.stoppedAt(current, interrupted);
    } finally {
      await this.giveBack();
      deferred?.drop();
    }
  }

  private stoppedAt(n: number, interrupted = false): void {
    for (const s of this.steps.slice(n)) s.skipped ??= `not run: the teardown stopped at step ${n}`;
    this.notes.push(
      `${interrupted ? "interrupted" : "stopped"} at step ${n} (${TITLES[n - 1]}); ${this.changed ? "what was done stays done" : "nothing was deleted"}: ` +
        `run npm run teardown -- --env ${this.env.name} --apply${this.o.confirm ? ` --confirm ${this.o.confirm}` : ""} again to go on`,
    );
  }

  private async giveBack(): Promise<void> {
    if (!this.lock || this.lock.state === "given-back" || this.lock.state === "none") return;
    try {
      const warning = await this.lock.giveBack();
      this.notes.push(warning ? `! ${warning}` : `gave back the release lock of ${this.env.name}`);
    } catch (e) {
      this.lockLeft = true;
      this.notes.push(
        `! could not give the release lock back (${errorName(e) || "error"}: ${e instanceof Error ? e.message : String(e)}): ` +
          `remove it with aws ssm delete-parameter --name ${releaseParameters(this.env.name).lockHolder} (and ${forceUnlockCommand(this.env.name)} while the revision bucket exists)`,
      );
    }
  }

  private async stopInFlight(found: Found): Promise<void> {
    const s = this.step(2);
    const inFlight = await findInFlight(this.deps, found.applicationName, found.groups);
    const items = describeInFlight(inFlight);
    if (items.length === 0) {
      s.lines.push("nothing in flight");
      return;
    }
    this.changed = true;
    const moving = await stopInFlight({ ...this.deps, region: this.env.region }, inFlight, this.deps.stopWait);
    s.lines.push(...items.map((i) => `stopped ${i}`));
    if (moving.length) s.lines.push(`still ending after the wait: ${moving.join(", ")} (the destroy goes ahead)`);
  }

  private async findLoadBalancer(): Promise<{ arn: string; name: string; deletionProtection: boolean } | undefined> {
    const name = resourcePrefix(this.env.name);
    let arn: string | undefined;
    try {
      arn = (await this.deps.elb.send(new DescribeLoadBalancersCommand({ Names: [name] }))).LoadBalancers?.[0]?.LoadBalancerArn;
    } catch (e) {
      if (["LoadBalancerNotFoundException", "LoadBalancerNotFound"].includes(errorName(e))) return undefined;
      throw e;
    }
    if (!arn) return undefined;
    const attributes = (await this.deps.elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: arn }))).Attributes ?? [];
    return { arn, name, deletionProtection: attributes.some((a) => a.Key === "deletion_protection.enabled" && a.Value === "true") };
  }

  private async turnOffDeletionProtection(): Promise<void> {
    const s = this.step(3);
    const lb = await this.findLoadBalancer();
    if (!lb) return void s.lines.push(`no load balancer ${resourcePrefix(this.env.name)}`);
    if (!lb.deletionProtection) return void s.lines.push(`deletion protection of ${lb.name} is off: nothing to change`);
    this.changed = true;
    await this.deps.elb.send(
      new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lb.arn, Attributes: [{ Key: "deletion_protection.enabled", Value: "false" }] }),
    );
    s.lines.push(`turned deletion protection of ${lb.name} off (the next cdktf deploy of ${this.env.file} would turn it back on)`);
  }

  /** Step 4; false when something could not be deleted (the teardown stops: nothing destroyed). */
  private async emptyRevisionBuckets(found: Found): Promise<boolean> {
    const s = this.step(4);
    if (found.revisionBuckets.length === 0) s.lines.push("no revision bucket: nothing to empty");
    for (const bucket of found.revisionBuckets) {
      const keepLock = bucket === found.lockBucket && this.lock?.state === "held";
      const versions = (await listVersions(this.deps.s3, bucket)).filter((v) => !(keepLock && v.key === LOCK_KEY));
      if (versions.length > 0) this.changed = true;
      const problems = await deleteVersions(this.deps.s3, bucket, versions, this.sleep);
      s.problems.push(...problems);
      s.lines.push(
        `s3://${bucket}: deleted ${countVersions(versions)}${problems.length ? ` but ${problems.length} (below)` : ""}${keepLock ? `; the lock object stays until step 5` : ""}`,
      );
    }
    if (s.problems.length === 0) return true;
    this.stoppedAt(4);
    return false;
  }

  private destroyCommand(): string {
    return formatCommand("cdktf", ["destroy", this.stack, "--auto-approve"]);
  }

  /** One `cdktf destroy` pass: its output goes to the log as it comes, and its Terraform errors are read. */
  private async runDestroy(): Promise<{ exitCode: number; errors: string[] }> {
    const id = this.lock?.id;
    this.deps.log(`${this.destroyCommand()}${id ? ` with TF_VAR_${LOCK_ID_VARIABLE} (this teardown's lock)` : ""}`);
    this.changed = true;
    const lines: string[] = [];
    const show = (line: string) => {
      lines.push(line);
      this.deps.log(line);
    };
    const result = await this.deps.runner.run(this.cdktf, ["destroy", this.stack, "--auto-approve"], {
      cwd: this.repoRoot,
      env: { CHECKPOINT_DISABLE: "1", ...(id ? { [`TF_VAR_${LOCK_ID_VARIABLE}`]: id } : {}) },
      // Piped, not inherited: which error stopped the first pass decides whether a second one runs.
      // --auto-approve asks nothing, so no terminal is needed.
      stdio: "pipe",
      onStdoutLine: show,
      onStderrLine: show,
      signal: this.deps.signal,
    });
    const output = lines.length ? lines.join("\n") : `${result.stdout}\n${result.stderr}`;
    return { exitCode: result.exitCode, errors: terraformErrors(output) };
  }

  /** Step 5; false when the stack is not (all) gone: the later steps would remove what it still uses. */
  private async destroy(found: Found): Promise<boolean> {
    const s = this.step(5);
    const interrupted = (code: number) => code === 130 || this.deps.signal?.aborted === true;
    let { exitCode: code, errors } = await this.runDestroy();
    if (code !== 0 && !interrupted(code) && this.lock?.state === "held" && found.lockBucket && onlyBucketNotEmpty(errors, found.lockBucket)) {
      s.lines.push(`first pass: stopped at s3://${found.lockBucket}, which still holds the lock object (BucketNotEmpty), as expected`);
      this.deps.log(
        `that BucketNotEmpty error is expected: the revision bucket still holds this teardown's lock object. Giving the object back (the SSM mirror stays), emptying the bucket, destroying again`,
      );
      const warning = await this.lock.handOver();
      if (warning) s.lines.push(`! ${warning}`);
      const problems = await deleteVersions(this.deps.s3, found.lockBucket, await listVersions(this.deps.s3, found.lockBucket), this.sleep);
      if (problems.length) {
        s.problems.push(...problems);
        this.stoppedAt(5);
        return false;
      }
      this.checkInterrupt();
      ({ exitCode: code, errors } = await this.runDestroy());
    }
    if (code !== 0) {
      if (interrupted(code)) throw this.deps.signal?.reason ?? new CliError("interrupted", EXIT.interrupted);
      const said = errors.length ? `: ${errors.join("; ")}` : "";
      s.problems.push(
        `cdktf destroy ${this.stack} failed (exit ${code})${said}; Terraform's output above says what it could not destroy; what it did destroy is gone, the rest is still in the state`,
      );
      this.stoppedAt(5);
      return false;
    }
    s.lines.push(`destroyed ${this.stack}`);
    // Revision buckets Terraform no longer manages (found by name, left by an earlier stack).
    for (const bucket of found.revisionBuckets) {
      if (!(await bucketExists(this.deps.s3, bucket))) continue;
      if (bucket === found.lockBucket) {
        const warning = await this.lock?.handOver();
        if (warning) s.lines.push(`! ${warning}`);
      }
      const problems = await deleteVersions(this.deps.s3, bucket, await listVersions(this.deps.s3, bucket), this.sleep);
      s.problems.push(...problems);
      if (problems.length === 0) {
        await deleteBucket(this.deps.s3, bucket, this.sleep);
        s.lines.push(`deleted the revision bucket ${bucket}, which was not in the stack's state`);
      }
    }
    return true;
  }

  /**
   * The other environments, whose AMI parameters and pinned ids step 6 must not touch. A broken
   * file hides what it refers to, so it refuses the AMI step (as it refuses ami:prune), naming
   * the file: a {@link CliError}, exit 2.
   */
  private otherEnvironments(): EnvironmentConfig[] {
    const { loaded, broken } = loadEnvironments(this.deps.configDir);
    if (broken.length > 0) {
      const one = broken.length === 1;
      throw new CliError(
        `--include-amis: the environment file${one ? "" : "s"} of ${broken.map((b) => b.name).join(", ")} ${one ? "is" : "are"} broken, so the AMIs ` +
          `${one ? "it refers" : "they refer"} to are not known and would not be kept: ${broken.flatMap((b) => b.errors).join("; ")}. ` +
          `Fix ${one ? "it" : "them"}, or run without --include-amis; nothing was deleted`,
        EXIT.refused,
      );
    }
    return loaded.filter((e) => e.name !== this.env.name);
  }

  /** Step 6: reads, and (real run) deletes. */
  private async images(s: StepReport, found: Found): Promise<void> {
    if (!this.o.includeAmis) {
      const count = (await listImages(this.deps.ec2, this.env.name)).length;
      s.skipped = `without --include-amis: the ${count} AMI${count === 1 ? "" : "s"} of ${this.env.name} stay (Packer's, not Terraform's)`;
      return;
    }
    // Keep 0, no age: every AMI of the environment, but never one another fleet, an instance or
    // another environment's parameter still uses. This environment's own fleets are destroyed first.
    let others: EnvironmentConfig[];
    try {
      others = this.otherEnvironments();
    } catch (e) {
      // The dry run has it as its blocker already, and shows the other steps.
      if (!this.dryRun || !(e instanceof CliError)) throw e;
      return void (s.skipped = "a real run is refused before it starts: an environment file is broken (below)");
    }
    const { parameters, pinned } = configReferences(others, this.env.region);
    const policy: PrunePolicy = { keep: 0, parameters, pinned, destroyedFirst: found.groups };
    const plan = await planPrune(this.deps, this.env.name, this.env.region, policy, this.deps.clock.now());
    const doomed = plan.images.filter((i) => i.action === "delete");
    const kept = plan.images.filter((i) => i.action === "keep");
    if (plan.images.length === 0) return void s.lines.push(`no AMIs of ${this.env.name}`);
    for (const i of kept) s.lines.push(`keeps ${i.imageId} (${i.name}): ${i.reasons.join("; ")}`);
    if (this.dryRun) {
      for (const i of doomed) s.lines.push(`would deregister ${i.imageId} (${i.name}) and delete ${i.snapshotIds.join(", ") || "no snapshot"}`);
      if (found.groups.length) s.lines.push(`(the instances of ${found.groups.join(", ")} do not count: the destroy removes them first)`);
      return;
    }
    if (doomed.length > 0) this.changed = true;
    const outcomes = await deleteImages({ ec2: this.deps.ec2, sleep: this.sleep, log: this.deps.log, signal: this.deps.signal }, doomed);
    const done = outcomes.filter((d) => d.deregistered);
    s.lines.push(`deregistered ${countImages(doomed.filter((d) => done.some((x) => x.imageId === d.imageId)))}`);
    s.problems.push(...deletionProblems(outcomes, this.env.region));
  }

  /** Step 7: every parameter under the folder but the lock's mirror (given back last). */
  private async parameters(s: StepReport): Promise<void> {
    const names = releaseParameters(this.env.name);
    const found: string[] = [];
    for await (const page of paginateGetParametersByPath({ client: this.deps.ssm }, { Path: names.root, Recursive: true })) {
      for (const p of page.Parameters ?? []) if (p.Name && p.Name !== names.lockHolder) found.push(p.Name);
    }
    found.sort();
    if (this.dryRun) {
      const terraform = new Set<string>([names.stack, names.liveColor, names.smokeTestKey, ...COLORS.flatMap((c) => [names.ami(c), names.weight(c)])]);
      const byDestroy = found.filter((n) => terraform.has(n));
      const left = found.filter((n) => !terraform.has(n));
      if (byDestroy.length) s.lines.push(`cdktf destroy removes ${byDestroy.join(", ")}`);
      s.lines.push(left.length ? `would delete ${left.join(", ")}` : "nothing else under " + names.root);
      s.lines.push(`${names.lockHolder}, the lock's mirror, goes last`);
      return;
    }
    if (found.length === 0) return void s.lines.push(`nothing left under ${names.root}`);
    this.changed = true;
    for (let i = 0; i < found.length; i += 10) {
      const batch = found.slice(i, i + 10);
      try {
        const out = await retrying(() => this.deps.ssm.send(new DeleteParametersCommand({ Names: batch })), { sleep: this.sleep });
        // InvalidParameters: already gone.
        if (out.DeletedParameters?.length) s.lines.push(`deleted ${out.DeletedParameters.join(", ")}`);
      } catch (e) {
        s.problems.push(`${batch.join(", ")} not deleted (${errorName(e)}: ${e instanceof Error ? e.message : String(e)})`);
      }
    }
  }

  /** Step 8: reads, and (real run) deletes. */
  private async state(s: StepReport): Promise<void> {
    const location = stateLocation(this.env);
    if (!this.o.includeState) {
      s.skipped = location
        ? `without --include-state: s3://${location.bucket}/${location.prefix} stays`
        : `without --include-state: the local state file stays`;
      return;
    }
    if (!location) {
      s.lines.push(`the state is local (terraform.${this.stack}.tfstate in this checkout): nothing in S3; the file is left as it is`);
      return;
    }
    const s3 = location.region === this.env.region ? this.deps.s3 : (this.deps.s3For?.(location.region) ?? this.deps.s3);
    const everyone = loadEnvironments(this.deps.configDir).loaded;
    const plan = await planState(s3, this.env, location, everyone);
    if (this.dryRun) return void s.lines.push(...describeStatePlan(plan));
    if (plan.mine.length > 0 || plan.deleteBucket) this.changed = true;
    const { done, problems } = await removeState(s3, plan, this.sleep);
    s.lines.push(...done);
    s.problems.push(...problems);
  }

  get exitCode(): ExitCode {
    if (this.dryRun) return this.pre.exitCode as ExitCode;
    if (this.deps.signal?.aborted) return EXIT.interrupted;
    const problems = this.lockLeft || this.steps.some((s) => s.problems.length > 0);
    if (!problems) return EXIT.ok;
    return this.changed ? EXIT.needsAttention : EXIT.failed;
  }
}

/**
 * The summaries of the errors in Terraform's output (`deleting S3 Bucket (b): operation error S3:
 * DeleteBucket, ... api error BucketNotEmpty: ...`), read through cdktf's stack prefix,
 * Terraform's diagnostic box and colours. Terraform never wraps a summary (it holds a provider's
 * Go error as it is), so each is one line. cdktf's own closing line ("Invoking Terraform CLI
 * failed with exit code 1") is not one of them.
 */
export function terraformErrors(output: string): string[] {
  const plain = output.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
  return plain
    .split("\n")
    .map((raw) => /(?:^|[\s│])Error: (.*)$/.exec(raw)?.[1].trim())
    .filter((e): e is string => !!e && !/^Invoking Terraform CLI failed/.test(e));
}

/**
 * The first destroy pass ended the way it is expected to, and only that way: every error is S3
 * refusing to delete the bucket that still holds the lock object (the AWS provider's "deleting
 * S3 Bucket (<name>): ... api error BucketNotEmpty"). Anything else is a real failure.
 */
export function onlyBucketNotEmpty(errors: readonly string[], bucket: string): boolean {
  return errors.length > 0 && errors.every((e) => /\bBucketNotEmpty\b/.test(e) && e.includes(bucket));
}

/** An error AWS answered (it has HTTP metadata): reported per step, not a bug. */
function isAwsError(e: unknown): boolean {
  return typeof e === "object" && e !== null && "$metadata" in e;
}

/** `npm run teardown`: check → plan (dry run) or act → report. */
export async function teardownCommand(deps: TeardownDeps, o: TeardownOptions): Promise<TeardownResult> {
  checkEnvName(o.env, deps.configDir);
  const env = loadEnvironment(o.env, deps.configDir);
  checkConfirmation(env, o.confirm);
  const pre = new Preflight(!o.apply);
  const run = new Teardown(deps, env, o, pre);
  const found = await run.check();
  if (found) {
    if (o.apply) await run.act(found);
    else await run.plan(found);
  } else run.planDestroy(true);
  return {
    environment: env.name,
    stack: stackName(env.name),
    region: env.region,
    dryRun: !o.apply,
    steps: run.steps,
    blockers: pre.blockers,
    notChecked: pre.notChecked,
    notes: run.notes,
    exitCode: run.exitCode,
  };
}

/** The report for people: every step, then blockers (dry run) or where it stopped. */
export function formatTeardownResult(r: TeardownResult): string[] {
  const lines = [r.dryRun ? `dry run: nothing is deleted. ${r.stack} in ${r.region}, in this order:` : `teardown of ${r.stack} in ${r.region}:`];
  for (const s of r.steps) {
    lines.push(`${s.step}. ${s.title}${s.skipped ? `: skipped, ${s.skipped}` : ""}`);
    for (const l of s.lines) lines.push(`   ${l}`);
    for (const p of s.problems) lines.push(`   ! ${p}`);
  }
  lines.push(...r.notes);
  if (r.dryRun) {
    lines.push(...preflightLines(r));
    if (r.blockers.length === 0) lines.push(`run again with --apply to do it`);
  } else if (r.exitCode === EXIT.ok) lines.push(`${r.stack} is torn down.`);
  else if (r.steps.some((s) => s.problems.length > 0)) lines.push(`not everything was deleted: the lines with ! say what and why`);
  return lines;
}

function preflightLines(r: TeardownResult): string[] {
  const pre = new Preflight(true);
  pre.blockers.push(...r.blockers);
  pre.notChecked.push(...r.notChecked);
  return pre.report();
}
