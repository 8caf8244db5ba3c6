import { mockClient } from "aws-sdk-client-mock";
import { CodeDeployClient, GetDeploymentCommand } from "@aws-sdk/client-codedeploy";
import { PutParameterCommand } from "@aws-sdk/client-ssm";
import { acquireLock, forceUnlock, type LockInfo } from "../../../../scripts/lib/release/lock";
import { T0, fakeParameterStore } from "../../../helpers/aws-fakes";

const LOCK = "/webfleet/dev/release-lock";
const alice: LockInfo = {
  id: "lock-alice",
  user: "alice (arn:aws:sts::123456789012:assumed-role/dev/alice)",
  host: "laptop-7",
  startedAt: "2025-05-01T09:48:00.000Z",
};
const bob: LockInfo = { id: "lock-bob", user: "bob", host: "ci-runner-3", startedAt: "2025-05-01T10:00:00.000Z" };

describe("the release lock", () => {
  it("GIVEN no release running THEN the lock is taken with Overwrite=false and deleted at the end", async () => {
    const { client, mock, params } = fakeParameterStore({});
    const lock = await acquireLock(client, "dev", bob, { nowMs: T0 });
    expect(mock.commandCalls(PutParameterCommand)[0].args[0].input).toMatchObject({ Name: LOCK, Overwrite: false });
    expect(JSON.parse(params.get(LOCK)!)).toEqual(bob);
    await lock.update({ deploymentId: "d-1" });
    expect(JSON.parse(params.get(LOCK)!)).toMatchObject({ id: "lock-bob", deploymentId: "d-1" });
    expect(await lock.release()).toBeUndefined();
    expect(params.has(LOCK)).toBe(false);
  });

  it("GIVEN alice's release is running THEN bob is refused, told who, where, since when and how to remove a stale lock", async () => {
    const { client } = fakeParameterStore({ [LOCK]: JSON.stringify({ ...alice, deploymentId: "d-ALICE" }) });
    const codedeploy = new CodeDeployClient({ region: "us-east-1" });
    mockClient(codedeploy)
      .on(GetDeploymentCommand)
      .resolves({ deploymentInfo: { status: "InProgress" } });
    const refused = acquireLock(client, "dev", bob, { nowMs: T0, codedeploy });
    await expect(refused).rejects.toThrow(
      "another release of dev is running: alice (arn:aws:sts::123456789012:assumed-role/dev/alice) on host laptop-7 since 2025-05-01T09:48:00.000Z (12 min ago), deployment d-ALICE (InProgress).",
    );
    await expect(refused).rejects.toThrow("npm run release -- --env dev --force-unlock");
  });

  it("GIVEN a lock whose deployment has ended THEN the refusal says it looks stale, not that a release is running, and how to remove it", async () => {
    const { client } = fakeParameterStore({ [LOCK]: JSON.stringify({ ...alice, deploymentId: "d-OLD" }) });
    const codedeploy = new CodeDeployClient({ region: "us-east-1" });
    mockClient(codedeploy)
      .on(GetDeploymentCommand)
      .resolves({ deploymentInfo: { status: "Succeeded" } });
    const refused = acquireLock(client, "dev", bob, { nowMs: T0, codedeploy });
    await expect(refused).rejects.toThrow(
      "the release lock of dev looks stale: held by alice (arn:aws:sts::123456789012:assumed-role/dev/alice) on host laptop-7 since 2025-05-01T09:48:00.000Z (12 min ago), deployment d-OLD (Succeeded), which has ended",
    );
    await expect(refused).rejects.toThrow("Remove it, then release again: npm run release -- --env dev --force-unlock");
    await expect(refused).rejects.not.toThrow("is running");
  });

  it("GIVEN a release keeps its lock for a deployment it leaves running THEN the lock records that deployment (a rollback's replaces the failed one's)", async () => {
    const { client, params } = fakeParameterStore({});
    const lock = await acquireLock(client, "dev", bob, { nowMs: T0 });
    await lock.update({ deploymentId: "d-1" });
    expect(await lock.keep("d-RB")).toBeUndefined();
    expect(JSON.parse(params.get(LOCK)!)).toMatchObject({ id: "lock-bob", deploymentId: "d-RB" });
    params.delete(LOCK);
    expect(await lock.keep("d-RB")).toMatch(/already gone .* nothing keeps npm run deploy from replacing instances under d-RB/);
    expect(params.has(LOCK)).toBe(false);
  });

  it("GIVEN --force-unlock of a lock whose deployment still runs THEN it is removed, with a note that the deployment goes on", async () => {
    const { client, params } = fakeParameterStore({ [LOCK]: JSON.stringify({ ...alice, deploymentId: "d-1" }) });
    const codedeploy = new CodeDeployClient({ region: "us-east-1" });
    mockClient(codedeploy)
      .on(GetDeploymentCommand)
      .resolves({ deploymentInfo: { status: "InProgress" } });
    const said = await forceUnlock(client, "dev", { dryRun: false, nowMs: T0, codedeploy });
    expect(said).toMatch(/^removed the release lock of dev, held by alice .* deployment d-1 \(InProgress\)/);
    expect(said).toContain("Note: that deployment is still InProgress; removing the lock does not stop it");
    expect(params.has(LOCK)).toBe(false);
  });

  it("GIVEN the lock was force-removed and retaken by someone else THEN release leaves theirs alone", async () => {
    const { client, params } = fakeParameterStore({});
    const lock = await acquireLock(client, "dev", bob, { nowMs: T0 });
    params.set(LOCK, JSON.stringify(alice));
    expect(await lock.release()).toMatch(/now belongs to alice .* left it alone/);
    expect(JSON.parse(params.get(LOCK)!).id).toBe("lock-alice");
  });

  it("GIVEN --force-unlock THEN the lock is removed and its holder named; with --dry-run it is kept", async () => {
    const { client, params } = fakeParameterStore({ [LOCK]: JSON.stringify(alice) });
    expect(await forceUnlock(client, "dev", { dryRun: true, nowMs: T0 })).toMatch(/^would remove the release lock of dev, held by alice .*\(dry run: kept\)/);
    expect(params.has(LOCK)).toBe(true);
    expect(await forceUnlock(client, "dev", { dryRun: false, nowMs: T0 })).toMatch(/^removed the release lock of dev, held by alice/);
    expect(params.has(LOCK)).toBe(false);
    expect(await forceUnlock(client, "dev", { dryRun: false, nowMs: T0 })).toMatch(/no release lock for dev/);
  });
});
