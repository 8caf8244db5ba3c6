/**
 * AWS SDK v3 errors, told apart by name without importing every client's exception classes:
 * throttling and transient failures (poll again), and the access problems a user can fix
 * (credentials, network), turned into one clear line.
 */
import { CliError, EXIT } from "../cli/errors";

/** The `name` of an AWS SDK v3 error (or any Error). */
export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e === "object" && e !== null && "name" in e ? String((e as { name: unknown }).name) : "";
}

/** Throttling, as the SDK reports it: the error's name, or its `$retryable.throttling` flag. */
export function isThrottling(e: unknown): boolean {
  const name = errorName(e);
  if (["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "ThrottledException", "SlowDown"].includes(name)) return true;
  const retryable = (e as { $retryable?: { throttling?: boolean } } | null)?.$retryable;
  return retryable?.throttling === true;
}

const NETWORK_CODES = ["ECONNRESET", "ETIMEDOUT", "EAI_AGAIN", "ECONNREFUSED", "EPIPE", "ENOTFOUND", "ENETUNREACH", "EHOSTUNREACH"];

/** A transient failure worth trying again: throttling, a 5xx, a timeout or a network error. */
export function isTransient(e: unknown): boolean {
  if (isThrottling(e)) return true;
  const status = (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  const code = (e as { code?: string } | null)?.code;
  return NETWORK_CODES.includes(code ?? "") || ["TimeoutError", "RequestTimeout", "RequestTimeoutException"].includes(errorName(e));
}

const HOW_TO_LOG_IN =
  "set AWS_PROFILE to a configured profile (after `aws sso login --profile <name>` for SSO) or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then run again";

/**
 * "No credentials", "expired", "rejected" and "no network" as a {@link CliError} (exit 2: nothing
 * was changed) that says what to do; undefined for any other error.
 */
export function explainAwsError(e: unknown): CliError | undefined {
  const name = errorName(e);
  const message = e instanceof Error ? e.message : String(e);
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
    return new CliError(`no AWS credentials found: ${HOW_TO_LOG_IN}`, EXIT.refused);
  }
  if (["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"].includes(name) || /token.*expired/i.test(message)) {
    return new CliError(`the AWS credentials have expired (${message}): ${HOW_TO_LOG_IN}`, EXIT.refused);
  }
  if (["InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "InvalidSignatureException"].includes(name)) {
    return new CliError(`AWS rejected the credentials (${name}: ${message}): check AWS_PROFILE / AWS_ACCESS_KEY_ID`, EXIT.refused);
  }
  const code = (e as { code?: string } | null)?.code;
  if (code && NETWORK_CODES.includes(code)) {
    return new CliError(`cannot reach AWS (${code}: ${message}): check the network, the proxy settings and the region`, EXIT.refused);
  }
  return undefined;
}
