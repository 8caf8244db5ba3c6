import { Token } from "cdktf";
import { ReleaseState } from "../../modules/release-state";
import { doc, resources, synthConstruct } from "../helpers/stack";
import type { AmiSource } from "../../config/schema";

const synth = (ami: { blue: AmiSource; green: AmiSource }, extra: Partial<ConstructorParameters<typeof ReleaseState>[2]> = {}) => {
  let state!: ReleaseState;
  const json = doc(synthConstruct((scope) => (state = new ReleaseState(scope, "state", { environment: "test", ami, initialLiveColor: "blue", ...extra }))));
  return { json, state, params: Object.fromEntries(resources(json, "aws_ssm_parameter").map((p) => [p.name as string, p])) };
};

describe("ReleaseState", () => {
  it("creates each parameter once and then leaves its value to the release scripts", () => {
    const { params } = synth({ blue: { parameter: {} }, green: { parameter: {} } });
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
    const { params } = synth({ blue: { parameter: {} }, green: { parameter: {} } });
    expect(params["/webfleet/test/smoke-test-key"].insecure_value).toBe("${uuid()}");
  });

  it("starts with all traffic on the initial live color", () => {
    const { params } = synth({ blue: { parameter: {} }, green: { parameter: {} } }, { initialLiveColor: "green" });
    expect(params["/webfleet/test/weight/green"].insecure_value).toBe("100");
    expect(params["/webfleet/test/weight/blue"].insecure_value).toBe("0");
    expect(params["/webfleet/test/live-color"].insecure_value).toBe("green");
  });

  it("seeds an AMI parameter from config, then from the deploy script, then with stock Amazon Linux 2023", () => {
    const { params } = synth(
      { blue: { parameter: { initialValue: "ami-0123456789abcdef0" } }, green: { parameter: {} } },
      { defaultInitialAmi: { blue: "ami-1111111111111111a", green: "ami-2222222222222222b" } },
    );
    expect(params["/webfleet/test/ami/blue"].insecure_value).toBe("ami-0123456789abcdef0");
    expect(params["/webfleet/test/ami/green"].insecure_value).toBe("ami-2222222222222222b");
    const arm = synth({ blue: { parameter: {} }, green: { parameter: {} } }, { architecture: "arm64" }).params;
    expect(arm["/webfleet/test/ami/blue"].insecure_value).toBe("resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64");
  });

  it("reads a color's AMI from its parameter, or uses the pinned id without a parameter", () => {
    const { state, params } = synth({ blue: { id: "ami-0123456789abcdef0" }, green: { parameter: {} } });
    expect(params["/webfleet/test/ami/blue"]).toBeUndefined();
    expect(state.amiId("blue")).toBe("ami-0123456789abcdef0");
    expect(Token.isUnresolved(state.amiId("green"))).toBe(true);
  });
});
