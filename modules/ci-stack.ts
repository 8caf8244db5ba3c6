import { Construct } from "constructs";
import { Annotations, TerraformOutput, TerraformStack } from "cdktf";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import type { CiConfig } from "../config/github";
import type { EnvironmentConfig } from "../config/load";
import { PARTITION } from "../config/regions";
import {
  deployPolicies,
  planCiPolicy,
  planPolicy,
  releasePolicy,
  workloadBoundaryArn,
  workloadBoundaryName,
  workloadBoundaryPolicy,
  type EnvironmentScope,
  type PolicyDocument,
} from "./ci-policies";
import { GitHubActionsRole, MAX_MANAGED_POLICY_CHARS, githubSubject, type GitHubRepository } from "./github-actions-role";
import { GITHUB_OIDC_HOST, GitHubOidcProvider, STS_AUDIENCE } from "./github-oidc-provider";
import { CI_IAM_PATH, CI_SESSION_SECONDS, CI_VARIABLES, PROJECT, ciRoleName } from "./names";
import { configureStateBackend } from "./state-backend";

export interface CiStackProps {
  /** The validated CI configuration (config/github/ci.yaml). */
  readonly config: CiConfig;
  /** The environments the configuration names, validated: their region and state scope the roles. */
  readonly environments: readonly EnvironmentConfig[];
}

/**
 * The AWS side of GitHub Actions (`cdktf deploy webfleet-ci`): the GitHub OIDC provider and one
 * role per workflow kind, each trusted only by the configured repository through the token's
 * exact `sub` claim.
 * - plan: read-only, for pushes to the default branch (`ci` workflow's plan job);
 * - release, per environment: `npm run release`, for jobs in that GitHub environment;
 * - deploy, per environment: `npm run deploy` and `npm run nightly`, for jobs in that GitHub
 *   environment.
 * A pull request's token (`repo:…:pull_request`) matches none of them. The outputs say which
 * GitHub variables to set to what. What each role may do follows what the commands it runs
 * call (CI_COMMANDS in ./ci-policies.ts); no role can tear an environment down (NOT_FROM_CI).
 *
 * And, per environment, the permissions boundary of its workload roles (instance role,
 * CodeDeploy's service role): the deploy role creates and changes those roles only with it, so
 * that it cannot make itself an administrator through a role of its own environment. The
 * environment's file names it (`permissionsBoundaryArn`; the output
 * workload_permissions_boundaries says what to set).
 */
export class CiStack extends TerraformStack {
  readonly oidcProviderArn: string;
  readonly planRole: GitHubActionsRole;
  readonly releaseRoles: Record<string, GitHubActionsRole> = {};
  readonly deployRoles: Record<string, GitHubActionsRole> = {};
  /** Each environment's workload boundary. */
  readonly workloadBoundaries: Record<string, IamPolicy> = {};

