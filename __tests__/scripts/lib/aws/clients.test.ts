import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { createServer, type Socket } from "node:net";
import { awsClientConfig, MAX_ATTEMPTS, oldNodeNote, SDK_NODE_MAJOR, SDK_WARNING_VARIABLE } from "../../../../scripts/lib/aws/clients";

describe("awsClientConfig", () => {
  it("retries in the standard mode and bounds connections and requests", () => {
    const config = awsClientConfig("eu-west-1");
    expect(config).toMatchObject({ region: "eu-west-1", retryMode: "standard", maxAttempts: MAX_ATTEMPTS });
    expect(config.requestHandler.connectionTimeout).toBeLessThan(config.requestHandler.requestTimeout);
  });

  it("fails a call whose connection is accepted but never answered, instead of hanging", async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const config = awsClientConfig("us-east-1");
    const ssm = new SSMClient({
      ...config,
      maxAttempts: 1,
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "example" },
      // The shipped handler settings, with a timeout short enough for a test.
      requestHandler: { ...config.requestHandler, requestTimeout: 300 },
    });
    try {
      const started = Date.now();
      await expect(ssm.send(new GetParameterCommand({ Name: "/webfleet/dev/live-color" }))).rejects.toMatchObject({ name: "TimeoutError" });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      ssm.destroy();
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("oldNodeNote", () => {
  it("says in one line which Node.js the SDK will need, on an older one", () => {
    const note = oldNodeNote("20.20.2", {});
    expect(note).toBe(`note: Node.js 20.20.2 works, but AWS SDK releases after January 2027 need Node.js ${SDK_NODE_MAJOR} or newer`);
    expect(note).not.toContain("\n");
  });

  it("says nothing on the SDK's Node.js or newer", () => {
    expect(oldNodeNote(`${SDK_NODE_MAJOR}.0.0`, {})).toBeUndefined();
    expect(oldNodeNote("24.11.1", {})).toBeUndefined();
  });

  it("leaves an explicit setting of the SDK's own variable alone", () => {
    expect(oldNodeNote("20.20.2", { [SDK_WARNING_VARIABLE]: "false" })).toBeUndefined();
  });
});
