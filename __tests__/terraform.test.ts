/**
 * Every synthesized stack through the real terraform, offline, with the machine's mirror of the
 * AWS provider (the version @cdktf/provider-aws is generated from); each is planned, and a plan
 * (or a test) validates the configuration first:
 * - a real `terraform plan` of the `offline` fixture and of the state bootstrap: the plan reads
 *   only the release lock and the account from AWS, which a local stand-in answers;
 * - the plan-time lock check, for real: a plan and a destroy refused while someone else holds
 *   the lock, and passed by the holder's own lock id;
 * - `terraform test` plans of every shipped environment with mocked data sources (dev reads the
 *   default VPC, prod reads zones), asserting what matters in each plan.
 * One `terraform init` per synthesized stack in the run, shared by every suite (sharedWorkspace).
 *
 * @slow terraform: plans, tests and destroys with the AWS provider
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { buildApp } from "../main";
import type { EnvironmentConfig } from "../config/load";
import { BOOTSTRAP_STACK, COLORS, LOCK_ID_VARIABLE, releaseParameters, RELEASE_STATE_VARIABLES, stackName } from "../modules/names";
import type { WebfleetStack } from "../modules/webfleet-stack";
import { startFakeAwsEndpoint, type FakeAwsEndpoint } from "./helpers/fake-aws-endpoint";
import { addressOf, AWS_PROVIDER_VERSION, detectTerraform, hcl, removeSharedWorkspaces, sharedWorkspace, stackDirOf, Workspace } from "./helpers/terraform";
import {
  assertBlock,
  expectedWeights,
  listenerWeights,
  MOCK_DEFAULT_SUBNETS,
  mockAwsProvider,
  mockZones,
  targetGroupArn,
  targetGroupOverrides,
} from "./helpers/tftest";
import { describeWithTool } from "./helpers/tools";

const detection = detectTerraform();
const describeTerraform = describeWithTool("terraform validate/plan/test of the synthesized stacks", detection.ok ? undefined : detection.why);

const outdir = mkdtempSync(join(tmpdir(), "webfleet-synth-"));
const shipped = buildApp({ outdir: join(outdir, "shipped") });
shipped.app.synth();
const fixtures = buildApp({ outdir: join(outdir, "fixtures"), configDir: resolve(__dirname, "fixtures/config") });
fixtures.app.synth();

const dirOf = (root: "shipped" | "fixtures", stack: string) => stackDirOf(join(outdir, root), stack);
const environment = (built: typeof shipped, name: string) => {
  const config = built.environments.find((e) => e.name === name)!;
  return { config, stack: built.app.node.findChild(stackName(name)) as WebfleetStack, dir: dirOf(built === shipped ? "shipped" : "fixtures", stackName(name)) };
};
const cdkJson = (dir: string) => JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8"));
const resourceCount = (dir: string) =>
  Object.values((cdkJson(dir).resource ?? {}) as Record<string, object>).reduce((n, byName) => n + Object.keys(byName).length, 0);
/** The address of what a construct path (`webfleet-prod/network/public-0`) synthesized to. */
const addressAt = (dir: string, path: string) => {
  for (const [kind, byType] of Object.entries({ resource: cdkJson(dir).resource, data: cdkJson(dir).data }))
    for (const [type, byName] of Object.entries((byType ?? {}) as Record<string, Record<string, { "//"?: { metadata?: { path?: string } } }>>))
      for (const [name, body] of Object.entries(byName)) if (body["//"]?.metadata?.path === path) return `${kind === "data" ? "data." : ""}${type}.${name}`;
  throw new Error(`nothing synthesized at ${path}`);
};

/** A holder of the lock, as the release tooling mirrors it. */
const HOLDER = {
  id: "3f6b1c9e-5d2a-4e8f-9a7b-1c2d3e4f5a6b",
  user: "ana",
  host: "ci-runner-7",
  startedAt: "2026-12-01T10:00:00Z",
  purpose: "release",
  deploymentId: "d-ABC123XYZ",
};
const BAKED = { blue: "ami-0b1e0b1e0b1e0b1e0", green: "ami-0a0a0a0a0a0a0a0a0" };

