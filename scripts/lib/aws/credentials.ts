/** Who is calling AWS; proves there are working credentials before anything else is asked. */
import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import { CliError } from "../cli/errors";
import { errorName, explainAwsError } from "./errors";

export interface AwsIdentity {
  readonly account: string;
  readonly arn: string;
}

/** Asks STS who we are; a {@link CliError} (exit 2) that says how to get credentials when that fails. */
export async function requireAwsCredentials(sts: STSClient, region: string): Promise<AwsIdentity> {
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return { account: id.Account ?? "unknown", arn: id.Arn ?? "unknown" };
  } catch (e) {
    const known = explainAwsError(e);
    if (known) throw known;
    throw new CliError(
      `could not check the AWS credentials with STS GetCallerIdentity in ${region} (${errorName(e)}: ${e instanceof Error ? e.message : String(e)}): ` +
        "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then run again",
    );
  }
}
