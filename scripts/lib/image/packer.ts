/**
 * Packer, as the AMI pipeline drives it: the version it needs, the command lines, the
 * `-machine-readable` output it streams, and the manifest its post-processor appends to.
 *
 * Pure functions, plus {@link runPackerBuild}, which takes its {@link Runner} as an argument.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { HEALTH_CHECK } from "../../../modules/names";
import { CliError, EXIT } from "../cli/errors";
import type { Log } from "../cli/output";
import { formatCommand, type Runner } from "../cli/runner";
import type { ToolRequirement } from "../cli/tools";

/** The folder with the template (`*.pkr.hcl`) and its provisioning scripts. */
export const PACKER_DIR = resolve(__dirname, "../../../packer");

/** The manifest file, relative to the packer folder (Packer runs there). Git ignores it. */
export const MANIFEST_FILE = "manifest.json";

export const PACKER_REQUIREMENT: ToolRequirement = {
  program: "packer",
  versionArgs: ["version"],
  minimumVersion: "1.10.0",
  why: "the template uses required_plugins, metadata_options and imds_support",
  install: "install Packer >= 1.10 from HashiCorp (https://developer.hashicorp.com/packer/install; Debian's own `packer` package is 1.6.6, too old)",
};

/** Needed on this machine when the build instance is reached through Session Manager. */
export const SESSION_MANAGER_PLUGIN_REQUIREMENT: ToolRequirement = {
  program: "session-manager-plugin",
  versionArgs: ["--version"],
  minimumVersion: "1.2.0",
  install:
    "install the Session Manager plugin for the AWS CLI (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html), or build without --session-manager",
};

// ---------------------------------------------------------------------------------------
// Command lines

export type SshInterface = "public_ip" | "session_manager";

/** What one build is for; becomes the template's variables. */
export interface PackerBuildInputs {
  readonly environment: string;
  readonly region: string;
  readonly architecture: "x86_64" | "arm64";
  readonly gitCommit: string;
  /** More regions the AMI is copied to. */
  readonly copyToRegions?: readonly string[];
  readonly sshInterface?: SshInterface;
  /** Subnet of the build instance; default: a default-VPC subnet, with a public address. */
  readonly subnetId?: string;
  /** Instance profile (by name) of the build instance; default: none, or a temporary one for Session Manager. */
  readonly iamInstanceProfile?: string;
  /** What a nightly build pins and records: the exact source AMI, its AL2023 release, the build key. */
  readonly provenance?: ImageProvenance;
}

/** The inputs a nightly build decided on before Packer started, recorded on the AMI as tags. */
export interface ImageProvenance {
  readonly sourceAmi: string;
  readonly sourceRelease: string;
  readonly buildKey: string;
}

/** Where the build's package list lands, relative to the packer folder (git ignores it). */
export const PACKAGE_MANIFEST_FILE = "packages.txt";

/**
 * The template variables of a build (names as declared in packer/variables.pkr.hcl). The
 * health path is not an input: it is the contract the target groups probe ({@link HEALTH_CHECK}).
 */
export function packerVariables(inputs: PackerBuildInputs): Record<string, string> {
  const vars: Record<string, string> = {
    environment: inputs.environment,
    region: inputs.region,
    architecture: inputs.architecture,
    git_commit: inputs.gitCommit,
    health_path: HEALTH_CHECK.path,
    manifest_path: MANIFEST_FILE,
  };
  const copies = [...new Set(inputs.copyToRegions ?? [])].filter((r) => r !== inputs.region);
  if (copies.length > 0) vars.ami_regions = JSON.stringify(copies);
  if (inputs.sshInterface && inputs.sshInterface !== "public_ip") vars.ssh_interface = inputs.sshInterface;
  if (inputs.subnetId) vars.subnet_id = inputs.subnetId;
  if (inputs.iamInstanceProfile) vars.iam_instance_profile = inputs.iamInstanceProfile;
  vars.package_manifest_path = PACKAGE_MANIFEST_FILE;
  if (inputs.provenance) {
    vars.source_ami = inputs.provenance.sourceAmi;
    vars.source_release = inputs.provenance.sourceRelease;
    vars.build_key = inputs.provenance.buildKey;
  }
  return vars;
}

