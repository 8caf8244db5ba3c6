import { mkdtempSync, existsSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError } from "../config/load";
import { buildApp, initialAmiFromEnv } from "../main";

describe("the CDKTF app", () => {
  it("builds one stack per environment and the bootstrap stack only when some state lives in S3", () => {
    const all = buildApp({ outdir: mkdtempSync(join(tmpdir(), "wf-")) });
    expect(all.app.node.children.map((c) => c.node.id).sort()).toEqual(["webfleet-dev", "webfleet-prod", "webfleet-state-bootstrap"]);
    const dev = buildApp({ environments: ["dev"], outdir: mkdtempSync(join(tmpdir(), "wf-")) });
    expect(dev.app.node.children.map((c) => c.node.id)).toEqual(["webfleet-dev"]);
  });

  it("writes nothing when a configuration is invalid, and names every error", () => {
    const dir = mkdtempSync(join(tmpdir(), "wf-config-"));
    copyFileSync(resolve(__dirname, "../config/dev.yaml"), join(dir, "dev.yaml"));
    writeFileSync(join(dir, "broken.yaml"), "region: us-east-1\nnetwork: { mode: default-vpc }\ninstanceType: huge\n");
    const outdir = join(mkdtempSync(join(tmpdir(), "wf-out-")), "cdktf.out");
    let error: unknown;
    try {
      buildApp({ configDir: dir, outdir }).app.synth();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const messages = (error as ConfigError).errors;
    expect(messages.some((m) => m.includes("broken.yaml: instanceType: must be an EC2 instance type"))).toBe(true);
    expect(messages.some((m) => m.includes("broken.yaml: capacity: is required"))).toBe(true);
    expect(existsSync(outdir)).toBe(false);
  });

  it("takes the first AMI of a new parameter from the deploy script's environment, and checks it", () => {
    expect(initialAmiFromEnv({ WEBFLEET_INITIAL_AMI_GREEN: "ami-0123456789abcdef0" })).toEqual({ green: "ami-0123456789abcdef0" });
    expect(() => initialAmiFromEnv({ WEBFLEET_INITIAL_AMI_BLUE: "latest" })).toThrow(
      'WEBFLEET_INITIAL_AMI_BLUE: must be an AMI id such as ami-0123456789abcdef0 (got "latest")',
    );
  });
});
