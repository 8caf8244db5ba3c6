/**
 * The Packer template (packer/*.pkr.hcl), checked offline: `packer fmt -check` with the
 * packer on PATH (Debian's 1.6.6 formats HCL2 but is too old to validate this template),
 * and its structure parsed with @cdktf/hcl2json.
 */
import { parse } from "@cdktf/hcl2json";
import { execFileSync, spawnSync } from "node:child_process";
import { describeWithTool, missingProgram } from "../helpers/tools";
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { PACKER_DIR, packerVariables } from "../../scripts/lib/image/packer";

type Json = Record<string, unknown>;
type Block = Record<string, unknown>;

interface SchemaField {
  readonly type: string;
  readonly of?: string;
}
interface Schema {
  readonly source: string;
  readonly post_processor_manifest: Record<string, SchemaField>;
  readonly structs: Record<string, Record<string, SchemaField>>;
}
/**
 * The Amazon plugin's amazon-ebs builder, attribute by attribute, read from its generated HCL2
 * spec (the plugin commit is in the file; fixtures/reference/README.md says how it was made);
 * WEBFLEET_PACKER_SCHEMA points at another copy, for a newer plugin.
 */
const SCHEMA_FILE = process.env.WEBFLEET_PACKER_SCHEMA ?? resolve(__dirname, "../fixtures/reference/packer-amazon-ebs-schema.json");
const SCHEMA: Schema = existsSync(SCHEMA_FILE) ? JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) : { source: "", post_processor_manifest: {}, structs: {} };
const AMAZON_PLUGIN_PIN = "= 1.8.2";

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
  it("needs Packer >= 1.10 and exactly one release of the Amazon plugin, so that a rebuild of the same commit uses the same plugin", () => {
    const packer = template.packer[0];
    expect(packer.required_version).toBe(">= 1.10.0");
    expect(packer.required_plugins).toEqual([{ amazon: { source: "github.com/hashicorp/amazon", version: AMAZON_PLUGIN_PIN } }]);
  });

  it("says why the plugin is pinned", () => {
    const comment = TEXT["webfleet.pkr.hcl"].split("required_plugins")[0].split("\n").slice(-7).join("\n");
    expect(comment).toMatch(/# Pinned exactly: a floating constraint/);
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
    expect(required.sort()).toEqual(["environment", "health_path", "region"]);
    const always = packerVariables({ environment: "dev", region: "us-east-1", architecture: "x86_64", gitCommit: "abc" });
    expect(required.filter((v) => !(v in always))).toEqual([]);
  });

  it("builds x86_64 and arm64 by variable", () => {
    expect(template.variable.architecture[0].default).toBe("x86_64");
    expect(JSON.stringify(template.variable.architecture[0].validation)).toContain('[\\"x86_64\\", \\"arm64\\"]');
  });
});

