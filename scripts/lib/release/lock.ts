/**
 * The release lock: one S3 object per environment, in the environment's revision bucket, changed
 * only conditionally on its holder. S3's conditional writes make every change atomic:
 * - taking it is PutObject with `If-None-Match: *` (it fails when the object exists);
 * - updating it is PutObject with `If-Match: <etag>` of the holder's last write;
 * - giving it back is DeleteObject with `If-Match: <etag>`.
 * So a forced unlock racing a step can never be overwritten by that step: the step's next
 * change fails (412), and the release stops safely, saying so. (SSM, where the lock lived
 * before, has no compare-and-swap.)
 *
 * While the lock is held, its holder is mirrored to SSM (`releaseParameters(env).lockHolder`),
 * where the stack's plan-time check reads it (a bare `cdktf deploy` is refused while a release
 * runs) and where `npm run deploy` and `status` look. SSM has no conditional write, so the
 * mirror is only ever changed by whoever holds the object: written after a conditional write of
 * the object succeeded, then checked against the object (if the object changed hands in
 * between, the new holder's mirror is put back and this run stops); removed only after the
 * conditional delete succeeded, and only while it still names this holder. A run that lost the
 * lock never touches the new holder's mirror.
 *
 * A release that leaves work running in AWS (a CodeDeploy deployment after Ctrl-C in CI,
 * --on-timeout leave, lost contact) keeps the lock, with that deployment's id in it. Once that
 * deployment has ended, the lock is stale: a release or deploy says so and how to remove it.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DeleteParameterCommand, GetParametersCommand, PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { GetDeploymentCommand, type CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { releaseParameters, REVISION_BUCKET_KEYS } from "../../../modules/names";
import { parseLock, type HeldLock, type LockInfo } from "../aws/environment";
import { errorName } from "../aws/errors";
import { CliError, EXIT } from "../cli/errors";
import { formatDuration } from "../cli/duration";

export type { HeldLock, LockInfo };

/** The lock object's key in the environment's revision bucket. */
export const LOCK_KEY = REVISION_BUCKET_KEYS.lock;

/** Where the lock lives: the environment, its revision bucket, and the clients. */
export interface LockPlace {
  readonly env: string;
  readonly bucket: string;
  readonly s3: S3Client;
  readonly ssm: SSMClient;
  /** Asks whether the deployment a lock records has ended (the lock is then stale). @default - not asked */
  readonly codedeploy?: CodeDeployClient;
}

/** The lock as found: its holder, and the ETag a conditional change must match. */
export interface FoundLock {
  readonly held: HeldLock;
  readonly etag: string;
}

/** The lock was taken, changed or removed by someone else while this process held it. */
export class LockLost extends CliError {
  constructor(message: string) {
    super(message, EXIT.needsAttention);
    this.name = "LockLost";
  }
}

