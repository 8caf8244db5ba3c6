/**
 * The release lock: SSM parameter `/webfleet/<env>/release-lock`, created with Overwrite=false,
 * so of two releases to one environment the second is refused, naming who holds the lock.
 * Kept in AWS, not in a local file, so it works across laptops and CI runners.
 *
 * A release that leaves its deployment (or rollback) running — Ctrl-C in CI, --on-timeout
 * leave, lost contact — keeps the lock, with that deployment's id in it: `npm run deploy` must
 * not start an instance refresh under it. Once that deployment has ended, the lock is stale:
 * a release or deploy says so and how to remove it (--force-unlock).
 */
import { DeleteParameterCommand, PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { GetDeploymentCommand, type CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { releaseParameters } from "../../../modules/names";
import { readParameter } from "../aws/ssm";
import { CliError } from "../cli/errors";
import { errorName } from "../aws/errors";
import { parseLock, type HeldLock, type LockInfo } from "../aws/environment";
import { formatDuration } from "../cli/duration";

export type { HeldLock, LockInfo };

export async function readLock(ssm: SSMClient, env: string): Promise<HeldLock | undefined> {
  const parameter = await readParameter(ssm, releaseParameters(env).releaseLock);
  return parameter && parseLock(parameter.value);
}

/** "alice (arn:…) on host ci-7 since 2025-05-01T10:00:00Z (12 min ago), deployment d-123 (InProgress)" */
export function describeHolder(lock: HeldLock, nowMs: number, deploymentStatus?: string): string {
  const info = lock.info;
  if (!info) return `an unrecognized value (${lock.raw.slice(0, 120)})`;
  const started = Date.parse(info.startedAt);
  const ago = Number.isFinite(started) ? ` (${formatDuration(Math.max(0, (nowMs - started) / 1000))} ago)` : "";
  const deployment = info.deploymentId ? `, deployment ${info.deploymentId}${deploymentStatus ? ` (${deploymentStatus})` : ""}` : ", no deployment created yet";
  return `${info.user} on host ${info.host} since ${info.startedAt}${ago}${deployment}`;
}

const FINISHED = new Set(["Succeeded", "Failed", "Stopped"]);

/** The command that removes the lock of `env`. */
export function forceUnlockCommand(env: string): string {
  return `npm run release -- --env ${env} --force-unlock`;
}

/** The lock as found, with the status of the deployment it records (when CodeDeploy answers). */
export interface LockState {
  readonly held: HeldLock;
  /** GetDeployment's status of the recorded deployment; undefined without one, or when unknown. */
  readonly deploymentStatus?: string;
  /** The recorded deployment has ended (Succeeded, Failed, Stopped): no release is running. */
  readonly stale: boolean;
}

/** Reads the lock and asks CodeDeploy whether its deployment has ended; undefined when there is no lock. */
export async function inspectLock(ssm: SSMClient, env: string, codedeploy?: CodeDeployClient): Promise<LockState | undefined> {
  return lockState(await readLock(ssm, env), codedeploy);
}

/** A lock already read (by the environment reader), with the status of the deployment it records. */
export async function lockState(held: HeldLock | undefined, codedeploy?: CodeDeployClient): Promise<LockState | undefined> {
  if (!held) return undefined;
  const status = await deploymentStatus(codedeploy, held.info?.deploymentId);
  return { held, deploymentStatus: status, stale: status !== undefined && FINISHED.has(status) };
}

/** "the release lock of dev looks stale: held by …, deployment d-1 (Succeeded), which has ended" */
export function staleLockMessage(env: string, state: LockState, nowMs: number): string {
  return (
    `the release lock of ${env} looks stale: held by ${describeHolder(state.held, nowMs, state.deploymentStatus)}, which has ended ` +
    `(a release keeps its lock while a deployment it left running goes on, or when it died)`
  );
}

async function deploymentStatus(codedeploy: CodeDeployClient | undefined, id: string | undefined): Promise<string | undefined> {
  if (!codedeploy || !id) return undefined;
  try {
    const out = await codedeploy.send(new GetDeploymentCommand({ deploymentId: id }));
    return out.deploymentInfo?.status;
  } catch {
    return undefined; // only decoration for the message
  }
}

/** A lock this process holds. */
export class ReleaseLock {
  constructor(
    private readonly ssm: SSMClient,
    private readonly env: string,
    private info: LockInfo,
  ) {}

  get holder(): LockInfo {
    return this.info;
  }

  /** Records more about the release (the deployment id) in the lock, if it is still ours. */
  async update(patch: Partial<Omit<LockInfo, "id">>): Promise<void> {
    const current = await readLock(this.ssm, this.env);
    if (current?.info?.id !== this.info.id) return;
    this.info = { ...this.info, ...patch };
    await this.ssm.send(
      new PutParameterCommand({ Name: releaseParameters(this.env).releaseLock, Value: JSON.stringify(this.info), Type: "String", Overwrite: true }),
    );
  }

  /**
   * Keeps the lock for a deployment this release leaves running, recording its id (a rollback's
   * replaces the failed deployment's). Returns a warning when the lock is no longer ours.
   */
  async keep(deploymentId: string): Promise<string | undefined> {
    const name = releaseParameters(this.env).releaseLock;
    const current = await readLock(this.ssm, this.env);
    if (!current)
      return `the release lock ${name} was already gone (removed with --force-unlock?): nothing keeps npm run deploy from replacing instances under ${deploymentId}`;
    if (current.info?.id !== this.info.id) return `the release lock ${name} now belongs to ${describeHolder(current, Date.now())}; left it alone`;
    if (this.info.deploymentId !== deploymentId) await this.update({ deploymentId });
    return undefined;
  }

  /** Deletes the lock if it is still ours; returns a warning otherwise. */
  async release(): Promise<string | undefined> {
    const name = releaseParameters(this.env).releaseLock;
    const current = await readLock(this.ssm, this.env);
    if (!current) return `the release lock ${name} was already gone (removed with --force-unlock?)`;
    if (current.info?.id !== this.info.id) return `the release lock ${name} now belongs to ${describeHolder(current, Date.now())}; left it alone`;
    try {
      await this.ssm.send(new DeleteParameterCommand({ Name: name }));
    } catch (e) {
      if (errorName(e) !== "ParameterNotFound") throw e;
    }
    return undefined;
  }
}

/**
 * Takes the lock or throws a {@link CliError} naming the holder (and, when its deployment
 * has ended, saying the lock looks stale and how to remove it).
 */
export async function acquireLock(ssm: SSMClient, env: string, info: LockInfo, opts: { codedeploy?: CodeDeployClient; nowMs: number }): Promise<ReleaseLock> {
  const name = releaseParameters(env).releaseLock;
  try {
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: JSON.stringify(info),
        Type: "String",
        Overwrite: false,
        Description:
          "webfleet release lock: present while a release, or a deployment it left running, runs (npm run release -- --force-unlock removes a stale one)",
      }),
    );
    return new ReleaseLock(ssm, env, info);
  } catch (e) {
    if (errorName(e) !== "ParameterAlreadyExists") throw e;
  }
  const state = await inspectLock(ssm, env, opts.codedeploy);
  if (!state) throw new CliError(`another release of ${env} held the lock a moment ago and has just finished: run again`);
  if (state.stale) {
    throw new CliError(`${staleLockMessage(env, state, opts.nowMs)}.\nRemove it, then release again: ${forceUnlockCommand(env)}`);
  }
  const running = state.deploymentStatus
    ? `Wait for deployment ${state.held.info?.deploymentId} to end (${state.deploymentStatus} now); once it has, the lock is stale and ${forceUnlockCommand(env)} removes it`
    : `Wait for it to finish, or, if that release died, remove its lock: ${forceUnlockCommand(env)}`;
  throw new CliError(`another release of ${env} is running: ${describeHolder(state.held, opts.nowMs, state.deploymentStatus)}.\n${running}`);
}

/** `--force-unlock`: removes the lock whoever holds it, and says whose it was. */
export async function forceUnlock(ssm: SSMClient, env: string, opts: { dryRun: boolean; nowMs: number; codedeploy?: CodeDeployClient }): Promise<string> {
  const name = releaseParameters(env).releaseLock;
  const state = await inspectLock(ssm, env, opts.codedeploy);
  if (!state) return `no release lock for ${env} (${name} does not exist): nothing to remove`;
  const { held, deploymentStatus: status } = state;
  const who = describeHolder(held, opts.nowMs, status);
  const running =
    status && !state.stale
      ? `\nNote: that deployment is still ${status}; removing the lock does not stop it (aws deploy stop-deployment --deployment-id ${held.info?.deploymentId} --auto-rollback-enabled), and npm run deploy no longer waits for it.`
      : "";
  if (opts.dryRun) return `would remove the release lock of ${env}, held by ${who} (dry run: kept)${running}`;
  try {
    await ssm.send(new DeleteParameterCommand({ Name: name }));
  } catch (e) {
    if (errorName(e) !== "ParameterNotFound") throw e;
  }
  return `removed the release lock of ${env}, held by ${who}${running}`;
}
