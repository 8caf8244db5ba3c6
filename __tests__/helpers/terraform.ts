/**
 * Finds the machine's terraform and its filesystem mirror of the AWS provider (DESIGN.md:
 * "What can be checked offline"), and runs terraform in a scratch copy of a synthesized stack.
 * Nothing here is hard-coded to one machine: WEBFLEET_TERRAFORM and WEBFLEET_TF_MIRROR
 * override what is found.
 *
 * What a terraform check costs is the AWS provider: every terraform command that needs it loads
 * its schema (seconds of CPU) and starts it again for each step. So workspaces are initialized
 * once per run and shared by every suite (sharedWorkspace), and a check is one command where it
 * can be.
 */
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, relative, resolve as resolvePath } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const AWS_PROVIDER_VERSION = "5.100.0";

export interface TerraformTooling {
  readonly terraform: string;
  /** The mirror root: the folder that holds registry.terraform.io/. */
  readonly mirror: string;
  readonly cliConfig: string;
}

export type Detection = { ok: true; tooling: TerraformTooling } | { ok: false; why: string };

function which(cmd: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The folder above registry.terraform.io for a provider binary found under it. */
export function mirrorRootOf(binary: string): string | undefined {
  const parts = binary.split("/");
  const i = parts.lastIndexOf("registry.terraform.io");
  return i > 0 ? parts.slice(0, i).join("/") : undefined;
}

/** Where mirrors usually live; the whole filesystem is searched only when none of these has one. */
const LIKELY_ROOTS = ["/opt", "/usr/local/share", "/usr/share", join(homedir(), ".terraform.d"), join(homedir(), ".local/share/terraform")];

function findMirror(): string | undefined {
  if (process.env.WEBFLEET_TF_MIRROR) return process.env.WEBFLEET_TF_MIRROR;
  const roots = LIKELY_ROOTS.filter((r) => existsSync(r));
  return searchMirror(roots) ?? searchMirror(["/"]);
}

function searchMirror(roots: string[]): string | undefined {
  if (roots.length === 0) return undefined;
  try {
    const out = execFileSync(
      "find",
      [
        ...roots,
        "-path",
        "/proc",
        "-prune",
        "-o",
        "-path",
        "*/node_modules",
        "-prune",
        "-o",
        "-name",
        `terraform-provider-aws_v${AWS_PROVIDER_VERSION}*`,
        "-print",
        "-quit",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 60000 },
    );
    const binary = out.trim().split("\n")[0];
    return binary ? mirrorRootOf(binary) : undefined;
  } catch (e) {
    // find exits non-zero on unreadable folders but still prints what it found.
    const stdout = String((e as { stdout?: string }).stdout ?? "").trim();
    return stdout ? mirrorRootOf(stdout.split("\n")[0]) : undefined;
  }
}

/** Looks for terraform and the AWS provider mirror; says why when one is missing. */
export function detectTerraform(): Detection {
  const terraform = process.env.WEBFLEET_TERRAFORM ?? which("terraform");
  if (!terraform) return { ok: false, why: "terraform is not on PATH (set WEBFLEET_TERRAFORM to its path)" };
  if (!existsSync(terraform)) return { ok: false, why: `WEBFLEET_TERRAFORM (${terraform}) does not exist` };
  const mirror = findMirror();
  if (!mirror || !existsSync(join(mirror, "registry.terraform.io", "hashicorp", "aws", AWS_PROVIDER_VERSION))) {
    return {
      ok: false,
      why: `no filesystem mirror of hashicorp/aws ${AWS_PROVIDER_VERSION} was found (set WEBFLEET_TF_MIRROR to the folder above registry.terraform.io)`,
    };
  }
  const scratch = mkdtempSync(join(tmpdir(), "webfleet-tf-"));
  const cliConfig = join(scratch, "terraform.rc");
  // No plugin_cache_dir: from an unpacked mirror, init links each workspace straight to the
  // mirror (no copy), and a shared cache would be shared mutable state. Without a lock file
  // every init re-installs the cache entry (remove, then link), so a validate running in
  // another workspace could find its provider folder gone ("could not read package directory").
  writeFileSync(
    cliConfig,
    `provider_installation {
  filesystem_mirror {
    path    = "${mirror}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`,
  );
  return { ok: true, tooling: { terraform, mirror, cliConfig } };
}

export interface TerraformResult {
  readonly code: number;
  readonly output: string;
}

/** Where a command's AWS calls go: the data sources' SSM and STS reads, to a local stand-in. */
export interface RunOptions {
  /**
   * The stand-in's URL (helpers/fake-aws-endpoint.ts), passed as the SDK's service endpoint
   * variables (`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_STS`): the provider's `endpoints` block
   * would do the same, but validating that block costs the provider seconds of CPU per start.
   * @default - no stand-in
   */
  readonly endpoint?: string;
}

/** A synthesized cdk.tf.json, as far as these helpers read it. */
export interface TerraformJson {
  terraform: Record<string, unknown>;
  provider?: { aws?: Array<Record<string, unknown>> };
  [block: string]: unknown;
}

/** cdk.tf.json as terraform runs it offline: local state, fake credentials, no AWS calls at setup. */
export function offlineConfig(json: TerraformJson): TerraformJson {
  // Relative to the workspace, so that a workspace is the same wherever it is (see sharedWorkspace).
  json.terraform.backend = { local: { path: "terraform.tfstate" } };
  for (const provider of json.provider?.aws ?? []) {
    Object.assign(provider, {
      access_key: "AKIAIOSFODNN7EXAMPLE",
      secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      skip_credentials_validation: true,
      skip_requesting_account_id: true,
      skip_metadata_api_check: "true",
      skip_region_validation: true,
    });
  }
  return json;
}

/** A workspace folder terraform can run in: a scratch copy of a synthesized stack, or a shared one. */
export class Workspace {
  readonly dir: string;

  /** A scratch copy of `stackDir`; with `existing`, the workspace already in that folder. */
  constructor(
    private readonly tooling: TerraformTooling,
    stackDir: string,
    options: { existing?: boolean } = {},
  ) {
    if (options.existing) {
      this.dir = stackDir;
    } else {
      this.dir = mkdtempSync(join(tmpdir(), "webfleet-stack-"));
      cpSync(stackDir, this.dir, { recursive: true });
    }
  }

  /** Rewrites cdk.tf.json for an offline plan (see {@link offlineConfig}). */
  prepareOfflinePlan(): void {
    const file = join(this.dir, "cdk.tf.json");
    writeFileSync(file, JSON.stringify(offlineConfig(JSON.parse(readFileSync(file, "utf8"))), null, 2));
  }

  /** A scratch copy of this workspace as it is now (its initialization and state included). */
  copy(): Workspace {
    const dir = mkdtempSync(join(tmpdir(), "webfleet-stack-"));
    // The provider links point into the read-only mirror: copy them as links.
    cpSync(this.dir, dir, { recursive: true, verbatimSymlinks: true });
    return new Workspace(this.tooling, dir, { existing: true });
  }

  /**
   * Runs one `terraform test` file, in a test directory of its own (so that runs in this
   * workspace, from any suite, never see each other's files and `validate` sees none), and
   * reports each run.
   */
  async test(name: string, hcl: string, options: RunOptions = {}): Promise<TerraformTestReport> {
    if (!/^[\w-]+$/.test(name)) throw new Error(`test name ${JSON.stringify(name)}: letters, digits, _ and - only`);
    const folder = mkdtempSync(join(this.dir, `tftest-${name}-`));
    writeFileSync(join(folder, `${name}.tftest.hcl`), hcl);
    const result = await this.run(["test", `-test-directory=${relative(this.dir, folder)}`, "-json"], options);
    return parseTestOutput(result);
  }

  async init(args: string[] = []): Promise<TerraformResult> {
    return this.run(["init", "-input=false", ...args]);
  }

  /** What init linked the AWS provider to, one hop: the read-only mirror, never a shared cache. */
  providerLinks(): string[] {
    const dir = join(this.dir, ".terraform", "providers", "registry.terraform.io", "hashicorp", "aws", AWS_PROVIDER_VERSION);
    return readdirSync(dir).map((platform) => resolvePath(dir, readlinkSync(join(dir, platform))));
  }

  async run(args: string[], options: RunOptions = {}): Promise<TerraformResult> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TF_CLI_CONFIG_FILE: this.tooling.cliConfig,
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
      // Nothing may reach AWS: no real credentials, and an unroutable proxy for good measure.
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      AWS_PROFILE: "",
      AWS_EC2_METADATA_DISABLED: "true",
    };
    delete env.AWS_ENDPOINT_URL;
    delete env.AWS_ENDPOINT_URL_SSM;
    delete env.AWS_ENDPOINT_URL_STS;
    if (options.endpoint) Object.assign(env, { AWS_ENDPOINT_URL_SSM: options.endpoint, AWS_ENDPOINT_URL_STS: options.endpoint });
    try {
      const { stdout, stderr } = await run(this.tooling.terraform, [...args, "-no-color"], { cwd: this.dir, env, maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, output: stdout + stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof err.code === "number" ? err.code : 1, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
    }
  }
}

export const stackDirOf = (outdir: string, stack: string) => join(outdir, "stacks", stack);

/** One diagnostic of a `terraform test` run (or of the file, when `run` is undefined). */
export interface TestDiagnostic {
  readonly severity: string;
  readonly summary: string;
  readonly detail: string;
}

export interface TestRunReport {
  /** pass, fail (an assertion), error (anything else failed), skip (after an error). */
  readonly status: string;
  readonly diagnostics: readonly TestDiagnostic[];
}

export interface TerraformTestReport {
  readonly code: number;
  /** Every run by name, in order. */
  readonly runs: Readonly<Record<string, TestRunReport>>;
  /** Diagnostics not tied to a run (a broken test file, an init problem). */
  readonly diagnostics: readonly TestDiagnostic[];
  /** The human lines ("run \"x\"... pass", messages) for failure messages. */
  readonly output: string;
}

/** Reads `terraform test -json`: a JSON object per line. */
export function parseTestOutput(result: TerraformResult): TerraformTestReport {
  const runs: Record<string, { status: string; diagnostics: TestDiagnostic[] }> = {};
  const diagnostics: TestDiagnostic[] = [];
  const lines: string[] = [];
  for (const line of result.output.split("\n")) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      if (line.trim()) lines.push(line);
      continue;
    }
    lines.push(String(entry["@message"] ?? ""));
    const run = entry["@testrun"] as string | undefined;
    if (entry.type === "test_run") {
      const status = (entry.test_run as { status?: string }).status;
      runs[run!] ??= { status: "pending", diagnostics: [] };
      if (status) runs[run!].status = status;
    } else if (entry.type === "diagnostic") {
      const d = entry.diagnostic as { severity: string; summary: string; detail?: string };
      const diagnostic = { severity: d.severity, summary: d.summary, detail: d.detail ?? "" };
      lines.push(diagnostic.detail);
      if (run) (runs[run] ??= { status: "pending", diagnostics: [] }).diagnostics.push(diagnostic);
      else diagnostics.push(diagnostic);
    }
  }
  return { code: result.code, runs, diagnostics, output: lines.join("\n") };
}

