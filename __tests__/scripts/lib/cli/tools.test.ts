/** Programs a command needs: found on PATH, with a version that is new enough, or a message that says what to do. */
import { requireTool, type ToolRequirement } from "../../../../scripts/lib/cli/tools";
import { FakeRunner } from "../../../helpers/fake-packer";

describe("a required tool", () => {
  const PACKER: ToolRequirement = {
    program: "packer",
    versionArgs: ["version"],
    minimumVersion: "1.10.0",
    why: "required_plugins",
    install: "install Packer >= 1.10",
  };

  test.each([
    ["Packer v1.10.0", true],
    ["Packer v1.9.4", false],
    ["Packer v1.11", true],
    ["Packer v2.0.0", true],
  ])("compares the version in '%s' with 1.10.0 numerically (semver)", async (output, ok) => {
    const runner = new FakeRunner();
    runner.packerVersionOutput = output;
    const found = requireTool(runner, PACKER);
    if (ok) await expect(found).resolves.toMatchObject({ path: "/usr/local/bin/packer" });
    else await expect(found).rejects.toThrow("is too old");
  });

  it("is found with its version", async () => {
    await expect(requireTool(new FakeRunner(), PACKER)).resolves.toEqual({ path: "/usr/local/bin/packer", version: "1.11.2" });
  });

  it("missing from PATH says what to install", async () => {
    const runner = new FakeRunner();
    runner.paths.packer = undefined;
    await expect(requireTool(runner, PACKER)).rejects.toThrow("packer not found on PATH: install Packer >= 1.10");
  });

  it("too old says which version was found, where, and why the minimum", async () => {
    const runner = new FakeRunner();
    runner.packerVersionOutput = "Packer v1.6.6\n";
    await expect(requireTool(runner, PACKER)).rejects.toThrow("packer 1.6.6 (/usr/local/bin/packer) is too old: required_plugins; install Packer >= 1.10");
  });

  it("with an unreadable version says what it printed", async () => {
    const runner = new FakeRunner();
    runner.packerVersionOutput = "something else\n";
    await expect(requireTool(runner, PACKER)).rejects.toThrow(
      "could not read the version of packer (/usr/local/bin/packer) from `packer version` (exit 0: something else)",
    );
  });
});
