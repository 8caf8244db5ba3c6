/**
 * Where a baked AMI goes: the SSM parameter `/webfleet/<env>/ami/<color>` that the color's
 * launch template reads. Terraform creates the parameter (and ignores changes to its value);
 * this module decides the target colors from what the environment published (once, before a
 * build) and overwrites the value after it.
 */
import { PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { EnvironmentConfig } from "../../../config/load";
import { COLORS, otherColor, releaseParameters, stackName, type Color } from "../../../modules/names";
import type { EnvironmentState } from "../aws/environment";
import { CliError } from "../cli/errors";

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

function pinnedError(env: EnvironmentConfig, color: Color, id: string): CliError {
  return new CliError(
    `ami.${color} is pinned to ${id} in ${env.file}, so the ${color} fleet does not read ${releaseParameters(env.name).ami(color)}: ` +
      `change it to \`${color}: { parameter: {} }\` to use baked AMIs, pick the other color with --color ${otherColor(color)}, or build only with --no-publish`,
  );
}

/** The colors whose AMI comes from their SSM parameter (not pinned in the environment file). */
export function parameterColors(env: EnvironmentConfig): Color[] {
  return COLORS.filter((c) => !("id" in env.ami[c]));
}

/** A color's parameter that gets a new AMI. */
export interface AmiTarget {
  readonly color: Color;
  readonly parameter: string;
  /** Its value before (undefined when the stack will create it with the new AMI: first deploy). */
  readonly previous?: { readonly value: string; readonly version: number };
}

/** Where a new AMI goes, decided once from the environment's published state. */
export interface AmiTargets {
  /** Parameters that exist: overwritten after the build. */
  readonly publish: readonly AmiTarget[];
  /** Parameters the stack creates on its first deploy, with the new AMI as initial value. */
  readonly initial: readonly AmiTarget[];
  /** The color serving traffic, when the stack is deployed. */
  readonly liveColor?: Color;
}

/**
 * The colors that get the new AMI: `requested`; else the idle color when the stack is deployed
 * (`liveColor` known); else, on a first deploy, every color that reads its parameter. A pinned
 * color is refused here, the one place that checks it.
 */
export function targetColors(env: EnvironmentConfig, liveColor: Color | undefined, requested: Color | undefined, firstDeploy: boolean): Color[] {
  let colors: Color[];
  if (requested) colors = [requested];
  else if (liveColor) colors = [otherColor(liveColor)];
  else if (firstDeploy) colors = parameterColors(env);
  else throw new CliError(`${notDeployedMessage(env.name, releaseParameters(env.name).liveColor)}; or name the color with --color blue|green`);
  for (const c of colors) {
    const source = env.ami[c];
    if ("id" in source) throw pinnedError(env, c, source.id);
  }
  return colors;
}

/**
 * {@link targetColors}, each with its parameter as the environment published it. Without
 * `firstDeploy` (npm run ami) a parameter that does not exist yet is refused: only a deploy can
 * create it.
 */
export function amiTargets(env: EnvironmentConfig, state: EnvironmentState, requested: Color | undefined, o: { readonly firstDeploy: boolean }): AmiTargets {
  const names = releaseParameters(env.name);
  const publish: AmiTarget[] = [];
  const initial: AmiTarget[] = [];
  for (const color of targetColors(env, state.liveColor, requested, o.firstDeploy)) {
    const previous = state.amis[color];
    if (previous) publish.push({ color, parameter: names.ami(color), previous });
    else if (o.firstDeploy) initial.push({ color, parameter: names.ami(color) });
    else throw new CliError(notDeployedMessage(env.name, names.ami(color)));
  }
  return { publish, initial, liveColor: state.liveColor };
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
 * Overwrites a target's parameter with `amiId`. The target came from {@link amiTargets}, so the
 * parameter exists (PutParameter would otherwise create it behind Terraform's back).
 */
export async function publishAmi(ssm: SSMClient, region: string, target: AmiTarget, amiId: string): Promise<Published> {
  const out = await ssm.send(
    new PutParameterCommand({
      Name: target.parameter,
      Value: amiId,
      // As Terraform created it: a plain String, data type text (the value may also be resolve:ssm:...).
      Type: "String",
      DataType: "text",
      Overwrite: true,
    }),
  );
  const previousVersion = target.previous?.version ?? 0;
  return {
    parameter: target.parameter,
    color: target.color,
    region,
    amiId,
    previousValue: target.previous?.value ?? "",
    version: out.Version ?? previousVersion + 1,
  };
}
