/**
 * `terraform validate` and `terraform plan` of every synthesized stack, offline, with the
 * machine's terraform and its mirror of the AWS provider (the version @cdktf/provider-aws is
 * generated from). The `offline` environment (fixtures) has explicit VPC, subnet and AMI ids,
 * so its plan reads no data source and needs no AWS account.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { buildApp } from "../main";
import { BOOTSTRAP_STACK, stackName } from "../modules/names";
import { AWS_PROVIDER_VERSION, detectTerraform, stackDirOf, Workspace } from "./helpers/terraform";
import { describeWithTool } from "./helpers/tools";

const detection = detectTerraform();
const describeTerraform = describeWithTool("terraform validate/plan of the synthesized stacks", detection.ok ? undefined : detection.why);

const outdir = mkdtempSync(join(tmpdir(), "webfleet-synth-"));
const shipped = buildApp({ outdir: join(outdir, "shipped") });
shipped.app.synth();
const offline = buildApp({ outdir: join(outdir, "offline"), configDir: resolve(__dirname, "fixtures/config") });
offline.app.synth();
// The offline environment, but blue's AMI parameter would start as stock Amazon Linux.
const stockDir = mkdtempSync(join(tmpdir(), "webfleet-stock-"));
writeFileSync(
  join(stockDir, "stock.yaml"),
  readFileSync(resolve(__dirname, "fixtures/config/offline.yaml"), "utf8").replace("blue: { id: ami-0123456789abcdef0 }", "blue: { parameter: {} }"),
);
buildApp({ outdir: join(outdir, "stock"), configDir: stockDir }).app.synth();

const resourceCount = (dir: string) =>
  Object.values((JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")).resource ?? {}) as Record<string, object>).reduce(
    (n, byName) => n + Object.keys(byName).length,
    0,
  );

describeTerraform("terraform (offline, AWS provider mirror)", () => {
  const tooling = detection.ok ? detection.tooling : undefined!;

  const shippedStacks = shipped.app.node.children.map((c) => c.node.id);

  it("synthesizes a stack per environment file plus the state bootstrap stack", () => {
    expect(shippedStacks.sort()).toEqual([BOOTSTRAP_STACK, stackName("dev"), stackName("prod")].sort());
  });

  test.concurrent.each(shippedStacks)("validates %s", async (stack) => {
    const ws = new Workspace(tooling, stackDirOf(join(outdir, "shipped"), stack));
    const init = await ws.init(["-backend=false"]);
    expect(init.output).toContain("Terraform has been successfully initialized");
    // Linked straight from the read-only mirror: no workspace can pull another's provider away.
    const linked = ws.providerLinks().map((target) => relative(tooling.mirror, target));
    expect(linked).toEqual([
      expect.stringMatching(new RegExp(`^registry\\.terraform\\.io/hashicorp/aws/${AWS_PROVIDER_VERSION.replaceAll(".", "\\.")}/\\w+$`)),
    ]);
    const validate = await ws.run(["validate"]);
    expect(validate.output).toContain("Success! The configuration is valid.");
  });

  test.concurrent.each([
    ["the offline environment", join(outdir, "offline"), stackName("offline")],
    ["the state bootstrap", join(outdir, "shipped"), BOOTSTRAP_STACK],
  ])("plans %s without errors, creating every resource", async (_what, root, stack) => {
    const dir = stackDirOf(root, stack);
    expect(JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")).data).toBeUndefined();
    const ws = new Workspace(tooling, dir);
    ws.prepareOfflinePlan();
    expect((await ws.init()).output).toContain("Terraform has been successfully initialized");
    const plan = await ws.run(["plan", "-input=false", "-lock=false", "-detailed-exitcode"]);
    expect(plan.output).not.toMatch(/Error:/);
    expect(plan.code).toBe(2); // 2: the plan succeeded and has changes
    const expected = resourceCount(dir);
    expect(plan.output).toContain(`Plan: ${expected} to add, 0 to change, 0 to destroy.`);
    expect(plan.output).toMatch(/# aws_autoscaling_group\.|# aws_s3_bucket\./);
  });

  it("refuses in the plan to boot a fleet with capacity from a stock image, creating nothing", async () => {
    const ws = new Workspace(tooling, stackDirOf(join(outdir, "stock"), stackName("stock")));
    ws.prepareOfflinePlan();
    expect((await ws.init()).output).toContain("Terraform has been successfully initialized");
    const plan = await ws.run(["plan", "-input=false", "-lock=false", "-detailed-exitcode"]);
    expect(plan.code).toBe(1);
    expect(plan.output).toContain("Resource precondition failed");
    expect(plan.output.replace(/\s+/g, " ")).toContain("the blue fleet (desired 2) would boot a stock Amazon Linux image");
  });
});
