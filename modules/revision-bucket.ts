import { Construct } from "constructs";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { SecureBucket } from "./secure-bucket";

export interface RevisionBucketProps {
  /** Bucket name prefix; a unique suffix is appended (bucket names are global). */
  readonly bucketNamePrefix: string;
  /**
   * Days a replaced revision object version is kept before S3 deletes it.
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
}

/**
 * Where `npm run release` uploads revision bundles for CodeDeploy. Secure by
 * {@link SecureBucket}; bundles are content-addressed, so old versions only pile up when a
 * key is rewritten, and a lifecycle rule expires those.
 */
export class RevisionBucket extends Construct {
  readonly bucketName: string;
  readonly bucketArn: string;

  constructor(scope: Construct, id: string, props: RevisionBucketProps) {
    super(scope, id);
    const days = props.noncurrentVersionExpirationDays ?? 90;
    if (!Number.isInteger(days) || days < 1) {
      throw new Error(`noncurrentVersionExpirationDays (${days}) must be a whole number >= 1`);
    }
    const secure = new SecureBucket(this, "secure", { bucketNamePrefix: props.bucketNamePrefix });
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket: secure.bucket.id,
      rule: [
        {
          id: "expire-replaced-revisions",
          status: "Enabled",
          filter: [{ prefix: "" }],
          noncurrentVersionExpiration: [{ noncurrentDays: days }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });
    this.bucketName = secure.bucket.bucket;
    this.bucketArn = secure.bucket.arn;
  }
}
