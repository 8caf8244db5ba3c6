/**
 * scripts/lib/cli.ts: the plumbing under `npm run ami` and `npm run deploy` — options,
 * prerequisites with messages that say what to do, and the zx runner (run for real on bash).
 */
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import {
  compareVersions,
  formatCommand,
  Interrupt,
  listOption,
  oneOf,
  parseOptions,
  requireAwsCredentials,
  requireTool,
  usage,
  UserError,
  zxRunner,
  type OptionSpecs,
  type ToolRequirement,
} from "../../../../scripts/lib/cli";
import { FakeRunner } from "../../../helpers/fake-packer";

const SPECS = {
  env: { type: "string", help: "environment" },
  "dry-run": { type: "boolean", help: "change nothing" },
  "copy-to": { type: "string", multiple: true, help: "regions" },
} as const satisfies OptionSpecs;

describe("command-line options", () => {
  it("reads strings, flags and repeated options", () => {
    expect(parseOptions(["--env", "dev", "--dry-run", "--copy-to", "a,b", "--copy-to=c"], SPECS)).toEqual({
      env: "dev",
      "dry-run": true,
      "copy-to": ["a,b", "c"],
    });
  });

  test.each([
    ["an unknown option", ["--colour", "blue"], /^Unknown option '--colour'; run with --help/],
    ["a missing value", ["--env"], /--env.*argument missing; run with --help|run with --help/],
    ["a stray positional", ["dev"], /Unexpected argument 'dev'; run with --help/],
  ])("rejects %s with exit code 2", (_what, argv, message) => {
    let error: unknown;
    try {
      parseOptions(argv, SPECS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(message);
    expect((error as UserError).exitCode).toBe(2);
  });

  it("answers --help", () => {
    expect(parseOptions(["--help"], SPECS).help).toBe(true);
    expect(usage("npm run x --", "Does x.", SPECS)).toContain("--env <value>");
  });

  it("splits list options on commas", () => {
    expect(listOption(["eu-west-1, us-west-2", "ap-south-1"])).toEqual(["eu-west-1", "us-west-2", "ap-south-1"]);
    expect(listOption(undefined)).toEqual([]);
  });

  it("names the valid values of a choice", () => {
    expect(oneOf("color", "green", ["blue", "green"])).toBe("green");
    expect(oneOf("color", undefined, ["blue", "green"])).toBeUndefined();
    expect(() => oneOf("color", "red", ["blue", "green"])).toThrow("--color red: must be one of blue, green");
  });
});

describe("a required tool", () => {
  const PACKER: ToolRequirement = {
    program: "packer",
    versionArgs: ["version"],
    minimumVersion: "1.10.0",
    why: "required_plugins",
    install: "install Packer >= 1.10",
  };

  test.each([
    ["1.10.0", "1.10.0", 0],
    ["1.9.4", "1.10.0", -1],
    ["1.11", "1.10.0", 1],
    ["2.0.0", "1.99.99", 1],
  ])("compares %s with %s numerically", (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
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

describe("AWS credentials", () => {
  const sts = mockClient(STSClient);
  beforeEach(() => sts.reset());

  it("are checked with GetCallerIdentity", async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: "123456789012", Arn: "arn:aws:sts::123456789012:assumed-role/dev/me" });
    await expect(requireAwsCredentials(new STSClient({ region: "us-east-1" }), "us-east-1")).resolves.toEqual({
      account: "123456789012",
      arn: "arn:aws:sts::123456789012:assumed-role/dev/me",
    });
  });

  test.each([
    [
      "missing",
      Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }),
      /^no AWS credentials found: set AWS_PROFILE/,
    ],
    [
      "expired",
      Object.assign(new Error("The security token included in the request is expired"), { name: "ExpiredTokenException" }),
      /^the AWS credentials have expired: set AWS_PROFILE/,
    ],
    [
      "refused",
      Object.assign(new Error("The security token included in the request is invalid"), { name: "InvalidClientTokenId" }),
      /^could not check the AWS credentials .* in eu-west-1 \(InvalidClientTokenId: .*\): set AWS_PROFILE/,
    ],
  ])("that are %s are a message that says how to get them", async (_what, error, message) => {
    sts.on(GetCallerIdentityCommand).rejects(error);
    await expect(requireAwsCredentials(new STSClient({ region: "eu-west-1" }), "eu-west-1")).rejects.toThrow(message);
  });
});

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
