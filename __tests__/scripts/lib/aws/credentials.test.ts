import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { requireAwsCredentials } from "../../../../scripts/lib/aws/credentials";

describe("AWS credentials", () => {
  const sts = mockClient(STSClient);
  beforeEach(() => sts.reset());

  it("are checked with GetCallerIdentity", async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: "123456789012", Arn: "arn:aws:sts::123456789012:assumed-role/dev/me" });
    await expect(requireAwsCredentials(new STSClient({ region: "us-east-1" }), "us-east-1")).resolves.toEqual({
      account: "123456789012",
      arn: "arn:aws:sts::123456789012:assumed-role/dev/me",
    });
  });

  test.each([
    [
      "missing",
      Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }),
      /^no AWS credentials found: set AWS_PROFILE/,
    ],
    [
      "expired",
      Object.assign(new Error("The security token included in the request is expired"), { name: "ExpiredTokenException" }),
      /^the AWS credentials have expired \(.*\): set AWS_PROFILE/,
    ],
    [
      "refused",
      Object.assign(new Error("The security token included in the request is invalid"), { name: "InvalidClientTokenId" }),
      /^AWS rejected the credentials \(InvalidClientTokenId: .*\): check AWS_PROFILE/,
    ],
    [
      "unchecked for another reason",
      Object.assign(new Error("Access denied"), { name: "AccessDenied" }),
      /^could not check the AWS credentials .* in eu-west-1 \(AccessDenied: .*\): set AWS_PROFILE/,
    ],
  ])("that are %s are a message that says how to get them", async (_what, error, message) => {
    sts.on(GetCallerIdentityCommand).rejects(error);
    await expect(requireAwsCredentials(new STSClient({ region: "eu-west-1" }), "eu-west-1")).rejects.toThrow(message);
  });
});