/**
 * The variable that names this run's folder of shared workspaces: jest's globalSetup
 * (helpers/global-setup.ts) makes the folder and sets it before any suite starts, so that every
 * worker shares one initialized workspace per stack; globalTeardown removes it.
 */
export const SHARED_WORKSPACES_VARIABLE = "WEBFLEET_TF_WORKSPACES";

/** This process's own folder, when no run folder is set (a suite run on its own outside jest's setup). */
let ownFolder: string | undefined;
const sharedFolder = () => process.env[SHARED_WORKSPACES_VARIABLE] ?? (ownFolder ??= mkdtempSync(join(tmpdir(), "webfleet-workspaces-")));
const workspaces = new Map<string, Promise<Workspace>>();

/**
 * The one initialized workspace of a synthesized stack in this run, shared by every suite: the
 * stack prepared for offline plans (and changed by `edit`), keyed by what terraform will run, then
 * `terraform init` once. A suite that finds it ready uses it as it is; two that build it at the
 * same time each build their own and the first to finish is kept (a rename is atomic), so nobody
 * ever sees a half-initialized one.
 *
 * Only commands that leave the folder as they found it run in a shared workspace: plans with
 * `-lock=false`, and `terraform test` (its state lives in memory). Each workspace links the
 * read-only mirror (see detectTerraform), so workspaces share nothing mutable.
 */
