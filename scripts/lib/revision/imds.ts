/**
 * A local stand-in for the EC2 instance metadata service, for `revision:check`: it speaks the
 * IMDSv2 session protocol (PUT /latest/api/token with a TTL header, then GETs that carry the
 * token) and refuses what the real one refuses, so the instance page's code path really runs.
 * Binds 127.0.0.1 only; nothing here ever talks to 169.254.169.254.
 *
 * Also a "black hole" server (accepts, never answers) to check that pages give up on an
 * unreachable metadata service instead of hanging.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";

export interface InstanceIdentity {
  readonly instanceId: string;
  readonly localIpv4: string;
  readonly availabilityZone: string;
  readonly region: string;
}

/** What the stand-in reports: loopback values and a region name no one will mistake for AWS. */
export const LOCAL_IDENTITY: InstanceIdentity = {
  instanceId: "i-0123456789abcdef0",
  localIpv4: "127.0.0.1",
  availabilityZone: "local-1a",
  region: "local-1",
};

export interface ImdsRequestLog {
  readonly method: string;
  readonly path: string;
  readonly hadToken: boolean;
  readonly status: number;
}

export interface FakeImds {
  /** `http://127.0.0.1:<port>`: what WEBFLEET_IMDS_ENDPOINT is set to. */
  readonly endpoint: string;
  /** Every request it answered, in order. */
  readonly requests: readonly ImdsRequestLog[];
  close(): Promise<void>;
}

const TOKEN_PATH = "/latest/api/token";
const TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER = "x-aws-ec2-metadata-token";
const MAX_TTL_SECONDS = 21600;

/** Starts the IMDSv2 stand-in on 127.0.0.1 (a free port unless `port` is given). */
export async function startFakeImds(identity: InstanceIdentity = LOCAL_IDENTITY, port = 0): Promise<FakeImds> {
  const tokens = new Map<string, number>(); // token → expiry (ms since epoch)
  const requests: ImdsRequestLog[] = [];
  const metadata: Record<string, string> = {
    "instance-id": identity.instanceId,
    "local-ipv4": identity.localIpv4,
    "placement/availability-zone": identity.availabilityZone,
    "placement/region": identity.region,
  };
  metadata[""] = ["instance-id", "local-ipv4", "placement/"].join("\n");
  metadata["placement"] = ["availability-zone", "region"].join("\n");

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: string, hadToken: boolean) => {
    requests.push({ method: req.method ?? "", path: req.url ?? "", hadToken, status });
    res.writeHead(status, { "Content-Type": "text/plain", Server: "EC2ws" });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const token = req.headers[TOKEN_HEADER];
    const hadToken = typeof token === "string" && token !== "";
    if (path === TOKEN_PATH) {
      if (req.method !== "PUT") return answer(req, res, 405, "Method Not Allowed", hadToken);
      // The real service refuses token requests that went through a proxy.
      if (req.headers["x-forwarded-for"]) return answer(req, res, 403, "Forbidden", hadToken);
      const ttl = Number(req.headers[TTL_HEADER]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) return answer(req, res, 400, "Bad Request", hadToken);
      const issued = randomBytes(32).toString("base64");
      tokens.set(issued, Date.now() + ttl * 1000);
      return answer(req, res, 200, issued, hadToken);
    }
    if (!path.startsWith("/latest/meta-data/")) return answer(req, res, 404, "Not Found", hadToken);
    if (req.method !== "GET" && req.method !== "HEAD") return answer(req, res, 405, "Method Not Allowed", hadToken);
    // IMDSv2 only (HttpTokens=required): no token or an unknown/expired one is 401.
    const expiry = hadToken ? tokens.get(token as string) : undefined;
    if (expiry === undefined || expiry < Date.now()) return answer(req, res, 401, "Unauthorized", hadToken);
    const key = path.slice("/latest/meta-data/".length).replace(/\/$/, "");
    const value = metadata[key];
    return value === undefined ? answer(req, res, 404, "Not Found", hadToken) : answer(req, res, 200, value, hadToken);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface BlackHole {
  /** `http://127.0.0.1:<port>`: accepts connections, never answers. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** A server that accepts connections and never answers, like a metadata address off EC2. */
export async function startBlackHole(): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
