/**
 * npm run nightly -- --env <env> [--rollout blue-green|refresh|none] [--force] [--dry-run] [--json]
 *
 * Rebuilds the web AMI only when one of its inputs changed, and promotes a new image like a
 * release. The night's summary, a failed night's too, goes to stdout (or --json), GitHub's job
 * summary when run in Actions, and the environment's SNS topic.
 */
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
import { loadEnvironment, type EnvironmentConfig } from "../config/load";
import { awsClientConfig } from "./lib/aws/clients";
import { readEnvironmentState } from "./lib/aws/environment";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { CliError, EXIT } from "./lib/cli/errors";
import { parseDuration } from "./lib/cli/duration";
import { zxRunner } from "./lib/cli/runner";
import { BUILD_OPTIONS, buildOptionsFrom } from "./lib/image/build";
import { httpGet } from "./lib/release/steps/smoke";
import { failedNight, formatNight, NightFailed, nightExitCode, publishNight, ROLLOUTS, runNightly, type NightOutlets } from "./lib/nightly/nightly";

/** A night that ends in an error nobody foresaw needs a look: something may be half done. */
const UNEXPECTED = EXIT.needsAttention;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

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
    "npm run nightly -- --env prod --rollout blue-green   # after the prod approval: promotes the image a --rollout none night left on the idle color",
    "npm run nightly -- --env dev --rollout refresh --force",
  ],
  exitCodes: {
    0: "skipped (nothing changed), or built and promoted as asked",
    1: "the build failed, or the promotion failed and rolled back",
    2: "refused, nothing changed: bad input, no credentials, the stack is not deployed, the release lock is held",
    3: "needs attention: the promotion stopped part-way (the summary says where)",
  },
  unexpectedExitCode: UNEXPECTED,
  async run({ options }, ctx) {
    const started = Date.now();
    // The report's outlets, filled in as they become known (a broken file leaves only the job summary).
    const outlets: Mutable<NightOutlets> = { summaryFile: ctx.env.GITHUB_STEP_SUMMARY || undefined, log: ctx.log };
    try {
      let env: EnvironmentConfig;
      try {
        env = loadEnvironment(options.env);
      } catch (e) {
        throw new NightFailed("read the environment file", e);
      }
      const aws = awsClientConfig(env.region);
      const ssm = new SSMClient(aws);
      const s3 = new S3Client(aws);
      const codedeploy = new CodeDeployClient(aws);
      const autoScaling = new AutoScalingClient(aws);
      const sts = new STSClient(aws);
      const ec2 = new EC2Client(aws);
      const sns = new SNSClient(aws);
      outlets.sns = sns;
      outlets.topic = async () => (await readEnvironmentState(ssm, env.name)).stack?.alarmTopicArn;
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
      await publishNight(outlets, report);
      return { exitCode: nightExitCode(report), json: report, lines: formatNight(report) };
    } catch (e) {
      // A failed night is reported too (stdout or --json, the job summary, SNS); then the error
      // goes on to the toolkit, which prints it and exits with its code, as for any command.
      const failure = e instanceof NightFailed ? e : new NightFailed("run the night", e);
      const error = ctx.interrupts.interrupted && !(failure.error instanceof CliError) ? ctx.interrupts.signal.reason : failure.error;
      const report = failedNight({
        environment: options.env,
        startedAtMs: started,
        nowMs: Date.now(),
        dryRun: options.dryRun,
        step: failure.step,
        error,
        unexpectedExitCode: UNEXPECTED,
      });
      await publishNight(outlets, report);
      ctx.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatNight(report).join("\n")}\n`);
      throw error;
    }
  },
});

if (require.main === module) runCommand(command);
