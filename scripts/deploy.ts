/**
 * npm run deploy -- --env <env> [--skip-ami] [--color blue|green] [--auto-approve] [--dry-run]
 *
 * Builds the AMI (unless --skip-ami) and hands it to the stack, runs `cdktf deploy
 * webfleet-<env>`, then waits for the instance refreshes that deploy started, with
 * progress. Exits non-zero when a refresh fails, is cancelled or rolls back.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { setTimeout as sleep } from "node:timers/promises";
import { loadEnvironment } from "../config/load";
import { COLORS } from "../modules/names";
import { awsClientConfig } from "./lib/aws/clients";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { EXIT } from "./lib/cli/errors";
import { zxRunner } from "./lib/cli/runner";
import { deployCommand, formatDeployResult } from "./lib/deploy/deploy";
import { BUILD_OPTIONS, buildOptionsFrom } from "./lib/image/build";

export const command = defineCommand({
  name: "deploy",
  summary: "Builds the AMI, deploys the environment's stack (cdktf deploy) and waits for its instance refreshes.",
  description: "The first deploy of an environment goes through here: it bakes the web AMI before the fleets exist.",
  options: {
    env: option.env(),
    skipAmi: option.flag("deploy without building an AMI"),
    color: option.choice(["blue", "green"] as const satisfies typeof COLORS, "the color that gets the new AMI", {
      defaultText: "the idle color; every color on a first deploy",
    }),
    autoApprove: option.flag("pass --auto-approve to cdktf deploy (CI)"),
    dryRun: option.dryRun("build, publish and deploy nothing"),
    json: option.json(),
    timeoutMinutes: option.integer("minutes", "how long to wait for instance refreshes", { min: 1, max: 1440, default: 60, defaultText: "60" }),
    ...BUILD_OPTIONS,
  },
  examples: ["npm run deploy -- --env dev", "npm run deploy -- --env dev --skip-ami --auto-approve", "npm run deploy -- --env prod --dry-run"],
  exitCodes: { 0: "deployed, and every instance refresh succeeded (or a dry run with no blocker)", 1: "the build, the deploy or a refresh failed" },
  async run({ options }, ctx) {
    const region = loadEnvironment(options.env).region;
    const aws = awsClientConfig(region);
    const signal = ctx.interrupts.signal;
    const result = await ctx.interrupts.cooperate(() =>
      deployCommand(
        {
          runner: zxRunner(),
          ssm: new SSMClient(aws),
          sts: new STSClient(aws),
          ec2: new EC2Client(aws),
          autoScaling: new AutoScalingClient(aws),
          // Tells a release lock whose deployment has ended (stale) from a running release.
          codedeploy: new CodeDeployClient(aws),
          log: ctx.log,
          signal,
          // Ends early on Ctrl-C, so the wait stops at once (the refresh itself goes on in AWS).
          sleep: (ms) => sleep(ms, undefined, { signal }).catch(() => undefined),
          now: () => Date.now(),
        },
        {
          env: options.env,
          skipAmi: options.skipAmi,
          color: options.color,
          autoApprove: options.autoApprove,
          dryRun: options.dryRun,
          timeoutMinutes: options.timeoutMinutes,
          ...buildOptionsFrom(options),
        },
      ),
    );
    const exitCode = result.dryRun ? (result.ok ? EXIT.ok : EXIT.refused) : result.ok ? EXIT.ok : signal.aborted ? EXIT.interrupted : EXIT.failed;
    return { exitCode, json: result, lines: formatDeployResult(result) };
  },
});

if (require.main === module) runCommand(command);
