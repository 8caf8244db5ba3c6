/**
 * Every npm command, as a user meets it: --help with usage, defaults, examples and exit codes;
 * a bad option is one line and exit 2; results on stdout, progress on stderr. Run in-process
 * through the same toolkit the commands use (no AWS, no tsx start-up per case).
 */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { executeCommand, type CommandSpec, type OptionSpecs } from "../../scripts/lib/cli/command";
import { command as ami } from "../../scripts/ami";
import { command as deploy } from "../../scripts/deploy";
import { command as release } from "../../scripts/release";
import { command as revisionCheck } from "../../scripts/revision-check";
import { command as synth } from "../../scripts/synth";
import { command as bench } from "../../bench/synth.bench";
import { command as rollback } from "../../scripts/rollback";
import { command as status } from "../../scripts/status";
import { command as amiPrune } from "../../scripts/ami-prune";
import { command as teardown } from "../../scripts/teardown";
import { command as nightly } from "../../scripts/nightly";

const ROOT = resolve(__dirname, "../..");
const COMMANDS: Array<[string, CommandSpec<OptionSpecs>]> = [
  ["ami", ami as never],
  ["deploy", deploy as never],
  ["release", release as never],
  ["revision:check", revisionCheck as never],
  ["synth", synth as never],
  ["bench", bench as never],
  ["rollback", rollback as never],
  ["status", status as never],
  ["ami:prune", amiPrune as never],
  ["teardown", teardown as never],
  ["nightly", nightly as never],
];

class Sink {
  text = "";
  write(s: string) {
    this.text += s;
    return true;
  }
}

async function run(spec: CommandSpec<OptionSpecs>, argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new Sink();
  const stderr = new Sink();
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const code = await executeCommand(spec, argv, { stdout, stderr, signals: new EventEmitter() as never, exit: () => undefined });
    return { code, stdout: stdout.text, stderr: stderr.text };
  } finally {
    process.env = saved;
  }
}

const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$/m;

