/**
 * The build key: everything a baked image is made from, as one hash, known before Packer starts.
 * Amazon Linux 2023 is locked to the release of the AMI it boots from (deterministic upgrades:
 * `dnf upgrade` on the newest AL2023 AMI installs nothing newer), so an image can only differ
 * from last night's when one of these changes:
 *
 * - the source AMI: the newest AL2023 AMI for the architecture and kernel line (Amazon's public
 *   SSM parameter names it);
 * - the packer/ tree: the template, its variables and every provisioning script;
 * - the variables `npm run ami` passes, except the git commit (a commit that touches nothing the
 *   image is made from must not rebuild it) and output paths;
 * - the CodeDeploy agent version that the region's `latest/VERSION` names (the installer takes
 *   the latest);
 * - the Amazon plugin's version (pinned exactly in the template's required_plugins).
 *
 * Each baked AMI carries its key (tag BuildKey) and its AL2023 release (tag Al2023Release).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { DescribeImagesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { CliError } from "../cli/errors";
import { MANIFEST_FILE, PACKAGE_MANIFEST_FILE } from "../image/packer";

/** The kernel line of the standard AL2023 image the template uses (variables.pkr.hcl kernel_version). */
export const KERNEL_LINE = "6.1";

/** Amazon's public parameter that names the newest standard AL2023 AMI for an architecture. */
export function sourceAmiParameter(architecture: string, kernel = KERNEL_LINE): string {
  return `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-${kernel}-${architecture}`;
}

export interface SourceAmi {
  readonly id: string;
  readonly name: string;
  /** The AL2023 release it is locked to: 2023.6.20250107.0. */
  readonly release: string;
}

/** `al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64` → `2023.6.20250107.0`. */
export function releaseOf(amiName: string): string | undefined {
  return /^al2023-ami-(\d{4}\.\d+\.\d{8}(?:\.\d+)?)-kernel-/.exec(amiName)?.[1];
}

/** The newest AL2023 AMI for the architecture, its name and release. */
export async function newestSourceAmi(ssm: SSMClient, ec2: EC2Client, architecture: string): Promise<SourceAmi> {
  const name = sourceAmiParameter(architecture);
  const id = (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
  if (!id) throw new CliError(`Amazon's public parameter ${name} has no value: is the region right?`);
  const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0];
  const amiName = image?.Name ?? "";
  const release = releaseOf(amiName);
  if (!release) throw new CliError(`${id} (from ${name}) is named '${amiName}', which is not an AL2023 release name: the build key cannot be computed`);
  return { id, name: amiName, release };
}

/** Files in packer/ that are outputs, not inputs. */
const NOT_INPUTS = new Set([MANIFEST_FILE, PACKAGE_MANIFEST_FILE, "packer_cache", ".terraform"]);

/** SHA-256 of the packer/ tree: every input file's path and content, in a stable order. */
export function treeHash(dir: string): string {
  const hash = createHash("sha256");
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (NOT_INPUTS.has(name)) continue;
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else
        hash
          .update(`${relative(dir, path).split("\\").join("/")}\0`)
          .update(readFileSync(path))
          .update("\0");
    }
  };
  walk(dir);
  return hash.digest("hex");
}

/** Variables that name outputs or record provenance, not what the image is made of. */
const NOT_INPUT_VARIABLES = new Set(["git_commit", "manifest_path", "package_manifest_path", "build_key", "source_release", "source_ami"]);

/** SHA-256 of the template variables that shape the image, sorted by name. */
export function variablesHash(vars: Readonly<Record<string, string>>): string {
  const shaping = Object.entries(vars)
    .filter(([k]) => !NOT_INPUT_VARIABLES.has(k))
    .sort(([a], [b]) => a.localeCompare(b));
  return createHash("sha256").update(JSON.stringify(shaping)).digest("hex");
}

/** The CodeDeploy agent version the region's installer would install now (its latest/VERSION). */
export async function agentVersion(s3: S3Client, region: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: `aws-codedeploy-${region}`, Key: "latest/VERSION" }));
  const text = (await out.Body?.transformToString()) ?? "";
  try {
    const rpm = (JSON.parse(text) as { rpm?: string }).rpm ?? "";
    const m = /codedeploy-agent-([\d.]+-\d+)\./.exec(rpm);
    if (m) return m[1];
  } catch {
    // not JSON: the content itself stands for the version
  }
  return `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
}

/** The Amazon plugin version the template pins: `version = "= 1.8.2"` → 1.8.2. */
export function pluginVersion(templateText: string): string {
  const m = /amazon\s*=\s*\{[^}]*version\s*=\s*"=\s*([\d.]+)"/s.exec(templateText);
  if (!m)
    throw new CliError(
      'packer/webfleet.pkr.hcl must pin the Amazon plugin exactly (version = "= x.y.z"): a floating constraint makes the build key meaningless',
    );
  return m[1];
}

/** Every input of a build, by name. */
export interface BuildInputs {
  readonly sourceAmi: string;
  readonly sourceRelease: string;
  readonly packerTree: string;
  readonly variables: string;
  readonly agentVersion: string;
  readonly pluginVersion: string;
}

/** The key of a set of inputs: SHA-256 of their canonical JSON. */
export function buildKey(inputs: BuildInputs): string {
  const canonical = JSON.stringify(Object.entries(inputs).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256").update(canonical).digest("hex");
}
