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
  readonly requestHandler: { readonly connectionTimeout: number; readonly requestTimeout: number };
}

/** `new SSMClient(awsClientConfig(region))`, and the same for every client. */
export function awsClientConfig(region: string): AwsClientConfig {
  return {
    region,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: "standard",
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  };
}
