import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import * as ts from "typescript";
import { parse as parseYaml } from "yaml";
import { parse as parseHcl } from "@cdktf/hcl2json";
import { mockClient } from "aws-sdk-client-mock";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetServiceQuotaCommand, ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { Testing } from "cdktf";
import { parseCiConfig } from "../../config/github";
import { buildApp } from "../../main";
import {
  CI_COMMANDS,
  CI_TOOL_CALLS,
  COMMAND_DEPLOY_DOCUMENTS,
  AWS_MANAGED_POLICY_ACTIONS,
  NOT_FROM_CI,
  NOT_IN_WORKLOAD_BOUNDARY,
  deployPolicies,
  iamActionsOf,
  packerTags,
  planPolicy,
  releasePolicy,
  stackTags,
  workloadBoundaryArn,
  workloadBoundaryPolicy,
  type AwsCall,
  type CallResource,
  type CiTool,
  type DeployedEnvironment,
  type EnvironmentScope,
  type PolicyDocument,
  type PolicyStatement,
} from "../../modules/ci-policies";
import { CiStack } from "../../modules/ci-stack";
import { GitHubActionsRole, MAX_MANAGED_POLICY_CHARS, githubSubject } from "../../modules/github-actions-role";
import { WebfleetStack } from "../../modules/webfleet-stack";
import {
  CI_IAM_PATH,
  CI_SESSION_SECONDS,
  CI_STACK,
  CI_VARIABLES,
  ciRoleName,
  releaseParameters,
  stackName,
  type CiRoleKind,
  type PublishedStack,
} from "../../modules/names";
import { readEnvironmentState } from "../../scripts/lib/aws/environment";
import { BUILD_OPTIONS, variablesFor } from "../../scripts/lib/image/build";
import { agentVersion, sourceAmiParameter } from "../../scripts/lib/nightly/key";
import { onDemandQuota } from "../../scripts/lib/release/quota";
import { IamRoles } from "../../modules/iam";
import { doc, environment, resources, synthConstruct, type TerraformJson } from "../helpers/stack";

const ROOT = resolve(__dirname, "../..");
const REPO = "example-org/webfleet";
const ciConfig = (patch: Record<string, unknown> = {}) =>
  parseCiConfig("config/github/ci.yaml", {
    accountId: "123456789012",
    region: "us-east-1",
    repository: REPO,
    environments: { dev: {}, prod: {} },
    ...patch,
  });
const dev = environment({}, "dev");
const PROD_BOUNDARY = "arn:aws:iam::123456789012:policy/webfleet-ci/webfleet-prod-workload-boundary";
const prodOverrides = { region: "eu-west-1", stateBackend: { type: "s3", bucket: "example-webfleet-state", region: "eu-west-1" } };
const prod = environment(prodOverrides, "prod");

function synthCi(patch: Record<string, unknown> = {}, environments = [dev, prod]): TerraformJson {
  const app = Testing.app();
  new CiStack(app, CI_STACK, { config: ciConfig(patch), environments });
  return doc(Testing.synth(app.node.findChild(CI_STACK) as CiStack));
}

interface TrustStatement {
  Effect: string;
  Principal: { Federated: string };
  Action: string;
  Condition: Record<string, Record<string, string | string[]>>;
}
type Roles = Record<string, { trust: TrustStatement[]; resource: Record<string, unknown> }>;

function rolesOf(json: TerraformJson): Roles {
  return Object.fromEntries(
    resources(json, "aws_iam_role").map((r) => [r.name as string, { trust: JSON.parse(r.assume_role_policy as string).Statement, resource: r }]),
  );
}

/** IAM's StringEquals / StringLike over a token's claims (every key must match one of its values). */
function trusts(statements: TrustStatement[], claims: Record<string, string>): boolean {
  const like = (pattern: string, value: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
    ).test(value);
  return statements.some(
    (s) =>
      s.Effect === "Allow" &&
      s.Action === "sts:AssumeRoleWithWebIdentity" &&
      Object.entries(s.Condition).every(([operator, keys]) =>
        Object.entries(keys).every(([key, values]) => {
          const claim = claims[key.replace("token.actions.githubusercontent.com:", "")];
          if (claim === undefined) return false;
          const list = [values].flat();
          if (operator === "StringEquals") return list.includes(claim);
          if (operator === "StringLike") return list.some((v) => like(v, claim));
          throw new Error(`operator ${operator} is not one the CI roles should use`);
        }),
      ),
  );
}

const token = (sub: string) => ({ aud: "sts.amazonaws.com", sub });
const SUBJECTS = {
  pullRequest: `repo:${REPO}:pull_request`,
  main: `repo:${REPO}:ref:refs/heads/main`,
  feature: `repo:${REPO}:ref:refs/heads/feature/x`,
  tag: `repo:${REPO}:ref:refs/tags/v1.0.0`,
  devEnvironment: `repo:${REPO}:environment:dev`,
  prodEnvironment: `repo:${REPO}:environment:prod`,
  otherRepository: "repo:example-org/webfleet-fork:environment:prod",
  otherOwner: "repo:someone-else/webfleet:environment:prod",
};