describeWithTool(
  "the Amazon plugin's amazon-ebs schema",
  existsSync(SCHEMA_FILE) ? undefined : `${SCHEMA_FILE} not found (WEBFLEET_PACKER_SCHEMA names the plugin's schema file)`,
)("the template against the Amazon plugin's schema", () => {
  /** Every attribute of `body` that `struct` (a Flat* struct of the schema) does not accept, or accepts with another type, as path: problem. */
  function problems(body: Block, struct: string, path: string): string[] {
    const spec = SCHEMA.structs[struct];
    if (!spec) return [`${path}: no struct ${struct} in the schema`];
    const out: string[] = [];
    for (const [name, value] of Object.entries(body)) {
      if (name === "dynamic") {
        for (const [blockName, [dynamic]] of Object.entries(value as Record<string, Block[]>)) {
          const field = spec[blockName];
          if (!field || (field.type !== "block" && field.type !== "block_list")) out.push(`${path}.dynamic.${blockName}: not a block of ${struct}`);
          else (dynamic.content as Block[]).forEach((c, i) => out.push(...problems(c, field.of!, `${path}.dynamic.${blockName}.content[${i}]`)));
        }
        continue;
      }
      const field = spec[name];
      if (!field) {
        out.push(`${path}.${name}: not an attribute of ${struct}`);
        continue;
      }
      if (field.type === "block" || field.type === "block_list") {
        const blocks = value as Block[];
        if (!Array.isArray(blocks)) out.push(`${path}.${name}: ${field.type} written as an attribute`);
        else if (field.type === "block" && blocks.length > 1) out.push(`${path}.${name}: one block only`);
        else blocks.forEach((b, i) => out.push(...problems(b, field.of!, `${path}.${name}[${i}]`)));
        continue;
      }
      const wrong = typeProblem(field.type, value);
      if (wrong) out.push(`${path}.${name}: ${wrong}`);
    }
    return out;
  }

  /** A literal of the wrong type; an expression (`${...}`) is Packer's to check. */
  function typeProblem(type: string, value: unknown): string | undefined {
    if (typeof value === "string" && value.startsWith("${") && value.endsWith("}")) return undefined;
    const ok =
      type === "string"
        ? typeof value === "string"
        : type === "bool"
          ? typeof value === "boolean"
          : type === "int" || type === "int32" || type === "int64"
            ? Number.isInteger(value)
            : type === "list"
              ? Array.isArray(value)
              : type === "map"
                ? typeof value === "object" && value !== null && !Array.isArray(value)
                : false;
    return ok ? undefined : `${type} expected, got ${JSON.stringify(value)}`;
  }

  it("was read from the builder of the pinned plugin release", () => {
    // The schema's commit is the plugin's main branch just after its 1.8.2 release (the
    // changelog merge; version/version.go says 1.8.3-dev), its builder unchanged since 1.8.2.
    expect(SCHEMA.source).toContain("commit 5028903a63216243753d3b0285cddde196db627c");
    expect(AMAZON_PLUGIN_PIN).toBe("= 1.8.2");
  });

  it("uses only attributes and blocks the amazon-ebs builder accepts, each with its type", () => {
    expect(problems(source, "FlatConfig", 'source "amazon-ebs" "al2023"')).toEqual([]);
  });

  it("uses only attributes the manifest post-processor accepts", () => {
    const manifest = (build["post-processor"] as Record<string, Block[]>).manifest[0];
    expect(Object.keys(manifest).filter((k) => !(k in SCHEMA.post_processor_manifest))).toEqual([]);
  });

  it("sets what the build instance's network depends on", () => {
    expect(source).toMatchObject({
      subnet_id: "${var.subnet_id}",
      iam_instance_profile: "${var.iam_instance_profile}",
      associate_public_ip_address: expect.stringContaining("var.subnet_id"),
    });
  });

  it("catches a misspelt attribute (the check itself works)", () => {
    expect(problems({ subnet_ids: "x", metadata_options: [{ http_token: "required" }] }, "FlatConfig", "src")).toEqual([
      "src.subnet_ids: not an attribute of FlatConfig",
      "src.metadata_options[0].http_token: not an attribute of FlatMetadataOptions",
    ]);
    expect(problems({ associate_public_ip_address: "yes" }, "FlatConfig", "src")).toEqual(['src.associate_public_ip_address: bool expected, got "yes"']);
  });
});

/**
 * Evaluates template expressions (`${...}` as hcl2json gives them) for the given string variables
 * with `terraform console`: Packer and Terraform share HCL's expression language (operators,
 * conditionals, null), so the values are the ones Packer computes.
 */
