/**
 * npm run status -- --env <env> [--json] [--watch [--every 10s]]
 *
 * The environment as it is now: live color, weights, per color the revision, AMI, instances and
 * alarms, the lock holder, a kept old color, and anything in flight.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import { loadEnvironment } from "../config/load";
import { awsClientConfig } from "./lib/aws/clients";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { CliError } from "./lib/cli/errors";
import { parseDuration } from "./lib/cli/duration";
import { formatStatus, readStatus } from "./lib/release/status";

export const command = defineCommand({
  name: "status",
  summary: "Shows the environment now: live color, weights, per color the revision, AMI, instances and alarms, the lock, and anything in flight.",
  options: {
    env: option.env(),
    json: option.json(),
    watch: option.flag("refresh until Ctrl-C"),
    every: option.custom("duration", "with --watch: how often to refresh (5s..10m)", parseDuration, { defaultText: "10s" }),
  },
  examples: ["npm run status -- --env dev", "npm run -s status -- --env dev --json | jq .weights", "npm run status -- --env dev --watch --every 5s"],
  exitCodes: { 0: "shown", 2: "not deployed, no credentials, or a bad option" },
  async run({ options }, ctx) {
    if (options.every !== undefined && (options.every < 5 || options.every > 600)) throw new CliError(`--every ${options.every}s: must be from 5s to 10m`);
    if (options.every !== undefined && !options.watch) throw new CliError("--every goes with --watch");
    const env = loadEnvironment(options.env);
    const aws = awsClientConfig(env.region);
    const clients = {
      ssm: new SSMClient(aws),
      s3: new S3Client(aws),
      elb: new ElasticLoadBalancingV2Client(aws),
      autoScaling: new AutoScalingClient(aws),
      codedeploy: new CodeDeployClient(aws),
      cloudwatch: new CloudWatchClient(aws),
    };
    for (;;) {
      const status = await readStatus(clients, env.name, Date.now());
      if (!options.watch) return { json: status, lines: formatStatus(status) };
      ctx.out(options.json ? `${JSON.stringify(status)}\n` : `${formatStatus(status).join("\n")}\n\n`);
      await sleep((options.every ?? 10) * 1000);
    }
  },
});

if (require.main === module) runCommand(command);
