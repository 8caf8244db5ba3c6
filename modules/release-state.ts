import { Construct } from "constructs";
import { Fn } from "cdktf";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import type { AmiSource } from "../config/schema";
import { COLORS, type Color, releaseParameters } from "./names";

export interface ReleaseStateProps {
  /** Environment name: the parameters live under /webfleet/<env>/. */
  readonly environment: string;
  /** Where each color's AMI comes from. Colors with an explicit id get no AMI parameter. */
  readonly ami: Readonly<Record<Color, AmiSource>>;
  /** The color that serves traffic when the parameters are first created. */
  readonly initialLiveColor: Color;
  /**
   * Value of a color's AMI parameter when it is first created, when its config gives none.
   * @default - Amazon Linux 2023's public parameter for `architecture` (a stock image; the
   * first `npm run deploy` replaces it with the baked web AMI)
   */
  readonly defaultInitialAmi?: Readonly<Partial<Record<Color, string>>>;
  /**
   * CPU architecture of the fleets, for the default initial AMI.
   * @default "x86_64"
   */
  readonly architecture?: "x86_64" | "arm64";
}

/**
 * The values that change at release time: AMI per color, listener weight per color, the live
 * color. Terraform creates each parameter once and then only reads it (`ignore_changes` on its
 * value), so the release scripts own the value and every `cdktf deploy`, by anyone, picks up
 * the live state instead of a stale file.
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

    for (const color of COLORS) {
      const source = props.ami[color];
      if ("parameter" in source) {
        const initial =
          source.parameter.initialValue ??
          props.defaultInitialAmi?.[color] ??
          `resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architecture}`;
        this.amiParameters[color] = this.parameter(`ami-${color}`, names.ami(color), initial, `AMI of the ${color} fleet (set by npm run ami)`);
      }
      this.weightParameters[color] = this.parameter(
        `weight-${color}`,
        names.weight(color),
        color === props.initialLiveColor ? "100" : "0",
        `Listener weight (0-100) of the ${color} target group (set by npm run release)`,
      );
    }
    this.liveColorParameter = this.parameter("live-color", names.liveColor, props.initialLiveColor, "The color that serves production traffic");
    this.smokeTestKey = this.parameter(
      "smoke-test-key",
      names.smokeTestKey,
      Fn.uuid(),
      "Value of the X-Webfleet-Smoke-Key header that, with X-Webfleet-Color, reaches one color only",
    ).insecureValue;
  }

  private parameter(id: string, name: string, initial: string, description: string): SsmParameter {
    return new SsmParameter(this, id, {
      name,
      description,
      type: "String",
      insecureValue: initial,
      // Created once; from then on the release scripts own the value and Terraform reads it.
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
}
