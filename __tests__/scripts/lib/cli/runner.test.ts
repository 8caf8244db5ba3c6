/** The zx runner, run for real on bash: streaming, arguments, environment, exit codes, interrupts. */
import { formatCommand, zxRunner } from "../../../../scripts/lib/cli/runner";
import { Interrupt } from "../../../../scripts/lib/cli/interrupts";

describe("a command line shown to the user", () => {
  it("quotes only what the shell would split", () => {
    expect(formatCommand("packer", ["build", "-var", "git_commit=abc", "-var", 'ami_regions=["eu-west-1"]', "."])).toBe(
      `packer build -var git_commit=abc -var $'ami_regions=["eu-west-1"]' .`,
    );
  });
});

describe("the zx runner", () => {
  const runner = zxRunner();

  it("streams stdout and stderr line by line and returns the exit code", async () => {
    // GIVEN a program that prints on both streams, the last line without newline, and exits 3
    const out: string[] = [];
    const err: string[] = [];
    const result = await runner.run("bash", ["-c", "echo one; echo two >&2; printf 'three'; exit 3"], {
      onStdoutLine: (l) => out.push(l),
      onStderrLine: (l) => err.push(l),
    });
    // THEN every line arrived, and a non-zero exit is a result, not an exception
    expect(out).toEqual(["one", "three"]);
    expect(err).toEqual(["two"]);
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe("one\nthree");
  });

  it("passes each argument as one word, spaces and quotes included", async () => {
    const result = await runner.run("bash", ["-c", 'printf "%s|" "$@"', "_", "a b", "it's", "$HOME"]);
    expect(result.stdout).toBe("a b|it's|$HOME|");
  });

  it("adds and removes environment variables for the child only", async () => {
    process.env.WEBFLEET_TEST_REMOVED = "present";
    try {
      const result = await runner.run("bash", ["-c", 'echo "${WEBFLEET_TEST_ADDED:-unset} ${WEBFLEET_TEST_REMOVED:-unset}"'], {
        env: { WEBFLEET_TEST_ADDED: "added", WEBFLEET_TEST_REMOVED: undefined },
      });
      expect(result.stdout.trim()).toBe("added unset");
      expect(process.env.WEBFLEET_TEST_ADDED).toBeUndefined();
    } finally {
      delete process.env.WEBFLEET_TEST_REMOVED;
    }
  });

  it("runs in the given folder", async () => {
    expect((await runner.run("pwd", [], { cwd: "/tmp" })).stdout.trim()).toBe("/tmp");
  });

  it("reports a program that is not there as exit 127, and which() as undefined", async () => {
    expect((await runner.run("webfleet-no-such-program", [])).exitCode).toBe(127);
    await expect(runner.which("webfleet-no-such-program")).resolves.toBeUndefined();
    await expect(runner.which("bash")).resolves.toMatch(/\/bash$/);
  });

  it("sends SIGINT to the child when aborted, so it can clean up", async () => {
    // GIVEN a child that cleans up on SIGINT
    const controller = new AbortController();
    const lines: string[] = [];
    const run = runner.run("bash", ["-c", "trap 'echo cleaned up; exit 130' INT; echo started; while true; do sleep 0.05; done"], {
      signal: controller.signal,
      onStdoutLine: (l) => {
        lines.push(l);
        if (l === "started") controller.abort();
      },
    });
    // THEN it ran its handler and exited with its own code
    const result = await run;
    expect(lines).toEqual(["started", "cleaned up"]);
    expect(result.exitCode).toBe(130);
  });

  it("does not send a second SIGINT after a Ctrl-C, which the child got from the terminal already", async () => {
    // GIVEN an abort caused by SIGINT (the terminal signals the whole process group)
    const controller = new AbortController();
    const run = runner.run("bash", ["-c", "trap 'echo interrupted' INT; echo started; sleep 0.4; echo finished"], {
      signal: controller.signal,
      onStdoutLine: (l) => {
        if (l === "started") controller.abort(new Interrupt("SIGINT", false));
      },
    });
    // THEN the child was left to finish (Terraform would quit hard on a second interrupt)
    const result = await run;
    expect(result.stdout).toBe("started\nfinished\n");
    expect(result.exitCode).toBe(0);
  });
});
