import { Construct } from "constructs";
import { Token } from "cdktf";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import type { PolicyDocument } from "./ci-policies";
import { GITHUB_OIDC_HOST } from "./github-oidc-provider";

/** A GitHub repository as its tokens name it. */
export interface GitHubRepository {
  readonly owner: string;
  readonly name: string;
  /** Numeric ids, for GitHub's immutable subject claims (`repo:owner@1/name@2:…`). */
  readonly ids?: { readonly owner: number; readonly repository: number };
}

/** Where a job runs, as its token's `sub` claim says: in a GitHub environment, or on a branch (no environment). */
export type JobContext = { readonly environment: string } | { readonly branch: string };

/**
 * The `sub` claim of a job of `repo` in `context`, with GitHub's default claim template:
 * `repo:<owner>/<name>:environment:<env>` for a job with an `environment:`, else
 * `repo:<owner>/<name>:ref:refs/heads/<branch>`. A `pull_request` job with no environment gets
 * `repo:<owner>/<name>:pull_request`, which neither form equals; but a job that names an
 * environment gets the environment form whatever triggered it, a pull request or any pushed
 * branch included (and GitHub creates a named environment that does not exist, unprotected). So
 * the environment form alone admits any branch: the GitHub environment's deployment-branch rule,
 * a repository setting, is what keeps other branches out (docs/ci.md).
 */
export function githubSubject(repo: GitHubRepository, context: JobContext): string {
  const owner = repo.ids ? `${repo.owner}@${repo.ids.owner}` : repo.owner;
  const name = repo.ids ? `${repo.name}@${repo.ids.repository}` : repo.name;
  const where = "environment" in context ? `environment:${context.environment}` : `ref:refs/heads/${context.branch}`;
  return `repo:${owner}/${name}:${where}`;
}

/** IAM's limit on a managed policy document, counted without whitespace (JSON.stringify adds none). */
export const MAX_MANAGED_POLICY_CHARS = 6144;
/** Managed policies one role may have attached (IAM's default quota). */
export const MAX_ATTACHED_POLICIES = 10;

export interface GitHubActionsRoleProps {
  /** The role's name; its managed policies are named `<roleName>-<key>`. */
  readonly roleName: string;
  /** IAM path of the role and its policies. @default "/" */
  readonly path?: string;
  readonly description: string;
  /** The account's GitHub OIDC provider. */
  readonly oidcProviderArn: string;
  /** The token audience the workflows request. */
  readonly audience: string;
  /** The exact `sub` claims that may assume the role (see {@link githubSubject}); never a pattern. */
  readonly subjects: readonly string[];
  /** What the role may do: one managed policy per entry. */
  readonly policies: Readonly<Record<string, PolicyDocument>>;
  /** A managed policy that caps whatever the role is given. @default - none */
  readonly permissionsBoundaryArn?: string;
  /** The longest session a workflow may ask for. @default 3600 (one hour) */
  readonly maxSessionSeconds?: number;
}

/**
 * An IAM role that GitHub Actions jobs assume through OIDC (aws-actions/configure-aws-credentials
 * with `role-to-assume`): trusted only for the token audience and the exact `sub` claims given,
 * so only this repository's jobs in the named GitHub environment (or on the named branch) can
 * assume it. What it may do comes as managed policies, each checked against IAM's size limit
 * here rather than at apply time.
 */
export class GitHubActionsRole extends Construct {
  readonly role: IamRole;
  readonly arn: string;
  readonly roleName: string;

  constructor(scope: Construct, id: string, props: GitHubActionsRoleProps) {
    super(scope, id);
    const path = props.path ?? "/";
    const maxSessionSeconds = props.maxSessionSeconds ?? 3600;

    if (props.subjects.length === 0) throw new Error(`subjects ([]) of role ${props.roleName}: name at least one sub claim, or nobody can assume it`);
    for (const subject of props.subjects) {
      if (Token.isUnresolved(subject)) continue;
      if (!/^repo:[^:*?]+\/[^:*?]+:(environment:[^*?]+|ref:refs\/heads\/[^*?]+)$/.test(subject)) {
        throw new Error(
          `subjects of role ${props.roleName}: '${subject}' must be repo:<owner>/<name>:environment:<env> or repo:<owner>/<name>:ref:refs/heads/<branch>, with no wildcard`,
        );
      }
    }
    if (maxSessionSeconds < 3600 || maxSessionSeconds > 43200) {
      throw new Error(`maxSessionSeconds (${maxSessionSeconds}) of role ${props.roleName} must be from 3600 to 43200 (IAM's range)`);
    }
    const entries = Object.entries(props.policies);
    if (entries.length > MAX_ATTACHED_POLICIES) {
      throw new Error(`policies of role ${props.roleName}: ${entries.length} managed policies, IAM attaches at most ${MAX_ATTACHED_POLICIES} to a role`);
    }

    this.role = new IamRole(this, "role", {
      name: props.roleName,
      path,
      description: props.description,
      maxSessionDuration: maxSessionSeconds,
      permissionsBoundary: props.permissionsBoundaryArn,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "GitHubActions",
            Effect: "Allow",
            Principal: { Federated: props.oidcProviderArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
              StringEquals: {
                [`${GITHUB_OIDC_HOST}:aud`]: props.audience,
                [`${GITHUB_OIDC_HOST}:sub`]: [...props.subjects],
              },
            },
          },
        ],
      }),
    });

    for (const [key, document] of entries) {
      const json = JSON.stringify(document);
      if (json.length > MAX_MANAGED_POLICY_CHARS) {
        throw new Error(
          `policy '${key}' of role ${props.roleName} is ${json.length} characters; IAM takes at most ${MAX_MANAGED_POLICY_CHARS}: split it into another entry`,
        );
      }
      const policy = new IamPolicy(this, `policy-${key}`, {
        name: `${props.roleName}-${key}`,
        path,
        description: `${props.roleName}: ${key}`,
        policy: json,
      });
      new IamRolePolicyAttachment(this, `attach-${key}`, { role: this.role.name, policyArn: policy.arn });
    }

    this.arn = this.role.arn;
    this.roleName = props.roleName;
  }
}
