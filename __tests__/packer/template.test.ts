/**
 * The Packer template (packer/*.pkr.hcl), checked offline: `packer fmt -check` with the
 * packer on PATH (Debian's 1.6.6 formats HCL2 but is too old to validate this template),
 * and its structure parsed with @cdktf/hcl2json.
 */
import { parse } from "@cdktf/hcl2json";
import { execFileSync, spawnSync } from "node:child_process";
import { describeWithTool, missingProgram } from "../helpers/tools";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { PACKER_DIR, packerVariables } from "../../scripts/lib/image/packer";

type Json = Record<string, unknown>;
type Block = Record<string, unknown>;

const HCL_FILES = readdirSync(PACKER_DIR)
  .filter((f) => f.endsWith(".pkr.hcl"))
  .sort();
const TEXT = Object.fromEntries(HCL_FILES.map((f) => [f, readFileSync(join(PACKER_DIR, f), "utf8")]));
const ALL_TEXT = Object.values(TEXT).join("\n");

let template: { variable: Record<string, Block[]>; locals: Block[]; packer: Block[]; source: Record<string, Record<string, Block[]>>; build: Block[] };
let source: Block;
let build: Block;

beforeAll(async () => {
  const parts = await Promise.all(HCL_FILES.map((f) => parse(f, TEXT[f]) as Promise<Json>));
  const merged: Json = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (Array.isArray(value)) merged[key] = [...((merged[key] as unknown[]) ?? []), ...value];
      else merged[key] = { ...((merged[key] as Json) ?? {}), ...(value as Json) };
    }
  }
  template = merged as typeof template;
  source = template.source["amazon-ebs"].al2023[0];
  build = template.build[0];
});

/** The names used as `<kind>.<name>` anywhere in the template's text (comments stripped). */
function referenced(kind: "var" | "local"): Set<string> {
  const code = ALL_TEXT.split("\n")
    .map((l) => l.replace(/^\s*#.*$/, ""))
    .join("\n");
  return new Set([...code.matchAll(new RegExp(`\\b${kind}\\.([A-Za-z_][A-Za-z0-9_-]*)`, "g"))].map((m) => m[1]));
}

/** Packer's AMI name filter is a glob: `*` any text, `?` one character. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
}

/** A template string with `${var.x}` / `${local.x}` replaced by the given values. */
function interpolate(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{(var|local)\.([A-Za-z0-9_]+)\}/g, (_m, kind: string, name: string) => {
    const v = values[`${kind}.${name}`];
    if (v === undefined) throw new Error(`no value for ${kind}.${name}`);
    return v;
  });
}

describeWithTool("packer fmt of the template", missingProgram("packer", "run npm run setup (Debian: apt-get install -y packer)"))("packer fmt", () => {
  it("finds nothing to reformat", () => {
    const result = spawnSync("packer", ["fmt", "-check", "-diff", "."], { cwd: PACKER_DIR, encoding: "utf8" });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: "" });
  });
});

describe("the template", () => {
  it("needs Packer >= 1.10 and the Amazon plugin", () => {
    const packer = template.packer[0];
    expect(packer.required_version).toBe(">= 1.10.0");
    expect(packer.required_plugins).toEqual([
      { amazon: expect.objectContaining({ source: "github.com/hashicorp/amazon", version: expect.stringMatching(/^(~>|>=) ?1\./) }) },
    ]);
  });

  it("declares every variable it uses, and uses every variable it declares", () => {
    const declared = new Set(Object.keys(template.variable));
    const used = referenced("var");
    expect([...used].filter((v) => !declared.has(v))).toEqual([]);
    expect([...declared].filter((v) => !used.has(v))).toEqual([]);
  });

  it("declares every local it uses", () => {
    const declared = new Set(template.locals.flatMap((l) => Object.keys(l)));
    expect([...referenced("local")].filter((l) => !declared.has(l))).toEqual([]);
  });

  it("declares every variable scripts/ami passes", () => {
    const passed = packerVariables({
      environment: "dev",
      region: "us-east-1",
      architecture: "arm64",
      gitCommit: "abc",
      copyToRegions: ["eu-west-1"],
      sshInterface: "session_manager",
    });
    expect(Object.keys(passed).filter((v) => !(v in template.variable))).toEqual([]);
  });

  it("requires a value only for what scripts/ami always passes", () => {
    const required = Object.entries(template.variable)
      .filter(([, [v]]) => !("default" in v))
      .map(([name]) => name);
    expect(required.sort()).toEqual(["environment", "region"]);
  });

  it("builds x86_64 and arm64 by variable", () => {
    expect(template.variable.architecture[0].default).toBe("x86_64");
    expect(JSON.stringify(template.variable.architecture[0].validation)).toContain('[\\"x86_64\\", \\"arm64\\"]');
  });
});