describe("every command", () => {
  it("is an npm script named like its spec", () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    for (const [name, spec] of COMMANDS) {
      expect(Object.keys(scripts)).toContain(name);
      expect(spec.name).toBe(name);
    }
  });

  it("of package.json that runs a TypeScript file is checked here (so a new one cannot skip --help and exit 2)", () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const typescript = Object.entries(scripts)
      .filter(([, line]) => /^tsx \S+\.ts\b/.test(line))
      .map(([name]) => name)
      .sort();
    expect(typescript).toEqual(COMMANDS.map(([name]) => name).sort());
  });

  test.each(COMMANDS)("%s --help shows usage, options with defaults, examples and exit codes", async (name, spec) => {
    const r = await run(spec, ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`Usage: npm run ${name} --`);
    expect(r.stdout).toContain("-h, --help");
    expect(r.stdout).toMatch(/\nExamples:\n {2}npm run /);
    expect(r.stdout).toMatch(/\nExit codes:\n\s+0 {2}/);
    expect(r.stdout).toMatch(/\s2 {2}\S/);
  });

  test.each(COMMANDS)("%s refuses an unknown option in one line, exit 2, no stack trace", async (_name, spec) => {
    const r = await run(spec, ["--no-such-option"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: unknown option '--no-such-option'; run `npm run \S+ -- --help` for the options\n$/);
  });

  test.each(COMMANDS)("%s says which option was meant on the same one line, exit 2", async (name, spec) => {
    const option = name === "bench" ? "--run" : name === "revision:check" ? "--ofline" : "--evn";
    const r = await run(spec, [option, "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`^error: unknown option '${option}' \\(did you mean --\\w+\\?\\); run \`npm run ${name} -- --help\` for the options\\n$`),
    );
  });

  test.each(COMMANDS.filter(([name]) => name !== "revision:check"))("%s names a stray argument, exit 2", async (name, spec) => {
    const r = await run(spec, ["stray"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: unexpected argument 'stray': this command takes options only; run \`npm run ${name} -- --help\` for the options\n`);
  });

  test.each([
    ["ami", ami],
    ["deploy", deploy],
    ["release", release],
    ["rollback", rollback],
    ["status", status],
    ["ami:prune", amiPrune],
    ["teardown", teardown],
  ])("%s names the environment it is missing, exit 2", async (_name, spec) => {
    const r = await run(spec as never, []);
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toMatch(/^error: --env is required: the environment: config\/<name>\.yaml \(for example --env dev\)/);
  });

  test.each([
    ["ami", ami],
    ["deploy", deploy],
    ["release", release],
    ["synth", synth],
    ["rollback", rollback],
    ["status", status],
    ["ami:prune", amiPrune],
    ["teardown", teardown],
  ])("%s refuses an unknown environment with the valid ones, exit 2", async (_name, spec) => {
    const r = await run(spec as never, ["--env", "staging"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown environment 'staging': no config/staging.yaml; valid environments: dev, prod");
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });
});

/** No AWS at all: an endpoint nobody answers and no credentials. */
const offline = {
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  AWS_ACCESS_KEY_ID: "",
  AWS_SECRET_ACCESS_KEY: "",
  AWS_PROFILE: "",
  AWS_EC2_METADATA_DISABLED: "true",
};

describe("npm run release -- --dry-run --instances N", () => {
  it("previews the plan and the estimate on stdout with no AWS account, lists what it did not check, and exits 0", async () => {
    const r = await run(release as never, ["--env", "dev", "--strategy", "one-at-a-time", "--dry-run", "--instances", "4"], offline);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("offline preview: 4 instances (--instances), nothing read from AWS");
    expect(r.stdout).toContain("1. deploy: blue (live) — webfleet-dev-blue with CodeDeployDefault.OneAtATime, 1 of 4 at a time");
    expect(r.stdout).toContain("typical ≈ 5 min 15 s · worst case ≈ 8 min 55 s");
    expect(r.stdout).toMatch(/not checked:\n {2}- AWS credentials: not asked \(offline preview\)/);
    expect(r.stdout).toContain("pre-flight: no blocker found");
    // What the preview did on the way (the revision's check) is progress.
    expect(r.stderr).toMatch(/^revision: app\/ — appspec valid/m);
    expect(r.stderr).not.toContain("estimate:");
  });

  it("with --json prints the plan for programs on stdout, the estimate in seconds", async () => {
    const r = await run(release as never, ["--env", "dev", "--strategy", "min-healthy=75%", "--dry-run", "--instances", "8", "--json"], offline);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({
      environment: "dev",
      strategy: "min-healthy=75%",
      offline: true,
      fleetSize: 8,
      steps: [{ kind: "deploy", deploymentConfigName: "webfleet-dev-min-healthy-75-percent", batchSize: 2 }],
      blockers: [],
    });
    expect(plan.fullTrafficSeconds).toBeGreaterThan(0);
    expect(plan.worstCaseSeconds).toBeGreaterThanOrEqual(plan.fullTrafficSeconds);
    expect(typeof plan.rollbackSeconds).toBe("number");
  });

  it("without --instances and without credentials lists the blocker and how to preview offline, exit 2", async () => {
    const r = await run(release as never, ["--env", "dev", "--dry-run"], { ...offline, AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a real run would stop here:");
    expect(r.stderr).toContain("--dry-run --instances <n>");
    expect(r.stderr).not.toMatch(STACK_TRACE);
  }, 30_000);
});

describe("npm run release -- --strategy blue-green --dry-run --instances N", () => {
  test.each`
    strategy              | instances | steps
    ${"blue-green"}       | ${4}      | ${["scale-up", "deploy", "smoke-test", "shift-traffic", "bake", "scale-down"]}
    ${"canary=10,50,100"} | ${4}      | ${["scale-up", "deploy", "smoke-test", "shift-traffic", "bake", "shift-traffic", "bake", "shift-traffic", "bake", "scale-down"]}
  `("previews $strategy offline with its steps and the estimate in seconds", async ({ strategy, instances, steps }) => {
    const r = await run(release as never, ["--env", "dev", "--strategy", strategy, "--dry-run", "--instances", String(instances), "--json"], offline);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.steps.map((s: { kind: string }) => s.kind)).toEqual(steps);
    expect(plan.fullTrafficSeconds).toBeLessThanOrEqual(strategy === "blue-green" ? 300 : 300 + 2 * 300);
    expect(plan.rollbackSeconds).toBeLessThanOrEqual(10);
    expect(r.stderr).toContain("rollback while the old color is up: one weight switch");
  });
});

describe("bad paths", () => {
  it("revision:check refuses a revision folder that does not exist, exit 2", async () => {
    const r = await run(revisionCheck as never, ["/nonexistent-revision"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: revision folder /nonexistent-revision: does not exist: pass the folder that holds appspec.yml\n");
  });

  it("revision:check refuses a file given as the revision folder, exit 2", async () => {
    const r = await run(revisionCheck as never, [join(ROOT, "package.json")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("package.json: not a folder: pass the folder that holds appspec.yml");
  });

  it("synth refuses an --outdir it cannot write, exit 2, nothing else said", async () => {
    const r = await run(synth as never, ["--outdir", join(ROOT, "package.json", "out")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: --outdir ${join(ROOT, "package.json", "out")}: cannot write there (${join(ROOT, "package.json")} is not a folder); give a folder you can write to\n`,
    );
  });
});