function evaluate(expressions: readonly string[], vars: Record<string, string>): unknown[] {
  const dir = mkdtempSync(join(tmpdir(), "webfleet-hcl-"));
  try {
    writeFileSync(
      join(dir, "variables.tf"),
      Object.keys(vars)
        .map((v) => `variable "${v}" {\n  type = string\n}\n`)
        .join(""),
    );
    const input = expressions.map((e) => `jsonencode(${e.replace(/^\$\{([\s\S]*)\}$/, "$1")})\n`).join("");
    const out = execFileSync("terraform", ["console", ...Object.entries(vars).flatMap(([k, v]) => ["-var", `${k}=${v}`])], {
      cwd: dir,
      input,
      encoding: "utf8",
      env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null", CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
    });
    return out
      .trim()
      .split("\n")
      .map((line) => JSON.parse(JSON.parse(line) as string) as unknown);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describeWithTool("terraform console, to evaluate HCL expressions", missingProgram("terraform", "install Terraform >= 1.10 (see README.md, Set-up)"))(
  "the build instance's network and access, as Packer evaluates them",
  () => {
    const SUBNET = "subnet-0123456789abcdef0";
    const tempProfile = () => (source.dynamic as Record<string, Block[]>).temporary_iam_instance_profile_policy_document[0].for_each as string;

    test.each([
      ["SSH over the public IP, default VPC: a public address", "public_ip", "", true],
      ["SSH over the public IP, a given subnet: a public address", "public_ip", SUBNET, true],
      ["Session Manager in the default VPC (no NAT, no SSM endpoints): a public address", "session_manager", "", true],
      ["Session Manager in a given subnet: left to the subnet (null)", "session_manager", SUBNET, null],
    ])("%s", (_what, sshInterface, subnetId, expected) => {
      const [value] = evaluate([source.associate_public_ip_address as string], { ssh_interface: sshInterface, subnet_id: subnetId });
      expect(value).toBe(expected);
    });

    test.each([
      ["Session Manager without an instance profile: Packer makes a temporary one", "session_manager", "", ["ssm"]],
      ["Session Manager with an instance profile: no temporary one", "session_manager", "webfleet-dev-instance", []],
      ["SSH over the public IP: no temporary instance profile", "public_ip", "", []],
    ])("%s", (_what, sshInterface, profile, expected) => {
      const [value] = evaluate([tempProfile()], { ssh_interface: sshInterface, iam_instance_profile: profile });
      expect(value).toEqual(expected);
    });
  },
);

describe("the source image", () => {
  // A dynamic block: the filter applies only when no exact source_ami is given (npm run nightly gives one).
  const dynamicFilter = () => ((source.dynamic as Block).source_ami_filter as Block[])[0];
  const filter = () => (dynamicFilter().content as Block[])[0];
  const nameGlob = (arch: string, kernel = "6.1") => {
    const local = template.locals.map((l) => l.source_ami_name).find((v) => typeof v === "string") as string;
    const resolved = interpolate((filter().filters as Block).name as string, { "local.source_ami_name": local });
    return globToRegExp(interpolate(resolved, { "var.kernel_version": kernel, "var.architecture": arch }));
  };

  it("is exactly the AMI npm run nightly names, when it names one, else the newest matching one", () => {
    expect(source.source_ami).toBe('${var.source_ami != "" ? var.source_ami : null}');
    expect(dynamicFilter().for_each).toBe('${var.source_ami == "" ? ["newest"] : []}');
  });

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

  it("runs the scripts as root with the build region, PHP version, health path and the agent's Ruby line", () => {
    const [shell] = provisioners();
    expect(shell.execute_command).toContain("sudo");
    expect(shell.environment_vars).toEqual([
      "WEBFLEET_REGION=${var.region}",
      "WEBFLEET_PHP_VERSION=${var.php_version}",
      "WEBFLEET_HEALTH_PATH=${var.health_path}",
      "WEBFLEET_AGENT_RUBY=${local.codedeploy_agent_ruby}",
    ]);
  });

  it("runs the CodeDeploy agent on Ruby 3.2, the newest its installer accepts", () => {
    expect(template.locals.find((l) => "codedeploy_agent_ruby" in l)?.codedeploy_agent_ruby).toBe("3.2");
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