/** `-var name=value` pairs; zx quotes each argument, so values need no escaping here. */
export function varArgs(vars: Readonly<Record<string, string>>): string[] {
  return Object.entries(vars).flatMap(([k, v]) => ["-var", `${k}=${v}`]);
}

/** The three Packer runs of a build, in order, each run in {@link PACKER_DIR}. */
export function packerCommands(vars: Readonly<Record<string, string>>): { init: string[]; validate: string[]; build: string[] } {
  return {
    init: ["init", "."],
    validate: ["validate", ...varArgs(vars), "."],
    // -on-error=cleanup: a failed or interrupted build terminates its instance and leaves no AMI.
    build: ["build", "-machine-readable", "-on-error=cleanup", ...varArgs(vars), "."],
  };
}

// ---------------------------------------------------------------------------------------
// -machine-readable output

/** One line of `packer -machine-readable`: `timestamp,target,type,data...`. */
export interface MachineReadableLine {
  readonly timestamp: number;
  /** The build (`webfleet.amazon-ebs.al2023`); empty for messages of Packer itself. */
  readonly target: string;
  readonly type: string;
  readonly data: readonly string[];
}

/** Undoes Packer's escaping of a data field: `%!(PACKER_COMMA)` → `,`, `\n` → newline, `\r` → CR. */
export function unescapeMachineReadable(field: string): string {
  return field.replaceAll("%!(PACKER_COMMA)", ",").replaceAll("\\n", "\n").replaceAll("\\r", "\r");
}

/** Parses one line; undefined for a line that is not machine-readable output (plugin noise, blank). */
export function parseMachineReadableLine(line: string): MachineReadableLine | undefined {
  const fields = line.replace(/\r?\n$/, "").split(",");
  if (fields.length < 3 || !/^\d+$/.test(fields[0]) || fields[2] === "") return undefined;
  return {
    timestamp: Number(fields[0]),
    target: unescapeMachineReadable(fields[1]),
    type: unescapeMachineReadable(fields[2]),
    data: fields.slice(3).map(unescapeMachineReadable),
  };
}

/** What a line means to someone watching the build. */
export type BuildEvent =
  | { readonly kind: "ui"; readonly level: "say" | "message" | "error"; readonly text: string }
  | { readonly kind: "artifact"; readonly target: string; readonly index: number; readonly id: string }
  | { readonly kind: "error"; readonly target: string; readonly text: string };

/** Interprets a parsed line; undefined for lines that only matter to Packer (artifact-count, files...). */
export function buildEvent(line: MachineReadableLine): BuildEvent | undefined {
  const [first, second, third] = line.data;
  if (line.type === "ui" && (first === "say" || first === "message" || first === "error")) {
    return { kind: "ui", level: first, text: line.data.slice(1).join(",") };
  }
  if (line.type === "artifact" && second === "id" && third !== undefined) {
    return { kind: "artifact", target: line.target, index: Number(first), id: third };
  }
  if (line.type === "error" && first !== undefined) return { kind: "error", target: line.target, text: line.data.join(",") };
  return undefined;
}

/** One AMI of an artifact: `us-east-1:ami-0123456789abcdef0`. */
export interface RegionalAmi {
  readonly region: string;
  readonly amiId: string;
}

