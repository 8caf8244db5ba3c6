/**
 * Test doubles for the AMI pipeline: a {@link Runner} that plays Packer (version, init,
 * validate, a machine-readable build that appends to the manifest), git, terraform and
 * cdktf; and environment files written to a temporary config folder.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { RunOptions, RunResult, Runner } from "../../scripts/lib/cli/runner";
import type { PackerManifest } from "../../scripts/lib/image/packer";

export interface FakeCall {
  readonly program: string;
  readonly args: readonly string[];
  readonly options: RunOptions;
}

/** What the fake `packer build` does. */
export interface FakeBuild {
  /** Lines printed on stdout, in -machine-readable form. */
  readonly lines?: readonly string[];
  readonly exitCode?: number;
  /** Appended to the manifest (as the post-processor does) when given. */
  readonly artifactId?: string;
  readonly runUuid?: string;
  readonly customData?: Record<string, string>;
  /** Called while the build "runs" (to abort it, for example). */
  readonly during?: (call: FakeCall) => void;
}

export function appendToManifest(file: string, runUuid: string, artifactId: string, customData: Record<string, string> = {}): void {
  const manifest: PackerManifest = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : { builds: [], last_run_uuid: "" };
  manifest.builds.push({
    name: "al2023",
    builder_type: "amazon-ebs",
    build_time: 1700000000,
    artifact_id: artifactId,
    packer_run_uuid: runUuid,
    custom_data: customData,
  });
  manifest.last_run_uuid = runUuid;
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}

/** The machine-readable lines of a successful build reporting `artifactId`. */
export function successLines(artifactId: string): string[] {
  const escaped = artifactId.replaceAll(",", "%!(PACKER_COMMA)");
  return [
    "1700000000,,ui,say,webfleet.amazon-ebs.al2023: output will be in this color.",
    "1700000001,,ui,say,==> webfleet.amazon-ebs.al2023: Launching a source AWS instance...",
    "1700000300,,ui,say,==> webfleet.amazon-ebs.al2023: Provisioning with shell script: ./scripts/install-web.sh",
    "1700000600,webfleet.amazon-ebs.al2023,artifact-count,1",
    `1700000600,webfleet.amazon-ebs.al2023,artifact,0,id,${escaped}`,
    "1700000600,webfleet.amazon-ebs.al2023,artifact,0,end",
  ];
}

export const DEFAULT_AMI = "ami-0123456789abcdef0";

let runCounter = 0;

export class FakeRunner implements Runner {
  readonly calls: FakeCall[] = [];
  /** Programs on PATH; undefined = not found. */
  readonly paths: Record<string, string | undefined> = {
    packer: "/usr/local/bin/packer",
    git: "/usr/bin/git",
    terraform: "/usr/local/bin/terraform",
    "session-manager-plugin": "/usr/local/bin/session-manager-plugin",
  };
  packerVersionOutput = "Packer v1.11.2\n";
  terraformVersionOutput = "Terraform v1.11.4\non linux_amd64\n";
  gitHead = "0123456789abcdef0123456789abcdef01234567";
  gitDirty = false;
  initExitCode = 0;
  validateExitCode = 0;
  /** The next `packer build`. */
  build: FakeBuild = {};
  /** What `cdktf deploy` does; default: exit 0. */
  cdktf: (call: FakeCall) => number = () => 0;

  constructor(readonly region = "us-east-1") {}

  async which(program: string): Promise<string | undefined> {
    return this.paths[program];
  }

  /** The calls to one program (by base name), optionally only those whose first argument is `sub`. */
  callsOf(program: string, sub?: string): FakeCall[] {
    return this.calls.filter((c) => basename(c.program) === program && (sub === undefined || c.args[0] === sub));
  }

  async run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const call = { program, args: [...args], options };
    this.calls.push(call);
    const ok = (stdout = ""): RunResult => ({ exitCode: 0, stdout, stderr: "" });
    switch (basename(program)) {
      case "git":
        if (args[0] === "rev-parse") return ok(`${this.gitHead}\n`);
        if (args[0] === "status") return ok(this.gitDirty ? " M packer/webfleet.pkr.hcl\n" : "");
        return ok();
      case "terraform":
        return ok(this.terraformVersionOutput);
      case "session-manager-plugin":
        return ok("1.2.650.0\n");
      case "cdktf":
        return { exitCode: this.cdktf(call), stdout: "", stderr: "" };
      case "packer":
        return this.packer(call);
      default:
        return { exitCode: 127, stdout: "", stderr: `${program}: command not found` };
    }
  }

  private packer(call: FakeCall): RunResult {
    const [sub] = call.args;
    if (sub === "version") return { exitCode: 0, stdout: this.packerVersionOutput, stderr: "" };
    if (sub === "init")
      return { exitCode: this.initExitCode, stdout: "", stderr: this.initExitCode ? 'Failed getting the "github.com/hashicorp/amazon" plugin' : "" };
    if (sub === "validate") return { exitCode: this.validateExitCode, stdout: this.validateExitCode ? "" : "The configuration is valid.\n", stderr: "" };
    if (sub !== "build") return { exitCode: 1, stdout: "", stderr: `unexpected packer ${sub}` };

    const build = this.build;
    const artifactId = build.artifactId;
    const lines = build.lines ?? (artifactId ? successLines(artifactId) : []);
    for (const line of lines) call.options.onStdoutLine?.(line);
    build.during?.(call);
    const exitCode = build.exitCode ?? 0;
    if (exitCode === 0 && artifactId) {
      const varValue = (name: string) => call.args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
      const file = join(call.options.cwd ?? ".", varValue("manifest_path") ?? "manifest.json");
      appendToManifest(
        file,
        build.runUuid ?? `run-${++runCounter}`,
        artifactId,
        build.customData ?? {
          ami_name: `webfleet-${varValue("environment")}-al2023-${varValue("architecture")}-20250101-120000`,
          source_ami: "ami-0aaaaaaaaaaaaaaaa",
          source_ami_name: "al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64",
        },
      );
    }
    return { exitCode, stdout: lines.join("\n"), stderr: "" };
  }
}

const created: string[] = [];

/** A temporary folder, removed by {@link removeTempDirs}. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every folder made by {@link tempDir} (call it in afterAll). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A temporary packer folder (the fake build writes its manifest there). */
export function tempPackerDir(): string {
  return tempDir("webfleet-packer-");
}

/** The fields every test environment file needs, without its AMI sources. */
export const BASE_ENV = `
region: us-east-1
network: { mode: default-vpc }
instanceType: t3.micro
capacity:
  live: { min: 2, desired: 2, max: 4 }
  idle: { min: 0, desired: 0, max: 4 }
`;

/** A config folder with `dev` (both colors from parameters), `pinned` (blue pinned) and `graviton` (arm64). */
export function tempConfigDir(): string {
  const dir = tempDir("webfleet-config-");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "dev.yaml"), `${BASE_ENV}ami:\n  blue: { parameter: {} }\n  green: { parameter: {} }\n`);
  writeFileSync(join(dir, "pinned.yaml"), `${BASE_ENV}ami:\n  blue: { id: ami-0bbbbbbbbbbbbbbbb }\n  green: { parameter: {} }\n`);
  writeFileSync(
    join(dir, "graviton.yaml"),
    `${BASE_ENV.replace("t3.micro", "t4g.micro").replace("us-east-1", "eu-west-1")}architecture: arm64\nami:\n  blue: { parameter: {} }\n  green: { parameter: {} }\n`,
  );
  return dir;
}