describe("the CI stack (webfleet-ci)", () => {
  const json = synthCi();
  const roles = rolesOf(json);
  const provider = Object.keys(json.resource?.aws_iam_openid_connect_provider ?? {})[0];

  it("creates GitHub's OIDC provider for the STS audience, and one role per workflow kind and environment", () => {
    expect(resources(json, "aws_iam_openid_connect_provider")).toEqual([
      expect.objectContaining({ url: "https://token.actions.githubusercontent.com", client_id_list: ["sts.amazonaws.com"] }),
    ]);
    expect(Object.keys(roles).sort()).toEqual(
      [ciRoleName("release", "dev"), ciRoleName("deploy", "dev"), ciRoleName("plan"), ciRoleName("release", "prod"), ciRoleName("deploy", "prod")].sort(),
    );
    for (const { resource, trust } of Object.values(roles)) {
      expect(resource.path).toBe(CI_IAM_PATH);
      expect(trust).toEqual([expect.objectContaining({ Principal: { Federated: `\${aws_iam_openid_connect_provider.${provider}.arn}` } })]);
    }
  });

  it("lets the deploy of the stack happen only in the configured account", () => {
    expect(json.provider?.aws[0]).toMatchObject({ allowed_account_ids: ["123456789012"], region: "us-east-1" });
  });

  it("trusts only this repository's exact sub claims, never a pattern", () => {
    for (const [name, { trust }] of Object.entries(roles)) {
      for (const statement of trust) {
        expect([name, Object.keys(statement.Condition)]).toEqual([name, ["StringEquals"]]);
        expect(statement.Condition.StringEquals["token.actions.githubusercontent.com:aud"]).toBe("sts.amazonaws.com");
        for (const sub of [statement.Condition.StringEquals["token.actions.githubusercontent.com:sub"]].flat()) {
          expect(sub.startsWith(`repo:${REPO}:`)).toBe(true);
          expect(sub).not.toMatch(/[*?]/);
        }
      }
    }
  });

  test.each<[string, string, boolean]>([
    // GIVEN a token with this sub claim, THEN the role can (true) or cannot (false) be assumed
    [ciRoleName("plan"), SUBJECTS.main, true],
    [ciRoleName("plan"), SUBJECTS.pullRequest, false],
    [ciRoleName("plan"), SUBJECTS.feature, false],
    [ciRoleName("plan"), SUBJECTS.prodEnvironment, false],
    [ciRoleName("release", "prod"), SUBJECTS.prodEnvironment, true],
    [ciRoleName("release", "prod"), SUBJECTS.pullRequest, false],
    [ciRoleName("release", "prod"), SUBJECTS.main, false],
    [ciRoleName("release", "prod"), SUBJECTS.tag, false],
    [ciRoleName("release", "prod"), SUBJECTS.devEnvironment, false],
    [ciRoleName("release", "prod"), SUBJECTS.otherRepository, false],
    [ciRoleName("release", "prod"), SUBJECTS.otherOwner, false],
    [ciRoleName("deploy", "prod"), SUBJECTS.prodEnvironment, true],
    [ciRoleName("deploy", "prod"), SUBJECTS.pullRequest, false],
    [ciRoleName("deploy", "prod"), SUBJECTS.devEnvironment, false],
    [ciRoleName("release", "dev"), SUBJECTS.devEnvironment, true],
    [ciRoleName("release", "dev"), SUBJECTS.prodEnvironment, false],
    [ciRoleName("deploy", "dev"), SUBJECTS.devEnvironment, true],
    [ciRoleName("deploy", "dev"), SUBJECTS.pullRequest, false],
  ])("%s trusts %s: %s", (role, sub, allowed) => {
    expect(trusts(roles[role].trust, token(sub))).toBe(allowed);
    // A token for another audience never works, whatever its sub.
    expect(trusts(roles[role].trust, { aud: "api://AzureADTokenExchange", sub })).toBe(false);
  });

  it("gives no pull request token any role", () => {
    for (const [name, { trust }] of Object.entries(roles)) expect([name, trusts(trust, token(SUBJECTS.pullRequest))]).toEqual([name, false]);
  });

  it("trusts the immutable sub claim, and only it, when the ids are given", () => {
    const immutable = rolesOf(synthCi({ immutableIds: { owner: 11, repository: 22 } }));
    const prodRelease = immutable[ciRoleName("release", "prod")].trust;
    expect(trusts(prodRelease, token("repo:example-org@11/webfleet@22:environment:prod"))).toBe(true);
    expect(trusts(prodRelease, token(SUBJECTS.prodEnvironment))).toBe(false);
    expect(trusts(prodRelease, token("repo:example-org@99/webfleet@22:environment:prod"))).toBe(false);
    expect(trusts(immutable[ciRoleName("plan")].trust, token("repo:example-org@11/webfleet@22:ref:refs/heads/main"))).toBe(true);
  });

  it("reuses an existing OIDC provider instead of creating a second one", () => {
    const arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
    const reused = synthCi({ oidcProviderArn: arn });
    expect(resources(reused, "aws_iam_openid_connect_provider")).toEqual([]);
    for (const { trust } of Object.values(rolesOf(reused))) expect(trust[0].Principal.Federated).toBe(arn);
  });

  it("caps every role with the permissions boundary when one is configured, and none otherwise", () => {
    const boundary = "arn:aws:iam::123456789012:policy/ci-boundary";
    for (const { resource } of Object.values(rolesOf(synthCi({ permissionsBoundaryArn: boundary })))) expect(resource.permissions_boundary).toBe(boundary);
    for (const { resource } of Object.values(roles)) expect(resource.permissions_boundary).toBeUndefined();
  });

  it("makes only the roles an environment asks for, and plans an environment that asks for none", () => {
    const only = synthCi({ environments: { dev: { roles: [] }, prod: { roles: ["release"] } } });
    expect(Object.keys(rolesOf(only)).sort()).toEqual([ciRoleName("plan"), ciRoleName("release", "prod")].sort());
    expect(resources(only, "aws_iam_policy").map((p) => p.name)).toEqual(expect.arrayContaining(["webfleet-ci-plan-dev", "webfleet-ci-plan-prod"]));
    expect(Object.keys(only.output?.github_environment_variables.value as object)).toEqual(["prod"]);
  });

  it("lets each session last as long as the workflows ask for", () => {
    expect(roles[ciRoleName("plan")].resource.max_session_duration).toBe(CI_SESSION_SECONDS.plan);
    expect(roles[ciRoleName("release", "prod")].resource.max_session_duration).toBe(CI_SESSION_SECONDS.release);
    expect(roles[ciRoleName("deploy", "prod")].resource.max_session_duration).toBe(CI_SESSION_SECONDS.deploy);
  });

  it("attaches managed policies within IAM's size and count limits, under the CI path", () => {
    const policies = resources(json, "aws_iam_policy");
    for (const p of policies) {
      expect(p.path).toBe(CI_IAM_PATH);
      expect([p.name, (p.policy as string).length <= MAX_MANAGED_POLICY_CHARS]).toEqual([p.name, true]);
    }
    // Every policy is attached to a role, but the workload boundaries, which no CI role has.
    const attached = resources(json, "aws_iam_role_policy_attachment");
    expect(attached.length).toBe(policies.filter((p) => !String(p.name).endsWith("-workload-boundary")).length);
  });

  it("makes each environment's workload boundary where the deploy role's conditions and the environment's file name it", () => {
    const boundaries = resources(json, "aws_iam_policy").filter((p) => String(p.name).endsWith("-workload-boundary"));
    expect(boundaries.map((b) => [b.name, b.path])).toEqual([
      ["webfleet-dev-workload-boundary", CI_IAM_PATH],
      ["webfleet-prod-workload-boundary", CI_IAM_PATH],
    ]);
    expect(JSON.parse(String(boundaries[1].policy))).toEqual(
      workloadBoundaryPolicy({ name: "prod", region: prod.region, accountId: "123456789012", stateBackend: prod.stateBackend }),
    );
    expect(json.output?.workload_permissions_boundaries.value).toEqual({ dev: workloadBoundaryArn("123456789012", "dev"), prod: PROD_BOUNDARY });
    // The deploy role's conditions name exactly the ARN the policy gets (its name and path, in the configured account).
    const prodDeployPolicies = resources(json, "aws_iam_policy").filter((p) => String(p.name).startsWith(`${ciRoleName("deploy", "prod")}-`));
    expect(prodDeployPolicies.some((p) => String(p.policy).includes(`"iam:PermissionsBoundary":"${PROD_BOUNDARY}"`))).toBe(true);
    expect(`arn:aws:iam::123456789012:policy${boundaries[1].path}${boundaries[1].name}`).toBe(PROD_BOUNDARY);
  });

  it("warns when an environment CI deploys sets no boundary, and not when it sets the CI stack's", () => {
    const warningsOf = (environments: (typeof dev)[]) => {
      const app = Testing.app();
      const stack = new CiStack(app, CI_STACK, { config: ciConfig(), environments });
      return stack.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    };
    const devBounded = environment({ permissionsBoundaryArn: workloadBoundaryArn("123456789012", "dev") }, "dev");
    const prodBounded = environment({ ...prodOverrides, permissionsBoundaryArn: PROD_BOUNDARY }, "prod");
    expect(warningsOf([devBounded, prodBounded])).toEqual([]);
    expect(warningsOf([dev, prodBounded])).toEqual([
      `config/dev.yaml: permissionsBoundaryArn is not set, but config/github/ci.yaml gives dev a deploy role, which may create and change the environment's roles only with the boundary ${workloadBoundaryArn("123456789012", "dev")}: set permissionsBoundaryArn to it (docs/ci.md)`,
    ]);
  });

  it("prints the GitHub variables to set, by repository and by GitHub environment", () => {
    expect(json.output?.github_repository_variables.value).toEqual({
      [CI_VARIABLES.region]: "us-east-1",
      [CI_VARIABLES.planRoleArn]: expect.stringMatching(/^\$\{aws_iam_role\.plan_role_\w+\.arn\}$/),
    });
    expect(json.output?.github_environment_variables.value).toEqual({
      dev: {
        [CI_VARIABLES.region]: "us-east-1",
        [CI_VARIABLES.releaseRoleArn]: expect.stringMatching(/^\$\{aws_iam_role\.release-dev_role_\w+\.arn\}$/),
        [CI_VARIABLES.deployRoleArn]: expect.stringMatching(/^\$\{aws_iam_role\.deploy-dev_role_\w+\.arn\}$/),
      },
      prod: {
        [CI_VARIABLES.region]: "eu-west-1",
        [CI_VARIABLES.releaseRoleArn]: expect.stringMatching(/^\$\{aws_iam_role\.release-prod_role_\w+\.arn\}$/),
        [CI_VARIABLES.deployRoleArn]: expect.stringMatching(/^\$\{aws_iam_role\.deploy-prod_role_\w+\.arn\}$/),
      },
    });
  });

  it("refuses a role with a pattern for a subject or no subject at all", () => {
    const build = (subjects: string[]) => () =>
      Testing.synthScope((scope) => {
        new GitHubActionsRole(scope, "role", {
          roleName: "r",
          description: "d",
          oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
          audience: "sts.amazonaws.com",
          subjects,
          policies: {},
        });
      });
    expect(build([`repo:${REPO}:*`])).toThrow(
      `subjects of role r: 'repo:${REPO}:*' must be repo:<owner>/<name>:environment:<env> or repo:<owner>/<name>:ref:refs/heads/<branch>, with no wildcard`,
    );
    expect(build(["repo:example-org/*:environment:prod"])).toThrow(/with no wildcard/);
    expect(build([])).toThrow("subjects ([]) of role r: name at least one sub claim, or nobody can assume it");
  });

  it("builds the sub claims GitHub sends", () => {
    const repo = { owner: "example-org", name: "webfleet" };
    expect(githubSubject(repo, { environment: "prod" })).toBe(SUBJECTS.prodEnvironment);
    expect(githubSubject(repo, { branch: "main" })).toBe(SUBJECTS.main);
    expect(githubSubject({ ...repo, ids: { owner: 1, repository: 2 } }, { branch: "main" })).toBe("repo:example-org@1/webfleet@2:ref:refs/heads/main");
  });
});

