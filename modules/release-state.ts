import { Construct } from "constructs";
import { Fn, TerraformVariable } from "cdktf";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import type { AmiSource } from "../config/schema";
import { COLORS, type Color, INITIAL_LIVE_COLOR, RELEASE_STATE_VARIABLES, releaseParameters } from "./names";

/** AWS's public parameter of the newest stock Amazon Linux 2023 image for an architecture. */
export function stockAmazonLinux(architecture: "x86_64" | "arm64"): string {
  return `resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architecture}`;
}

export interface ReleaseStateProps {
  /** Environment name: the parameters live under /webfleet/<env>/. */
  readonly environment: string;
  /** Where each color's AMI comes from. Colors with an explicit id get no AMI parameter. */
  readonly ami: Readonly<Record<Color, AmiSource>>;
  /**
   * Default of the `initial_live_color` variable: the color that serves traffic when the
   * parameters are first created.
   * @default INITIAL_LIVE_COLOR ("blue")
   */
  readonly initialLiveColor?: Color;
  /**
   * Default of a color's `initial_ami_<color>` variable when its config gives no `initialValue`.
   * @default - Amazon Linux 2023's public parameter for `architecture` (a stock image; the
   * first `npm run deploy` passes the baked web AMI instead)
   */
  readonly defaultInitialAmi?: Readonly<Partial<Record<Color, string>>>;
  /**
   * CPU architecture of the fleets, for the default initial AMI.
   * @default "x86_64"
   */
  readonly architecture?: "x86_64" | "arm64";
}

/** A color's initial weight: its variable, else 100 on the initial live color and 0 on the other. */
function initialWeight(color: Color): string {
  return `coalesce(var.${RELEASE_STATE_VARIABLES.weight(color)}, var.${RELEASE_STATE_VARIABLES.liveColor} == "${color}" ? 100 : 0)`;
}

const AMI_VALUE = "^(ami-[0-9a-f]{8}([0-9a-f]{9})?|resolve:ssm:/[A-Za-z0-9_./-]+)$";

/**
 * The values that change at release time: AMI per color, listener weight per color, the live
 * color. Terraform creates each parameter once, with the value of a Terraform variable
 * ({@link RELEASE_STATE_VARIABLES}), and then only reads it (`ignore_changes` on its value):
 * the release owns the value, and every `cdktf deploy`, by anyone, picks up the live state
 * instead of a stale file. A test plans from any release state by setting the variables.
 */
export class ReleaseState extends Construct {
  private readonly amiParameters: Partial<Record<Color, SsmParameter>> = {};
  private readonly weightParameters = {} as Record<Color, SsmParameter>;
  private readonly ami: Readonly<Record<Color, AmiSource>>;
  readonly liveColorParameter: SsmParameter;
  /** The key of the color-only route (see LoadBalancer): a UUID made at creation. */
  readonly smokeTestKey: string;

  constructor(scope: Construct, id: string, props: ReleaseStateProps) {
    super(scope, id);
    const names = releaseParameters(props.environment);
    const architecture = props.architecture ?? "x86_64";
    this.ami = props.ami;

    const live = this.variable(RELEASE_STATE_VARIABLES.liveColor, {
      type: "string",
      default: props.initialLiveColor ?? INITIAL_LIVE_COLOR,
      description: "The color that serves traffic when the live-color parameter is first created (ignored once it exists)",
      validation: [
        {
          condition: `\${contains(${JSON.stringify(COLORS)}, var.${RELEASE_STATE_VARIABLES.liveColor})}`,
          errorMessage: `${RELEASE_STATE_VARIABLES.liveColor} must be one of ${COLORS.join(", ")}.`,
        },
      ],
    });

    for (const color of COLORS) {
      const source = props.ami[color];
      if ("parameter" in source) {
        const name = RELEASE_STATE_VARIABLES.ami(color);
        const initial = this.variable(name, {
          type: "string",
          default: source.parameter.initialValue ?? props.defaultInitialAmi?.[color] ?? stockAmazonLinux(architecture),
          description: `AMI the ${color} AMI parameter is created with (ignored once it exists; npm run ami sets it)`,
          validation: [
            {
              condition: `\${can(regex(${JSON.stringify(AMI_VALUE)}, var.${name}))}`,
              errorMessage: `${name} must be an AMI id (ami-0123456789abcdef0) or resolve:ssm:/<parameter>.`,
            },
          ],
        });
        this.amiParameters[color] = this.parameter(`ami-${color}`, names.ami(color), initial.stringValue, `AMI of the ${color} fleet (set by npm run ami)`);
      }

      // Unset, a weight follows the initial live color: 100 on it, 0 on the other.
      const name = RELEASE_STATE_VARIABLES.weight(color);
      const weight = this.variable(name, {
        type: "number",
        nullable: true,
        description: `Listener weight (0-100) the ${color} weight parameter is created with (ignored once it exists); unset: 100 on the initial live color, 0 on the other`,
        validation: [
          {
            // try(): a comparison with null fails, and null (unset) is valid.
            condition: `\${try(var.${name} >= 0 && var.${name} <= 100 && floor(var.${name}) == var.${name}, var.${name} == null)}`,
            errorMessage: `${name} must be a whole number from 0 to 100.`,
          },
          // One check of the pair is enough: on the last color.
          ...(color === COLORS[COLORS.length - 1]
            ? [
                {
                  condition: `\${try(${COLORS.map(initialWeight).join(" + ")} == 100, true)}`,
                  errorMessage: `the initial weights (${COLORS.map((c) => RELEASE_STATE_VARIABLES.weight(c)).join(", ")}) must add up to 100.`,
                },
              ]
            : []),
        ],
      });
      // Optional, unset by default (cdktf has no prop for a null default).
      weight.addOverride("default", null);
      this.weightParameters[color] = this.parameter(
        `weight-${color}`,
        names.weight(color),
        `\${tostring(${initialWeight(color)})}`,
        `Listener weight (0-100) of the ${color} target group (set by npm run release)`,
      );
    }
    this.liveColorParameter = this.parameter("live-color", names.liveColor, live.stringValue, "The color that serves production traffic");
    this.smokeTestKey = this.parameter(
      "smoke-test-key",
      names.smokeTestKey,
      Fn.uuid(),
      "Value of the X-Webfleet-Smoke-Key header that, with X-Webfleet-Color, reaches one color only",
    ).insecureValue;
  }

  /** A variable whose name in the Terraform JSON is exactly `name` (tests and TF_VAR_ set it). */
  private variable(name: string, config: ConstructorParameters<typeof TerraformVariable>[2]): TerraformVariable {
    const variable = new TerraformVariable(this, name, config);
    variable.overrideLogicalId(name);
    return variable;
  }

  private parameter(id: string, name: string, initial: string, description: string): SsmParameter {
    return new SsmParameter(this, id, {
      name,
      description,
      type: "String",
      insecureValue: initial,
      // Created once; from then on the release owns the value and Terraform reads it.
      lifecycle: { ignoreChanges: ["insecure_value"] },
    });
  }

  /** The AMI a color's launch template uses: its parameter's live value, or the pinned id. */
  amiId(color: Color): string {
    const source = this.ami[color];
    return "id" in source ? source.id : this.amiParameters[color]!.insecureValue;
  }

  /** The listener weight of a color, as Terraform reads it from the parameter. */
  weight(color: Color): number {
    return Fn.tonumber(this.weightParameters[color].insecureValue);
  }

  /** The live color, as Terraform reads it from the parameter (a token). */
  get liveColor(): string {
    return this.liveColorParameter.insecureValue;
  }
}
