/**
 * What scripts/lib/packer.ts reads from Packer (its -machine-readable output, its manifest,
 * its version) and the command lines it builds.
 */
import {
  BuildOutput,
  buildEvent,
  imageOfLastRun,
  NoArtifactError,
  packerCommands,
  packerVariables,
  parseArtifactId,
  parseMachineReadableLine,
  parseManifest,
  unescapeMachineReadable,
  type PackerManifest,
} from "../../../../scripts/lib/image/packer";
import { parseToolVersion } from "../../../../scripts/lib/cli/tools";
import { HEALTH_CHECK } from "../../../../modules/names";

describe("the -machine-readable output", () => {
  test.each([
    ["a plain field", "ui", "ui"],
    ["an escaped comma", "a%!(PACKER_COMMA)b", "a,b"],
    ["an escaped newline and carriage return", "one\\ntwo\\r", "one\ntwo\r"],
    ["several escaped commas", "us-east-1:ami-1%!(PACKER_COMMA)eu-west-1:ami-2%!(PACKER_COMMA)x", "us-east-1:ami-1,eu-west-1:ami-2,x"],
  ])("unescapes %s", (_what, field, expected) => {
    expect(unescapeMachineReadable(field)).toBe(expected);
  });

  it("splits a line into timestamp, target, type and data", () => {
    // GIVEN a line with a target and an escaped comma in its data
    const line = "1700000000,webfleet.amazon-ebs.al2023,artifact,0,id,us-east-1:ami-0123456789abcdef0%!(PACKER_COMMA)eu-west-1:ami-0fedcba9876543210";
    // WHEN it is parsed
    const parsed = parseMachineReadableLine(line);
    // THEN the escaped comma stays inside its field
    expect(parsed).toEqual({
      timestamp: 1700000000,
      target: "webfleet.amazon-ebs.al2023",
      type: "artifact",
      data: ["0", "id", "us-east-1:ami-0123456789abcdef0,eu-west-1:ami-0fedcba9876543210"],
    });
  });

  test.each([
    ["an empty line", ""],
    ["plugin noise without a timestamp", "2025/01/01 12:00:00 [INFO] plugin started"],
    ["a line with too few fields", "1700000000,target"],
  ])("ignores %s", (_what, line) => {
    expect(parseMachineReadableLine(line)).toBeUndefined();
  });

  test.each([
    [
      "a say message",
      "1700000000,,ui,say,==> webfleet.amazon-ebs.al2023: Creating AMI",
      { kind: "ui", level: "say", text: "==> webfleet.amazon-ebs.al2023: Creating AMI" },
    ],
    ["a message with a comma", "1700000000,,ui,message,    a%!(PACKER_COMMA) b", { kind: "ui", level: "message", text: "    a, b" }],
    ["an error", "1700000000,,ui,error,Build 'x' errored after 1 minute: boom", { kind: "ui", level: "error", text: "Build 'x' errored after 1 minute: boom" }],
    [
      "an artifact id",
      "1700000000,webfleet.amazon-ebs.al2023,artifact,0,id,us-east-1:ami-0123456789abcdef0",
      { kind: "artifact", target: "webfleet.amazon-ebs.al2023", index: 0, id: "us-east-1:ami-0123456789abcdef0" },
    ],
    [
      "a build error",
      "1700000000,webfleet.amazon-ebs.al2023,error,Script exited with non-zero exit status: 1",
      { kind: "error", target: "webfleet.amazon-ebs.al2023", text: "Script exited with non-zero exit status: 1" },
    ],
  ])("reads %s", (_what, line, expected) => {
    expect(buildEvent(parseMachineReadableLine(line)!)).toEqual(expected);
  });

  it("ignores the lines that only matter to Packer", () => {
    for (const line of [
      "1700000000,x,artifact-count,1",
      "1700000000,x,artifact,0,builder-id,mitchellh.amazonebs",
      "1700000000,x,artifact,0,end",
      "1700000000,,version,1.11.2",
    ]) {
      expect(buildEvent(parseMachineReadableLine(line)!)).toBeUndefined();
    }
  });

  it("collects a whole build's artifacts and shows its messages without escapes", () => {
    // GIVEN the tail of a multi-region build
    const lines = [
      "1700000000,,ui,say,webfleet.amazon-ebs.al2023: output will be in this color.",
      "1700000001,,ui,say,\\n==> webfleet.amazon-ebs.al2023: Copying/Encrypting AMI (ami-0123456789abcdef0) to other regions...",
      "1700000600,webfleet.amazon-ebs.al2023,artifact-count,2",
      "1700000600,webfleet.amazon-ebs.al2023,artifact,0,builder-id,mitchellh.amazonebs",
      "1700000600,webfleet.amazon-ebs.al2023,artifact,0,id,eu-west-1:ami-0fedcba9876543210%!(PACKER_COMMA)us-east-1:ami-0123456789abcdef0",
      "1700000600,webfleet.amazon-ebs.al2023,artifact,0,string,AMIs were created:\\neu-west-1: ami-0fedcba9876543210\\nus-east-1: ami-0123456789abcdef0\\n",
      "1700000600,webfleet.amazon-ebs.al2023,artifact,0,end",
      // The manifest post-processor keeps the artifact: Packer reports it again.
      "1700000600,webfleet.amazon-ebs.al2023,artifact,1,id,eu-west-1:ami-0fedcba9876543210%!(PACKER_COMMA)us-east-1:ami-0123456789abcdef0",
    ];
    // WHEN they are taken one by one
    const output = new BuildOutput();
    const shown = lines.map((l) => output.take(l)).filter((s) => s !== undefined);
    // THEN the artifact is counted once, and the messages read as Packer would print them
    expect(output.artifactIds).toEqual(["eu-west-1:ami-0fedcba9876543210,us-east-1:ami-0123456789abcdef0"]);
    expect(shown).toEqual([
      "webfleet.amazon-ebs.al2023: output will be in this color.",
      "==> webfleet.amazon-ebs.al2023: Copying/Encrypting AMI (ami-0123456789abcdef0) to other regions...",
    ]);
    expect(output.errors).toEqual([]);
  });

  it("keeps the errors of a failed build for the final message", () => {
    const output = new BuildOutput();
    output.take("1700000000,,ui,error,Build 'webfleet.amazon-ebs.al2023' errored after 3 minutes: Script exited with non-zero exit status: 1");
    output.take("1700000000,,error-count,1");
    expect(output.errors).toEqual(["Build 'webfleet.amazon-ebs.al2023' errored after 3 minutes: Script exited with non-zero exit status: 1"]);
    expect(output.artifactIds).toEqual([]);
  });
});