const ARTIFACT_PAIR = /^([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+):(ami-[0-9a-f]{8,17})$/;

/** The Amazon plugin's artifact id, `region:ami,region:ami`, as a list (order kept). */
export function parseArtifactId(id: string): RegionalAmi[] {
  const pairs = id
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (pairs.length === 0) throw new Error(`empty AMI artifact id`);
  return pairs.map((pair) => {
    const m = ARTIFACT_PAIR.exec(pair);
    if (!m) throw new Error(`'${pair}' in artifact id '${id}' is not region:ami-id (such as us-east-1:ami-0123456789abcdef0)`);
    return { region: m[1], amiId: m[2] };
  });
}

/** Collects what a build printed: the artifacts it reported and the errors, for the final message. */
export class BuildOutput {
  readonly artifactIds: string[] = [];
  readonly errors: string[] = [];

  /** Takes one raw stdout line; returns the text to show the user, if any. */
  take(raw: string): string | undefined {
    const line = parseMachineReadableLine(raw);
    if (!line) return raw.trim() ? raw : undefined;
    const event = buildEvent(line);
    if (!event) return undefined;
    switch (event.kind) {
      case "artifact":
        if (!this.artifactIds.includes(event.id)) this.artifactIds.push(event.id);
        return undefined;
      case "error":
        this.errors.push(event.text);
        return undefined;
      case "ui": {
        if (event.level === "error") this.errors.push(event.text.trim());
        const text = event.text.replace(/^\n+/, "").replace(/\n+$/, "");
        return text ? text : undefined;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Manifest

const manifestBuildSchema = z.object({
  name: z.string(),
  builder_type: z.string(),
  build_time: z.number().optional(),
  artifact_id: z.string(),
  packer_run_uuid: z.string(),
  custom_data: z.record(z.string(), z.string()).nullish(),
});

const manifestSchema = z.object({
  builds: z.array(manifestBuildSchema),
  last_run_uuid: z.string(),
});

export type PackerManifest = z.infer<typeof manifestSchema>;
export type ManifestBuild = z.infer<typeof manifestBuildSchema>;

/** Parses the manifest post-processor's file; `file` is for messages. */
export function parseManifest(text: string, file: string): PackerManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not JSON (${(e as Error).message})`);
  }
  const result = manifestSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${file} is not a Packer manifest: ${issue.path.join(".") || "(file)"}: ${issue.message}`);
  }
  return result.data;
}

/** The manifest at `file`, or undefined when there is none yet. */
export function readManifest(file: string): PackerManifest | undefined {
  return existsSync(file) ? parseManifest(readFileSync(file, "utf8"), file) : undefined;
}

/** What one run of the template built. */
export interface BuiltImage {
  readonly runUuid: string;
  /** Every region's AMI, the build region first. */
  readonly amis: readonly RegionalAmi[];
  readonly name?: string;
  readonly sourceAmi?: string;
  readonly sourceAmiName?: string;
  readonly customData: Readonly<Record<string, string>>;
}

/** No AMI came out of this run (the build failed before the post-processor, or reported none). */
export class NoArtifactError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoArtifactError";
  }
}

/**
 * The image of the manifest's last run. The manifest keeps every earlier run, and a failed
 * build leaves it untouched: pass the `last_run_uuid` seen before this build as
 * `previousRunUuid`, and a manifest that still ends with it has nothing from this run.
 */
export function imageOfLastRun(manifest: PackerManifest, previousRunUuid?: string): BuiltImage {
  const runUuid = manifest.last_run_uuid;
  if (previousRunUuid !== undefined && runUuid === previousRunUuid) {
    throw new NoArtifactError(`the manifest has no entry from this build (its last run is still ${runUuid}, from before)`);
  }
  const builds = manifest.builds.filter((b) => b.packer_run_uuid === runUuid && b.artifact_id.trim() !== "");
  if (builds.length === 0) throw new NoArtifactError(`the manifest's last run ${runUuid} has no artifact`);
  if (builds.length > 1) {
    throw new NoArtifactError(
      `the manifest's last run ${runUuid} has ${builds.length} artifacts (${builds.map((b) => b.name).join(", ")}); expected one AMI build`,
    );
  }
  const [build] = builds;
  const customData = build.custom_data ?? {};
  return {
    runUuid,
    amis: parseArtifactId(build.artifact_id),
    name: customData.ami_name || undefined,
    sourceAmi: customData.source_ami || undefined,
    sourceAmiName: customData.source_ami_name || undefined,
    customData,
  };
}

/** `{ "us-east-1": "ami-…" }`. */
export function amisByRegion(amis: readonly RegionalAmi[]): Record<string, string> {
  return Object.fromEntries(amis.map((a) => [a.region, a.amiId]));
}

// ---------------------------------------------------------------------------------------
// Running a build

export interface PackerRunDeps {
  readonly runner: Runner;
  readonly log: Log;
  /** The packer executable (from requireTool). */
  readonly packer: string;
  /** The template folder; tests use a copy. */
  readonly packerDir?: string;
  /** Aborts the build (Ctrl-C): Packer gets SIGINT, terminates its instance, and nothing is published. */
  readonly signal?: AbortSignal;
}

