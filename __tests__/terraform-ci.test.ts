/**
 * `terraform plan` (which validates first) of the CI stack (webfleet-ci), offline, with the
 * machine's terraform and its mirror of the AWS provider, like the environments'
 * (terraform.test.ts). The stack reads no data source, so it plans with fake credentials.
 *
 * @slow terraform: plans with the AWS provider
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { buildApp } from "../main";
import { CI_IAM_PATH, CI_SESSION_SECONDS, CI_STACK, ciRoleName } from "../modules/names";
import { detectTerraform, removeSharedWorkspaces, sharedWorkspace, stackDirOf } from "./helpers/terraform";
import { describeWithTool } from "./helpers/tools";

const ROOT = resolve(__dirname, "..");
const detection = detectTerraform();
const describeTerraform = describeWithTool("terraform validate/plan of the CI stack", detection.ok ? undefined : detection.why);

const outdir = mkdtempSync(join(tmpdir(), "webfleet-ci-synth-"));
// The shipped example (config/github/ci.yaml): the stack creates the OIDC provider.
const shipped = buildApp({ outdir: join(outdir, "shipped") });
shipped.app.synth();
// Every option: an existing provider, immutable ids, a boundary, an environment with one role,
// and state in S3 (so the plan role may read the CI stack itself).
const variantDir = mkdtempSync(join(tmpdir(), "webfleet-ci-config-"));
copyFileSync(join(ROOT, "config/dev.yaml"), join(variantDir, "dev.yaml"));
copyFileSync(join(ROOT, "config/prod.yaml"), join(variantDir, "prod.yaml"));
mkdirSync(join(variantDir, "github"));
writeFileSync(
  join(variantDir, "github", "ci.yaml"),
  [
    'accountId: "123456789012"',
    "region: eu-west-1",
    "repository: example-org/webfleet",
    "immutableIds: { owner: 1234567, repository: 890123456 }",
    "oidcProviderArn: arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
    "permissionsBoundaryArn: arn:aws:iam::123456789012:policy/ci-boundary",
    "environments: { dev: { roles: [release] }, prod: {} }",
    "stateBackend: { type: s3, bucket: example-webfleet-terraform-state, region: eu-west-1 }",
    "",
  ].join("\n"),
);
const variant = buildApp({ outdir: join(outdir, "variant"), configDir: variantDir });
variant.app.synth();

const resourceCount = (dir: string) =>
  Object.values((JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")).resource ?? {}) as Record<string, object>).reduce(
    (n, byName) => n + Object.keys(byName).length,
    0,
  );

interface PlannedResource {
  readonly address: string;
  readonly type: string;
  readonly values: Record<string, unknown>;
}

describeTerraform("terraform (offline) of the CI stack", () => {
  const tooling = detection.ok ? detection.tooling : undefined!;
  const scratch: string[] = [];
  afterAll(async () => {
    await removeSharedWorkspaces();
    for (const folder of [outdir, variantDir, ...scratch]) rmSync(folder, { recursive: true, force: true });
  });

  it("is built from the shipped CI configuration, and from the variant", () => {
    expect(shipped.app.node.tryFindChild(CI_STACK)).toBeDefined();
    expect(variant.broken).toEqual([]);
    expect(variant.app.node.tryFindChild(CI_STACK)).toBeDefined();
  });

  /** The variant's roles as configured: trust in the existing provider, the immutable claims, the boundary. */
  function checkVariant(resources: PlannedResource[]): void {
    expect(resources.filter((r) => r.type === "aws_iam_openid_connect_provider")).toEqual([]);
    const roles: Record<string, Record<string, unknown>> = Object.fromEntries(
      resources.filter((r) => r.type === "aws_iam_role").map((r) => [String(r.values.name), r.values]),
    );
    expect(Object.keys(roles).sort()).toEqual(
      [ciRoleName("release", "dev"), ciRoleName("plan"), ciRoleName("release", "prod"), ciRoleName("deploy", "prod")].sort(),
    );
    for (const role of Object.values(roles)) {
      expect(role.permissions_boundary).toBe("arn:aws:iam::123456789012:policy/ci-boundary");
      expect(JSON.parse(String(role.assume_role_policy)).Statement[0].Principal.Federated).toBe(
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
      );
    }
    expect(JSON.parse(String(roles[ciRoleName("deploy", "prod")].assume_role_policy)).Statement[0].Condition.StringEquals).toEqual({
      "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
      "token.actions.githubusercontent.com:sub": ["repo:example-org@1234567/webfleet@890123456:environment:prod"],
    });
  }

  /** The shipped example creates the provider: the roles' trust names it, so it is known only after apply. */
  function checkShipped(resources: PlannedResource[], unknown: Record<string, Record<string, unknown>>): void {
    expect(resources.filter((r) => r.type === "aws_iam_openid_connect_provider").map((r) => r.values)).toEqual([
      expect.objectContaining({ url: "https://token.actions.githubusercontent.com", client_id_list: ["sts.amazonaws.com"] }),
    ]);
    for (const role of resources.filter((r) => r.type === "aws_iam_role")) {
      expect(role.values.permissions_boundary).toBeNull();
      expect(unknown[role.address].assume_role_policy).toBe(true);
    }
  }

  test.concurrent.each([
    ["the shipped example", join(outdir, "shipped"), "shipped"],
    ["every option", join(outdir, "variant"), "variant"],
  ])("plans %s, creating every resource as configured", async (_what, root, which) => {
    const dir = stackDirOf(root, CI_STACK);
    expect(JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")).data).toBeUndefined();
    // Offline there is no account to compare allowed_account_ids with (the provider refuses an
    // unknown one): that guard is the CI stack test's to check; the rest is planned as it is.
    let allowed: unknown;
    const ws = await sharedWorkspace(tooling, dir, {
      edit: (json) => {
        const provider = json.provider!.aws![0];
        allowed = provider.allowed_account_ids;
        delete provider.allowed_account_ids;
      },
    });
    expect(allowed).toEqual(["123456789012"]);

    // No separate validate: plan validates the configuration first (and each run loads the
    // provider's schema, seconds of CPU). The plan file goes outside the shared workspace.
    const planFile = join(mkdtempSync(join(tmpdir(), "webfleet-ci-plan-")), "ci.tfplan");
    scratch.push(dirname(planFile));
    const plan = await ws.run(["plan", "-input=false", "-lock=false", "-detailed-exitcode", `-out=${planFile}`]);
    expect(plan.output).not.toMatch(/Error:/);
    expect(plan.code).toBe(2); // 2: the plan succeeded and has changes
    expect(plan.output).toContain(`Plan: ${resourceCount(dir)} to add, 0 to change, 0 to destroy.`);

    // What Terraform would create, as it computed it.
    const shown = await ws.run(["show", "-json", planFile]);
    expect(shown.code).toBe(0);
    const planJson = JSON.parse(shown.output);
    const resources = planJson.planned_values.root_module.resources as PlannedResource[];
    const roles = resources.filter((r) => r.type === "aws_iam_role");
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) {
      const name = String(role.values.name);
      expect(role.values.path).toBe(CI_IAM_PATH);
      const kind = name === ciRoleName("plan") ? "plan" : (name.split("-").at(-1) as "release" | "deploy");
      expect([name, role.values.max_session_duration]).toEqual([name, CI_SESSION_SECONDS[kind]]);
    }
    // Each listed environment's workload boundary (the deploy roles' conditions name it), at the
    // CI path, as a document Terraform took; the output says what each environment's file sets.
    const boundaries = resources
      .filter((r) => r.type === "aws_iam_policy" && String(r.values.name).endsWith("-workload-boundary"))
      .map((r) => [r.values.name, r.values.path, JSON.parse(String(r.values.policy)).Statement.length > 0]);
    expect(boundaries.sort()).toEqual([
      ["webfleet-dev-workload-boundary", CI_IAM_PATH, true],
      ["webfleet-prod-workload-boundary", CI_IAM_PATH, true],
    ]);
    expect(planJson.planned_values.outputs.workload_permissions_boundaries.value).toEqual({
      dev: `arn:aws:iam::123456789012:policy${CI_IAM_PATH}webfleet-dev-workload-boundary`,
      prod: `arn:aws:iam::123456789012:policy${CI_IAM_PATH}webfleet-prod-workload-boundary`,
    });
    if (which === "variant") checkVariant(resources);
    else {
      const unknown = Object.fromEntries(
        (planJson.resource_changes as Array<{ address: string; change: { after_unknown: Record<string, unknown> } }>).map((c) => [
          c.address,
          c.change.after_unknown,
        ]),
      );
      checkShipped(resources, unknown);
    }
  });
});