const CONFLICT = new Set(["PreconditionFailed", "ConditionalRequestConflict"]);
const isConflict = (e: unknown) => CONFLICT.has(errorName(e)) || (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode === 412;

/** The command that removes the lock of `env`. */
export function forceUnlockCommand(env: string): string {
  return `npm run release -- --env ${env} --force-unlock`;
}

/** Reads the lock object; undefined when nobody holds it. */
export async function readLock(place: LockPlace): Promise<FoundLock | undefined> {
  try {
    const out = await place.s3.send(new GetObjectCommand({ Bucket: place.bucket, Key: LOCK_KEY }));
    const text = (await out.Body?.transformToString()) ?? "";
    return { held: parseLock(text), etag: out.ETag ?? "" };
  } catch (e) {
    if (["NoSuchKey", "NotFound"].includes(errorName(e))) return undefined;
    throw e;
  }
}

/** "alice (arn:…) on host ci-7 since 2025-05-01T10:00:00Z (12 min ago), deployment d-123 (InProgress)" */
export function describeHolder(lock: HeldLock, nowMs: number, deploymentStatus?: string): string {
  const info = lock.info;
  if (!info) return `an unrecognized value (${lock.raw.slice(0, 120)})`;
  const started = Date.parse(info.startedAt);
  const ago = Number.isFinite(started) ? ` (${formatDuration(Math.max(0, (nowMs - started) / 1000))} ago)` : "";
  const purpose = info.purpose && info.purpose !== "release" ? ` for ${info.purpose}` : "";
  const deployment = info.deploymentId ? `, deployment ${info.deploymentId}${deploymentStatus ? ` (${deploymentStatus})` : ""}` : "";
  const state = info.state ? `; ${info.state}` : "";
  return `${info.user} on host ${info.host}${purpose} since ${info.startedAt}${ago}${deployment}${state}`;
}

const FINISHED = new Set(["Succeeded", "Failed", "Stopped"]);

/** The lock as found, with the status of the deployment it records (when CodeDeploy answers). */
export interface LockState {
  readonly held: HeldLock;
  /** GetDeployment's status of the recorded deployment; undefined without one, or when unknown. */
  readonly deploymentStatus?: string;
  /** The recorded deployment has ended (Succeeded, Failed, Stopped) and nothing else is running: no release is. */
  readonly stale: boolean;
}

/** A lock already read, with the status of the deployment it records. */
export async function lockState(held: HeldLock | undefined, codedeploy?: CodeDeployClient): Promise<LockState | undefined> {
  if (!held) return undefined;
  const status = await deploymentStatus(codedeploy, held.info?.deploymentId);
  return { held, deploymentStatus: status, stale: held.info?.left === true && status !== undefined && FINISHED.has(status) };
}

/** "the release lock of dev looks stale: held by …, deployment d-1 (Succeeded), which has ended" */
export function staleLockMessage(env: string, state: LockState, nowMs: number): string {
  return (
    `the release lock of ${env} looks stale: held by ${describeHolder(state.held, nowMs, state.deploymentStatus)}, which has ended ` +
    `(a release keeps its lock while a deployment it left running goes on)`
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

async function writeMirror(place: LockPlace, info: LockInfo): Promise<void> {
  await place.ssm.send(
    new PutParameterCommand({
      Name: releaseParameters(place.env).lockHolder,
      Value: JSON.stringify(info),
      Type: "String",
      Overwrite: true,
      Description: "webfleet: who holds the release lock (mirrored from the lock object; the stack's plan refuses to run while it exists)",
    }),
  );
}

async function removeMirror(place: LockPlace): Promise<void> {
  try {
    await place.ssm.send(new DeleteParameterCommand({ Name: releaseParameters(place.env).lockHolder }));
  } catch (e) {
    if (errorName(e) !== "ParameterNotFound") throw e;
  }
}

/** The lock id the mirror names; null without a mirror, "" when it names no webfleet lock. */
async function mirrorId(place: LockPlace): Promise<string | null> {
  const name = releaseParameters(place.env).lockHolder;
  const out = await place.ssm.send(new GetParametersCommand({ Names: [name] }));
  const value = out.Parameters?.find((p) => p.Name === name)?.Value;
  if (value === undefined) return null;
  return parseLock(value).info?.id ?? "";
}

/** Removes the mirror only while it names `id` (another holder's mirror is theirs). */
async function removeMirrorOf(place: LockPlace, id: string | undefined): Promise<void> {
  const named = await mirrorId(place);
  if (named !== null && named === (id ?? "")) await removeMirror(place);
}

/**
 * Makes the mirror say what the lock object says: its holder, or nothing when there is no lock.
 * Used after a race was seen, so that the plan-time check follows whoever holds the object.
 */
async function syncMirror(place: LockPlace): Promise<void> {
  const found = await readLock(place);
  if (!found) await removeMirror(place);
  else if (found.held.info) await writeMirror(place, found.held.info);
}

/**
 * After writing the mirror for the holder of `etag`: is the object still that one? If not (a
 * forced unlock, and maybe another run's lock, came in between), that write may have replaced
 * the new holder's mirror: put theirs back and say the lock is lost.
 */
async function confirmMirror(place: LockPlace, etag: string): Promise<boolean> {
  const found = await readLock(place);
  if (found?.etag === etag) return true;
  await syncMirror(place);
  return false;
}

function lostMessage(env: string): string {
  return (
    `the release lock of ${env} is no longer this release's (removed with --force-unlock, or taken by another run): stopping here. ` +
    `What this release did so far stays as the last step left it: npm run status -- --env ${env} shows it`
  );
}

/** A lock this process holds. */
export class ReleaseLock {
  constructor(
    private readonly place: LockPlace,
    private info: LockInfo,
    private etag: string,
  ) {}

  get holder(): LockInfo {
    return this.info;
  }

  /**
   * Records more in the lock (the deployment id, the state a step left), if it is still ours.
   * Throws {@link LockLost} when someone else changed or removed it: the release must stop.
   */
  async update(patch: Partial<Omit<LockInfo, "id">>): Promise<void> {
    const next = { ...this.info, ...patch };
    try {
      const out = await this.place.s3.send(
        new PutObjectCommand({ Bucket: this.place.bucket, Key: LOCK_KEY, Body: JSON.stringify(next), ContentType: "application/json", IfMatch: this.etag }),
      );
      this.etag = out.ETag ?? this.etag;
    } catch (e) {
      if (!isConflict(e) && !["NoSuchKey", "NotFound"].includes(errorName(e))) throw e;
      throw new LockLost(lostMessage(this.place.env));
    }
    this.info = next;
    // Only while the object is still ours: a forced unlock between the two writes must not be undone here.
    await writeMirror(this.place, next);
    if (!(await confirmMirror(this.place, this.etag))) throw new LockLost(lostMessage(this.place.env));
  }

  /** Keeps the lock for work this release leaves running in AWS (a deployment or its rollback). */
  async keep(deploymentId: string, state?: string): Promise<string | undefined> {
    try {
      await this.update({ deploymentId, left: true, ...(state ? { state } : {}) });
      return undefined;
    } catch (e) {
      if (e instanceof LockLost) return `${e.message}; nothing keeps npm run deploy from replacing instances under ${deploymentId}`;
      throw e;
    }
  }

  /**
   * Gives the lock back, if it is still ours (the object's conditional delete), then removes the
   * mirror if it still names this holder; a warning otherwise.
   */
  async release(): Promise<string | undefined> {
    const current = await readLock(this.place);
    if (!current) return `the release lock of ${this.place.env} was already gone (removed with --force-unlock?)`;
    if (current.held.info?.id !== this.info.id) {
      return `the release lock of ${this.place.env} now belongs to ${describeHolder(current.held, Date.now())}; left it alone`;
    }
    try {
      await this.place.s3.send(new DeleteObjectCommand({ Bucket: this.place.bucket, Key: LOCK_KEY, IfMatch: this.etag }));
    } catch (e) {
      if (isConflict(e)) return `the release lock of ${this.place.env} changed hands while this release ended; left it alone`;
      if (!["NoSuchKey", "NotFound"].includes(errorName(e))) throw e;
    }
    await removeMirrorOf(this.place, this.info.id);
    // Someone may have taken the lock between the delete and the mirror's removal: their mirror stands.
    const next = await readLock(this.place);
    if (next) await syncMirror(this.place);
    return undefined;
  }
}

/**
 * Takes the lock or throws a {@link CliError} (exit 2) naming the holder (and, when the work it
 * left running has ended, saying the lock looks stale and how to remove it).
 */
export async function acquireLock(place: LockPlace, info: LockInfo, opts: { nowMs: number }): Promise<ReleaseLock> {
  try {
    const out = await place.s3.send(
      new PutObjectCommand({ Bucket: place.bucket, Key: LOCK_KEY, Body: JSON.stringify(info), ContentType: "application/json", IfNoneMatch: "*" }),
    );
    const lock = new ReleaseLock(place, info, out.ETag ?? "");
    await writeMirror(place, info);
    if (!(await confirmMirror(place, out.ETag ?? ""))) {
      throw new CliError(`the release lock of ${place.env} was removed (--force-unlock) the moment it was taken: nothing was changed; run again`);
    }
    return lock;
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
  const found = await readLock(place);
  const state = await lockState(found?.held, place.codedeploy);
  if (!state) throw new CliError(`another run held the release lock of ${place.env} a moment ago and has just finished: run again`);
  const env = place.env;
  if (state.stale) throw new CliError(`${staleLockMessage(env, state, opts.nowMs)}.\nRemove it, then run again: ${forceUnlockCommand(env)}`);
  const what = state.held.info?.purpose && state.held.info.purpose !== "release" ? state.held.info.purpose : "release";
  const running = state.deploymentStatus
    ? `Wait for deployment ${state.held.info?.deploymentId} to end (${state.deploymentStatus} now); once it has, the lock is stale and ${forceUnlockCommand(env)} removes it`
    : `Wait for it to finish, or, if that run died, remove its lock: ${forceUnlockCommand(env)} (it first checks that the weights, capacity and SSM agree)`;
  throw new CliError(`another ${what} of ${env} is running: ${describeHolder(state.held, opts.nowMs, state.deploymentStatus)}.\n${running}`);
}

/**
 * `--force-unlock`: removes the lock whoever holds it (conditionally on what was read, so it
 * cannot remove a lock taken a moment later), and the mirror, and says whose it was. `reconcile`
 * runs first: it compares what the release state in SSM says with the listener and the Auto
 * Scaling groups, and repairs or reports every difference.
 */
export async function forceUnlock(
  place: LockPlace,
  opts: { dryRun: boolean; nowMs: number; reconcile?: (dryRun: boolean) => Promise<string[]> },
): Promise<string> {
  const env = place.env;
  const found = await readLock(place);
  const repairs = opts.reconcile ? await opts.reconcile(opts.dryRun) : [];
  const said = repairs.length ? `\n${repairs.join("\n")}` : "";
  if (!found) {
    // A mirror without an object is left over: the mirror follows the object (a lock taken meanwhile keeps its own).
    if (!opts.dryRun) await syncMirror(place);
    return `no release lock for ${env} (s3://${place.bucket}/${LOCK_KEY} does not exist): nothing to remove${said}`;
  }
  const state = await lockState(found.held, place.codedeploy);
  const who = describeHolder(found.held, opts.nowMs, state?.deploymentStatus);
  const status = state?.deploymentStatus;
  const running =
    status && !FINISHED.has(status)
      ? `\nNote: that deployment is still ${status}; removing the lock does not stop it (aws deploy stop-deployment --deployment-id ${found.held.info?.deploymentId} --auto-rollback-enabled), and npm run deploy no longer waits for it.`
      : "";
  if (opts.dryRun) return `would remove the release lock of ${env}, held by ${who} (dry run: kept)${running}${said}`;
  try {
    await place.s3.send(new DeleteObjectCommand({ Bucket: place.bucket, Key: LOCK_KEY, IfMatch: found.etag }));
  } catch (e) {
    if (isConflict(e))
      throw new CliError(`the release lock of ${env} changed while it was being removed (someone took it again): run --force-unlock again to see who`);
    if (!["NoSuchKey", "NotFound"].includes(errorName(e))) throw e;
  }
  // Removed: now the mirror follows the object (gone, or a lock taken a moment later).
  await syncMirror(place);
  return `removed the release lock of ${env}, held by ${who}${running}${said}`;
}
