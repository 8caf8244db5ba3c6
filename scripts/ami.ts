/**
 * npm run ami -- --env <env> [--color blue|green] [--no-publish] [--dry-run] [--json]
 *                [--session-manager] [--subnet-id <subnet>] [--iam-instance-profile <name>]
 *
 * Builds the environment's AMI with Packer (packer/) and publishes its id to the SSM
 * parameter of the idle color, which that color's launch template reads at the next deploy.
 */
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { loadEnvironment } from "../config/load";
import { COLORS } from "../modules/names";
import { awsClientConfig } from "./lib/aws/clients";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { zxRunner } from "./lib/cli/runner";
import { amiCommand, amiExitCode, BUILD_OPTIONS, buildOptionsFrom, formatAmiResult } from "./lib/image/build";

export const command = defineCommand({
  name: "ami",
  summary: "Builds the webfleet AMI with Packer and publishes its id to /webfleet/<env>/ami/<color>.",
  description: "Nothing is published unless the build succeeded and Packer's manifest holds this run's AMI.",
  options: {
    env: option.env(),
    color: option.choice(["blue", "green"] as const satisfies typeof COLORS, "the color whose AMI parameter gets the id", { defaultText: "the idle color" }),
    publish: option.negated("build only and print the AMI id; publish nothing"),
    dryRun: option.dryRun("build and publish nothing"),
    json: option.json(),
    ...BUILD_OPTIONS,
  },
  examples: [
    "npm run ami -- --env dev",
    "npm run ami -- --env dev --color blue",
    "npm run ami -- --env dev --session-manager --subnet-id subnet-0123456789abcdef0 --iam-instance-profile webfleet-dev-instance",
    "npm run -s ami -- --env dev --dry-run --json | jq .",
  ],
  exitCodes: { 0: "built (and published), or a dry run with no blocker", 1: "the build failed; nothing was published" },
  async run({ options }, ctx) {
    const region = loadEnvironment(options.env).region;
    const aws = awsClientConfig(region);
    const result = await ctx.interrupts.cooperate(() =>
      amiCommand(
        { runner: zxRunner(), ssm: new SSMClient(aws), sts: new STSClient(aws), ec2: new EC2Client(aws), log: ctx.log, signal: ctx.interrupts.signal },
        {
          env: options.env,
          color: options.color,
          publish: options.publish,
          dryRun: options.dryRun,
          ...buildOptionsFrom(options),
        },
      ),
    );
    return { exitCode: amiExitCode(result), json: result, lines: formatAmiResult(result) };
  },
});

if (require.main === module) runCommand(command);
