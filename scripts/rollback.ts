/**
 * npm run rollback -- --env <env> [--dry-run]
 *
 * All traffic back to the previous color while it is still up (after a release with
 * --keep-previous, or a canary stopped part-way): one weight switch, in seconds.
 */
import { hostname, userInfo } from "node:os";
import { randomUUID } from "node:crypto";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { loadEnvironment } from "../config/load";
import { awsClientConfig } from "./lib/aws/clients";
import { requireAwsCredentials } from "./lib/aws/credentials";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { runRollback } from "./lib/release/rollback";

export const command = defineCommand({
  name: "rollback",
  summary: "Sends all traffic back to the previous color while it is still up, in one weight switch, then scales the current color down.",
  description:
    "The previous color is the one the last release kept up (--keep-previous), or, when a canary stopped part-way, the color that was live. " +
    "When it is no longer up, it says what going back would take (a release of the earlier revision) and changes nothing.",
  options: {
    env: option.env(),
    dryRun: option.dryRun(),
  },
  examples: ["npm run rollback -- --env dev", "npm run rollback -- --env prod --dry-run"],
  exitCodes: {
    0: "all traffic is on the previous color, and the other color scaled down",
    2: "refused, nothing changed: nothing up to roll back to, the lock is held, or a bad option",
    3: "traffic moved, then something failed (recording it, the roles, the scale-down, or the lock was taken away): the message says what it left and what to run",
  },
  async run({ options }, ctx) {
    const env = loadEnvironment(options.env);
    const aws = awsClientConfig(env.region);
    const sts = new STSClient(aws);
    const identity = await requireAwsCredentials(sts, env.region);
    return ctx.interrupts.hold(() =>
      runRollback(
        {
          ssm: new SSMClient(aws),
          s3: new S3Client(aws),
          elb: new ElasticLoadBalancingV2Client(aws),
          autoScaling: new AutoScalingClient(aws),
          codedeploy: new CodeDeployClient(aws),
          clock: { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
          out: ctx.stderr,
          whoami: { user: userInfo().username, host: hostname(), caller: identity.arn },
          newLockId: () => randomUUID(),
        },
        env.name,
        { dryRun: options.dryRun },
      ),
    );
  },
});

if (require.main === module) runCommand(command);
