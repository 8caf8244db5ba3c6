/**
 * Finds the machine's terraform and its filesystem mirror of the AWS provider (DESIGN.md:
 * "What can be checked offline"), and runs terraform in a scratch copy of a synthesized stack.
 * Nothing here is hard-coded to one machine: WEBFLEET_TERRAFORM and WEBFLEET_TF_MIRROR
 * override what is found.
 */
import { execFile, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
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

/** A scratch copy of a synthesized stack folder that terraform can run in. */
export class Workspace {
  readonly dir: string;

  constructor(
    private readonly tooling: TerraformTooling,
    stackDir: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "webfleet-stack-"));
    cpSync(stackDir, this.dir, { recursive: true });
  }

  /** Rewrites cdk.tf.json for an offline plan: local state here, fake credentials, no AWS calls at setup. */
  prepareOfflinePlan(): void {
    const file = join(this.dir, "cdk.tf.json");
    const json = JSON.parse(readFileSync(file, "utf8"));
    json.terraform.backend = { local: { path: join(this.dir, "terraform.tfstate") } };
    for (const provider of json.provider.aws as Array<Record<string, unknown>>) {
      Object.assign(provider, {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        skip_metadata_api_check: "true",
        skip_region_validation: true,
      });
    }
    writeFileSync(file, JSON.stringify(json, null, 2));
  }

  async init(args: string[] = []): Promise<TerraformResult> {
    return this.run(["init", "-input=false", ...args]);
  }

  /** What init linked the AWS provider to, one hop: the read-only mirror, never a shared cache. */
  providerLinks(): string[] {
    const dir = join(this.dir, ".terraform", "providers", "registry.terraform.io", "hashicorp", "aws", AWS_PROVIDER_VERSION);
    return readdirSync(dir).map((platform) => resolvePath(dir, readlinkSync(join(dir, platform))));
  }

  async run(args: string[]): Promise<TerraformResult> {
    const env = {
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