  constructor(scope: Construct, id: string, props: CiStackProps) {
    super(scope, id);
    const ci = props.config;
    const audience = STS_AUDIENCE;
    const repo: GitHubRepository = { owner: ci.repository.split("/")[0], name: ci.repository.split("/")[1], ids: ci.immutableIds };

    for (const name of Object.keys(ci.environments)) {
      if (!props.environments.some((e) => e.name === name)) {
        throw new Error(`environments (${props.environments.map((e) => e.name).join(", ") || "none"}) must include ${name}, which ${ci.file} names`);
      }
    }

    new AwsProvider(this, "aws", {
      region: ci.region,
      // The roles trust this account's provider: refuse to create them anywhere else.
      allowedAccountIds: [ci.accountId],
      defaultTags: [{ tags: { ...ci.tags, project: PROJECT, purpose: "github-actions", "managed-by": "cdktf" } }],
    });
    configureStateBackend(this, ci.stateBackend, { environment: "ci", stackName: id, defaultRegion: ci.region });

    const provider = new GitHubOidcProvider(this, "github-oidc", { existingArn: ci.oidcProviderArn, audience });
    this.oidcProviderArn = provider.arn;
    // Known before apply, so the plan role's policy can name it without waiting for the provider.
    const providerArn = ci.oidcProviderArn ?? `arn:${PARTITION}:iam::${ci.accountId}:oidc-provider/${GITHUB_OIDC_HOST}`;

    const scopes: EnvironmentScope[] = props.environments
      .filter((e) => ci.environments[e.name] !== undefined)
      .map((e) => ({ name: e.name, region: e.region, accountId: ci.accountId, stateBackend: e.stateBackend }));
    const common = {
      path: CI_IAM_PATH,
      oidcProviderArn: provider.arn,
      audience,
      permissionsBoundaryArn: ci.permissionsBoundaryArn,
    };

    const planPolicies: Record<string, PolicyDocument> = Object.fromEntries(scopes.map((s) => [s.name, planPolicy(s)]));
    const ciPlan = planCiPolicy({ accountId: ci.accountId, region: ci.region, stateBackend: ci.stateBackend, oidcProviderArn: providerArn });
    // Keyed `ci`: no environment can take that name beside the CI stack (config/github.ts).
    if (ciPlan) planPolicies.ci = ciPlan;
    this.planRole = new GitHubActionsRole(this, "plan", {
      ...common,
      roleName: ciRoleName("plan"),
      description: `webfleet CI: read-only plans, for pushes to ${ci.defaultBranch} of ${ci.repository}`,
      subjects: [githubSubject(repo, { branch: ci.defaultBranch })],
      policies: planPolicies,
      maxSessionSeconds: CI_SESSION_SECONDS.plan,
    });

    const variables: Record<string, Record<string, string>> = {};
    const boundaries: Record<string, string> = {};
    for (const scope of scopes) {
      // Made for every environment listed (one deployed by hand may use it too); its name and
      // path are fixed, so the deploy role's conditions and the environment's file can name it
      // before it exists.
      const boundaryDocument = JSON.stringify(workloadBoundaryPolicy(scope));
      if (boundaryDocument.length > MAX_MANAGED_POLICY_CHARS) {
        throw new Error(
          `the workload boundary of ${scope.name} is ${boundaryDocument.length} characters; IAM takes at most ${MAX_MANAGED_POLICY_CHARS} in a managed policy`,
        );
      }
      this.workloadBoundaries[scope.name] = new IamPolicy(this, `workload-boundary-${scope.name}`, {
        name: workloadBoundaryName(scope.name),
        path: CI_IAM_PATH,
        description: `webfleet CI: permissions boundary of the ${scope.name} environment's instance and CodeDeploy roles`,
        policy: boundaryDocument,
      });
      boundaries[scope.name] = workloadBoundaryArn(ci.accountId, scope.name);

      // The workflows run an environment's jobs in the GitHub environment of the same name.
      const githubEnvironment = scope.name;
      const subjects = [githubSubject(repo, { environment: githubEnvironment })];
      const roles = ci.environments[scope.name].roles;
      const envVariables: Record<string, string> = { [CI_VARIABLES.region]: scope.region };
      if (roles.includes("release")) {
        const role = new GitHubActionsRole(this, `release-${scope.name}`, {
          ...common,
          roleName: ciRoleName("release", scope.name),
          description: `webfleet CI: npm run release to ${scope.name}, for jobs in the GitHub environment ${githubEnvironment} of ${ci.repository}`,
          subjects,
          policies: { rollout: releasePolicy(scope) },
          maxSessionSeconds: CI_SESSION_SECONDS.release,
        });
        this.releaseRoles[scope.name] = role;
        envVariables[CI_VARIABLES.releaseRoleArn] = role.arn;
      }
      if (roles.includes("deploy")) {
        const role = new GitHubActionsRole(this, `deploy-${scope.name}`, {
          ...common,
          roleName: ciRoleName("deploy", scope.name),
          description: `webfleet CI: npm run deploy and nightly to ${scope.name}, for jobs in the GitHub environment ${githubEnvironment} of ${ci.repository}`,
          subjects,
          policies: deployPolicies(scope),
          maxSessionSeconds: CI_SESSION_SECONDS.deploy,
        });
        this.deployRoles[scope.name] = role;
        envVariables[CI_VARIABLES.deployRoleArn] = role.arn;
        const config = props.environments.find((e) => e.name === scope.name);
        // A different boundary is refused with the configuration (config/github.ts); none at all
        // plans, but the deploy role's first change to those roles would be refused by IAM.
        if (config && config.permissionsBoundaryArn === undefined) {
          Annotations.of(this).addWarning(
            `${config.file}: permissionsBoundaryArn is not set, but ${ci.file} gives ${scope.name} a deploy role, which may create and change the environment's roles ` +
              `only with the boundary ${boundaries[scope.name]}: set permissionsBoundaryArn to it (docs/ci.md)`,
          );
        }
      }
      if (roles.length > 0) variables[githubEnvironment] = envVariables;
    }

    new TerraformOutput(this, "oidc_provider_arn", { value: provider.arn, description: "the account's GitHub Actions OIDC provider" });
    new TerraformOutput(this, "github_repository_variables", {
      value: { [CI_VARIABLES.region]: ci.region, [CI_VARIABLES.planRoleArn]: this.planRole.arn },
      description: `repository variables of ${ci.repository} (Settings → Secrets and variables → Actions → Variables)`,
    });
    new TerraformOutput(this, "workload_permissions_boundaries", {
      value: boundaries,
      description: "permissionsBoundaryArn of each environment's file (config/<env>.yaml): the ceiling of its instance and CodeDeploy roles",
    });
    new TerraformOutput(this, "github_environment_variables", {
      value: variables,
      description: `variables of each GitHub environment of ${ci.repository} (Settings → Environments → <name> → Environment variables)`,
    });
  }
}
