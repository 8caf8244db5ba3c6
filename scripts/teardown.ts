/**
 * npm run teardown -- --env <env> [--apply [--confirm <env>]] [--include-amis] [--include-state] [--json]
 *
 * The tutorial's cleanup checklist as one command, in an order that works: lock, stop what is in
 * flight, deletion protection off, empty the revision bucket, cdktf destroy, then (if asked) the
 * AMIs and the Terraform state, and what is left in SSM. A dry run unless --apply.
 */
import { hostname, userInfo } from "node:os";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { loadEnvironment } from "../config/load";
import { awsClientConfig } from "./lib/aws/clients";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { zxRunner } from "./lib/cli/runner";
import { checkEnvName, formatTeardownResult, teardownCommand } from "./lib/teardown/teardown";

export const command = defineCommand({
  name: "teardown",
  summary: "Tears an environment down in an order that works: lock, stop deployments, deletion protection off, empty the revision bucket, cdktf destroy.",
  description:
    "A dry run unless --apply: it reads what exists and prints each step with what it would delete. " +
    "--include-amis also deregisters the environment's AMIs and deletes their snapshots (never one an instance of another fleet uses; every environment file must load, to know the AMIs the others use); " +
    "--include-state also deletes its Terraform state in the S3 state bucket, and the bucket only when nothing else is in it. " +
    "Production needs its name typed again: prod, and every environment whose file sets loadBalancer.deletionProtection: true, " +
    "are torn down only with --apply --confirm <env>. Refused while a release holds the environment's lock. Running it twice is harmless.",
  options: {
    env: option.env(),
    apply: option.flag("delete for real (without it: a dry run that changes nothing)"),
    confirm: option.string("env", "the environment's name again: required with --apply for prod and for any environment with deletion protection"),
    includeAmis: option.flag("also deregister the environment's AMIs and delete their snapshots"),
    includeState: option.flag("also delete the environment's Terraform state in S3 (and the state bucket when nothing else is in it)"),
    json: option.json(),
  },
  examples: [
    "npm run teardown -- --env dev",
    "npm run teardown -- --env dev --apply --include-amis",
    "npm run teardown -- --env prod --apply --confirm prod --include-amis --include-state",
  ],
  exitCodes: {
    0: "torn down (or a dry run with no blocker)",
    1: "failed before anything was deleted",
    2: "refused, nothing deleted: unknown environment, a held lock, a missing --confirm, no credentials, a broken environment file with --include-amis, or a bad option",
    3: "torn down in part: the report says what could not be deleted and why (running it again goes on from there)",
  },
  async run({ options }, ctx) {
    checkEnvName(options.env);
    const env = loadEnvironment(options.env);
    const aws = awsClientConfig(env.region);
    const signal = ctx.interrupts.signal;
    const result = await ctx.interrupts.cooperate(() =>
      teardownCommand(
        {
          runner: zxRunner(),
          sts: new STSClient(aws),
          ssm: new SSMClient(aws),
          s3: new S3Client(aws),
          s3For: (region) => new S3Client(awsClientConfig(region)),
          ec2: new EC2Client(aws),
          autoScaling: new AutoScalingClient(aws),
          elb: new ElasticLoadBalancingV2Client(aws),
          codedeploy: new CodeDeployClient(aws),
          // Ends early on Ctrl-C, so a wait stops at once.
          clock: { now: () => Date.now(), sleep: (ms) => sleep(ms, undefined, { signal }).catch(() => undefined) },
          log: ctx.log,
          whoami: { user: userInfo().username, host: hostname() },
          newLockId: () => randomUUID(),
          signal,
          defer: (cleanup) => ctx.interrupts.defer(cleanup),
        },
        { env: env.name, apply: options.apply, includeAmis: options.includeAmis, includeState: options.includeState, confirm: options.confirm },
      ),
    );
    return { exitCode: result.exitCode, json: result, lines: formatTeardownResult(result) };
  },
});

if (require.main === module) runCommand(command);
