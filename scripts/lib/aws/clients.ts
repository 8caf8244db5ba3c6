/**
 * The configuration every AWS SDK client of webfleet is made with: the region, the SDK's
 * standard retry mode with more attempts (throttling of single calls is absorbed with
 * exponential backoff and jitter), and connection and request timeouts, so a dead network
 * fails a call in seconds instead of hanging a command for minutes.
 */

/** Milliseconds to open a TCP connection to an AWS endpoint. */
export const CONNECTION_TIMEOUT_MS = 5_000;
/** Milliseconds a request may wait for its response (the largest answers are paged). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Attempts per call, the first included: the SDK retries throttling, 5xx and timeouts. */
export const MAX_ATTEMPTS = 6;

export interface AwsClientConfig {
  readonly region: string;
  readonly maxAttempts: number;
  readonly retryMode: "standard";
  readonly requestHandler: { readonly connectionTimeout: number; readonly requestTimeout: number; readonly throwOnRequestTimeout: true };
}

/** The oldest Node.js major the AWS SDK releases after January 2027 run on. */
export const SDK_NODE_MAJOR = 22;
export const SDK_WARNING_VARIABLE = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";
let nodeNoted = false;

/**
 * The one line said instead of the SDK's nine-line warning on a Node.js older than
 * {@link SDK_NODE_MAJOR}; undefined when there is nothing to say or the user set the SDK's own
 * variable (an explicit setting wins).
 */
export function oldNodeNote(nodeVersion: string, env: NodeJS.ProcessEnv): string | undefined {
  const major = Number(nodeVersion.split(".")[0]);
  if (major >= SDK_NODE_MAJOR || env[SDK_WARNING_VARIABLE] !== undefined) return undefined;
  return `note: Node.js ${nodeVersion} works, but AWS SDK releases after January 2027 need Node.js ${SDK_NODE_MAJOR} or newer`;
}

/**
 * On an older Node.js the SDK prints a nine-line warning when the first client is made, in the
 * middle of a command's progress. Say it in one line instead, at the same moment, and keep the
 * SDK quiet.
 */
function noteOldNode(): void {
  if (nodeNoted) return;
  nodeNoted = true;
  const note = oldNodeNote(process.versions.node, process.env);
  if (!note) return;
  process.env[SDK_WARNING_VARIABLE] = "true";
  process.stderr.write(`${note}\n`);
}

/** `new SSMClient(awsClientConfig(region))`, and the same for every client. */
export function awsClientConfig(region: string): AwsClientConfig {
  noteOldNode();
  return {
    region,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: "standard",
    // Without throwOnRequestTimeout the SDK's handler only logs a warning when requestTimeout
    // passes, and a connection that never answers hangs the command.
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
  };
}
