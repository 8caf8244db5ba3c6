import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError } from "../config/load";
import { buildApp, initialAmiFromEnv } from "../main";

const ROOT = resolve(__dirname, "..");

/** A config folder with the shipped dev.yaml, prod.yaml and the given extra files. */
function configWith(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), "wf-config-"));
  copyFileSync(join(ROOT, "config/dev.yaml"), join(dir, "dev.yaml"));
  copyFileSync(join(ROOT, "config/prod.yaml"), join(dir, "prod.yaml"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

const BROKEN = "region: us-east-1\nnetwork: { mode: default-vpc }\ninstanceType: huge\n";

describe("the CDKTF app", () => {
  it("builds one stack per environment and the bootstrap stack only when some state lives in S3", () => {
    const all = buildApp({ outdir: mkdtempSync(join(tmpdir(), "wf-")) });
    // (and the CI roles' stack, since config/github/ci.yaml ships: __tests__/modules/ci-stack.test.ts)
    expect(all.app.node.children.map((c) => c.node.id).sort()).toEqual(["webfleet-ci", "webfleet-dev", "webfleet-prod", "webfleet-state-bootstrap"]);
    const dev = buildApp({ environments: ["dev"], outdir: mkdtempSync(join(tmpdir(), "wf-")) });
    expect(dev.app.node.children.map((c) => c.node.id)).toEqual(["webfleet-dev"]);
  });

  it("leaves a broken environment out, names its every error, and builds the others", () => {
    // GIVEN a broken staging.yaml beside dev and prod
    const built = buildApp({ configDir: configWith({ "staging.yaml": BROKEN }), outdir: mkdtempSync(join(tmpdir(), "wf-")) });
    // THEN dev and prod are built, staging is reported with each of its errors
    expect(built.app.node.children.map((c) => c.node.id).sort()).toEqual(["webfleet-dev", "webfleet-prod"]);
    expect(built.broken.map((b) => b.name)).toEqual(["staging"]);
    expect(built.broken[0].errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining("staging.yaml: instanceType: must be an EC2 instance type"),
        expect.stringContaining("staging.yaml: capacity: is required"),
      ]),
    );
    // AND the bootstrap stack is left out, with the reason: it must never lose a bucket
    expect(built.notes).toEqual([
      expect.stringMatching(/^webfleet-state-bootstrap was not synthesized: with staging broken, it could miss a state bucket and plan to destroy it/),
    ]);
  });

  it("leaves out an environment with two files, naming both", () => {
    const built = buildApp({ configDir: configWith({ "dev.yml": "region: eu-west-1\n" }), outdir: mkdtempSync(join(tmpdir(), "wf-")) });
    expect(built.app.node.children.map((c) => c.node.id)).toEqual(["webfleet-prod"]);
    expect(built.broken).toEqual([{ name: "dev", errors: [expect.stringMatching(/dev\.yaml and .*dev\.yml: two files for the environment 'dev'; keep one/)] }]);
  });

  it("refuses an environment it was asked for by name when its file is broken, and writes nothing", () => {
    const dir = configWith({ "broken.yaml": BROKEN });
    const outdir = join(mkdtempSync(join(tmpdir(), "wf-out-")), "cdktf.out");
    let error: unknown;
    try {
      buildApp({ configDir: dir, outdir, environments: ["dev", "broken"] }).app.synth();
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

describe("cdktf's app command (cdktf.json) with a broken environment file", () => {
  it("synthesizes the other environments, says what it left out on stderr, and prints no stack trace", () => {
    // GIVEN a broken file that constructs would once have crashed on
    const dir = configWith({ "staging.yaml": BROKEN });
    const outdir = join(mkdtempSync(join(tmpdir(), "wf-out-")), "cdktf.out");
    const app = (JSON.parse(require("node:fs").readFileSync(join(ROOT, "cdktf.json"), "utf8")) as { app: string }).app;
    // WHEN cdktf runs the app command
    const r = spawnSync("sh", ["-c", app], { cwd: ROOT, encoding: "utf8", env: { ...process.env, WEBFLEET_CONFIG_DIR: dir, CDKTF_OUTDIR: outdir } });
    // THEN it succeeds for dev and prod
    expect(r.status).toBe(0);
    expect(readdirSync(join(outdir, "stacks")).sort()).toEqual(["webfleet-dev", "webfleet-prod"]);
    expect(r.stderr).toContain("webfleet: webfleet-staging left out:");
    expect(r.stderr).toContain("webfleet: webfleet-state-bootstrap was not synthesized");
    expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });
});
