/**
 * npm run ami -- --env <env> [--color blue|green] [--no-publish] [--dry-run] [--json]
 *
 * Builds the environment's AMI with Packer (packer/) and publishes its id to the SSM
 * parameter of the idle color, which that color's launch template reads at the next deploy.
 */
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { COLORS } from "../modules/names";
import { amiCommand, formatAmiResult } from "./lib/image/build";
import { interruptSignal, listOption, oneOf, parseOptions, runMain, usage, UserError, zxRunner, type OptionSpecs } from "./lib/cli";

const OPTIONS = {
  env: { type: "string", valueName: "name", help: "environment (config/<name>.yaml); required" },
  color: { type: "string", valueName: "blue|green", help: "color whose AMI parameter gets the id (default: the idle color)" },
  "no-publish": { type: "boolean", help: "build only and print the AMI id" },
  "dry-run": { type: "boolean", help: "print the packer commands and what would be published; change nothing" },
  json: { type: "boolean", help: "print the result as JSON on stdout (progress stays on stderr)" },
  "copy-to": { type: "string", valueName: "region,...", multiple: true, help: "also copy the AMI to these regions" },
  "session-manager": { type: "boolean", help: "reach the build instance through SSM Session Manager (no inbound SSH)" },
} as const satisfies OptionSpecs;

const USAGE = usage("npm run ami --", "Builds the webfleet AMI with Packer and publishes its id to /webfleet/<env>/ami/<color>.", OPTIONS);

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
    const result = await amiCommand(
      { runner: zxRunner(), ssm: new SSMClient({ region }), sts: new STSClient({ region }), log, signal: interrupt.signal, loadEnvironment },
      {
        env: args.env,
        color: oneOf("color", args.color, COLORS),
        publish: !args["no-publish"],
        dryRun: args["dry-run"] === true,
        copyToRegions: listOption(args["copy-to"]),
        sessionManager: args["session-manager"] === true,
      },
    );
    process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatAmiResult(result).join("\n")}\n`);
    return 0;
  } finally {
    interrupt.dispose();
  }
}

runMain(main);