describe("what the CI roles may do", () => {
  const scope = (env: typeof dev) => ({ name: env.name, region: env.region, accountId: "123456789012", stateBackend: env.stateBackend });
  const statements = (...docs: PolicyDocument[]) => docs.flatMap((d) => d.Statement);
  const release = statements(releasePolicy(scope(prod)));
  const deploy = statements(...Object.values(deployPolicies(scope(prod))));
  const plan = statements(planPolicy(scope(prod)));
  const all: Array<[string, PolicyStatement[]]> = [
    ["release", release],
    ["deploy", deploy],
    ["plan", plan],
  ];
  const actions = (list: PolicyStatement[]) => list.flatMap((s) => s.Action);
  const readOnly = (action: string) => /^[a-z0-9-]+:(Describe|Get|List|BatchGet)/.test(action);
  const resourcesOf = (s: PolicyStatement) => [s.Resource].flat();

  test.each(all)("%s grants no action '*' and no whole service", (_kind, list) => {
    for (const action of actions(list)) expect(action).not.toMatch(/^\*$|:\*$/);
  });

  /** The environment's tags in a condition, as resource tags or as the tags of what is being created (either key case). */
  const namesProdTags = (s: PolicyStatement, kind: "ResourceTag" | "RequestTag") => {
    const condition = JSON.stringify(s.Condition ?? {});
    return (
      new RegExp(`"aws:${kind}/(project|Project)":"webfleet"`).test(condition) && new RegExp(`"aws:${kind}/(environment|Environment)":"prod"`).test(condition)
    );
  };

  test.each(all)("%s changes only its own environment's names (reads may name CodeDeploy's configs and Amazon Linux's public AMI ids)", (_kind, list) => {
    // A deny takes away: only what is allowed must be the environment's.
    for (const s of list.filter((s) => s.Effect === "Allow")) {
      for (const resource of resourcesOf(s)) {
        expect([s.Sid, resource]).not.toEqual([s.Sid, expect.stringContaining("webfleet-dev")]);
        expect([s.Sid, resource]).not.toEqual([s.Sid, expect.stringContaining("/webfleet/dev")]);
        if (resource === "*" || s.Action.every(readOnly)) continue;
        // EC2 names nothing after the environment: its resources of prod's region are the
        // environment's by their tags (existing ones, or what a create must tag them with). The
        // default VPC's subnets and VPC, and Amazon's AMIs, carry none.
        const ec2 = /^arn:aws:ec2:([a-z0-9-]+):(\d{12})?:([a-z-]+)\/\*$/.exec(resource);
        if (ec2) {
          const [, region, , type] = ec2;
          const byTags = namesProdTags(s, "ResourceTag") || namesProdTags(s, "RequestTag");
          expect([s.Sid, resource, region, byTags || ["vpc", "subnet", "image"].includes(type)]).toEqual([s.Sid, resource, prod.region, true]);
          continue;
        }
        expect([s.Sid, resource]).toEqual([
          s.Sid,
          expect.stringMatching(/webfleet-prod|\/webfleet\/prod\/|example-webfleet-state|aws-service-role|security-group-rule/),
        ]);
      }
    }
  });

  test.each(all)("%s changes nothing on '*' unless the change is to the environment's tagged resources, or an empty network container", (_kind, list) => {
    for (const s of list.filter((s) => s.Effect === "Allow" && resourcesOf(s).includes("*"))) {
      const writes = s.Action.filter((a) => !readOnly(a));
      if (writes.length === 0) continue;
      const tagged = namesProdTags(s, "ResourceTag");
      // Tags only as something is created, and only the environment's.
      const taggingOnCreate = JSON.stringify(s.Condition ?? {}).includes('"ec2:CreateAction"') && namesProdTags(s, "RequestTag");
      // A new VPC, subnet, internet gateway or route table holds nothing until something is
      // launched into it: the only creates on '*' (instances, volumes, interfaces, security
      // groups, launch templates, key pairs and images must carry the environment's tags).
      const containers = writes.every((a) => /^ec2:Create(Vpc|Subnet|InternetGateway|RouteTable)$/.test(a));
      // ...besides StopDeployment, which IAM authorizes on '*' only (a release stops its own deployment).
      const unscopable = writes.every((a) => a === "codedeploy:StopDeployment");
      expect([s.Sid, tagged || taggingOnCreate || containers || unscopable]).toEqual([s.Sid, true]);
    }
  });

  describe("EC2 creates carry the environment's tags, and stay out of other environments", () => {
    const deployDocuments = Object.values(deployPolicies(scope(prod)));
    const ec2 = (type: string, id: string, tags?: Record<string, string>): CallResource => ({
      arn: type === "image" || type === "snapshot" ? `arn:aws:ec2:${prod.region}::${type}/${id}` : `arn:aws:ec2:${prod.region}:123456789012:${type}/${id}`,
      tags,
    });
    const asRequest = (tags: Record<string, string>) => Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v]));
    const tagSets: Record<string, Record<string, string>> = {
      "the stack's": stackTags(prod.name),
      "Packer's": packerTags(prod.name),
      "dev's": stackTags(dev.name),
      "dev's Packer": packerTags(dev.name),
      no: {},
    };
    const launched = [ec2("instance", "i-1"), ec2("volume", "vol-1"), ec2("network-interface", "eni-1")];
    const defaultSubnet = ec2("subnet", "subnet-default");
    const amazonAmi = ec2("image", "ami-amazon");
    const allowed = (action: string, on: CallResource[], request: Record<string, string>) => denied(deployDocuments, { action, on, request }).length === 0;

    test.each<[string, boolean]>([
      // GIVEN what a launch tags its new instance, volume and interface with, THEN prod's deploy role may launch (true) or not
      ["the stack's", true],
      ["Packer's", true],
      ["dev's", false],
      ["dev's Packer", false],
      ["no", false],
    ])("RunInstances of an instance, volume and interface with %s tags: %s", (which, ok) => {
      const request = asRequest(tagSets[which]);
      expect(allowed("ec2:RunInstances", [...launched, defaultSubnet, amazonAmi], request)).toBe(ok);
      // AND the tags may be put on only as the launch creates them
      expect(allowed("ec2:CreateTags", launched, { "ec2:CreateAction": "RunInstances", ...request })).toBe(ok);
    });

    it("launches only with the environment's own security group, key pair and launch template, and never into another environment's subnet", () => {
      const packer = asRequest(packerTags(prod.name));
      const launch = (...with_: CallResource[]) => allowed("ec2:RunInstances", [...launched, defaultSubnet, amazonAmi, ...with_], packer);
      expect(launch(ec2("security-group", "sg-packer", packerTags(prod.name)), ec2("key-pair", "key-packer", packerTags(prod.name)))).toBe(true);
      expect(launch(ec2("security-group", "sg-dev", packerTags(dev.name)))).toBe(false);
      expect(launch(ec2("security-group", "sg-untagged"))).toBe(false);
      expect(launch(ec2("key-pair", "key-someone"))).toBe(false);
      expect(launch(ec2("launch-template", "lt-dev", stackTags(dev.name)))).toBe(false);
      // The default VPC's subnets carry no tags; another environment's dedicated subnets do, and are denied whatever is launched.
      expect(launch(ec2("subnet", "subnet-dev", stackTags(dev.name)))).toBe(false);
      expect(allowed("ec2:RunInstances", [...launched, amazonAmi, ec2("subnet", "subnet-dev", stackTags(dev.name))], asRequest(stackTags(prod.name)))).toBe(
        false,
      );
      // AND the check Auto Scaling makes for the stack's groups passes: prod's template, group and tags.
      expect(
        allowed(
          "ec2:RunInstances",
          [
            ...launched,
            amazonAmi,
            ec2("subnet", "subnet-prod", stackTags(prod.name)),
            ec2("launch-template", "lt-prod", stackTags(prod.name)),
            ec2("security-group", "sg-prod", stackTags(prod.name)),
          ],
          asRequest(stackTags(prod.name)),
        ),
      ).toBe(true);
    });

    test.each<[string, string, CallResource[]]>([
      ["ec2:CreateSecurityGroup", "CreateSecurityGroup", [ec2("security-group", "sg-new"), ec2("vpc", "vpc-default")]],
      ["ec2:CreateLaunchTemplate", "CreateLaunchTemplate", [ec2("launch-template", "lt-new")]],
      ["ec2:CreateKeyPair", "CreateKeyPair", [ec2("key-pair", "key-new")]],
    ])("%s only with the environment's tags on what it creates", (action, createAction, on) => {
      const ok = action === "ec2:CreateLaunchTemplate" ? stackTags(prod.name) : packerTags(prod.name);
      expect(allowed(action, on, asRequest(ok))).toBe(true);
      expect(allowed("ec2:CreateTags", [on[0]], { "ec2:CreateAction": createAction, ...asRequest(ok) })).toBe(true);
      for (const other of [stackTags(dev.name), packerTags(dev.name), {}]) {
        expect([action, other, allowed(action, on, asRequest(other))]).toEqual([action, other, false]);
        expect([action, other, allowed("ec2:CreateTags", [on[0]], { "ec2:CreateAction": createAction, ...asRequest(other) })]).toEqual([action, other, false]);
      }
    });

    it("makes security groups in another environment's VPC never, and images only from the environment's build instance", () => {
      const packer = asRequest(packerTags(prod.name));
      expect(allowed("ec2:CreateSecurityGroup", [ec2("security-group", "sg-new"), ec2("vpc", "vpc-dev", stackTags(dev.name))], packer)).toBe(false);
      const image = [ec2("image", "ami-new"), ec2("snapshot", "snap-new")];
      expect(allowed("ec2:CreateImage", [...image, ec2("instance", "i-build", packerTags(prod.name))], packer)).toBe(true);
      // A snapshot of another environment's instance (its disk) would be another environment's data.
      expect(allowed("ec2:CreateImage", [...image, ec2("instance", "i-dev", stackTags(dev.name))], packer)).toBe(false);
      expect(allowed("ec2:CreateImage", [...image, ec2("instance", "i-prod-fleet", stackTags(prod.name))], packer)).toBe(false);
      expect(allowed("ec2:CreateImage", [...image, ec2("instance", "i-build", packerTags(prod.name))], asRequest(packerTags(dev.name)))).toBe(false);
    });
  });

  it("lets a release change traffic and capacity only on the environment's tagged listener and groups, and nothing in IAM or EC2", () => {
    const byId = Object.fromEntries(release.map((s) => [s.Sid, s]));
    expect(byId.ShiftTraffic.Condition).toEqual({ StringEquals: { "aws:ResourceTag/project": "webfleet", "aws:ResourceTag/environment": "prod" } });
    // Sizes only: never the groups' subnets or launch configuration.
    expect(byId.ScaleFleets.Condition).toEqual({
      ...byId.ShiftTraffic.Condition,
      Null: { "autoscaling:VPCZoneIdentifiers": "true", "autoscaling:LaunchConfigurationName": "true" },
    });
    expect(actions(release).filter((a) => a.startsWith("iam:") || (a.startsWith("ec2:") && !readOnly(a)))).toEqual([]);
    // It writes the release's own parameters, never the AMI ids or the stack's facts.
    const written = release.filter((s) => s.Action.includes("ssm:PutParameter")).flatMap(resourcesOf);
    expect(written.some((r) => /\/ami\/|\/stack$|smoke-test-key/.test(r))).toBe(false);
  });

  it("lets a plan read and nothing else", () => {
    expect(actions(plan).filter((a) => !readOnly(a) && a !== "s3:ListBucket")).toEqual([]);
    expect(actions(plan)).toContain("s3:GetObject");
  });

  it("lets a deploy change only the environment's own roles, attach only the stack's managed policies, and pass roles only to EC2 and CodeDeploy", () => {
    const iam = deploy.filter((s) => s.Effect === "Allow" && s.Action.some((a) => a.startsWith("iam:")));
    for (const s of iam) {
      for (const r of resourcesOf(s)) {
        expect(r).toMatch(/^arn:aws:iam::123456789012:(role|instance-profile)\/(webfleet-prod-\*|aws-service-role\/\*)$/);
        expect(r).not.toContain(CI_IAM_PATH);
      }
    }
    const byId = Object.fromEntries(deploy.map((s) => [s.Sid, s]));
    expect(byId.AttachStackPolicies.Condition).toEqual({
      ArnEquals: { "iam:PolicyARN": ["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"] },
      StringEquals: { "iam:PermissionsBoundary": PROD_BOUNDARY },
    });
    expect(byId.PassStackRoles.Condition).toEqual({ StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "codedeploy.amazonaws.com"] } });
    // The CI roles themselves are out of its reach: no wildcard over all roles.
    expect(JSON.stringify(iam)).not.toMatch(/:role\/\*"/);
  });

  describe("the deploy role cannot make itself an administrator through the environment's roles", () => {
    const iamDocument = [deployPolicies(scope(prod)).iam];
    const role = (name: string) => `arn:aws:iam::123456789012:role/webfleet-prod-${name}`;
    const bounded = { "iam:PermissionsBoundary": PROD_BOUNDARY };
    const can = (action: string, on: string, request: Record<string, string> = {}) => denied(iamDocument, { action, on: [on], request }).length === 0;

    test.each(["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary"])(
      "%s only on a role whose boundary is the environment's workload boundary",
      (action) => {
        expect(can(action, role("instance"), bounded)).toBe(true);
        // A role with no boundary (made before it, or by hand), or another one.
        expect(can(action, role("instance"))).toBe(false);
        expect(can(action, role("instance"), { "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess" })).toBe(false);
        expect(can(action, role("instance"), { "iam:PermissionsBoundary": workloadBoundaryArn("123456789012", dev.name) })).toBe(false);
        // Never a role of another environment, or a CI role.
        expect(can(action, "arn:aws:iam::123456789012:role/webfleet-dev-instance", bounded)).toBe(false);
        expect(can(action, `arn:aws:iam::123456789012:role${CI_IAM_PATH}${ciRoleName("deploy", "prod")}`, bounded)).toBe(false);
      },
    );

    it("attaches only the stack's AWS managed policies, and only to a bounded role", () => {
      const attach = (policy: string, request: Record<string, string>) =>
        can("iam:AttachRolePolicy", role("codedeploy"), { "iam:PolicyARN": policy, ...request });
      expect(attach("arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole", bounded)).toBe(true);
      expect(attach("arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole", {})).toBe(false);
      expect(attach("arn:aws:iam::aws:policy/AdministratorAccess", bounded)).toBe(false);
    });

    it("never changes a trust policy, removes a boundary or changes the boundary itself", () => {
      // IAM cannot condition UpdateAssumeRolePolicy on the boundary: with it a role could be made to trust the deploy role.
      expect(can("iam:UpdateAssumeRolePolicy", role("instance"), bounded)).toBe(false);
      expect(can("iam:DeleteRolePermissionsBoundary", role("instance"), bounded)).toBe(false);
      expect(iamDocument[0].Statement.find((s) => s.Sid === "KeepBoundaries")).toEqual(
        expect.objectContaining({ Effect: "Deny", Action: ["iam:DeleteRolePermissionsBoundary"], Resource: "*" }),
      );
      for (const action of ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy"]) {
        const deniedExplicitly = iamDocument[0].Statement.some((s) => s.Effect === "Deny" && statementMatches(s, action, { arn: PROD_BOUNDARY }));
        expect([action, deniedExplicitly]).toEqual([action, true]);
      }
    });
  });

  it("lets a deploy write the environment's state and lock file, and a plan only read the state", () => {
    const key = "webfleet/prod/webfleet-prod.tfstate";
    expect(deploy.find((s) => s.Sid === "WriteState")?.Resource).toEqual([
      `arn:aws:s3:::example-webfleet-state/${key}`,
      `arn:aws:s3:::example-webfleet-state/${key}.tflock`,
    ]);
    expect(plan.find((s) => s.Sid === "ReadState")).toEqual(
      expect.objectContaining({ Action: ["s3:GetObject"], Resource: `arn:aws:s3:::example-webfleet-state/${key}` }),
    );
    // Local state: nothing to grant.
    expect(statements(planPolicy(scope(dev))).some((s) => s.Sid.includes("State"))).toBe(false);
  });

  it("lets Packer's leftovers and old AMIs be removed only when Packer tagged them for the environment", () => {
    const build = deploy.find((s) => s.Sid === "ChangeOwnBuild")!;
    expect(build.Action).toEqual(expect.arrayContaining(["ec2:TerminateInstances", "ec2:DeregisterImage", "ec2:DeleteSnapshot", "ec2:DeleteKeyPair"]));
    expect(build.Condition).toEqual({ StringEquals: { "aws:ResourceTag/Project": "webfleet", "aws:ResourceTag/Environment": "prod" } });
  });
});

