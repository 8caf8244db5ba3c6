/**
 * Where a baked AMI goes: the SSM parameter `/webfleet/<env>/ami/<color>` that the color's
 * launch template reads. Terraform creates the parameter (and ignores changes to its
 * value); this module only finds the target color and overwrites the value.
 */
import { PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { EnvironmentConfig } from "../../../config/load";
import { COLORS, otherColor, releaseParameters, stackName, type Color } from "../../../modules/names";
import { UserError } from "../cli";
import { readParameter } from "../aws/ssm";

/** The environment variable the stack reads, only when it creates a color's AMI parameter. */
export function initialAmiEnvVar(color: Color): string {
  return `WEBFLEET_INITIAL_AMI_${color.toUpperCase()}`;
}

/** The message for a parameter the stack has not created yet. */
export function notDeployedMessage(env: string, parameter: string): string {
  return (
    `SSM parameter ${parameter} does not exist: the stack ${stackName(env)} has not been deployed yet. ` +
    `Run \`npm run deploy -- --env ${env}\`: it builds the AMI and creates the parameters with it ` +
    `(a bare \`npx cdktf deploy\` would start the fleets on stock Amazon Linux, which has no web server)`
  );
}

/** Refuses a color whose AMI is pinned in the environment file: its launch template does not read the parameter. */
export function assertNotPinned(env: EnvironmentConfig, color: Color): void {
  const source = env.ami[color];
  if ("id" in source) {
    throw new UserError(
      `ami.${color} is pinned to ${source.id} in ${env.file}, so the ${color} fleet does not read ${releaseParameters(env.name).ami(color)}: ` +
        `change it to \`${color}: { parameter: {} }\` to use baked AMIs, pick the other color with --color ${otherColor(color)}, or build only with --no-publish`,
      2,
    );
  }
}

/** The colors whose AMI comes from their SSM parameter (not pinned in the environment file). */
export function parameterColors(env: EnvironmentConfig): Color[] {
  return COLORS.filter((c) => !("id" in env.ami[c]));
}

export interface TargetColor {
  readonly color: Color;
  /** The color serving traffic, when it was read (not when --color was given). */
  readonly liveColor?: Color;
  readonly parameter: string;
}

/**
 * The color a new AMI goes to: `requested`, or else the idle one (the other color than
 * `/webfleet/<env>/live-color`). Throws a UserError when the stack is not deployed.
 */
export async function resolveTargetColor(ssm: SSMClient, env: EnvironmentConfig, requested?: Color): Promise<TargetColor> {
  const names = releaseParameters(env.name);
  if (requested) return { color: requested, parameter: names.ami(requested) };
  const live = await readParameter(ssm, names.liveColor);
  if (!live) throw new UserError(`${notDeployedMessage(env.name, names.liveColor)}; or name the color with --color blue|green`);
  if (!(COLORS as readonly string[]).includes(live.value)) {
    throw new UserError(
      `SSM parameter ${names.liveColor} is '${live.value}', expected one of ${COLORS.join(", ")}: fix it, or name the color with --color blue|green`,
    );
  }
  const liveColor = live.value as Color;
  const color = otherColor(liveColor);
  return { color, liveColor, parameter: names.ami(color) };
}

export interface Published {
  readonly parameter: string;
  readonly color: Color;
  readonly region: string;
  readonly amiId: string;
  readonly previousValue: string;
  readonly version: number;
}

/**
 * Overwrites the color's AMI parameter with `amiId`. The parameter must exist (PutParameter
 * would otherwise create it behind Terraform's back, and the next deploy would fail).
 */
export async function publishAmi(ssm: SSMClient, env: EnvironmentConfig, color: Color, amiId: string): Promise<Published> {
  assertNotPinned(env, color);
  const parameter = releaseParameters(env.name).ami(color);
  const current = await readParameter(ssm, parameter);
  if (!current) throw new UserError(notDeployedMessage(env.name, parameter));
  const out = await ssm.send(
    new PutParameterCommand({
      Name: parameter,
      Value: amiId,
      // As Terraform created it: a plain String, data type text (the value may also be resolve:ssm:...).
      Type: "String",
      DataType: "text",
      Overwrite: true,
    }),
  );
  return { parameter, color, region: env.region, amiId, previousValue: current.value, version: out.Version ?? current.version + 1 };
}
