/**
 * npm run nightly -- --env <env> [--rollout blue-green|refresh|none] [--force] [--dry-run] [--json]
 *
 * Rebuilds the web AMI only when one of its inputs changed, and promotes a new image like a
 * release. The night's summary goes to stdout (or --json), GitHub's job summary when run in
 * Actions, and the environment's SNS topic.
 */
import { appendFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { S3Client } from "@aws-sdk/client-s3";
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { SNSClient } from "@aws-sdk/client-sns";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { loadEnvironment } from "../config/load";
import { awsClientConfig } from "./lib/aws/clients";
import { readEnvironmentState } from "./lib/aws/environment";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { parseDuration } from "./lib/cli/duration";
import { zxRunner } from "./lib/cli/runner";
import { BUILD_OPTIONS, buildOptionsFrom } from "./lib/image/build";
import { httpGet } from "./lib/release/steps/smoke";
import { formatNight, nightExitCode, nightMarkdown, notify, ROLLOUTS, runNightly } from "./lib/nightly/nightly";

export const command = defineCommand({
  name: "nightly",
  summary: "Rebuilds the web AMI only when one of its inputs changed, and promotes a new image like a release (blue/green by default).",
  description:
    "The build key (the newest AL2023 AMI, the packer/ tree and variables, the CodeDeploy agent version, the Amazon plugin version) is computed before Packer starts; " +
    "when the newest image built for the environment has it, the night is skipped. The release lock is held for the whole night.",
  options: {
    env: option.env(),
    rollout: option.choice(ROLLOUTS, "how a new image reaches production", { defaultText: "the environment's deployment.nightlyRollout (blue-green)" }),
    force: option.flag("build even when nothing changed"),
    bake: option.custom("duration", "the blue/green promotion's bake", parseDuration, { defaultText: "the release's default, 5m" }),
    dryRun: option.dryRun("build and promote nothing"),
    json: option.json(),
    ...BUILD_OPTIONS,
  },
  examples: [
    "npm run nightly -- --env dev",
    "npm run nightly -- --env dev --dry-run",
    "npm run nightly -- --env prod --rollout blue-green   # after the prod approval (the Nightly AMI workflow)",
    "npm run nightly -- --env dev --rollout refresh --force",
  ],
  exitCodes: {
    0: "skipped (nothing changed), or built and promoted as asked",
    1: "the build failed, or the promotion failed and rolled back",
    3: "needs attention: the promotion stopped part-way (the summary says where)",
  },
  unexpectedExitCode: 3,
  async run({ options }, ctx) {
    const env = loadEnvironment(options.env);
    const aws = awsClientConfig(env.region);
    const ssm = new SSMClient(aws);
    const s3 = new S3Client(aws);
    const codedeploy = new CodeDeployClient(aws);
    const autoScaling = new AutoScalingClient(aws);
    const sts = new STSClient(aws);
    const ec2 = new EC2Client(aws);
    const sns = new SNSClient(aws);
    const signal = ctx.interrupts.signal;
    const whoami = { user: userInfo().username, host: hostname() };
    const report = await ctx.interrupts.cooperate(() =>
      runNightly(
        {
          deploy: {
            runner: zxRunner(),
            ssm,
            sts,
            autoScaling,
            codedeploy,
            ec2,
            log: ctx.log,
            signal,
            sleep: (ms) => sleep(ms, undefined, { signal }).catch(() => undefined),
            now: () => Date.now(),
          },
          release: {
            ssm,
            s3,
            codedeploy,
            autoScaling,
            sts,
            elb: new ElasticLoadBalancingV2Client(aws),
            cloudwatch: new CloudWatchClient(aws),
            http: httpGet,
            ec2,
            serviceQuotas: new ServiceQuotasClient(aws),
            clock: { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
            out: ctx.stderr,
            stdout: ctx.stdout,
            interrupts: ctx.interrupts,
            whoami,
            newLockId: () => randomUUID(),
          },
          s3,
          sns,
          log: ctx.log,
          now: () => Date.now(),
          whoami,
          newLockId: () => randomUUID(),
        },
        { env: env.name, rollout: options.rollout, force: options.force, dryRun: options.dryRun, bakeSeconds: options.bake, ...buildOptionsFrom(options) },
      ),
    );
    if (!report.dryRun) {
      const summary = ctx.env.GITHUB_STEP_SUMMARY;
      if (summary) appendFileSync(summary, `${nightMarkdown(report)}\n`);
      const stack = (await readEnvironmentState(ssm, env.name)).stack;
      if (stack)
        await notify(sns, stack.alarmTopicArn, report).catch((e: unknown) =>
          ctx.log(`! the SNS summary was not sent: ${e instanceof Error ? e.message : String(e)}`),
        );
    }
    return { exitCode: nightExitCode(report), json: report, lines: formatNight(report) };
  },
});

if (require.main === module) runCommand(command);