describe("the workload boundary: the most an environment's roles can do", () => {
  const scope: EnvironmentScope = { name: prod.name, region: prod.region, accountId: "123456789012", stateBackend: prod.stateBackend };
  const boundary = workloadBoundaryPolicy(scope);
  const can = (action: string, arn: string, request: Record<string, string> = {}, tags?: Record<string, string>) =>
    denied([boundary], { action, on: [{ arn, tags }], request }).length === 0;
  const prodAt = `${prod.region}:123456789012`;

  it("keeps every action of the AWS managed policies the roles have, but Classic Load Balancer ones the stack cannot use", () => {
    const granted = new Set(boundary.Statement.flatMap((s) => s.Action));
    const all = Object.values(AWS_MANAGED_POLICY_ACTIONS).flat();
    expect(all.filter((a) => !granted.has(a) && !NOT_IN_WORKLOAD_BOUNDARY[a])).toEqual([]);
    expect(Object.keys(NOT_IN_WORKLOAD_BOUNDARY).filter((a) => !all.includes(a) || granted.has(a))).toEqual([]);
    // AND nothing else but what the stack's own policies grant (modules/iam.ts).
    const inline = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"];
    expect([...granted].filter((a) => !all.includes(a) && !inline.includes(a))).toEqual([]);
  });

  it("allows what the roles' own policies grant on the environment's resources", () => {
    // GIVEN the roles as prod's stack makes them
    const json = doc(
      synthConstruct((s) => {
        new IamRoles(s, "iam", {
          namePrefix: "webfleet-prod",
          revisionBucketArn: "arn:aws:s3:::webfleet-prod-revisions-0123456789abcdef0123456789",
          region: prod.region,
          applicationName: "webfleet-prod",
          launchTemplateArns: [`arn:aws:ec2:${prodAt}:launch-template/lt-0123456789abcdef0`],
          accountId: "123456789012",
          permissionsBoundaryArn: PROD_BOUNDARY,
        });
      }),
    );
    const instanceRole = "arn:aws:iam::123456789012:role/webfleet-prod-instance";
    const concrete = (arn: string) => arn.replace(/\$\{aws_iam_role\.iam_instance_\w+\.arn\}/, instanceRole).replace(/\*/g, "x1");
    // Where a statement is on '*', what it is used on: a launch from the fleet's template, as Auto Scaling makes it.
    const fleetTags = stackTags(prod.name);
    const launch: CallResource[] = [
      { arn: `arn:aws:ec2:${prodAt}:launch-template/lt-0123456789abcdef0`, tags: fleetTags },
      ...["instance/i-1", "volume/vol-1", "network-interface/eni-1", "subnet/subnet-1", "security-group/sg-1"].map((r) => ({
        arn: `arn:aws:ec2:${prodAt}:${r}`,
      })),
      { arn: `arn:aws:ec2:${prod.region}::image/ami-1` },
    ];
    const statements = resources(json, "aws_iam_role_policy").flatMap((p) => JSON.parse(String(p.policy)).Statement as PolicyStatement[]);
    expect(statements.length).toBeGreaterThan(0);
    const refused = statements.flatMap((st) =>
      [st.Action].flat().flatMap((action) => {
        const request = Object.fromEntries(
          Object.values(st.Condition ?? {}).flatMap((keys) => Object.entries(keys).map(([k, v]) => [k, concrete([v].flat()[0])])),
        );
        const on = [st.Resource].flat().flatMap((r) => (r === "*" ? launch : [{ arn: concrete(r) }]));
        return denied([boundary], { action, on, request });
      }),
    );
    expect(refused).toEqual([]);
    // AND both roles have the boundary
    expect(resources(json, "aws_iam_role").map((r) => [r.name, r.permissions_boundary])).toEqual([
      ["webfleet-prod-codedeploy", PROD_BOUNDARY],
      ["webfleet-prod-instance", PROD_BOUNDARY],
    ]);
  });

  test.each<[string, string, string, Record<string, string>?, Record<string, string>?]>([
    // GIVEN a role inside prod's boundary, WHEN it tries this, THEN it is refused, whatever its own policies say
    [
      "make itself an administrator",
      "iam:AttachRolePolicy",
      "arn:aws:iam::123456789012:role/webfleet-prod-instance",
      { "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" },
    ],
    ["write its own policy", "iam:PutRolePolicy", "arn:aws:iam::123456789012:role/webfleet-prod-instance"],
    ["create a role", "iam:CreateRole", "arn:aws:iam::123456789012:role/webfleet-prod-x"],
    ["pass the CodeDeploy role", "iam:PassRole", "arn:aws:iam::123456789012:role/webfleet-prod-codedeploy", { "iam:PassedToService": "ec2.amazonaws.com" }],
    ["pass dev's instance role", "iam:PassRole", "arn:aws:iam::123456789012:role/webfleet-dev-instance", { "iam:PassedToService": "ec2.amazonaws.com" }],
    ["read dev's revisions", "s3:GetObject", "arn:aws:s3:::webfleet-dev-revisions-0123/revisions/a.tgz"],
    ["write a revision", "s3:PutObject", "arn:aws:s3:::webfleet-prod-revisions-0123/revisions/a.tgz"],
    ["read dev's parameters", "ssm:GetParameter", `arn:aws:ssm:${prodAt}:parameter/webfleet/dev/smoke-test-key`],
    ["terminate dev's instances", "ec2:TerminateInstances", `arn:aws:ec2:${prodAt}:instance/i-dev`, {}, stackTags("dev")],
    ["terminate an untagged instance", "ec2:TerminateInstances", `arn:aws:ec2:${prodAt}:instance/i-other`],
    [
      "register targets in dev's target group",
      "elasticloadbalancing:RegisterTargets",
      `arn:aws:elasticloadbalancing:${prodAt}:targetgroup/webfleet-dev-blue/0123`,
    ],
    ["change dev's fleet", "autoscaling:UpdateAutoScalingGroup", `arn:aws:autoscaling:${prodAt}:autoScalingGroup:x:autoScalingGroupName/webfleet-dev-blue`],
    ["launch from dev's template", "ec2:RunInstances", `arn:aws:ec2:${prodAt}:launch-template/lt-dev`, {}, stackTags("dev")],
    ["launch without a template", "ec2:RunInstances", `arn:aws:ec2:${prodAt}:instance/i-new`],
    ["publish to dev's topic", "sns:Publish", `arn:aws:sns:${prodAt}:webfleet-dev-alarms`],
  ])("refuses a role inside it that tries to %s", (...[, action, arn, request, tags]) => {
    // (A rest parameter: jest takes a callback with more parameters than a row has for one that waits for `done`.)
    expect(can(action, arn, request, tags)).toBe(false);
  });

  it("allows the same on prod's own resources (the refusals above are about whose, not what)", () => {
    expect(can("iam:PassRole", "arn:aws:iam::123456789012:role/webfleet-prod-instance", { "iam:PassedToService": "ec2.amazonaws.com" })).toBe(true);
    expect(can("s3:GetObject", "arn:aws:s3:::webfleet-prod-revisions-0123/revisions/a.tgz")).toBe(true);
    expect(can("ssm:GetParameter", `arn:aws:ssm:${prodAt}:parameter/webfleet/prod/smoke-test-key`)).toBe(true);
    expect(can("ec2:TerminateInstances", `arn:aws:ec2:${prodAt}:instance/i-prod`, {}, stackTags("prod"))).toBe(true);
    expect(can("elasticloadbalancing:RegisterTargets", `arn:aws:elasticloadbalancing:${prodAt}:targetgroup/webfleet-prod-blue/0123`)).toBe(true);
    expect(can("autoscaling:CompleteLifecycleAction", `arn:aws:autoscaling:${prodAt}:autoScalingGroup:x:autoScalingGroupName/webfleet-prod-blue`)).toBe(true);
  });

  it("fits in one managed policy", () => {
    expect(JSON.stringify(boundary).length).toBeLessThanOrEqual(MAX_MANAGED_POLICY_CHARS);
  });
});