export function sharedWorkspace(tooling: TerraformTooling, stackDir: string, options: { edit?: (json: TerraformJson) => void } = {}): Promise<Workspace> {
  const json = offlineConfig(JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")));
  options.edit?.(json);
  const text = JSON.stringify(json, null, 2);
  const key = createHash("sha256").update(text).digest("hex").slice(0, 20);
  let ws = workspaces.get(key);
  if (!ws) {
    ws = (async () => {
      const folder = sharedFolder();
      const dir = join(folder, key);
      if (!existsSync(dir)) {
        const scratch = mkdtempSync(join(folder, `${key}-`));
        cpSync(stackDir, scratch, { recursive: true });
        writeFileSync(join(scratch, "cdk.tf.json"), text);
        const init = await new Workspace(tooling, scratch, { existing: true }).init();
        if (!init.output.includes("Terraform has been successfully initialized")) throw new Error(`terraform init of ${stackDir} failed:\n${init.output}`);
        try {
          renameSync(scratch, dir);
        } catch (e) {
          // Another suite finished the same workspace first: use that one.
          if (!existsSync(dir)) throw e;
          rmSync(scratch, { recursive: true, force: true });
        }
      }
      return new Workspace(tooling, dir, { existing: true });
    })();
    workspaces.set(key, ws);
  }
  return ws;
}

/** Forgets this suite's shared workspaces (call it in afterAll); removes them unless the run's setup made them. */
export async function removeSharedWorkspaces(): Promise<void> {
  await Promise.allSettled(workspaces.values());
  workspaces.clear();
  if (ownFolder) rmSync(ownFolder, { recursive: true, force: true });
  ownFolder = undefined;
}

/** `type.name`: how Terraform (and a .tftest.hcl) addresses a cdktf resource or data source. */
export function addressOf(element: { readonly terraformResourceType: string; readonly friendlyUniqueId: string }, data = false): string {
  return `${data ? "data." : ""}${element.terraformResourceType}.${element.friendlyUniqueId}`;
}

/** A value as an HCL literal: JSON's syntax, with `${` and `%{` escaped so that strings stay literal. */
export function hcl(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return JSON.stringify(value).replaceAll("${", "$${").replaceAll("%{", "%%{");
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(hcl).join(", ")}]`;
  return `{ ${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${JSON.stringify(k)} = ${hcl(v)}`)
    .join(", ")} }`;
}
