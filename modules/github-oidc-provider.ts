import { Construct } from "constructs";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";

/** GitHub Actions' token issuer: the provider's URL, and the prefix of its claims' IAM condition keys. */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";

/** The audience aws-actions/configure-aws-credentials asks GitHub for (its default, in the aws partition). */
export const STS_AUDIENCE = "sts.amazonaws.com";

export interface GitHubOidcProviderProps {
  /**
   * An existing provider for GitHub's URL: an account holds at most one per URL, so a second
   * stack (or a console click) that made one already is reused, not duplicated.
   * @default - the provider is created here
   */
  readonly existingArn?: string;
  /** The audience the workflows request (`aws-actions/configure-aws-credentials`'s `audience`). */
  readonly audience: string;
}

/**
 * The account's IAM OIDC identity provider for GitHub Actions, or a reference to the existing
 * one. No thumbprint: IAM checks GitHub's certificate against its own trusted CAs and ignores
 * a thumbprint for this provider (aws-actions/configure-aws-credentials's guide says the same).
 */
export class GitHubOidcProvider extends Construct {
  readonly arn: string;

  constructor(scope: Construct, id: string, props: GitHubOidcProviderProps) {
    super(scope, id);
    if (props.existingArn !== undefined) {
      this.arn = props.existingArn;
      return;
    }
    const provider = new IamOpenidConnectProvider(this, "provider", {
      url: `https://${GITHUB_OIDC_HOST}`,
      clientIdList: [props.audience],
    });
    this.arn = provider.arn;
  }
}
