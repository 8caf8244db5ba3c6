/**
 * The release lock: an S3 object changed only conditionally on its holder (If-None-Match: * to
 * take it, If-Match: <etag> to change or give it back), mirrored to SSM while held, and the
 * mirror changed only by whoever holds the object, even when a forced unlock races a change.
 */
import { mockClient } from "aws-sdk-client-mock";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { DeleteParameterCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import { CodeDeployClient, GetDeploymentCommand, type DeploymentStatus } from "@aws-sdk/client-codedeploy";
import { acquireLock, forceUnlock, LOCK_KEY, LockLost, readLock, type LockInfo, type LockPlace } from "../../../../scripts/lib/release/lock";
import { CliError } from "../../../../scripts/lib/cli/errors";
import { T0, fakeBucket, fakeParameterStore } from "../../../helpers/aws-fakes";

const MIRROR = "/webfleet/dev/lock/holder";
const alice: LockInfo = {
  id: "lock-alice",
  user: "alice (arn:aws:sts::123456789012:assumed-role/dev/alice)",
  host: "laptop-7",
  startedAt: "2025-05-01T09:48:00.000Z",
};
const bob: LockInfo = { id: "lock-bob", user: "bob", host: "ci-runner-3", startedAt: "2025-05-01T10:00:00.000Z" };

function place(o: { lock?: LockInfo; deploymentStatus?: string } = {}) {
  const bucket = fakeBucket(o.lock ? { [LOCK_KEY]: JSON.stringify(o.lock) } : {});
  const store = fakeParameterStore({});
  const codedeploy = new CodeDeployClient({ region: "us-east-1" });
  mockClient(codedeploy)
    .on(GetDeploymentCommand)
    .resolves({ deploymentInfo: { status: (o.deploymentStatus ?? "InProgress") as DeploymentStatus } });
  const p: LockPlace = { env: "dev", bucket: "webfleet-dev-revisions", s3: bucket.client, ssm: store.client, codedeploy };
  const body = () => (bucket.objects.has(LOCK_KEY) ? (JSON.parse(bucket.objects.get(LOCK_KEY)!.body) as LockInfo) : undefined);
  const mirror = () => (store.params.has(MIRROR) ? (JSON.parse(store.params.get(MIRROR)!) as LockInfo) : undefined);
  return { p, bucket, store, body, mirror };
}

describe("the release lock", () => {
  it("GIVEN no release running THEN it is taken atomically, mirrored to SSM for the plan-time check, updated and given back", async () => {
    const w = place();
    const lock = await acquireLock(w.p, bob, { nowMs: T0 });
    expect(w.bucket.mock.commandCalls(PutObjectCommand)[0].args[0].input).toMatchObject({ Key: LOCK_KEY, IfNoneMatch: "*" });
    expect(w.body()).toEqual(bob);
    expect(w.mirror()).toEqual(bob);
    await lock.update({ deploymentId: "d-1" });
    expect(w.body()).toMatchObject({ id: "lock-bob", deploymentId: "d-1" });
    expect(w.mirror()).toMatchObject({ deploymentId: "d-1" });
    expect(await lock.release()).toBeUndefined();
    expect(w.body()).toBeUndefined();
    expect(w.mirror()).toBeUndefined();
  });

  it("GIVEN two runs take it at the same moment THEN exactly one gets it", async () => {
    const w = place();
    const results = await Promise.allSettled([acquireLock(w.p, alice, { nowMs: T0 }), acquireLock(w.p, bob, { nowMs: T0 })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
  });

  it("GIVEN alice's release is running THEN bob is refused, told who, where, since when and how to remove a lock whose run died", async () => {
    const w = place({ lock: { ...alice, deploymentId: "d-ALICE" } });
    const refused = acquireLock(w.p, bob, { nowMs: T0 });
    await expect(refused).rejects.toThrow(
      "another release of dev is running: alice (arn:aws:sts::123456789012:assumed-role/dev/alice) on host laptop-7 since 2025-05-01T09:48:00.000Z (12 min ago), deployment d-ALICE (InProgress).",
    );
    await expect(refused).rejects.toThrow("npm run release -- --env dev --force-unlock");
    expect(w.body()).toMatchObject({ id: "lock-alice" });
  });

  it("GIVEN a lock kept for a deployment that has since ended THEN the refusal says it looks stale and how to remove it", async () => {
    const w = place({ lock: { ...alice, deploymentId: "d-OLD", left: true }, deploymentStatus: "Succeeded" });
    const refused = acquireLock(w.p, bob, { nowMs: T0 });
    await expect(refused).rejects.toThrow(/the release lock of dev looks stale: held by alice .* deployment d-OLD \(Succeeded\), which has ended/);
    await expect(refused).rejects.toThrow("Remove it, then run again: npm run release -- --env dev --force-unlock");
  });

  it("GIVEN a running blue/green release whose deployment has ended (it bakes now) THEN its lock is not called stale", async () => {
    const w = place({ lock: { ...alice, deploymentId: "d-IDLE" }, deploymentStatus: "Succeeded" });
    await expect(acquireLock(w.p, bob, { nowMs: T0 })).rejects.toThrow("another release of dev is running");
  });

  it("GIVEN a release keeps its lock for a deployment it leaves running THEN the lock records it, marked as left", async () => {
    const w = place();
    const lock = await acquireLock(w.p, bob, { nowMs: T0 });
    expect(await lock.keep("d-RB")).toBeUndefined();
    expect(w.body()).toMatchObject({ id: "lock-bob", deploymentId: "d-RB", left: true });
  });

  it("GIVEN the lock was force-removed (and retaken) while a release ran THEN its next change fails and the release stops, touching nothing", async () => {
    const w = place();
    const lock = await acquireLock(w.p, bob, { nowMs: T0 });
    await forceUnlock(w.p, { dryRun: false, nowMs: T0 });
    await acquireLock(w.p, alice, { nowMs: T0 });
    await expect(lock.update({ state: "at bake" })).rejects.toThrow(LockLost);
    expect(w.body()).toEqual(alice);
    expect(await lock.release()).toMatch(/now belongs to alice .* left it alone/);
    expect(w.body()).toEqual(alice);
    expect(w.mirror()).toEqual(alice);
  });

  it("GIVEN --force-unlock of a lock whose deployment still runs THEN it is removed (mirror too), with a note that the deployment goes on", async () => {
    const w = place({ lock: { ...alice, deploymentId: "d-1" } });
    w.store.params.set(MIRROR, JSON.stringify(alice));
    const said = await forceUnlock(w.p, { dryRun: false, nowMs: T0 });
    expect(said).toMatch(/^removed the release lock of dev, held by alice .* deployment d-1 \(InProgress\)/);
    expect(said).toContain("Note: that deployment is still InProgress; removing the lock does not stop it");
    expect(w.body()).toBeUndefined();
    expect(w.mirror()).toBeUndefined();
  });

  it("GIVEN --force-unlock --dry-run THEN it says what it would remove and keeps it", async () => {
    const w = place({ lock: alice });
    expect(await forceUnlock(w.p, { dryRun: true, nowMs: T0, reconcile: async (dry) => [`reconciled, dry run: ${dry}`] })).toMatch(
      /^would remove the release lock of dev, held by alice .*\(dry run: kept\)\nreconciled, dry run: true$/,
    );
    expect(await readLock(w.p)).toBeDefined();
  });

  it("GIVEN no lock THEN --force-unlock says there is nothing to remove", async () => {
    const w = place();
    expect(await forceUnlock(w.p, { dryRun: false, nowMs: T0 })).toMatch(/^no release lock for dev .* nothing to remove/);
  });
});

describe("the mirror while a forced unlock races the holder", () => {
  /** What alice's `--force-unlock` and then her own release leave: her object and her mirror. */
  const aliceTakesOver = (w: ReturnType<typeof place>) => {
    w.bucket.objects.set(LOCK_KEY, { body: JSON.stringify(alice), etag: '"etag-alice"' });
    w.store.params.set(MIRROR, JSON.stringify(alice));
  };
  /** Runs `race` once, just before the next mirror write by bob goes through. */
  const beforeBobsMirror = (w: ReturnType<typeof place>, race: () => void) => {
    let armed = true;
    w.store.mock.on(PutParameterCommand).callsFake((input: { Name: string; Value: string }) => {
      if (armed && input.Name === MIRROR && input.Value.includes("lock-bob")) {
        armed = false;
        race();
      }
      w.store.params.set(input.Name, input.Value);
      return { Version: 1 };
    });
  };
  /** Runs `race` once, just after the next read of the lock object has been answered. */
  const afterNextRead = (w: ReturnType<typeof place>, race: () => void) => {
    let armed = true;
    w.bucket.mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
      const o = w.bucket.objects.get(input.Key);
      if (!o) throw new S3ServiceException({ name: "NoSuchKey", $fault: "client", $metadata: { httpStatusCode: 404 }, message: "NoSuchKey" });
      const out = { ETag: o.etag, Body: { transformToString: async () => o.body } };
      if (armed) {
        armed = false;
        race();
      }
      return out;
    });
  };

  it("GIVEN alice takes the lock between bob's lock write and his mirror write THEN bob's update stops (LockLost) and the mirror names alice, not bob", async () => {
    const w = place();
    const lock = await acquireLock(w.p, bob, { nowMs: T0 });
    beforeBobsMirror(w, () => aliceTakesOver(w));
    await expect(lock.update({ state: "at bake" })).rejects.toThrow(LockLost);
    expect(w.body()).toEqual(alice);
    expect(w.mirror()).toEqual(alice);
  });

  it("GIVEN a forced unlock between bob taking the lock and writing its mirror THEN no mirror names bob, and bob is told to run again", async () => {
    const w = place();
    beforeBobsMirror(w, () => {
      w.bucket.objects.delete(LOCK_KEY);
      w.store.params.delete(MIRROR);
    });
    const taken = acquireLock(w.p, bob, { nowMs: T0 });
    await expect(taken).rejects.toThrow("the release lock of dev was removed (--force-unlock) the moment it was taken: nothing was changed; run again");
    await expect(taken).rejects.toBeInstanceOf(CliError);
    expect(w.body()).toBeUndefined();
    expect(w.mirror()).toBeUndefined();
  });

  it("GIVEN alice takes the lock between bob's last read and his conditional delete THEN bob's release leaves alice's object and mirror alone", async () => {
    const w = place();
    const lock = await acquireLock(w.p, bob, { nowMs: T0 });
    afterNextRead(w, () => aliceTakesOver(w));
    expect(await lock.release()).toBe("the release lock of dev changed hands while this release ended; left it alone");
    expect(w.body()).toEqual(alice);
    expect(w.mirror()).toEqual(alice);
  });

  it("GIVEN bob gives the lock back THEN the mirror goes only after the object's conditional delete", async () => {
    const w = place();
    const lock = await acquireLock(w.p, bob, { nowMs: T0 });
    const order: string[] = [];
    w.store.mock.on(DeleteParameterCommand).callsFake((input: { Name: string }) => {
      order.push(`mirror removed (object ${w.bucket.objects.has(LOCK_KEY) ? "still there" : "gone"})`);
      w.store.params.delete(input.Name);
      return {};
    });
    w.bucket.mock.on(DeleteObjectCommand).callsFake((input: { Key: string; IfMatch?: string }) => {
      order.push(`object deleted if it matches ${input.IfMatch}`);
      w.bucket.objects.delete(input.Key);
      return {};
    });
    expect(await lock.release()).toBeUndefined();
    expect(order).toEqual([expect.stringMatching(/^object deleted if it matches "etag-\d+"$/), "mirror removed (object gone)"]);
    expect(w.mirror()).toBeUndefined();
  });

  it("GIVEN the mirror names someone else when bob gives the lock back THEN bob leaves it alone", async () => {
    const w = place();
    const lock = await acquireLock(w.p, bob, { nowMs: T0 });
    w.store.params.set(MIRROR, JSON.stringify(alice));
    expect(await lock.release()).toBeUndefined();
    expect(w.body()).toBeUndefined();
    expect(w.mirror()).toEqual(alice);
  });

  it("GIVEN someone takes the lock again while --force-unlock removes it THEN the forced unlock fails and the new holder keeps its mirror", async () => {
    const w = place({ lock: alice });
    w.store.params.set(MIRROR, JSON.stringify(alice));
    afterNextRead(w, () => {
      w.bucket.objects.set(LOCK_KEY, { body: JSON.stringify(bob), etag: '"etag-bob"' });
      w.store.params.set(MIRROR, JSON.stringify(bob));
    });
    await expect(forceUnlock(w.p, { dryRun: false, nowMs: T0 })).rejects.toThrow("changed while it was being removed (someone took it again)");
    expect(w.body()).toEqual(bob);
    expect(w.mirror()).toEqual(bob);
  });
});