/** Packer exited non-zero, was interrupted, or produced no AMI: nothing must be published. */
export class PackerBuildError extends CliError {
  constructor(message: string, exitCode: typeof EXIT.failed | typeof EXIT.interrupted = EXIT.failed) {
    super(message, exitCode);
    this.name = "PackerBuildError";
  }
}

/**
 * `packer init`, `validate` and `build -machine-readable`, with the build's messages
 * streamed to `log`; returns this run's image from the manifest. Throws
 * {@link PackerBuildError} when any step fails or is interrupted.
 */
export async function runPackerBuild(deps: PackerRunDeps, vars: Readonly<Record<string, string>>): Promise<BuiltImage> {
  const dir = deps.packerDir ?? PACKER_DIR;
  const manifestFile = join(dir, vars.manifest_path ?? MANIFEST_FILE);
  const before = readManifest(manifestFile)?.last_run_uuid;
  const commands = packerCommands(vars);
  const interrupted = () => deps.signal?.aborted === true;
  const prefix = (line: string) => deps.log(`  ${line}`);

  for (const step of ["init", "validate"] as const) {
    deps.log(`packer ${step}...`);
    const r = await deps.runner.run(deps.packer, commands[step], { cwd: dir, onStdoutLine: prefix, onStderrLine: prefix, signal: deps.signal });
    if (interrupted()) throw new PackerBuildError(`interrupted during packer ${step}: nothing was built or published`, EXIT.interrupted);
    if (r.exitCode !== 0) {
      const hint = step === "init" ? " (it downloads the Amazon plugin from GitHub: check the network, or run `packer init .` in packer/)" : "";
      throw new PackerBuildError(`packer ${step} failed (exit ${r.exitCode})${hint}: nothing was built or published`);
    }
  }

  deps.log(`packer build (${vars.environment ?? "?"}, ${vars.region ?? "?"}, ${vars.architecture ?? "?"}): about 10 minutes...`);
  const output = new BuildOutput();
  const result = await deps.runner.run(deps.packer, commands.build, {
    cwd: dir,
    signal: deps.signal,
    onStdoutLine: (line) => {
      const shown = output.take(line);
      if (shown !== undefined) for (const l of shown.split("\n")) prefix(l);
    },
    onStderrLine: prefix,
  });
  if (interrupted()) {
    throw new PackerBuildError("build interrupted: Packer terminated the build instance; nothing was published", EXIT.interrupted);
  }
  if (result.exitCode !== 0) {
    const why = output.errors.length > 0 ? `: ${output.errors[output.errors.length - 1].split("\n")[0]}` : "";
    throw new PackerBuildError(`packer build failed (exit ${result.exitCode})${why}; nothing was published`);
  }

  let image: BuiltImage;
  try {
    const manifest = readManifest(manifestFile);
    if (!manifest) throw new NoArtifactError(`${manifestFile} was not written`);
    image = imageOfLastRun(manifest, before);
  } catch (e) {
    throw new PackerBuildError(`packer build exited 0 but ${(e as Error).message}; nothing was published`);
  }
  // The manifest is shared by every build run from this folder: make sure its last run is ours.
  const reported = output.artifactIds.flatMap((id) => parseArtifactId(id)).map((a) => `${a.region}:${a.amiId}`);
  const inManifest = image.amis.map((a) => `${a.region}:${a.amiId}`);
  if (reported.length > 0 && !inManifest.every((a) => reported.includes(a))) {
    throw new PackerBuildError(
      `the manifest's last run (${inManifest.join(", ")}) is not what this build reported (${reported.join(", ")}): did another build write ${manifestFile} at the same time? Nothing was published`,
    );
  }
  return image;
}

/** The command lines a build would run, for --dry-run. */
export function describePackerRun(packer: string, vars: Readonly<Record<string, string>>, dir = PACKER_DIR): string[] {
  const c = packerCommands(vars);
  return [`cd ${dir}`, formatCommand(packer, c.init), formatCommand(packer, c.validate), formatCommand(packer, c.build)];
}
