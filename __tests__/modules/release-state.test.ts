import { Token } from "cdktf";
import { ReleaseState } from "../../modules/release-state";
import { doc, resources, synthConstruct } from "../helpers/stack";
import type { AmiSource } from "../../config/schema";

const synth = (ami: { blue: AmiSource; green: AmiSource }, extra: Partial<ConstructorParameters<typeof ReleaseState>[2]> = {}) => {
  let state!: ReleaseState;
  const json = doc(synthConstruct((scope) => (state = new ReleaseState(scope, "state", { environment: "test", ami, ...extra }))));
  const variables =
    (json as { variable?: Record<string, { default?: unknown; validation?: Array<{ condition: string; error_message: string }> }> }).variable ?? {};
  return { json, state, variables, params: Object.fromEntries(resources(json, "aws_ssm_parameter").map((p) => [p.name as string, p])) };
};
const bothFromParameters = { blue: { parameter: {} }, green: { parameter: {} } } as const;

describe("ReleaseState", () => {
  it("creates each parameter once and then leaves its value to the release", () => {
    const { params } = synth(bothFromParameters);
    expect(Object.keys(params).sort()).toEqual([
      "/webfleet/test/ami/blue",
      "/webfleet/test/ami/green",
      "/webfleet/test/live-color",
      "/webfleet/test/smoke-test-key",
      "/webfleet/test/weight/blue",
      "/webfleet/test/weight/green",
    ]);
    for (const p of Object.values(params)) expect(p.lifecycle).toEqual({ ignore_changes: ["insecure_value"] });
  });

  it("makes the smoke-test key a UUID once", () => {
    const { params } = synth(bothFromParameters);
    expect(params["/webfleet/test/smoke-test-key"].insecure_value).toBe("${uuid()}");
  });

  it("creates the live color, the weights and the AMIs from Terraform variables, so a plan can start from any release state", () => {
    const { params, variables } = synth(bothFromParameters);
    expect(params["/webfleet/test/live-color"].insecure_value).toBe("${var.initial_live_color}");
    expect(params["/webfleet/test/ami/green"].insecure_value).toBe("${var.initial_ami_green}");
    // Unset, a weight follows the initial live color: 100 on it, 0 on the other.
    expect(params["/webfleet/test/weight/green"].insecure_value).toBe(
      '${tostring(coalesce(var.initial_weight_green, var.initial_live_color == "green" ? 100 : 0))}',
    );
    expect(Object.keys(variables).sort()).toEqual([
      "initial_ami_blue",
      "initial_ami_green",
      "initial_live_color",
      "initial_weight_blue",
      "initial_weight_green",
    ]);
    expect(variables.initial_live_color.default).toBe("blue");
    expect(variables.initial_weight_blue.default).toBeNull();
  });

  it("checks the variables: a color, an AMI id or public parameter, weights from 0 to 100 that add up to 100", () => {
    const { variables } = synth(bothFromParameters);
    const messages = Object.values(variables).flatMap((v) => (v.validation ?? []).map((r) => r.error_message));
    expect(messages).toEqual(
      expect.arrayContaining([
        "initial_live_color must be one of blue, green.",
        "initial_ami_blue must be an AMI id (ami-0123456789abcdef0) or resolve:ssm:/<parameter>.",
        "initial_weight_blue must be a whole number from 0 to 100.",
        "the initial weights (initial_weight_blue, initial_weight_green) must add up to 100.",
      ]),
    );
  });

  it("defaults the initial AMI to the config's, then the deploy script's, then stock Amazon Linux 2023", () => {
    const { variables } = synth(
      { blue: { parameter: { initialValue: "ami-0123456789abcdef0" } }, green: { parameter: {} } },
      { defaultInitialAmi: { blue: "ami-1111111111111111a", green: "ami-2222222222222222b" } },
    );
    expect(variables.initial_ami_blue.default).toBe("ami-0123456789abcdef0");
    expect(variables.initial_ami_green.default).toBe("ami-2222222222222222b");
    const arm = synth(bothFromParameters, { architecture: "arm64" }).variables;
    expect(arm.initial_ami_blue.default).toBe("resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64");
    expect(synth(bothFromParameters, { initialLiveColor: "green" }).variables.initial_live_color.default).toBe("green");
  });

  it("reads a color's AMI from its parameter, or uses the pinned id without a parameter or variable", () => {
    const { state, params, variables } = synth({ blue: { id: "ami-0123456789abcdef0" }, green: { parameter: {} } });
    expect(params["/webfleet/test/ami/blue"]).toBeUndefined();
    expect(variables.initial_ami_blue).toBeUndefined();
    expect(state.amiId("blue")).toBe("ami-0123456789abcdef0");
    expect(Token.isUnresolved(state.amiId("green"))).toBe(true);
  });
});
