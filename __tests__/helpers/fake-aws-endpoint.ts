/**
 * A local stand-in for the two AWS reads a webfleet stack makes at plan time that cannot be
 * pointed at fixture ids: SSM GetParametersByPath (the release lock's mirror) and STS
 * GetCallerIdentity (the account in the IAM conditions). The AWS provider talks to it through
 * its `endpoints` setting (Workspace.prepareOfflinePlan), so a real `terraform plan`, `apply`
 * and `destroy` run offline, with the provider's own request and response handling.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const FAKE_ACCOUNT = "123456789012";

export interface FakeAwsEndpoint {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** SSM parameters by name; GetParametersByPath answers from these. */
  readonly parameters: Map<string, string>;
  /** Every call as `<Action> <request body>`, oldest first. */
  readonly calls: string[];
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Starts the stand-in on a free loopback port. */
export async function startFakeAwsEndpoint(): Promise<FakeAwsEndpoint> {
  const parameters = new Map<string, string>();
  const calls: string[] = [];
  const server: Server = createServer(async (request, response) => {
    const text = await body(request);
    const target = String(request.headers["x-amz-target"] ?? "");
    const send = (status: number, type: string, payload: string) => {
      response.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(payload) });
      response.end(payload);
    };
    if (target === "AmazonSSM.GetParametersByPath") {
      calls.push(`GetParametersByPath ${text}`);
      const { Path: path, Recursive: recursive } = JSON.parse(text) as { Path: string; Recursive?: boolean };
      const folder = path.endsWith("/") ? path : `${path}/`;
      const found = [...parameters]
        .filter(([name]) => name.startsWith(folder) && (recursive || !name.slice(folder.length).includes("/")))
        .map(([name, value]) => ({ Name: name, Value: value, Type: "String", Version: 1, ARN: `arn:aws:ssm:us-east-1:${FAKE_ACCOUNT}:parameter${name}` }));
      return send(200, "application/x-amz-json-1.1", JSON.stringify({ Parameters: found }));
    }
    if (new URLSearchParams(text).get("Action") === "GetCallerIdentity") {
      calls.push(`GetCallerIdentity ${text}`);
      return send(
        200,
        "text/xml",
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
          `<Arn>arn:aws:iam::${FAKE_ACCOUNT}:user/offline</Arn><UserId>AIDAOFFLINE</UserId><Account>${FAKE_ACCOUNT}</Account>` +
          `</GetCallerIdentityResult><ResponseMetadata><RequestId>offline</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      );
    }
    // Anything else is a call the test did not expect: fail it loudly, the way AWS would.
    calls.push(`unexpected ${target || request.url} ${text.slice(0, 200)}`);
    send(
      400,
      "application/x-amz-json-1.1",
      JSON.stringify({ __type: "UnknownOperationException", message: `the offline stand-in does not answer ${target || text}` }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    parameters,
    calls,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