describe("the Amazon plugin's artifact id", () => {
  test.each([
    ["one region", "us-east-1:ami-0123456789abcdef0", [{ region: "us-east-1", amiId: "ami-0123456789abcdef0" }]],
    [
      "several regions",
      "eu-west-1:ami-0fedcba9876543210,us-east-1:ami-0123456789abcdef0",
      [
        { region: "eu-west-1", amiId: "ami-0fedcba9876543210" },
        { region: "us-east-1", amiId: "ami-0123456789abcdef0" },
      ],
    ],
    ["an old 8-digit id in GovCloud", "us-gov-west-1:ami-01234567", [{ region: "us-gov-west-1", amiId: "ami-01234567" }]],
  ])("reads %s", (_what, id, expected) => {
    expect(parseArtifactId(id)).toEqual(expected);
  });

  test.each([
    ["an empty id", ""],
    ["an id without a region", "ami-0123456789abcdef0"],
    ["a still-escaped comma", "us-east-1:ami-0123456789abcdef0%!(PACKER_COMMA)eu-west-1:ami-0fedcba9876543210"],
  ])("rejects %s", (_what, id) => {
    expect(() => parseArtifactId(id)).toThrow();
  });
});

function manifest(runs: Array<{ uuid: string; artifact: string; name?: string }>, last = runs[runs.length - 1]?.uuid ?? ""): PackerManifest {
  return {
    builds: runs.map((r, i) => ({
      name: "al2023",
      builder_type: "amazon-ebs",
      build_time: 1700000000 + i,
      artifact_id: r.artifact,
      packer_run_uuid: r.uuid,
      custom_data: {
        ami_name: r.name ?? `webfleet-dev-al2023-x86_64-${i}`,
        source_ami: "ami-0aaaaaaaaaaaaaaaa",
        source_ami_name: "al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64",
      },
    })),
    last_run_uuid: last,
  };
}

