/**
 * Emptying versioned buckets for the teardown: every version and delete marker across pages,
 * 1,000 a call, throttling tried again; and finding the revision bucket by the name the stack
 * gives it when the published stack no longer says it.
 */
import { Testing } from "cdktf";
import { DeleteObjectsCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { WebfleetStack } from "../../../../modules/webfleet-stack";
import { bucketExists, deleteBucket, deleteVersions, findRevisionBuckets, listVersions } from "../../../../scripts/lib/teardown/buckets";
import { awsError, FakeAccount } from "../../../helpers/fake-account";
import { doc, environment, resources } from "../../../helpers/stack";

const noWait = async () => undefined;

describe("a versioned bucket", () => {
  it("GIVEN more versions than fit a page THEN every version and delete marker is listed", async () => {
    const a = new FakeAccount();
    a.pageSize = 3;
    a.addBucket("b", { k1: "1", k2: "2" });
    a.putVersion("b", "k1", "1b");
    a.putVersion("b", "k2", "", true);
    a.putVersion("b", "k3", "3");
    const versions = await listVersions(a.s3, "b");
    expect(versions.map((v) => `${v.key}@${v.versionId}${v.deleteMarker ? " (marker)" : ""}`).sort()).toEqual([
      "k1@v1",
      "k1@v3",
      "k2@v2",
      "k2@v4 (marker)",
      "k3@v5",
    ]);
    expect(a.callCount(ListObjectVersionsCommand)).toBe(2);
  });

  it("GIVEN 1,001 versions THEN they are deleted in two calls, and the bucket can then go", async () => {
    const a = new FakeAccount();
    a.addBucket("b");
    for (let i = 0; i < 1001; i++) a.putVersion("b", `bundles/${i}.zip`, "x");
    expect(await deleteVersions(a.s3, "b", await listVersions(a.s3, "b"), noWait)).toEqual([]);
    expect(a.callCount(DeleteObjectsCommand)).toBe(2);
    expect(await deleteBucket(a.s3, "b", noWait)).toBe(true);
    expect(await bucketExists(a.s3, "b")).toBe(false);
  });

  it("GIVEN DeleteObjects is throttled once THEN the batch is sent again after a wait", async () => {
    const a = new FakeAccount();
    a.addBucket("b", { k: "1" });
    a.failNext("DeleteObjects", awsError("SlowDown", "Please reduce your request rate.", 503));
    const waits: number[] = [];
    expect(await deleteVersions(a.s3, "b", await listVersions(a.s3, "b"), async (ms) => void waits.push(ms))).toEqual([]);
    expect(waits).toEqual([1000]);
    expect(a.buckets.get("b")!.versions).toEqual([]);
  });

  it("GIVEN the bucket is already gone THEN there is nothing to list, delete or remove", async () => {
    const a = new FakeAccount();
    expect(await listVersions(a.s3, "gone")).toEqual([]);
    expect(await deleteVersions(a.s3, "gone", [{ key: "k", versionId: "v1", deleteMarker: false }], noWait)).toEqual([]);
    expect(await deleteBucket(a.s3, "gone", noWait)).toBe(false);
  });
});

describe("finding the revision bucket by name", () => {
  it("GIVEN buckets of several environments THEN only this environment's, with Terraform's 26-digit suffix, in its region, are found", async () => {
    const a = new FakeAccount();
    a.addBucket("webfleet-dev-revisions-20250101120000000000000001");
    a.addBucket("webfleet-dev-revisions-revisions-2025010112000000000000000a");
    a.addBucket("webfleet-dev2-revisions-20250101120000000000000001");
    a.addBucket("webfleet-dev-revisions-backup");
    a.addBucket("webfleet-dev-revisions-20250101120000000000000002", {}, "eu-west-1");
    expect(await findRevisionBuckets(a.s3, "dev", "us-east-1")).toEqual(["webfleet-dev-revisions-20250101120000000000000001"]);
  });

  it("uses the prefix the stack gives its revision bucket", () => {
    const app = Testing.app();
    new WebfleetStack(app, "webfleet-dev", { config: environment({}, "dev") });
    const json = doc(Testing.synth(app.node.findChild("webfleet-dev") as WebfleetStack));
    const prefixes = resources(json, "aws_s3_bucket").map((b) => b.bucket_prefix);
    expect(prefixes).toEqual(["webfleet-dev-revisions-"]);
  });
});