// ---------------------------------------------------------------------------------------------
// The commands the workflows run, against the roles they run with: the table of calls beside the
// policies (CI_COMMANDS) is held to the commands' code on one side and to the documents on the
// other, so a new SDK call without a policy change fails here.

/** An IAM pattern (`*` any run of characters, `?` one) as a regular expression. */
function iamPattern(pattern: string, flags = ""): RegExp {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    flags,
  );
}

type RequestContext = Readonly<Record<string, string>>;

/** IAM's condition operators as the CI documents use them; any other is an error here, not a silent pass. */
function conditionHolds(condition: PolicyStatement["Condition"], context: RequestContext): boolean {
  return Object.entries(condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, values]) => {
      const list = [values].flat();
      const value = context[key];
      if (operator === "StringEquals" || operator === "ArnEquals") return value !== undefined && list.includes(value);
      // IAM: a negated operator holds when the key is missing.
      if (operator === "StringNotEquals") return value === undefined || !list.includes(value);
      if (operator === "StringLike" || operator === "ArnLike") return value !== undefined && list.some((p) => iamPattern(p).test(value));
      if (operator === "Null") return (value === undefined) === (list[0] === "true");
      throw new Error(`condition operator ${operator} is not one this evaluator knows: teach it before the CI documents use it`);
    }),
  );
}

const asResource = (r: string | CallResource): CallResource => (typeof r === "string" ? { arn: r } : r);

/** Whether `statement` applies to `action` on `resource` in a request with `request`'s context (it allows, or denies, by its Effect). */
function statementMatches(statement: PolicyStatement, action: string, resource: CallResource, request: RequestContext = {}): boolean {
  const context: RequestContext = {
    ...request,
    ...Object.fromEntries(Object.entries(resource.tags ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v])),
  };
  return (
    statement.Action.some((a) => iamPattern(a, "i").test(action)) &&
    [statement.Resource].flat().some((r) => iamPattern(r).test(resource.arn)) &&
    conditionHolds(statement.Condition, context)
  );
}

/** Whether `statement` is an allow that applies. */
function statementAllows(statement: PolicyStatement, action: string, resource: CallResource, request: RequestContext = {}): boolean {
  return statement.Effect === "Allow" && statementMatches(statement, action, resource, request);
}

/**
 * Each resource of the call that `documents` do not allow: IAM allows a call when every resource
 * it touches is allowed by some statement and denied by none.
 */
function denied(documents: readonly PolicyDocument[], call: AwsCall): string[] {
  const statements = documents.flatMap((d) => d.Statement);
  const allowed = (r: CallResource) =>
    statements.some((s) => statementAllows(s, call.action, r, call.request)) &&
    !statements.some((s) => s.Effect === "Deny" && statementMatches(s, call.action, r, call.request));
  return call.on
    .map(asResource)
    .filter((r) => !allowed(r))
    .map((r) => `${call.action} on ${r.arn}${call.request ? ` (${JSON.stringify(call.request)})` : ""}`);
}

interface SdkUse {
  /** IAM action → the files whose imports make the SDK call. */
  readonly actions: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every module the command loads (repository paths). */
  readonly files: ReadonlySet<string>;
  /** Imports this reading cannot account for: a test failure, never a silent pass. */
  readonly problems: readonly string[];
}

/**
 * The AWS SDK calls a command can make: every `*Command` and `paginate*` its modules import
 * (following the relative imports that load code, from its scripts/ entry), as IAM actions.
 * Parsed with TypeScript's own parser: multi-line, aliased, namespace and re-exported imports
 * count; type-only ones do not. A waiter, an aggregated client (`new EC2().describeImages()`),
 * a dynamic import of the SDK or an import that cannot be resolved is reported, not skipped.
 */