describe("the manifest", () => {
  it("parses the post-processor's file", () => {
    // GIVEN a manifest as Packer writes it (files is null for an AMI)
    const text = JSON.stringify({
      builds: [
        {
          name: "al2023",
          builder_type: "amazon-ebs",
          build_time: 1700000000,
          files: null,
          artifact_id: "us-east-1:ami-0123456789abcdef0",
          packer_run_uuid: "run-1",
          custom_data: { ami_name: "n" },
        },
      ],
      last_run_uuid: "run-1",
    });
    // THEN it is read, and this run's image comes out of it
    const image = imageOfLastRun(parseManifest(text, "manifest.json"));
    expect(image).toMatchObject({ runUuid: "run-1", amis: [{ region: "us-east-1", amiId: "ami-0123456789abcdef0" }], name: "n" });
  });

  test.each([
    ["not JSON", "{", /manifest.json is not JSON/],
    ["JSON without builds", "{}", /manifest.json is not a Packer manifest: builds/],
    [
      "a build without artifact_id",
      JSON.stringify({ builds: [{ name: "a", builder_type: "b", packer_run_uuid: "r" }], last_run_uuid: "r" }),
      /builds.0.artifact_id/,
    ],
  ])("names what is wrong with a file that is %s", (_what, text, message) => {
    expect(() => parseManifest(text, "manifest.json")).toThrow(message);
  });

  it("takes the last run's AMI when the manifest holds several runs", () => {
    // GIVEN three runs appended to one manifest
    const m = manifest([
      { uuid: "run-1", artifact: "us-east-1:ami-01111111111111111" },
      { uuid: "run-2", artifact: "us-east-1:ami-02222222222222222", name: "second" },
      { uuid: "run-3", artifact: "us-east-1:ami-03333333333333333", name: "third" },
    ]);
    // THEN the image is the one of last_run_uuid, with its custom data
    expect(imageOfLastRun(m, "run-2")).toMatchObject({
      runUuid: "run-3",
      amis: [{ region: "us-east-1", amiId: "ami-03333333333333333" }],
      name: "third",
      sourceAmi: "ami-0aaaaaaaaaaaaaaaa",
      sourceAmiName: "al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64",
    });
  });

  it("follows last_run_uuid, not the order of the builds", () => {
    const m = manifest(
      [
        { uuid: "run-1", artifact: "us-east-1:ami-01111111111111111" },
        { uuid: "run-2", artifact: "us-east-1:ami-02222222222222222" },
      ],
      "run-1",
    );
    expect(imageOfLastRun(m).amis[0].amiId).toBe("ami-01111111111111111");
  });

  it("has nothing from this build when the last run is still the one from before (the build failed before the post-processor)", () => {
    const m = manifest([{ uuid: "run-1", artifact: "us-east-1:ami-01111111111111111" }]);
    expect(() => imageOfLastRun(m, "run-1")).toThrow(NoArtifactError);
    expect(() => imageOfLastRun(m, "run-1")).toThrow(/no entry from this build/);
  });

  it("has no artifact when the last run's entry is missing or empty", () => {
    expect(() => imageOfLastRun(manifest([{ uuid: "run-1", artifact: "us-east-1:ami-01111111111111111" }], "run-9"))).toThrow(/last run run-9 has no artifact/);
    expect(() => imageOfLastRun(manifest([{ uuid: "run-1", artifact: "" }]))).toThrow(NoArtifactError);
    expect(() => imageOfLastRun({ builds: [], last_run_uuid: "run-1" })).toThrow(NoArtifactError);
  });

  it("reads a multi-region artifact of the last run", () => {
    const m = manifest([{ uuid: "run-1", artifact: "eu-west-1:ami-0fedcba9876543210,us-east-1:ami-0123456789abcdef0" }]);
    expect(imageOfLastRun(m).amis.map((a) => a.region)).toEqual(["eu-west-1", "us-east-1"]);
  });
});

