/**
 * The region list (config/regions.ts) against the pinned AWS provider: which regions
 * `terraform plan` accepts (regions.test.ts checks the list against the AWS SDK).
 *
 * @slow terraform: a plan with the AWS provider, one provider process per region
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAwsRegion } from "../../config/regions";
import { AWS_PROVIDER_VERSION, detectTerraform, Workspace } from "../helpers/terraform";
import { describeWithTool } from "../helpers/tools";

const detection = detectTerraform();
const describeTerraform = describeWithTool("terraform plan of the newest listed regions", detection.ok ? undefined : detection.why);

describeTerraform(`the pinned AWS provider (${AWS_PROVIDER_VERSION})`, () => {
  // One provider process per region, so only the edges: the newest regions listed, and one left out.
  const accepted = ["ap-east-2", "ap-southeast-7", "mx-central-1"];
  const refused = ["ap-southeast-6"];

  it("plans with the newest listed regions and refuses one the list leaves out", async () => {
    expect(accepted.every(isAwsRegion) && !refused.some(isAwsRegion)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "webfleet-regions-"));
    const alias = (r: string) => r.replaceAll("-", "_");
    writeFileSync(
      join(dir, "main.tf.json"),
      JSON.stringify({
        terraform: { required_providers: { aws: { source: "hashicorp/aws", version: AWS_PROVIDER_VERSION } } },
        // No skip_region_validation: the provider's own region check is what is tested.
        provider: {
          aws: [...accepted, ...refused].map((region) => ({
            alias: alias(region),
            region,
            skip_credentials_validation: true,
            skip_requesting_account_id: true,
            skip_metadata_api_check: "true",
          })),
        },
        resource: {
          aws_sns_topic: Object.fromEntries([...accepted, ...refused].map((r) => [alias(r), { provider: `aws.${alias(r)}`, name: "webfleet-region-check" }])),
        },
      }),
    );
    const ws = new Workspace(detection.ok ? detection.tooling : undefined!, dir);
    try {
      expect((await ws.init()).output).toContain("Terraform has been successfully initialized");
      const plan = await ws.run(["plan", "-input=false", "-refresh=false"]);
      expect(plan.output.match(/invalid AWS Region: [\w-]+/g)?.sort()).toEqual(refused.map((r) => `invalid AWS Region: ${r}`));
    } finally {
      for (const folder of [dir, ws.dir]) rmSync(folder, { recursive: true, force: true });
    }
  });
});
