/**
 * npm run ami:prune -- --env <env> [--keep 3] [--min-age 7d] [--apply] [--json]
 *
 * Deregisters the environment's baked AMIs that nothing uses, beyond the newest N and older than
 * the minimum age, and deletes their snapshots. A dry run (the table, nothing changed) unless
 * --apply.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { setTimeout as sleep } from "node:timers/promises";
import { loadEnvironment, loadEnvironments } from "../config/load";
import { awsClientConfig } from "./lib/aws/clients";
import { requireAwsCredentials } from "./lib/aws/credentials";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { CliError } from "./lib/cli/errors";
import { parseDuration } from "./lib/cli/duration";
import { formatPruneResult, IMAGE_TAGS, pruneExitCode, pruneImages, pruneJson, referencesOfEnvironments } from "./lib/image/prune";

/** `--keep 0` needs an age rule, or the newest AMI could go the moment nothing runs it. */
export function checkKeepRule(keep: number, minAge: string | undefined, minAgeSeconds: number | undefined): void {
  if (keep === 0 && (minAgeSeconds === undefined || minAgeSeconds === 0)) {
    throw new CliError(
      `--keep '0' ${minAge === undefined ? "without --min-age" : `with --min-age '${minAge}'`}: would delete every AMI nothing uses, the newest too; ` +
        "keep at least 1 (--keep 1) or give an age above zero (--min-age 7d)",
    );
  }
}

export const command = defineCommand({
  name: "ami:prune",
  summary: "Deregisters the environment's AMIs that nothing uses, beyond the newest N and older than --min-age, and deletes their snapshots.",
  description:
    `Looks at the AMIs the account owns tagged ${IMAGE_TAGS.project}=webfleet and ${IMAGE_TAGS.environment}=<env>. ` +
    "Never one that an SSM AMI parameter (either color, any environment in the region), a pinned ami.<color>.id, a launch template " +
    "version an Auto Scaling group uses, or an instance (pending, running, stopping, stopped) refers to, nor the newest N. " +
    "A dry run unless --apply: it prints every AMI, keep or delete, and why. A broken environment file refuses it (exit 2): the AMIs that file uses would be unknown.",
  options: {
    env: option.env(),
    keep: option.integer("n", "the newest N AMIs always stay", { min: 0, default: 3, defaultText: "3" }),
    minAge: option.string("duration", "an AMI younger than this stays (90m, 12h, 7d); required with --keep 0", {
      defaultText: "no age rule",
      // Checked as it is parsed; kept as typed, for the reasons ("younger than 7d").
      parse: (raw, flag) => (parseDuration(raw, flag), raw),
    }),
    apply: option.flag("deregister and delete for real (without it: a dry run that changes nothing)"),
    json: option.json(),
  },
  examples: [
    "npm run ami:prune -- --env dev",
    "npm run ami:prune -- --env dev --keep 5 --min-age 14d --apply",
    "npm run -s ami:prune -- --env prod --json | jq '.images[] | select(.action == \"delete\")'",
  ],
  exitCodes: {
    0: "pruned (or a dry run)",
    1: "an AMI could not be deregistered (it and its snapshots stay; see the list)",
    2: "refused, nothing deleted: a bad option, no credentials, a broken environment file (its AMI references are unknown)",
    3: "an AMI was deregistered but a snapshot of it was not deleted: the list says which, and the command that finishes it",
  },
  async run({ options }, ctx) {
    // Checked before anything is read: bad input changes nothing.
    const minAgeSeconds = options.minAge === undefined ? undefined : parseDuration(options.minAge, "--min-age");
    checkKeepRule(options.keep, options.minAge, minAgeSeconds);
    const env = loadEnvironment(options.env);
    // Every file's AMI references, before AWS is asked anything: a broken file refuses the prune.
    const { parameters, pinned } = referencesOfEnvironments(env, loadEnvironments());
    const aws = awsClientConfig(env.region);
    await requireAwsCredentials(new STSClient(aws), env.region);
    const signal = ctx.interrupts.signal;
    const result = await ctx.interrupts.cooperate(() =>
      pruneImages(
        {
          ec2: new EC2Client(aws),
          ssm: new SSMClient(aws),
          autoScaling: new AutoScalingClient(aws),
          sleep: (ms) => sleep(ms, undefined, { signal }).catch(() => undefined),
          now: () => Date.now(),
          log: ctx.log,
          signal,
        },
        {
          env: env.name,
          region: env.region,
          apply: options.apply,
          policy: { keep: options.keep, minAgeSeconds, minAgeText: options.minAge, parameters, pinned },
        },
      ),
    );
    return { exitCode: pruneExitCode(result), json: pruneJson(result), lines: formatPruneResult(result) };
  },
});

if (require.main === module) runCommand(command);