describe("the source image", () => {
  const filter = () => (source.source_ami_filter as Block[])[0];
  const nameGlob = (arch: string, kernel = "6.1") => {
    const local = template.locals.map((l) => l.source_ami_name).find((v) => typeof v === "string") as string;
    const resolved = interpolate((filter().filters as Block).name as string, { "local.source_ami_name": local });
    return globToRegExp(interpolate(resolved, { "var.kernel_version": kernel, "var.architecture": arch }));
  };

  it("is Amazon's newest Amazon Linux 2023, for the build's architecture", () => {
    expect(filter()).toMatchObject({ owners: ["amazon"], most_recent: true });
    expect(filter().filters).toMatchObject({ architecture: "${var.architecture}", "virtualization-type": "hvm", "root-device-type": "ebs" });
  });

  test.each([
    ["x86_64", "al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64"],
    ["x86_64", "al2023-ami-2023.0.20230315.0-kernel-6.1-x86_64"],
    ["arm64", "al2023-ami-2023.6.20250107.0-kernel-6.1-arm64"],
  ])("matches the standard %s image %s", (arch, name) => {
    expect(nameGlob(arch).test(name)).toBe(true);
  });

  test.each([
    ["the minimal image", "x86_64", "al2023-ami-minimal-2023.6.20250107.0-kernel-6.1-x86_64"],
    ["the ECS-optimized image", "x86_64", "al2023-ami-ecs-hvm-2023.0.20250107-kernel-6.1-x86_64"],
    ["the other architecture", "x86_64", "al2023-ami-2023.6.20250107.0-kernel-6.1-arm64"],
    ["another kernel line", "x86_64", "al2023-ami-2023.6.20250107.0-kernel-6.12-x86_64"],
    ["Amazon Linux 2", "x86_64", "amzn2-ami-kernel-5.10-hvm-2.0.20250108.0-x86_64-gp2"],
  ])("does not match %s", (_what, arch, name) => {
    expect(nameGlob(arch).test(name)).toBe(false);
  });
});

