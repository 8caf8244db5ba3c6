/**
 * npm run deploy -- --env <env> [--skip-ami] [--color blue|green] [--auto-approve] [--dry-run]
 *
 * Builds the AMI (unless --skip-ami) and hands it to the stack, runs `cdktf deploy
 * webfleet-<env>`, then waits for the instance refreshes that deploy started, with
 * progress. Exits non-zero when a refresh fails, is cancelled or rolls back.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { setTimeout as sleep } from "node:timers/promises";
import { COLORS } from "../modules/names";
import { deployCommand, formatDeployResult } from "./lib/deploy/deploy";
import { interruptSignal, listOption, oneOf, parseOptions, runMain, usage, UserError, zxRunner, type OptionSpecs } from "./lib/cli";

const OPTIONS = {
  env: { type: "string", valueName: "name", help: "environment (config/<name>.yaml); required" },
  "skip-ami": { type: "boolean", help: "deploy without building an AMI" },
  color: { type: "string", valueName: "blue|green", help: "color that gets the new AMI (default: the idle color)" },
  "auto-approve": { type: "boolean", help: "pass --auto-approve to cdktf deploy (CI)" },
  "dry-run": { type: "boolean", help: "print what would be built, published and deployed; change nothing" },
  "timeout-minutes": { type: "string", valueName: "n", help: "how long to wait for instance refreshes (default 60)" },
  "copy-to": { type: "string", valueName: "region,...", multiple: true, help: "also copy the AMI to these regions" },
  "session-manager": { type: "boolean", help: "reach the build instance through SSM Session Manager (no inbound SSH)" },
} as const satisfies OptionSpecs;

const USAGE = usage("npm run deploy --", "Builds the AMI, deploys the environment's stack and waits for its instance refreshes.", OPTIONS);

function positiveNumber(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`--${option} ${value}: must be a positive number`, 2);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const args = parseOptions(argv, OPTIONS);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!args.env) throw new UserError("--env is required (for example --env dev); run with --help for the options", 2);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const interrupt = interruptSignal(log);
  try {
    const { loadEnvironment } = await import("../config/load");
    const region = loadEnvironment(args.env).region;
    const result = await deployCommand(
      {
        runner: zxRunner(),
        ssm: new SSMClient({ region }),
        sts: new STSClient({ region }),
        autoScaling: new AutoScalingClient({ region }),
        // Tells a release lock whose deployment has ended (stale) from a running release.
        codedeploy: new CodeDeployClient({ region }),
        log,
        signal: interrupt.signal,
        loadEnvironment,
        // Ends early on Ctrl-C, so the wait stops at once (the refresh itself goes on in AWS).
        sleep: (ms) => sleep(ms, undefined, { signal: interrupt.signal }).catch(() => undefined),
        now: () => Date.now(),
      },
      {
        env: args.env,
        skipAmi: args["skip-ami"] === true,
        color: oneOf("color", args.color, COLORS),
        autoApprove: args["auto-approve"] === true,
        dryRun: args["dry-run"] === true,
        timeoutMinutes: positiveNumber("timeout-minutes", args["timeout-minutes"]),
        copyToRegions: listOption(args["copy-to"]),
        sessionManager: args["session-manager"] === true,
      },
    );
    process.stdout.write(`${formatDeployResult(result).join("\n")}\n`);
    return result.ok ? 0 : interrupt.signal.aborted ? 130 : 1;
  } finally {
    interrupt.dispose();
  }
}

runMain(main);