describeTerraform("terraform (offline, AWS provider mirror)", () => {
  const tooling = detection.ok ? detection.tooling : undefined!;
  const endpoints: FakeAwsEndpoint[] = [];
  const scratch: string[] = [];
  const endpoint = async () => {
    const e = await startFakeAwsEndpoint();
    endpoints.push(e);
    return e;
  };
  afterAll(async () => {
    await Promise.all(endpoints.map((e) => e.close()));
    await removeSharedWorkspaces();
    for (const dir of [outdir, ...scratch]) rmSync(dir, { recursive: true, force: true });
  });
  // The offline fixture's plan reads the lock and the account from one stand-in.
  let offlineAws: Promise<FakeAwsEndpoint> | undefined;
  const workspaceOf = (root: "shipped" | "fixtures", stack: string) => sharedWorkspace(tooling, dirOf(root, stack));

  const own = [stackName("dev"), stackName("prod"), BOOTSTRAP_STACK];

  it("synthesizes a stack per environment file plus the state bootstrap stack", () => {
    expect(shipped.app.node.children.map((c) => c.node.id)).toEqual(expect.arrayContaining(own));
  });

  test.concurrent.each([...own.map((s) => ["shipped", s]), ["fixtures", stackName("offline")]] as Array<["shipped" | "fixtures", string]>)(
    // No separate `terraform validate`: each stack is planned below, and plan and test validate
    // the configuration first (a validate would load the provider's schema once more for nothing).
    "initializes %s %s once, linking the provider from the read-only mirror",
    async (root, stack) => {
      const ws = await workspaceOf(root, stack);
      // Linked straight from the mirror: no workspace can pull another's provider away.
      const linked = ws.providerLinks().map((target) => relative(tooling.mirror, target));
      expect(linked).toEqual([
        expect.stringMatching(new RegExp(`^registry\\.terraform\\.io/hashicorp/aws/${AWS_PROVIDER_VERSION.replaceAll(".", "\\.")}/\\w+$`)),
      ]);
    },
  );

  it.concurrent("plans the state bootstrap for real, creating every resource and reading nothing", async () => {
    const dir = dirOf("shipped", BOOTSTRAP_STACK);
    expect(cdkJson(dir).data).toBeUndefined();
    const ws = await sharedWorkspace(tooling, dir);
    const plan = await ws.run(["plan", "-input=false", "-lock=false", "-detailed-exitcode"]);
    expect(plan.output).not.toMatch(/Error:/);
    expect(plan.code).toBe(2); // 2: the plan succeeded and has changes
    expect(plan.output).toContain(`Plan: ${resourceCount(dir)} to add, 0 to change, 0 to destroy.`);
  });

  it.concurrent(
    "plans the offline environment for real, reading from AWS only the release lock and the account",
    async () => {
      // GIVEN the offline environment, whose plan reads from AWS only the lock and the account
      const aws = await (offlineAws ??= endpoint());
      const dir = dirOf("fixtures", stackName("offline"));
      const ws = await workspaceOf("fixtures", stackName("offline"));
      const plan = (...args: string[]) => ws.run(["plan", "-input=false", "-lock=false", "-detailed-exitcode", ...args], { endpoint: aws.url });

      // WHEN nobody holds the lock THEN the plan creates every resource
      const free = await plan();
      expect(free.output).not.toMatch(/Error:/);
      expect(free.code).toBe(2);
      expect(free.output).toContain(`Plan: ${resourceCount(dir)} to add, 0 to change, 0 to destroy.`);
      expect(aws.calls.map((c) => c.split(" ")[0]).sort()).toEqual(["GetCallerIdentity", "GetParametersByPath"]);
      expect(aws.calls.find((c) => c.startsWith("GetParametersByPath"))).toContain(`"Path":"${releaseParameters("offline").lockFolder}"`);

      // (A plan while a release holds the lock, refused and naming the holder: the destroy below,
      // with this same real read, and release-invariant.test.ts, for every state a release leaves.)
    },
    600000,
  );

  it.concurrent(
    "refuses a destroy while someone holds the lock, even one whose holder is unreadable (a postcondition would only warn there), and lets the holder's destroy through",
    async () => {
      // GIVEN the stack's lock check, cut out of the synthesized offline stack with one resource to destroy
      const full = cdkJson(dirOf("fixtures", stackName("offline")));
      const lockCheck = {
        terraform: { required_providers: full.terraform.required_providers, required_version: full.terraform.required_version },
        provider: full.provider,
        variable: { [LOCK_ID_VARIABLE]: full.variable[LOCK_ID_VARIABLE] },
        locals: full.locals,
        data: { aws_ssm_parameters_by_path: full.data.aws_ssm_parameters_by_path },
        resource: { terraform_data: { probe: { input: "exists" } } },
      };
      const dir = mkdtempSync(join(tmpdir(), "webfleet-lock-destroy-"));
      scratch.push(dir);
      const config = join(dir, "cdk.tf.json");
      writeFileSync(config, JSON.stringify(lockCheck));
      const ws = new Workspace(tooling, dir);
      scratch.push(ws.dir);
      ws.prepareOfflinePlan();
      expect((await ws.init()).output).toContain("Terraform has been successfully initialized");
      // Something to destroy (with an empty state a destroy plans nothing and checks nothing): the
      // probe alone, applied without the lock check, needs no AWS provider, so it takes no provider
      // start; the state it leaves is the one the whole configuration would leave.
      const prepared = readFileSync(join(ws.dir, "cdk.tf.json"), "utf8");
      writeFileSync(
        join(ws.dir, "cdk.tf.json"),
        JSON.stringify({ terraform: { backend: JSON.parse(prepared).terraform.backend }, resource: lockCheck.resource }),
      );
      const applied = await ws.run(["apply", "-input=false", "-auto-approve"]);
      expect(applied.output).toContain("Apply complete! Resources: 1 added");
      writeFileSync(join(ws.dir, "cdk.tf.json"), prepared);

      // WHEN the lock is taken, by hand (a holder that is not JSON) THEN `terraform destroy` is
      // refused all the same, naming the holder as unreadable
      // AND WHEN a release holds it THEN the destroy is refused, naming the holder, without the lock's id
      // (the two refusals run side by side, each in its own copy of the workspace, with its own stand-in)
      const [byHand, release] = await Promise.all([endpoint(), endpoint()]);
      byHand.parameters.set(releaseParameters("offline").lockHolder, "taken by hand");
      release.parameters.set(releaseParameters("offline").lockHolder, JSON.stringify(HOLDER));
      const other = ws.copy();
      scratch.push(other.dir);
      const [refused, held] = await Promise.all([
        other.run(["destroy", "-input=false", "-auto-approve"], { endpoint: byHand.url }),
        ws.run(["destroy", "-input=false", "-auto-approve"], { endpoint: release.url }),
      ]);
      expect(refused.code).toBe(1);
      expect(refused.output.replace(/\s+/g, " ")).toContain("webfleet-offline is locked by someone@an unknown host since an unknown time");
      expect(refused.output).not.toContain("Destroy complete");
      expect(byHand.calls.map((c) => c.split(" ")[0])).toEqual(["GetParametersByPath"]);

      expect(held.code).toBe(1);
      const message = held.output.replace(/\s+/g, " ");
      expect(message).toContain(
        "webfleet-offline is locked by ana@ci-runner-7 since 2026-12-01T10:00:00Z (release of deployment d-ABC123XYZ; /webfleet/offline/lock/holder)",
      );
      expect(message).toContain(`TF_VAR_${LOCK_ID_VARIABLE}=<its lock id>`);
      expect(held.output).not.toContain(HOLDER.id);

      // AND a teardown holding the lock destroys with its own lock id
      const teardown = await ws.run(["destroy", "-input=false", "-auto-approve", `-var=${LOCK_ID_VARIABLE}=${HOLDER.id}`], { endpoint: release.url });
      expect(teardown.output).toContain("Destroy complete! Resources: 1 destroyed.");
    },
    600000,
  );

  /** The assertions every environment's plan must pass, with the initial AMIs baked. */
  const bakedRun = (config: EnvironmentConfig, stack: WebfleetStack, dir: string, extra: string) => {
    let run = `run "with_baked_amis" {
  command = plan
  variables {
${COLORS.map((c) => `    ${RELEASE_STATE_VARIABLES.ami(c)} = ${hcl(BAKED[c])}`).join("\n")}
  }
`;
    // The listener forwards to both colors by weight: all on the live color (blue) at first.
    const listener = addressOf(stack.loadBalancer.listener);
    run += assertBlock(`one(${listener}.default_action).type == "forward"`, `"the listener's action is \${one(${listener}.default_action).type}"`);
    run += assertBlock(`${listenerWeights(stack)} == ${expectedWeights({ blue: 100, green: 0 })}`, `"weights \${jsonencode(${listenerWeights(stack)})}"`);
    for (const color of COLORS) {
      const asg = addressOf(stack.fleets[color].autoScalingGroup);
      const role = color === "blue" ? config.capacity.live : config.capacity.idle;
      run += assertBlock(
        `${asg}.min_size == ${role.min} && ${asg}.max_size == ${role.max} && ${asg}.desired_capacity == ${role.desired}`,
        `"${color}: \${${asg}.min_size}/\${${asg}.desired_capacity}/\${${asg}.max_size}, the ${color === "blue" ? "live" : "idle"} role has ${role.min}/${role.desired}/${role.max}"`,
      );
      const template = addressOf(stack.fleets[color].launchTemplate);
      run += assertBlock(`${template}.image_id == ${hcl(BAKED[color])}`, `"${color} boots \${${template}.image_id}"`);
      // The keyed color route stays a plain forward to its own color, whatever the weights.
      const rule = addressAt(dir, `${stack.node.id}/load-balancer/only-${color}`);
      run += assertBlock(
        `one(${rule}.action).type == "forward" && one(${rule}.action).target_group_arn == ${hcl(targetGroupArn(color))}`,
        `"the ${color}-only route does \${jsonencode(${rule}.action)}"`,
      );
      // Default tags skip what the group launches: the template tags it.
      const tags = { ...config.tags, project: "webfleet", environment: config.name, color };
      run += assertBlock(
        `alltrue([for spec in ${template}.tag_specifications : alltrue([for k, v in ${hcl(tags)} : lookup(spec.tags, k, null) == v])]) && length(${template}.tag_specifications) == 3`,
        `"${color}'s instances, volumes and interfaces are tagged \${jsonencode(${template}.tag_specifications)}"`,
      );
    }
    return `${run}${extra}}\n`;
  };

  /** dev and prod as shipped: the stock-image refusal, then a plan with baked AMIs. */
  const planFile = (config: EnvironmentConfig, stack: WebfleetStack, dir: string, extra: string) => `${mockAwsProvider(config.region)}
${targetGroupOverrides(stack)}
run "as_shipped_refuses_stock_images" {
  command         = plan
  expect_failures = [${addressOf(stack.fleets.blue.launchTemplate)}]
}

${bakedRun(config, stack, dir, extra)}`;

  it.concurrent(
    "plans dev as shipped: the default VPC's subnets in zones that offer t3.micro, capacity by role, both weights, and the stock-image refusal",
    async () => {
      const { config, stack, dir } = environment(shipped, "dev");
      const ws = await sharedWorkspace(tooling, dir);
      const subnets = addressAt(dir, "webfleet-dev/network/default-subnets");
      const extra =
        assertBlock(`toset(${addressOf(stack.loadBalancer.loadBalancer)}.subnets) == toset(${hcl(MOCK_DEFAULT_SUBNETS)})`, `"the load balancer's subnets"`) +
        COLORS.map((c) => {
          const asg = addressOf(stack.fleets[c].autoScalingGroup);
          return assertBlock(`${asg}.vpc_zone_identifier == toset(${hcl(MOCK_DEFAULT_SUBNETS)})`, `"${c} runs in \${jsonencode(${asg}.vpc_zone_identifier)}"`);
        }).join("") +
        assertBlock(
          `toset(one([for f in ${subnets}.filter : f.values if f.name == "availability-zone"])) == toset(${hcl(mockZones(config.region))})`,
          `"subnets are filtered by \${jsonencode(${subnets}.filter)}"`,
        );
      const report = await ws.test("dev", planFile(config, stack, dir, extra));
      expect(report.runs).toEqual({
        as_shipped_refuses_stock_images: expect.objectContaining({ status: "pass" }),
        with_baked_amis: expect.objectContaining({ status: "pass" }),
      });
      expect(report.code).toBe(0);
    },
    600000,
  );

  it.concurrent(
    "plans prod as shipped: one subnet in each of three zones, HTTPS forwarding by weight, 80 redirecting, capacity by role, its tags on the instances",
    async () => {
      const { config, stack, dir } = environment(shipped, "prod");
      const ws = await sharedWorkspace(tooling, dir);
      const subnets = [0, 1, 2].map((i) => addressAt(dir, `webfleet-prod/network/public-${i}`));
      const redirect = addressAt(dir, "webfleet-prod/load-balancer/http-redirect");
      const listener = addressOf(stack.loadBalancer.listener);
      const extra =
        assertBlock(
          `[for s in [${subnets.join(", ")}] : s.availability_zone] == ${hcl(mockZones(config.region))}`,
          `"zones \${jsonencode([for s in [${subnets.join(", ")}] : s.availability_zone])}"`,
        ) +
        assertBlock(`${listener}.protocol == "HTTPS" && ${listener}.port == 443`, `"the site's listener is \${${listener}.protocol}:\${${listener}.port}"`) +
        assertBlock(`one(${redirect}.default_action).redirect[0].protocol == "HTTPS"`, `"port 80 does \${jsonencode(${redirect}.default_action)}"`);
      const report = await ws.test("prod", planFile(config, stack, dir, extra));
      expect(report.runs).toEqual({
        as_shipped_refuses_stock_images: expect.objectContaining({ status: "pass" }),
        with_baked_amis: expect.objectContaining({ status: "pass" }),
      });
      expect(report.code).toBe(0);
    },
    600000,
  );
});