describe("the image", () => {
  it("requires IMDSv2 on the build instance and on every instance launched from the AMI", () => {
    expect(source.metadata_options).toEqual([{ http_endpoint: "enabled", http_tokens: "required", http_put_response_hop_limit: 1 }]);
    expect(source.imds_support).toBe("v2.0");
  });

  it("has an encrypted gp3 root volume", () => {
    expect(source.launch_block_device_mappings).toEqual([
      expect.objectContaining({ device_name: "/dev/xvda", encrypted: true, volume_type: "gp3", delete_on_termination: true }),
    ]);
  });

  it("is named with its environment, architecture and build timestamp", () => {
    expect(source.ami_name).toBe("${local.ami_name}");
    const local = template.locals.find((l) => "ami_name" in l)!;
    expect(local.ami_name).toMatch(/\$\{var\.environment\}.*\$\{var\.architecture\}.*\$\{local\.ami_timestamp\}/);
    expect(template.locals.find((l) => "ami_timestamp" in l)!.ami_timestamp).toContain("formatdate(");
  });

  it("is deprecated after a number of days", () => {
    expect(source.deprecate_at).toMatch(/timeadd\(local\.build_time, .*var\.deprecate_after_days/);
  });

  it("is tagged with its source AMI, build time, git commit, project and environment", () => {
    const tags = source.tags as Block;
    expect(tags).toMatchObject({
      SourceAMI: "{{ .SourceAMI }}",
      BuildTime: "${local.build_time}",
      GitCommit: "${var.git_commit}",
      Project: "${local.project}",
      Environment: "${var.environment}",
    });
    expect(source.snapshot_tags).toMatchObject({ Project: "${local.project}", Environment: "${var.environment}" });
  });

  it("can be reached through Session Manager, with a temporary instance profile and no inbound SSH rule", () => {
    expect(source.ssh_interface).toBe("${var.ssh_interface}");
    expect(JSON.stringify(template.variable.ssh_interface[0].validation)).toContain("session_manager");
    const dynamic = (source.dynamic as Record<string, Block[]>).temporary_iam_instance_profile_policy_document[0];
    expect(dynamic.for_each).toContain('var.ssh_interface == "session_manager"');
    expect(JSON.stringify(dynamic.content)).toContain("ssmmessages:OpenDataChannel");
    // Over the public IP, SSH is open to this machine's address only.
    expect(source.temporary_security_group_source_public_ip).toBe('${var.ssh_interface == "public_ip"}');
  });
});

describe("the build", () => {
  const provisioners = () => (build.provisioner as Record<string, Block[]>).shell;
  const scripts = () => provisioners().flatMap((p) => [...((p.scripts as string[]) ?? []), ...(p.script ? [p.script as string] : [])]);
  const onDisk = (ref: string) => resolve(PACKER_DIR, ref.replace("${path.root}/", ""));

  it("runs provisioning scripts that exist and are executable", () => {
    expect(scripts().length).toBeGreaterThan(0);
    for (const ref of scripts()) {
      expect(ref).toMatch(/^\$\{path\.root\}\//);
      expect(() => accessSync(onDisk(ref), constants.R_OK | constants.X_OK)).not.toThrow();
    }
  });

  it("runs every provisioning script in packer/scripts, updates first and cleanup last", () => {
    const listed = scripts().map((s) => relative(PACKER_DIR, onDisk(s)));
    const present = readdirSync(join(PACKER_DIR, "scripts"))
      .filter((f) => f.endsWith(".sh"))
      .map((f) => `scripts/${f}`);
    expect([...listed].sort()).toEqual(present.sort());
    expect(listed[0]).toBe("scripts/security-updates.sh");
    expect(listed[listed.length - 1]).toBe("scripts/cleanup.sh");
  });

  it("runs the scripts as root with the build region and PHP version", () => {
    const [shell] = provisioners();
    expect(shell.execute_command).toContain("sudo");
    expect(shell.environment_vars).toEqual(["WEBFLEET_REGION=${var.region}", "WEBFLEET_PHP_VERSION=${var.php_version}"]);
  });

  it("appends the AMI ids to the manifest, with the AMI's name and source", () => {
    const manifest = (build["post-processor"] as Record<string, Block[]>).manifest;
    expect(manifest).toHaveLength(1);
    expect(manifest[0]).toMatchObject({
      output: "${var.manifest_path}",
      strip_path: true,
      custom_data: expect.objectContaining({ ami_name: "${local.ami_name}", source_ami: "${build.SourceAMI}", git_commit: "${var.git_commit}" }),
    });
  });

  it("writes the manifest where scripts/ami reads it, which git ignores", () => {
    expect(template.variable.manifest_path[0].default).toBe("manifest.json");
    const ignored = execFileSync("git", ["check-ignore", "packer/manifest.json"], { cwd: resolve(PACKER_DIR, ".."), encoding: "utf8" });
    expect(ignored.trim()).toBe("packer/manifest.json");
  });
});
