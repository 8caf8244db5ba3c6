import { Construct } from "constructs";
import { S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecureBucket } from "./secure-bucket";
import { BOOTSTRAP_STACK, PROJECT } from "./names";
import { useLockfile } from "./state-backend";

export interface StateBucket {
  readonly bucket: string;
  readonly region: string;
}

export interface StateBootstrapStackProps {
  /** The state buckets the environments name (`stateBackend.type: s3`), one per name. */
  readonly buckets: readonly StateBucket[];
  /**
   * The very first run, before any state bucket exists: the stack's own state stays local
   * (`WEBFLEET_BOOTSTRAP_FIRST_RUN=1`). The next run moves it into the bucket (`--migrate-state`).
   * @default false - the stack's state lives in its home bucket ({@link bootstrapStateHome})
   */
  readonly firstRun?: boolean;
}

/** Where the bootstrap stack keeps its own state: in the state bucket whose name sorts first. */
export function bootstrapStateHome(buckets: readonly StateBucket[]): StateBucket & { readonly key: string } {
  const [home] = [...buckets].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  return { ...home, key: `${PROJECT}/${BOOTSTRAP_STACK}.tfstate` };
}

/**
 * Creates the team's Terraform state bucket(s): versioned (every state ever written can be
 * restored), encrypted, public access blocked, TLS only, and `prevent_destroy`.
 *
 * Its own state lives in the bucket it created (the first by name), so that a run from any
 * checkout reads what exists and never plans to create an existing bucket again (S3 refuses
 * with BucketAlreadyOwnedByYou; us-east-1 answers OK, and two states then manage one bucket). An import
 * block cannot do this: it fails for a bucket that does not exist yet, which is every bucket
 * added later. Only the very first run, when no bucket exists, keeps its state local
 * ({@link StateBootstrapStackProps.firstRun}); the next run moves it into the bucket.
 */
export class StateBootstrapStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: StateBootstrapStackProps) {
    super(scope, id);
    if (props.buckets.length === 0) throw new Error("buckets ([]) must name at least one state bucket");
    if (!props.firstRun) {
      const home = bootstrapStateHome(props.buckets);
      new S3Backend(this, { bucket: home.bucket, key: home.key, region: home.region, encrypt: true });
      // S3's own lock file (Terraform >= 1.10): two people re-running the bootstrap wait for each other.
      useLockfile(this);
    }

    const regions = [...new Set(props.buckets.map((b) => b.region))].sort();
    const providers = new Map(
      regions.map((region, i) => [
        region,
        new AwsProvider(this, `aws-${region}`, {
          region,
          alias: i === 0 ? undefined : region.replace(/-/g, "_"),
          defaultTags: [{ tags: { project: PROJECT, purpose: "terraform-state", "managed-by": "cdktf" } }],
        }),
      ]),
    );

    const seen = new Set<string>();
    for (const b of props.buckets) {
      if (seen.has(b.bucket)) continue;
      seen.add(b.bucket);
      const secure = new SecureBucket(this, b.bucket, { bucketName: b.bucket, preventDestroy: true, provider: providers.get(b.region) });
      new TerraformOutput(this, `${b.bucket}-arn`, { value: secure.bucket.arn, description: `state bucket ${b.bucket} (${b.region})` });
    }
  }
}
