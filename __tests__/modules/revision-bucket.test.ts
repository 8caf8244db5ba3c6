import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { RevisionBucket } from "../../modules/revision-bucket";
import { SecureBucket } from "../../modules/secure-bucket";
import { doc, resources, synthConstruct } from "../helpers/stack";

const synth = () => synthConstruct((scope) => new RevisionBucket(scope, "rev", { bucketNamePrefix: "webfleet-test-revisions-" }));

describe("RevisionBucket", () => {
  it("is versioned, encrypted and blocks all public access", () => {
    const out = synth();
    expect(out).toHaveResourceWithProperties(S3Bucket, { bucket_prefix: "webfleet-test-revisions-", force_destroy: false });
    expect(out).toHaveResourceWithProperties(S3BucketVersioningA, { versioning_configuration: { status: "Enabled" } });
    expect(out).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    const [sse] = resources(doc(out), "aws_s3_bucket_server_side_encryption_configuration");
    expect(JSON.stringify(sse)).toContain('"sse_algorithm":"AES256"');
  });

  it("denies every request that is not made over TLS", () => {
    const [policy] = resources(doc(synth()), "aws_s3_bucket_policy");
    const statement = JSON.parse(String(policy.policy)).Statement[0];
    expect(statement).toMatchObject({ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(policy.depends_on).toEqual([expect.stringContaining("aws_s3_bucket_public_access_block")]);
  });

  it("expires replaced revisions after 90 days", () => {
    const [rule] = resources(doc(synth()), "aws_s3_bucket_lifecycle_configuration");
    expect(JSON.stringify(rule)).toContain('"noncurrent_days":90');
  });

  it("refuses a bucket with both or neither of name and prefix", () => {
    expect(() => synthConstruct((s) => new SecureBucket(s, "b", {}))).toThrow("give exactly one of bucketName or bucketNamePrefix");
    expect(() => synthConstruct((s) => new RevisionBucket(s, "b", { bucketNamePrefix: "x-", noncurrentVersionExpirationDays: 0 }))).toThrow(
      "noncurrentVersionExpirationDays (0) must be a whole number >= 1",
    );
  });
});
