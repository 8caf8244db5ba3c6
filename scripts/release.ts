/**
 * npm run release -- --env <env> [--strategy …] [--github owner/repo@sha] [--dry-run [--instances N]] [--force-unlock]
 *
 * Releases a revision with a strategy. The logic lives in scripts/lib/release/; this file builds
 * the real clients, the clock and the prompt.
 */
import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { loadEnvironment } from "../config/load";
import { awsClientConfig } from "./lib/aws/clients";
import { defineCommand, runCommand } from "./lib/cli/command";
import { EXIT } from "./lib/cli/errors";
import { terminalPrompt } from "./lib/cli/prompt";
import { environmentInfo, runRelease } from "./lib/release/flow";
import { httpGet } from "./lib/release/steps/smoke";
import { RELEASE_COMMAND, releaseOptions } from "./lib/release/options";

export const command = defineCommand({
  ...RELEASE_COMMAND,
  // An error nobody expected may have come after the deployment started: look at it.
  unexpectedExitCode: EXIT.needsAttention,
  async run({ options: values }, ctx) {
    const options = releaseOptions(values);
    const env = loadEnvironment(options.env);
    const aws = awsClientConfig(env.region);
    return runRelease({ ...options, revisionDir: resolve(options.revisionDir) }, environmentInfo(env), {
      ssm: new SSMClient(aws),
      s3: new S3Client(aws),
      codedeploy: new CodeDeployClient(aws),
      autoScaling: new AutoScalingClient(aws),
      sts: new STSClient(aws),
      elb: new ElasticLoadBalancingV2Client(aws),
      cloudwatch: new CloudWatchClient(aws),
      http: httpGet,
      ec2: new EC2Client(aws),
      serviceQuotas: new ServiceQuotasClient(aws),
      clock: { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      out: ctx.stderr,
      stdout: ctx.stdout,
      interrupts: ctx.interrupts,
      prompt: ctx.interactive ? terminalPrompt : undefined,
      whoami: { user: safeUser(), host: hostname() },
      newLockId: () => randomUUID(),
    });
  },
});

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

if (require.main === module) runCommand(command);
