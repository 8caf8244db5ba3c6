import { Construct } from "constructs";
import { TerraformOutput, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecureBucket } from "./secure-bucket";
import { PROJECT } from "./names";

export interface StateBucket {
  readonly bucket: string;
  readonly region: string;
}

export interface StateBootstrapStackProps {
  /** The state buckets the environments name (`stateBackend.type: s3`), one per name. */
  readonly buckets: readonly StateBucket[];
}

/**
 * Creates the team's Terraform state bucket(s) once: versioned (every state ever written can
 * be restored), encrypted, public access blocked, TLS only, and `prevent_destroy`. Its own
 * state is local: it is the one stack that cannot keep its state in the bucket it creates.
 */
export class StateBootstrapStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: StateBootstrapStackProps) {
    super(scope, id);
    if (props.buckets.length === 0) throw new Error("buckets ([]) must name at least one state bucket");

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
