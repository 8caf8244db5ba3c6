/** Where the revision comes from: an S3 bundle of a folder, or a GitHub commit. */
import type { RevisionLocation } from "@aws-sdk/client-codedeploy";
import { CliError } from "../cli/errors";
import type { S3Revision } from "./bundle";

export interface GitHubRevision {
  /** `owner/repo` */
  readonly repository: string;
  /** The full 40-hex commit SHA. */
  readonly commitId: string;
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;
const SHA = /^[0-9a-f]{40}$/;

/** `owner/repo@<40-hex sha>` → the revision. A branch, a tag or a short SHA is refused: CodeDeploy takes only a full commit id. */
export function parseGitHubRevision(text: string): GitHubRevision {
  const form = "--github must be owner/repo@<commit>, e.g. --github awslabs/aws-codedeploy-samples@0123456789abcdef0123456789abcdef01234567";
  const at = text.lastIndexOf("@");
  if (at === -1) throw new CliError(`--github '${text}' has no @<commit>: ${form}`);
  const repository = text.slice(0, at);
  const commit = text.slice(at + 1);
  const [owner, repo, ...rest] = repository.split("/");
  if (rest.length > 0 || !owner || !repo || !OWNER.test(owner) || !REPO.test(repo)) {
    throw new CliError(`--github '${text}': '${repository}' is not owner/repo: ${form}`);
  }
  if (!SHA.test(commit.toLowerCase())) {
    const what = /^[0-9a-f]{4,39}$/i.test(commit) ? "a short SHA" : "a branch or tag name";
    throw new CliError(
      `--github '${text}': '${commit}' looks like ${what}; CodeDeploy deploys only a full 40-hex commit SHA ` + `(git rev-parse ${commit} prints it): ${form}`,
    );
  }
  return { repository, commitId: commit.toLowerCase() };
}

export type RevisionSource = { readonly type: "s3"; readonly s3: S3Revision } | { readonly type: "github"; readonly github: GitHubRevision };

/** CodeDeploy's RevisionLocation for a source. */
export function revisionLocation(source: RevisionSource): RevisionLocation {
  if (source.type === "github") {
    return { revisionType: "GitHub", gitHubLocation: { repository: source.github.repository, commitId: source.github.commitId } };
  }
  const { bucket, key, bundleType, eTag } = source.s3;
  return { revisionType: "S3", s3Location: { bucket, key, bundleType, ...(eTag ? { eTag } : {}) } };
}

/** Short text for messages and the deployment's description. */
export function describeRevision(source: RevisionSource): string {
  return source.type === "github" ? `github:${source.github.repository}@${source.github.commitId.slice(0, 12)}` : `s3://${source.s3.bucket}/${source.s3.key}`;
}
