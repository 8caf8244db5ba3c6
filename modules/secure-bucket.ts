import { Construct } from "constructs";
import type { TerraformProvider } from "cdktf";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";

export interface SecureBucketProps {
  /** Exact bucket name. One of `bucketName` or `bucketNamePrefix` is required. */
  readonly bucketName?: string;
  /** Name prefix; Terraform appends a unique suffix (bucket names are global). */
  readonly bucketNamePrefix?: string;
  /**
   * Refuse `terraform destroy` of the bucket (lifecycle `prevent_destroy`).
   * @default false
   */
  readonly preventDestroy?: boolean;
  /**
   * Delete every object with the bucket on destroy.
   * @default false - a bucket with objects cannot be destroyed by mistake
   */
  readonly forceDestroy?: boolean;
  /**
   * The AWS provider (region) the bucket is created with.
   * @default - the stack's default AWS provider
   */
  readonly provider?: TerraformProvider;
}

/**
 * An S3 bucket with the baseline every webfleet bucket shares: versioned, encrypted at rest
 * (SSE-S3), all public access blocked, ACLs disabled (bucket owner enforced), and a policy
 * that denies any request not made over TLS.
 */
export class SecureBucket extends Construct {
  readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    if ((props.bucketName === undefined) === (props.bucketNamePrefix === undefined)) {
      throw new Error(`${this.node.path}: give exactly one of bucketName or bucketNamePrefix`);
    }
    const preventDestroy = props.preventDestroy ?? false;
    const provider = props.provider;

    this.bucket = new S3Bucket(this, "bucket", {
      provider,
      bucket: props.bucketName,
      bucketPrefix: props.bucketNamePrefix,
      forceDestroy: props.forceDestroy ?? false,
      lifecycle: preventDestroy ? { preventDestroy: true } : undefined,
    });
    new S3BucketVersioningA(this, "versioning", {
      provider,
      bucket: this.bucket.id,
      versioningConfiguration: { status: "Enabled" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      provider,
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    });
    const publicAccess = new S3BucketPublicAccessBlock(this, "public-access", {
      provider,
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "ownership", {
      provider,
      bucket: this.bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketPolicy(this, "tls-only", {
      provider,
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
      // S3 rejects a policy put while the public access block is being changed.
      dependsOn: [publicAccess],
    });
  }
}