describe("Packer's version", () => {
  test.each([
    ["packer version of 1.6.6", "Packer v1.6.6\n", "1.6.6"],
    ["packer version of 1.11 with an update notice", "Packer v1.11.2\n\nYour version of Packer is out of date! The latest version\nis 1.12.0.", "1.11.2"],
    ["packer -v", "1.10.0\n", "1.10.0"],
    ["terraform version", "Terraform v1.11.4\non linux_amd64\n", "1.11.4"],
  ])("is read from the output of %s", (_what, output, version) => {
    expect(parseToolVersion(output)).toBe(version);
  });
});

describe("the command lines", () => {
  const inputs = { environment: "dev", region: "us-east-1", architecture: "x86_64", gitCommit: "abc123" } as const;

  it("passes the environment, region, architecture and commit, and the load balancer's health path, as template variables", () => {
    expect(packerVariables(inputs)).toEqual({
      environment: "dev",
      region: "us-east-1",
      architecture: "x86_64",
      git_commit: "abc123",
      health_path: HEALTH_CHECK.path,
      manifest_path: "manifest.json",
      package_manifest_path: "packages.txt",
    });
  });

  it("pins a nightly build's source AMI and records its release and build key", () => {
    expect(
      packerVariables({ ...inputs, provenance: { sourceAmi: "ami-0123456789abcdef0", sourceRelease: "2023.6.20250107.0", buildKey: "k1" } }),
    ).toMatchObject({
      source_ami: "ami-0123456789abcdef0",
      source_release: "2023.6.20250107.0",
      build_key: "k1",
    });
    expect(packerVariables(inputs)).not.toHaveProperty("source_ami");
  });

  it("passes a subnet and an instance profile only when given", () => {
    expect(packerVariables(inputs)).not.toHaveProperty("subnet_id");
    expect(packerVariables(inputs)).not.toHaveProperty("iam_instance_profile");
    expect(packerVariables({ ...inputs, subnetId: "subnet-0123456789abcdef0", iamInstanceProfile: "webfleet-dev-instance" })).toMatchObject({
      subnet_id: "subnet-0123456789abcdef0",
      iam_instance_profile: "webfleet-dev-instance",
    });
  });

  it("passes copy regions as an HCL list, without the build region or duplicates", () => {
    const vars = packerVariables({ ...inputs, copyToRegions: ["eu-west-1", "us-east-1", "eu-west-1", "ap-south-1"] });
    expect(vars.ami_regions).toBe('["eu-west-1","ap-south-1"]');
  });

  it("asks for Session Manager only when told", () => {
    expect(packerVariables(inputs).ssh_interface).toBeUndefined();
    expect(packerVariables({ ...inputs, sshInterface: "session_manager" }).ssh_interface).toBe("session_manager");
  });

  it("runs init, validate and a machine-readable build that cleans up on error, each on the folder", () => {
    // WHEN the commands are built
    const c = packerCommands({ environment: "dev", git_commit: "a b" });
    // THEN every value is one argument (zx quotes it), and the template is the folder itself
    expect(c.init).toEqual(["init", "."]);
    expect(c.validate).toEqual(["validate", "-var", "environment=dev", "-var", "git_commit=a b", "."]);
    expect(c.build).toEqual(["build", "-machine-readable", "-on-error=cleanup", "-var", "environment=dev", "-var", "git_commit=a b", "."]);
  });
});