function sdkUseOf(entry: string): SdkUse {
  const actions = new Map<string, Set<string>>();
  const files = new Set<string>();
  const problems: string[] = [];
  const queue = [resolve(ROOT, entry)];
  const add = (action: string, file: string) => actions.set(action, (actions.get(action) ?? new Set()).add(file));
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = relative(ROOT, file);
    if (files.has(rel)) continue;
    files.add(rel);
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const namespaces = new Map<string, string>();
    const use = (client: string, name: string) => {
      const operation = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
      if (operation) {
        for (const action of iamActionsOf(client, operation)) add(action, rel);
        return;
      }
      if (/^(waitUntil|waitFor)/.test(name)) {
        problems.push(`${rel}: ${name} of @aws-sdk/client-${client} polls an operation: name it here before the table can list it`);
        return;
      }
      if (/(Client|Exception)$/.test(name)) return;
      const value = (require(`@aws-sdk/client-${client}`) as Record<string, unknown>)[name];
      if (typeof value === "function" && typeof (value.prototype as { send?: unknown } | undefined)?.send === "function") {
        problems.push(`${rel}: ${name} of @aws-sdk/client-${client} calls AWS by method; send its *Command classes so this test sees each call`);
      }
    };
    const follow = (spec: string, typeOnly: boolean, node: ts.Node) => {
      if (spec.startsWith(".")) {
        if (typeOnly) return;
        const base = resolve(dirname(file), spec);
        const found = [`${base}.ts`, join(base, "index.ts"), base].find((c) => c.endsWith(".ts") && existsSync(c));
        if (found) queue.push(found);
        else if (!/\.(json|cjs|mjs|js)$/.test(spec)) problems.push(`${rel}: cannot resolve ${spec}`);
        return;
      }
      if (!spec.startsWith("@aws-sdk/") || typeOnly) return;
      if (!spec.startsWith("@aws-sdk/client-")) {
        problems.push(`${rel}: ${spec} may call AWS on its own: map what it calls before using it`);
        return;
      }
      const client = spec.slice("@aws-sdk/client-".length);
      if (ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        if (clause?.name) problems.push(`${rel}: default import of ${spec}`);
        const bindings = clause?.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) namespaces.set(bindings.name.text, client);
        else if (bindings) for (const el of bindings.elements) if (!el.isTypeOnly) use(client, (el.propertyName ?? el.name).text);
      } else if (ts.isExportDeclaration(node) && node.exportClause && ts.isNamedExports(node.exportClause)) {
        for (const el of node.exportClause.elements) if (!el.isTypeOnly) use(client, (el.propertyName ?? el.name).text);
      } else {
        problems.push(`${rel}: ${spec} loaded dynamically`);
      }
    };
    const visit = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
        follow(node.moduleSpecifier.text, typeOnly, node);
      } else if (
        ts.isCallExpression(node) &&
        (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require")) &&
        node.arguments[0] &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        follow(node.arguments[0].text, false, node);
      } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && namespaces.has(node.expression.text)) {
        use(namespaces.get(node.expression.text)!, node.name.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { actions, files, problems };
}

/** `npm run <name>` → its entry file, for every script that runs one (`tsx scripts/<name>.ts`). */
const NPM_ENTRIES: Record<string, string> = Object.fromEntries(
  Object.entries((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts).flatMap(([name, command]) => {
    const entry = /^tsx (scripts\/[\w./-]+\.ts)$/.exec(command)?.[1];
    return entry ? [[name, entry]] : [];
  }),
);

const sdkUses = new Map<string, SdkUse>();
function sdkUseOfCommand(command: string): SdkUse {
  const entry = NPM_ENTRIES[command];
  if (!entry) throw new Error(`npm run ${command} runs no scripts/*.ts file`);
  if (!sdkUses.has(command)) sdkUses.set(command, sdkUseOf(entry));
  return sdkUses.get(command)!;
}

interface WorkflowCommand {
  readonly workflow: string;
  readonly job: string;
  /** The role the job assumed before this step; undefined before any (or without one). */
  readonly role?: CiRoleKind;
  readonly command: string;
  /** The step's whole script, for the options it passes. */
  readonly run: string;
  /** The same, without comments and quoted text. */
  readonly code: string;
}

/** Whether a step's script always passes --dry-run (on a line of its own, not under an `if`). */
function passesDryRun(code: string): boolean {
  return code.split("\n").some((line) => /(^|\s|\()--dry-run(\s|\)|$)/.test(line) && !/\bif\b/.test(line));
}

const ROLE_OF_VARIABLE: Readonly<Record<string, CiRoleKind>> = {
  [CI_VARIABLES.planRoleArn]: "plan",
  [CI_VARIABLES.releaseRoleArn]: "release",
  [CI_VARIABLES.deployRoleArn]: "deploy",
};

/** Every `npm run <command>` of every workflow step, with the role its job holds at that step. */
function workflowCommands(): WorkflowCommand[] {
  const dir = join(ROOT, ".github", "workflows");
  const out: WorkflowCommand[] = [];
  for (const workflow of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    const jobs = (parseYaml(readFileSync(join(dir, workflow), "utf8")) as { jobs: Record<string, { steps?: Array<Record<string, unknown>> }> }).jobs;
    for (const [job, { steps = [] }] of Object.entries(jobs)) {
      let role: CiRoleKind | undefined;
      for (const step of steps) {
        if (String(step.uses ?? "").startsWith("aws-actions/configure-aws-credentials@")) {
          const variable = /^\$\{\{\s*vars\.(\w+)\s*\}\}$/.exec(String((step.with as Record<string, unknown>)?.["role-to-assume"] ?? ""))?.[1] ?? "";
          role = ROLE_OF_VARIABLE[variable];
          if (!role) throw new Error(`${workflow} ${job}: role-to-assume must be one of the CI role variables, not '${variable}'`);
        }
        const run = String(step.run ?? "");
        // What the shell runs: no comments, no quoted text (messages that name a command), then each command's first words.
        const code = run.replace(/(^|\s)#.*$/gm, "$1").replace(/"(?:[^"\\]|\\.)*"|'[^']*'/g, '""');
        for (const m of code.matchAll(/(?:^|[;&|(]|\bthen\b|\bdo\b)\s*npm run (?:-s |--silent )?([\w:-]+)/gm))
          out.push({ workflow, job, role, command: m[1], run, code });
      }
    }
  }
  return out;
}

/** The environment's published stack as the commands read it, with example ids where Terraform knows them only after apply. */
function publishedStackOf(json: TerraformJson, env: EnvironmentScope): PublishedStack {
  const hex = "0123456789abcdef";
  const arn = (service: string, rest: string) => `arn:aws:${service}:${env.region}:${env.accountId}:${rest}`;
  const literal = (value: unknown, what: string): string => {
    if (typeof value !== "string" || value.includes("${"))
      throw new Error(`${what} is not a literal name (${String(value)}): the policies could not be checked against it`);
    return value;
  };
  const example = (type: string, id: string, attribute: string): string => {
    const r = json.resource?.[type]?.[id];
    if (!r) throw new Error(`${type}.${id} is not in the stack`);
    switch (`${type}.${attribute}`) {
      case "aws_codedeploy_app.name":
      case "aws_autoscaling_group.name":
        return literal(r.name, `${type}.${id}.name`);
      case "aws_codedeploy_deployment_group.deployment_group_name":
        return literal(r.deployment_group_name, `${type}.${id}.deployment_group_name`);
      case "aws_cloudwatch_metric_alarm.alarm_name":
        return literal(r.alarm_name, `${type}.${id}.alarm_name`);
      case "aws_s3_bucket.bucket":
        // bucket_prefix plus the 26 characters Terraform appends.
        return `${literal(r.bucket_prefix, `${type}.${id}.bucket_prefix`)}${"0123456789abcdef0123456789"}`;
      case "aws_lb.dns_name":
        return `${literal(r.name, `${type}.${id}.name`)}-123456789.${env.region}.elb.amazonaws.com`;
      case "aws_lb_listener.arn": {
        const lb = /^\$\{aws_lb\.([\w-]+)\.arn\}$/.exec(String(r.load_balancer_arn))?.[1];
        return arn(
          "elasticloadbalancing",
          `listener/app/${literal(json.resource?.aws_lb?.[lb ?? ""]?.name, "the listener's load balancer name")}/${hex}/${hex}`,
        );
      }
      case "aws_lb_target_group.arn":
        return arn("elasticloadbalancing", `targetgroup/${literal(r.name, `${type}.${id}.name`)}/${hex}`);
      case "aws_sns_topic.arn":
        return arn("sns", literal(r.name, `${type}.${id}.name`));
      case "aws_launch_template.id":
        return "lt-0123456789abcdef0";
    }
    throw new Error(`no example value for ${type}.${attribute}: add one so the published stack can be read`);
  };
  const parameter = resources(json, "aws_ssm_parameter").find((p) => p.name === releaseParameters(env.name).stack);
  const value = String(parameter?.insecure_value).replace(/\$\{(aws_\w+)\.([\w-]+)\.(\w+)\}/g, (_m, type: string, id: string, attribute: string) =>
    example(type, id, attribute),
  );
  return JSON.parse(value) as PublishedStack;
}

describe("what the commands the workflows run call in AWS, against their roles", () => {
  const scope: EnvironmentScope = { name: prod.name, region: prod.region, accountId: "123456789012", stateBackend: prod.stateBackend };
  // GIVEN prod's stack as Terraform would deploy it, and what it publishes for the commands
  const stackJson = doc(Testing.synth(new WebfleetStack(Testing.app(), stackName(prod.name), { config: prod })));
  const env: DeployedEnvironment = { ...scope, stack: publishedStackOf(stackJson, scope), sourceAmiParameter: sourceAmiParameter(prod.architecture) };
  // The plan role's commands call nothing (npm run synth is offline); its documents are Terraform's.
  const documents: Record<"release" | "deploy", PolicyDocument[]> = {
    release: [releasePolicy(scope)],
    deploy: Object.values(deployPolicies(scope)),
  };
  const commandsOf = (role: CiRoleKind) => Object.entries(CI_COMMANDS).filter(([, c]) => c.role === role);
  /** Every call of the role's commands, and of the tools they run. */
  const callsOf = (role: CiRoleKind): AwsCall[] => {
    const commands = commandsOf(role);
    const tools = [...new Set(commands.flatMap(([, c]) => c.tools))];
    return [...commands.flatMap(([, c]) => c.calls(env)), ...tools.flatMap((t) => CI_TOOL_CALLS[t]?.(scope) ?? [])];
  };
  const workflows = workflowCommands();

  it("runs every command that calls AWS with the role its table names, and no refused command at all", () => {
    const wrong = workflows.flatMap((w) => {
      const where = `${w.workflow} ${w.job}: npm run ${w.command}`;
      if (NOT_FROM_CI[w.command]) return [`${where}: ${NOT_FROM_CI[w.command]}`];
      const access = CI_COMMANDS[w.command];
      // A command's dry run may run with a role of its own (the nightly's decide job: read-only).
      if (access?.dryRun && w.role === access.dryRun.role && passesDryRun(w.code)) return [];
      if (access) return access.role === w.role ? [] : [`${where} runs with the ${w.role ?? "no"} role; its table says ${access.role}`];
      const entry = NPM_ENTRIES[w.command];
      return entry && sdkUseOfCommand(w.command).actions.size > 0 ? [`${where} calls AWS but is not in CI_COMMANDS`] : [];
    });
    expect(wrong).toEqual([]);
    // AND every command of the table is run by some workflow (a table of what no one runs grants nothing), its dry run too
    expect(Object.keys(CI_COMMANDS).filter((c) => !workflows.some((w) => w.command === c))).toEqual([]);
    expect(
      Object.entries(CI_COMMANDS)
        .filter(([c, a]) => a.dryRun && !workflows.some((w) => w.command === c && w.role === a.dryRun!.role && passesDryRun(w.code)))
        .map(([c]) => c),
    ).toEqual([]);
  });

  it("tells a step that always passes --dry-run from one that passes it when asked", () => {
    expect(passesDryRun('args=(--env "$environment" --dry-run --json)\nnpm run -s nightly -- "${args[@]}"')).toBe(true);
    expect(passesDryRun("npm run nightly -- --env dev --dry-run")).toBe(true);
    expect(passesDryRun('if [[ $DRY_RUN == true ]]; then args+=(--dry-run); fi\nnpm run nightly -- "${args[@]}"')).toBe(false);
    expect(passesDryRun("npm run nightly -- --env dev")).toBe(false);
  });

  test.each(Object.entries(CI_COMMANDS).filter(([, a]) => a.dryRun))(
    "npm run %s --dry-run: its role allows each of its calls, all of them calls the command makes",
    (_command, access) => {
      const dryRun = access.dryRun!;
      const calls = dryRun.calls(env);
      const roleDocuments = dryRun.role === "plan" ? [planPolicy(scope)] : documents[dryRun.role];
      expect(calls.flatMap((c) => denied(roleDocuments, c))).toEqual([]);
      // A dry run calls nothing its command does not (the import scan holds the command's calls to its code).
      const own = access.calls(env);
      const unknown = calls.filter(
        (c) => !own.some((o) => o.action === c.action && c.on.every((r) => o.on.map(asResource).some((x) => x.arn === asResource(r).arn))),
      );
      expect(unknown.map((c) => c.action)).toEqual([]);
      // AND what the plan role has for it alone (beyond a plan's reads) is used by the dry run.
      if (dryRun.role === "plan") {
        const planOnly = planPolicy(scope).Statement.filter((st) => ["ReadAgentVersion", "ReadLockDeployment"].includes(st.Sid));
        expect(planOnly).toHaveLength(2);
        for (const st of planOnly) {
          const used = calls.some((c) => c.on.map(asResource).some((r) => statementAllows(st, c.action, r, c.request)));
          expect([st.Sid, used]).toEqual([st.Sid, true]);
        }
      }
    },
  );

  it("decides for every npm command that calls AWS whether a workflow may run it", () => {
    const undecided = Object.keys(NPM_ENTRIES).filter((c) => sdkUseOfCommand(c).actions.size > 0 && !CI_COMMANDS[c] && !NOT_FROM_CI[c]);
    expect(undecided).toEqual([]);
    expect([...Object.keys(CI_COMMANDS), ...Object.keys(NOT_FROM_CI)].filter((c) => !NPM_ENTRIES[c])).toEqual([]);
  });

  test.each(Object.keys(CI_COMMANDS))("npm run %s makes exactly the SDK calls its table lists", (command) => {
    const access = CI_COMMANDS[command];
    const use = sdkUseOfCommand(command);
    expect(use.problems).toEqual([]);
    const own = access.calls(env);
    const listed = new Set(own.filter((c) => !c.implied).map((c) => c.action));
    const importedOnly = access.importedOnly ?? {};
    // Every SDK call of its code is in the table (or imported by a module it uses for something else)...
    const missing = [...use.actions.keys()].filter((a) => !listed.has(a) && !importedOnly[a]).map((a) => `${a} (${[...use.actions.get(a)!].join(", ")})`);
    expect(missing).toEqual([]);
    // ...and the table lists nothing its code no longer calls, unless it says why.
    expect([...listed].filter((a) => !use.actions.has(a))).toEqual([]);
    expect(Object.keys(importedOnly).filter((a) => !use.actions.has(a) || listed.has(a))).toEqual([]);
    // AND the tools it runs are the ones its code starts.
    const starts: CiTool[] = [];
    if (use.files.has("scripts/lib/image/packer.ts")) starts.push("packer");
    if (use.files.has("scripts/lib/deploy/deploy.ts")) starts.push("terraform");
    expect([...access.tools].sort()).toEqual(starts.sort());
  });

  test.each<"release" | "deploy">(["release", "deploy"])(
    "the %s role allows every call of the commands that run with it, on the resources they touch",
    (role) => {
      const calls = callsOf(role);
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.flatMap((c) => denied(documents[role], c))).toEqual([]);
    },
  );

  test.each<[CiRoleKind, PolicyDocument[]]>([
    ["release", [releasePolicy(scope)]],
    ["deploy", COMMAND_DEPLOY_DOCUMENTS.map((key) => deployPolicies(scope)[key])],
  ])("the %s role's command documents grant nothing its commands do not call", (role, docs) => {
    const calls = callsOf(role);
    const usedBy = (s: PolicyStatement, action: RegExp, resource: RegExp) =>
      calls.some((c) => action.test(c.action) && c.on.map(asResource).some((r) => resource.test(r.arn) && statementAllows(s, c.action, r, c.request)));
    const unused = docs.flatMap((d) =>
      d.Statement.flatMap((s) => [
        ...s.Action.filter((a) => !usedBy(s, iamPattern(a, "i"), /.*/)).map((a) => `${s.Sid}: ${a}`),
        ...[s.Resource]
          .flat()
          .filter((r) => !usedBy(s, /.*/, iamPattern(r)))
          .map((r) => `${s.Sid}: ${r}`),
      ]),
    );
    expect(unused).toEqual([]);
  });

  it("lets the release lock change only by S3 conditional writes", () => {
    const lock = `arn:aws:s3:::${env.stack.revisionBucket}/webfleet/release-lock.json`;
    for (const role of ["release", "deploy"] as const) {
      const can = (action: string, request?: RequestContext) => denied(documents[role], { action, on: [lock], request }).length === 0;
      expect([role, can("s3:PutObject"), can("s3:DeleteObject")]).toEqual([role, false, false]);
      expect([role, can("s3:PutObject", { "s3:if-none-match": "*" }), can("s3:PutObject", { "s3:if-match": '"e"' })]).toEqual([role, true, true]);
      expect([role, can("s3:DeleteObject", { "s3:if-match": '"e"' })]).toEqual([role, true]);
    }
  });

  it("finds the tags the tag conditions rely on where the stack and Packer put them", async () => {
    // The provider tags what the stack creates; Auto Scaling groups take no default tags, so the fleets set them.
    expect(stackJson.provider?.aws[0].default_tags).toEqual([{ tags: expect.objectContaining(stackTags(prod.name)) }]);
    for (const group of resources(stackJson, "aws_autoscaling_group")) {
      const tags = Object.fromEntries((group.tag as Array<{ key: string; value: string }>).map((t) => [t.key, t.value]));
      expect([group.name, tags]).toEqual([group.name, expect.objectContaining(stackTags(prod.name))]);
    }
    // The launch templates give what they launch the tags (RunInstances' request tags, in Auto
    // Scaling's launch check and its launches), for each resource type a launch creates.
    const templates = resources(stackJson, "aws_launch_template");
    expect(templates.length).toBe(2);
    for (const template of templates) {
      const specs = template.tag_specifications as Array<{ resource_type: string; tags: Record<string, string> }>;
      expect(specs.map((t) => t.resource_type).sort()).toEqual(["instance", "network-interface", "volume"]);
      for (const spec of specs)
        expect([template.name, spec.resource_type, spec.tags]).toEqual([template.name, spec.resource_type, expect.objectContaining(stackTags(prod.name))]);
    }
    // Packer tags what it launches and what it makes with the same keys (var.environment is the environment's name).
    const template = (await parseHcl("webfleet.pkr.hcl", readFileSync(join(ROOT, "packer/webfleet.pkr.hcl"), "utf8"))) as {
      source: { "amazon-ebs": { al2023: Array<Record<string, Array<Record<string, string>> | Record<string, string>>> } };
      locals: Array<Record<string, string>>;
    };
    const source = template.source["amazon-ebs"].al2023[0];
    const resolved = (value: string) => value.replace("${local.project}", template.locals[0].project).replace("${var.environment}", prod.name);
    for (const block of ["run_tags", "run_volume_tags", "tags", "snapshot_tags"]) {
      const tags = Object.fromEntries(Object.entries(source[block] as Record<string, string>).map(([k, v]) => [k, resolved(v)]));
      expect([block, tags]).toEqual([block, expect.objectContaining(packerTags(prod.name))]);
    }
  });

  it("builds the image in CI with no option that needs more than Packer's listed calls", () => {
    // GIVEN the options the workflows pass to the commands that build
    const flags = new Set(Object.keys(BUILD_OPTIONS).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`));
    const building = workflows.filter((w) => CI_COMMANDS[w.command]?.tools.includes("packer"));
    expect(building.length).toBeGreaterThan(0);
    for (const w of building) expect([w.workflow, [...w.run.matchAll(/--[a-z-]+/g)].map((m) => m[0]).filter((f) => flags.has(f))]).toEqual([w.workflow, []]);
    // THEN the template gets no copy regions, no Session Manager, no instance profile and no subnet of its own
    const vars = variablesFor(prod, "0123abc", {});
    expect(Object.keys(vars).filter((k) => ["ami_regions", "ssh_interface", "iam_instance_profile", "subnet_id", "kms_key_id"].includes(k))).toEqual([]);
  });

  it("names what the commands read as the scripts ask for it: AWS's own objects, the quota, the environment's parameters", async () => {
    const s3 = mockClient(S3Client);
    s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => '{"rpm":"releases/codedeploy-agent-1.7.1-110.noarch.rpm"}' } } as never);
    expect(await agentVersion(s3 as unknown as S3Client, prod.region)).toBe("1.7.1-110");
    const asked = s3.commandCalls(GetObjectCommand)[0].args[0].input;
    expect(denied(documents.deploy, { action: "s3:GetObject", on: [`arn:aws:s3:::${asked.Bucket}/${asked.Key}`] })).toEqual([]);
    s3.restore();

    const quotas = mockClient(ServiceQuotasClient);
    quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 32 } });
    expect(await onDemandQuota(quotas as unknown as ServiceQuotasClient)).toBe(32);
    const quota = quotas.commandCalls(GetServiceQuotaCommand)[0].args[0].input;
    const quotaArn = `arn:aws:servicequotas:${prod.region}:${scope.accountId}:${quota.ServiceCode}/${quota.QuotaCode}`;
    expect(
      CI_COMMANDS.release
        .calls(env)
        .filter((c) => c.action === "servicequotas:GetServiceQuota")
        .flatMap((c) => c.on),
    ).toEqual([quotaArn]);
    quotas.restore();

    // The environment reader's one GetParameters names exactly what the table says every command reads.
    const ssm = mockClient(SSMClient);
    ssm.on(GetParametersCommand).resolves({ Parameters: [] });
    await readEnvironmentState(ssm as unknown as SSMClient, prod.name);
    const names = ssm.commandCalls(GetParametersCommand)[0].args[0].input.Names ?? [];
    const parameterArn = (name: string) => `arn:aws:ssm:${prod.region}:${scope.accountId}:parameter${name}`;
    for (const command of ["release", "deploy", "nightly"]) {
      const listed = CI_COMMANDS[command].calls(env).filter((c) => c.action === "ssm:GetParameters");
      expect([command, [...new Set(listed.flatMap((c) => c.on))].sort()]).toEqual([command, names.map(parameterArn).sort()]);
    }
    ssm.restore();
  });

  it("turns SDK operations into the IAM actions they are authorized as", () => {
    expect(iamActionsOf("elastic-load-balancing-v2", "ModifyListener")).toEqual(["elasticloadbalancing:ModifyListener"]);
    expect(iamActionsOf("s3", "HeadObject")).toEqual(["s3:GetObject"]);
    expect(iamActionsOf("sts", "GetCallerIdentity")).toEqual([]);
    expect(() => iamActionsOf("lambda", "Invoke")).toThrow(
      "@aws-sdk/client-lambda: its IAM service prefix is unknown; add it to IAM_PREFIX_OF_CLIENT (modules/ci-policies.ts)",
    );
  });

  it("reads imports the way the test relies on: aliases, namespaces and multi-line lists count, types do not", () => {
    const dir = mkdtempSync(join(ROOT, "__tests__", ".ci-imports-"));
    try {
      writeFileSync(
        join(dir, "entry.ts"),
        [
          'import { type GetObjectCommand as Typed, PutObjectCommand as Put } from "@aws-sdk/client-s3";',
          'import type { DeleteObjectCommand } from "@aws-sdk/client-s3";',
          'import * as ssm from "@aws-sdk/client-ssm";',
          'import {\n  paginateDescribeImages,\n  EC2,\n} from "@aws-sdk/client-ec2";',
          'export { PublishCommand } from "@aws-sdk/client-sns";',
          'import "./other";',
          "new ssm.PutParameterCommand({ Name: 'x', Value: 'y' });",
        ].join("\n"),
      );
      writeFileSync(join(dir, "other.ts"), 'import { waitUntilInstanceRunning } from "@aws-sdk/client-ec2";\n');
      const use = sdkUseOf(relative(ROOT, join(dir, "entry.ts")));
      expect([...use.actions.keys()].sort()).toEqual(["ec2:DescribeImages", "s3:PutObject", "sns:Publish", "ssm:PutParameter"]);
      expect(use.problems).toEqual([
        expect.stringMatching(/entry\.ts: EC2 of @aws-sdk\/client-ec2 calls AWS by method/),
        expect.stringMatching(/other\.ts: waitUntilInstanceRunning of @aws-sdk\/client-ec2 polls an operation/),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the app with a CI configuration", () => {
  /** A config folder with the shipped environments and the given CI file. */
  function configWith(ci: string | undefined): string {
    const dir = mkdtempSync(join(tmpdir(), "wf-ci-app-"));
    copyFileSync(join(ROOT, "config/dev.yaml"), join(dir, "dev.yaml"));
    copyFileSync(join(ROOT, "config/prod.yaml"), join(dir, "prod.yaml"));
    if (ci !== undefined) {
      mkdirSync(join(dir, "github"));
      writeFileSync(join(dir, "github", "ci.yaml"), ci);
    }
    return dir;
  }
  const outdir = () => mkdtempSync(join(tmpdir(), "wf-ci-out-"));

  it("adds webfleet-ci when config/github/ci.yaml exists, and not for a chosen environment", () => {
    const ci = 'accountId: "123456789012"\nregion: us-east-1\nrepository: example-org/webfleet\nenvironments: { dev: {} }\n';
    expect(buildApp({ configDir: configWith(ci), outdir: outdir() }).app.node.tryFindChild(CI_STACK)).toBeInstanceOf(CiStack);
    expect(buildApp({ configDir: configWith(ci), outdir: outdir(), environments: ["dev"] }).app.node.tryFindChild(CI_STACK)).toBeUndefined();
    expect(buildApp({ configDir: configWith(undefined), outdir: outdir() }).app.node.tryFindChild(CI_STACK)).toBeUndefined();
  });

  it("leaves a broken CI configuration out with its every error, and still builds the environments", () => {
    // GIVEN a CI file with a repository pattern and an unknown environment
    const built = buildApp({
      configDir: configWith('accountId: "123456789012"\nregion: us-east-1\nrepository: "*/*"\nenvironments: { staging: {} }\n'),
      outdir: outdir(),
    });
    // THEN the environment stacks are there, webfleet-ci is not, and why is said
    const stacks = built.app.node.children.map((c) => c.node.id);
    expect(stacks).not.toContain(CI_STACK);
    expect(stacks).toEqual(expect.arrayContaining(["webfleet-dev", "webfleet-prod"]));
    expect(built.broken).toEqual([{ name: "ci", errors: [expect.stringMatching(/ci\.yaml: repository: must be one GitHub repository as owner\/name/)] }]);
    // AND a valid file naming a missing environment is left out the same way
    const missing = buildApp({
      configDir: configWith('accountId: "123456789012"\nregion: us-east-1\nrepository: a/b\nenvironments: { staging: {} }\n'),
      outdir: outdir(),
    });
    expect(missing.broken).toEqual([
      { name: "ci", errors: [expect.stringMatching(/ci\.yaml: environments\.staging: no environment file config\/staging\.yaml; valid: dev, prod$/)] },
    ]);
    expect(missing.app.node.children.map((c) => c.node.id)).toEqual(expect.arrayContaining(["webfleet-dev", "webfleet-prod"]));
  });

  it("sets an environment's permissions boundary on both of its roles", () => {
    // GIVEN dev's file naming the CI stack's boundary for dev
    const dir = configWith('accountId: "123456789012"\nregion: us-east-1\nrepository: a/b\nenvironments: { dev: {} }\n');
    const boundary = workloadBoundaryArn("123456789012", "dev");
    writeFileSync(join(dir, "dev.yaml"), `${readFileSync(join(dir, "dev.yaml"), "utf8")}\npermissionsBoundaryArn: ${boundary}\n`);
    const built = buildApp({ configDir: dir, outdir: outdir() });
    expect(built.broken).toEqual([]);
    // THEN the instance role and CodeDeploy's service role have it, and prod's (none set) have none
    const roles = (stack: string) =>
      resources(doc(Testing.synth(built.app.node.findChild(stack) as never)), "aws_iam_role").map((r) => [r.name, r.permissions_boundary]);
    expect(roles("webfleet-dev")).toEqual([
      ["webfleet-dev-codedeploy", boundary],
      ["webfleet-dev-instance", boundary],
    ]);
    expect(roles("webfleet-prod").map(([, b]) => b)).toEqual([undefined, undefined]);
  });

  it("refuses a boundary other than the CI stack's for an environment CI deploys, naming the one to set", () => {
    const dir = configWith('accountId: "123456789012"\nregion: us-east-1\nrepository: a/b\nenvironments: { dev: {}, prod: { roles: [release] } }\n');
    const other = "arn:aws:iam::123456789012:policy/company-boundary";
    for (const env of ["dev", "prod"])
      writeFileSync(join(dir, `${env}.yaml`), `${readFileSync(join(dir, `${env}.yaml`), "utf8")}\npermissionsBoundaryArn: ${other}\n`);
    const built = buildApp({ configDir: dir, outdir: outdir() });
    // prod has no deploy role: its boundary is its own business.
    expect(built.broken).toEqual([
      {
        name: "ci",
        errors: [
          `${join(dir, "dev.yaml")}: permissionsBoundaryArn: ${other} is not the boundary the CI stack makes for dev; its deploy role (${join(dir, "github", "ci.yaml")}) ` +
            `creates and changes the environment's roles only with ${workloadBoundaryArn("123456789012", "dev")}: set that`,
        ],
      },
    ]);
    // AND the environments themselves are still built
    expect(built.app.node.children.map((c) => c.node.id)).toEqual(expect.arrayContaining(["webfleet-dev", "webfleet-prod"]));
  });

  it("refuses a permissions boundary that is not a policy ARN, saying what is valid", () => {
    expect(() => environment({ permissionsBoundaryArn: "arn:aws:iam::123456789012:role/webfleet-dev-instance" }, "dev")).toThrow(
      "config/dev.yaml: permissionsBoundaryArn: must be an IAM policy ARN such as arn:aws:iam::123456789012:policy/webfleet-ci/webfleet-dev-workload-boundary " +
        "(for an environment CI deploys: the CI stack's output workload_permissions_boundaries)",
    );
    expect(
      environment({ permissionsBoundaryArn: "arn:aws:iam::123456789012:policy/webfleet-ci/webfleet-dev-workload-boundary" }, "dev").permissionsBoundaryArn,
    ).toBe("arn:aws:iam::123456789012:policy/webfleet-ci/webfleet-dev-workload-boundary");
  });

  it("asks the state bootstrap stack for the CI stack's state bucket too", () => {
    const ci = 'accountId: "123456789012"\nregion: us-east-1\nrepository: a/b\nstateBackend: { type: s3, bucket: example-ci-state }\n';
    const built = buildApp({ configDir: configWith(ci), outdir: outdir() });
    const bootstrap = doc(Testing.synth(built.app.node.findChild("webfleet-state-bootstrap") as never));
    expect(resources(bootstrap, "aws_s3_bucket").map((b) => b.bucket)).toEqual(expect.arrayContaining(["example-ci-state"]));
  });
});
