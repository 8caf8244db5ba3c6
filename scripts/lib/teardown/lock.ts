/**
 * The release lock as a teardown holds it. The lock object lives in the revision bucket, which
 * the teardown must empty before Terraform can delete it, so the lock is held in two phases:
 *
 * 1. `held`: the object and its SSM mirror, like any release (taken with `acquireLock`), while the
 *    fleets are stopped and the stack is destroyed;
 * 2. `mirror`: after the first destroy has removed everything but the bucket, the object is given
 *    back ({@link TeardownLock.handOver}) so the bucket can be emptied and destroyed; the mirror
 *    stays, so the stack's plan-time check still lets only this teardown through (its id is
 *    passed as `TF_VAR_release_lock_id`) and `npm run deploy` is still refused, until the last
 *    step gives it back ({@link TeardownLock.giveBack}). A release cannot start in this phase:
 *    the stack it would publish to is gone.
 *
 * With no revision bucket at all (a second run), there is no object to take: nobody else may
 * hold the mirror, and nothing is locked.
 */
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { DeleteParameterCommand } from "@aws-sdk/client-ssm";
import { releaseParameters } from "../../../modules/names";
import { parseLock, type HeldLock, type LockInfo } from "../aws/environment";
import { errorName } from "../aws/errors";
import { readParameter } from "../aws/ssm";
import { CliError } from "../cli/errors";
import { acquireLock, describeHolder, LOCK_KEY, readLock, type LockPlace, type ReleaseLock } from "../release/lock";

export type LockPhase = "held" | "mirror" | "none" | "given-back";

export class TeardownLock {
  private constructor(
    private readonly place: LockPlace | undefined,
    private readonly info: LockInfo,
    private lock: ReleaseLock | undefined,
    private phase: LockPhase,
  ) {}

  /**
   * Takes the lock in `place` (the revision bucket), or, without one, checks that nobody holds
   * the mirror. A {@link CliError} naming the holder when someone does.
   */
  static async take(env: string, place: LockPlace | undefined, mirror: HeldLock | undefined, info: LockInfo, nowMs: number): Promise<TeardownLock> {
    if (!place) {
      if (mirror) throw heldBy(env, mirror, nowMs);
      return new TeardownLock(undefined, info, undefined, "none");
    }
    return new TeardownLock(place, info, await acquireLock(place, info, { nowMs }), "held");
  }

  /** This teardown's lock id, for `TF_VAR_release_lock_id`; undefined when nothing is locked. */
  get id(): string | undefined {
    return this.phase === "held" || this.phase === "mirror" ? this.info.id : undefined;
  }

  get state(): LockPhase {
    return this.phase;
  }

  /**
   * Gives back the lock object (only if it is still this teardown's, conditionally on its ETag)
   * and keeps the mirror. A warning when the object was no longer ours.
   */
  async handOver(): Promise<string | undefined> {
    if (this.phase !== "held" || !this.place) return undefined;
    this.phase = "mirror";
    const current = await readLock(this.place);
    if (!current) return `the lock object in s3://${this.place.bucket}/${LOCK_KEY} was already gone`;
    if (current.held.info?.id !== this.info.id) return `the lock object now belongs to ${describeHolder(current.held, Date.now())}; left it alone`;
    try {
      await this.place.s3.send(new DeleteObjectCommand({ Bucket: this.place.bucket, Key: LOCK_KEY, IfMatch: current.etag }));
    } catch (e) {
      if (!["NoSuchKey", "NotFound", "NoSuchBucket"].includes(errorName(e))) throw e;
    }
    return undefined;
  }

  /** Gives back whatever is still held: the whole lock, or the mirror (only if it is still ours). */
  async giveBack(): Promise<string | undefined> {
    const phase = this.phase;
    this.phase = "given-back";
    if (phase === "held") return this.lock?.release();
    if (phase !== "mirror" || !this.place) return undefined;
    const name = releaseParameters(this.place.env).lockHolder;
    const current = await readParameter(this.place.ssm, name);
    if (!current) return undefined;
    const held = parseLock(current.value);
    if (held.info?.id !== this.info.id) return `${name} now names ${describeHolder(held, Date.now())}; left it alone`;
    try {
      await this.place.ssm.send(new DeleteParameterCommand({ Name: name }));
    } catch (e) {
      if (errorName(e) !== "ParameterNotFound") throw e;
    }
    return undefined;
  }
}

/** The refusal when the mirror names another holder and there is no lock object to take. */
export function heldBy(env: string, mirror: HeldLock, nowMs: number): CliError {
  const what = mirror.info?.purpose && mirror.info.purpose !== "release" ? mirror.info.purpose : "release";
  const name = releaseParameters(env).lockHolder;
  return new CliError(
    `another ${what} of ${env} holds the release lock: ${describeHolder(mirror, nowMs)} (${name}; the revision bucket is gone). ` +
      `Wait for it to end, or, if that run died, remove it: aws ssm delete-parameter --name ${name}`,
  );
}
