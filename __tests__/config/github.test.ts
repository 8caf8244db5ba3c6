import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ciConfigFile, ciEnvironments, ciPlannedStacks, loadCiConfig, parseCiConfig } from "../../config/github";
import { ConfigError } from "../../config/load";
import { environment } from "../helpers/stack";

const valid = {
  accountId: "123456789012",
  region: "us-east-1",
  repository: "example-org/webfleet",
  environments: { dev: {}, prod: { roles: ["release"] } },
};

function errorsOf(data: unknown): string[] {
  try {
    parseCiConfig("config/github/ci.yaml", data);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.errors];
    throw e;
  }
  return [];
}

function errorsOfEnvironments(run: () => unknown): string[] {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return [...e.errors];
    throw e;
  }
  return [];
}

const set = (patch: Record<string, unknown>) => ({ ...valid, ...patch });
const F = "config/github/ci.yaml";

describe("the CI configuration (config/github/ci.yaml)", () => {
  it("accepts the shipped example and fills in the defaults", () => {
    const ci = loadCiConfig()!;
    expect(ci).toMatchObject({
      file: F,
      accountId: "123456789012",
      repository: "example-org/webfleet",
      defaultBranch: "main",
      stateBackend: { type: "local" },
      environments: { dev: { roles: ["release", "deploy"] }, prod: { roles: ["release", "deploy"] } },
    });
    expect(ci.oidcProviderArn).toBeUndefined();
  });

  it("is optional: a project without it has no CI stack", () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-ci-"));
    expect(loadCiConfig(dir)).toBeUndefined();
  });

  it("refuses two files (ci.yaml and ci.yml), naming both", () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-ci-"));
    mkdirSync(join(dir, "github"));
    writeFileSync(join(dir, "github", "ci.yaml"), "");
    writeFileSync(join(dir, "github", "ci.yml"), "");
    expect(() => ciConfigFile(dir)).toThrow(/ci\.yaml and .*ci\.yml: two CI configuration files; keep one/);
  });

  it("plans every environment it lists, and the CI stack itself when its state is shared", () => {
    expect(ciPlannedStacks(parseCiConfig(F, set({ environments: { dev: { roles: [] }, prod: {} } })))).toEqual(["webfleet-dev", "webfleet-prod"]);
    expect(ciPlannedStacks(parseCiConfig(F, set({ stateBackend: { type: "s3", bucket: "example-ci-state" } })))).toEqual([
      "webfleet-dev",
      "webfleet-prod",
      "webfleet-ci",
    ]);
  });

  test.each<[string, unknown, string]>([
    [
      "a repository pattern",
      set({ repository: "example-org/*" }),
      `${F}: repository: must be one GitHub repository as owner/name, such as example-org/webfleet (no wildcards: the roles trust exactly this repository) (got "example-org/*")`,
    ],
    ["a whole organization", set({ repository: "example-org" }), `${F}: repository: must be one GitHub repository as owner/name`],
    [
      "an unquoted account id",
      set({ accountId: 123456789012 }),
      `${F}: accountId: must be a 12-digit AWS account id in quotes, such as "123456789012" (unquoted, YAML drops leading zeros) (got 123456789012)`,
    ],
    ["a short account id", set({ accountId: "12345" }), `${F}: accountId: must be a 12-digit AWS account id in quotes, such as "123456789012" (got "12345")`],
    ["an unknown region", set({ region: "moon-1" }), `${F}: region: must be an AWS region such as us-east-1`],
    ["a branch pattern", set({ defaultBranch: "release/*" }), `${F}: defaultBranch: must be a branch name such as main (no wildcards) (got "release/*")`],
    ["a role list that is no list", set({ environments: { dev: { roles: "release" } } }), `${F}: environments.dev.roles: `],
    ["an environment that is no map", set({ environments: { dev: true } }), `${F}: environments.dev: must be {} or { roles: [release, deploy] } (got true)`],
    ["an unknown role", set({ environments: { dev: { roles: ["admin"] } } }), `${F}: environments.dev.roles[0]: must be release or deploy (got "admin")`],
    [
      "an OIDC provider of another account",
      set({ oidcProviderArn: "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com" }),
      `${F}: oidcProviderArn: is in account 210987654321, not accountId 123456789012; a role trusts a provider of its own account`,
    ],
    [
      "another issuer",
      set({ oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/gitlab.com" }),
      `${F}: oidcProviderArn: must be arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com`,
    ],
    ["a boundary that is no policy", set({ permissionsBoundaryArn: "AdministratorAccess" }), `${F}: permissionsBoundaryArn: must be an IAM policy ARN`],
    [
      "immutable ids that are names",
      set({ immutableIds: { owner: "example-org", repository: 2 } }),
      `${F}: immutableIds.owner: must be the owner's numeric id`,
    ],
    [
      "a GitHub environment of another name (the workflows run an environment's jobs in the one of its name)",
      set({ environments: { prod: { githubEnvironment: "production" } } }),
      `${F}: environments.prod.githubEnvironment: unknown field`,
    ],
    ["a misspelt field", set({ enviroments: {} }), `${F}: enviroments: unknown field; check the spelling against the configuration reference in docs/ci.md`],
    [
      "too many environments for the plan role's policies",
      set({ environments: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`e${i}`, {}])) }),
      `${F}: environments: at most 9 environments`,
    ],
  ])("refuses %s with one line naming the field, the value and what is valid", (_what, data, message) => {
    expect(errorsOf(data)).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
  });

  it("reports every problem at once", () => {
    expect(errorsOf({ ...valid, repository: "*", accountId: "x", region: "moon-1" })).toHaveLength(3);
  });

  describe("against the environment files", () => {
    const ci = parseCiConfig(F, valid);
    const dev = environment({}, "dev");
    const prod = environment({}, "prod");

    it("returns the environments it names", () => {
      expect(ciEnvironments(ci, [dev, prod], []).map((e) => e.name)).toEqual(["dev", "prod"]);
    });

    it("refuses an environment without a file, naming the valid ones", () => {
      expect(errorsOfEnvironments(() => ciEnvironments(ci, [dev], []))).toEqual([`${F}: environments.prod: no environment file config/prod.yaml; valid: dev`]);
    });

    it("refuses an environment whose file is broken: its roles are scoped by that file", () => {
      expect(errorsOfEnvironments(() => ciEnvironments(ci, [dev], ["prod"]))).toEqual([
        `${F}: environments.prod: its environment file is broken (see its errors); the roles are scoped by its region and state, so fix it first`,
      ]);
    });

    it("refuses an environment whose names would also match another environment's", () => {
      // GIVEN dev's roles reach webfleet-dev-*, and an environment dev-eu exists
      const devEu = environment({}, "dev-eu");
      // THEN the CI stack is refused until one is renamed
      expect(errorsOfEnvironments(() => ciEnvironments(ci, [dev, prod, devEu], []))).toEqual([
        `${F}: environments.dev: its roles reach names webfleet-dev-*, which also match environment dev-eu; rename one of them`,
      ]);
    });

    it("refuses an environment named ci beside it: that is the CI stack's name", () => {
      const named = environment({}, "ci");
      expect(errorsOfEnvironments(() => ciEnvironments(ci, [dev, prod, named], []))).toEqual([
        "config/ci.yaml: the environment name 'ci' is the CI stack's (webfleet-ci, from config/github/ci.yaml); rename the environment file",
      ]);
    });
  });
});
