/**
 * The command toolkit every webfleet command is built on: options and --help, one error line
 * with its exit code, results on stdout and progress on stderr, the interrupt handler and the
 * pre-flight check of dry runs.
 */
import { EventEmitter } from "node:events";
import { ConfigError } from "../../../../config/load";
import { defineCommand, executeCommand, helpText, option, parseArgv } from "../../../../scripts/lib/cli/command";
import { CliError, EXIT } from "../../../../scripts/lib/cli/errors";
import { Interrupts, type Signal } from "../../../../scripts/lib/cli/interrupts";
import { Preflight } from "../../../../scripts/lib/cli/preflight";

const spec = defineCommand({
  name: "demo",
  summary: "Does a demo.",
  options: {
    env: option.env(),
    color: option.choice(["blue", "green"] as const, "the color", { defaultText: "the idle color" }),
    keep: option.integer("n", "how many to keep", { min: 1, max: 9, default: 3, defaultText: "3" }),
    copyTo: option.list("region,...", "more regions"),
    publish: option.negated("build only"),
    dryRun: option.dryRun(),
    json: option.json(),
  },
  examples: ["npm run demo -- --env dev"],
  exitCodes: { 1: "the demo failed" },
  async run({ options }) {
    return { json: options, lines: [`env ${options.env}`] };
  },
});

class Sink {
  text = "";
  write(s: string) {
    this.text += s;
    return true;
  }
}

async function run(command: Parameters<typeof executeCommand>[0], argv: string[]) {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await executeCommand(command, argv, { stdout, stderr, signals: new EventEmitter() as never, exit: () => undefined });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe("a command's options", () => {
  it("reads values, flags, repeated lists and defaults into typed fields", () => {
    const { options } = parseArgv(spec, ["--env", "dev", "--color=green", "--copy-to", "a,b", "--copy-to", "c", "--no-publish", "--dry-run"]);
    expect(options).toEqual({ env: "dev", color: "green", keep: 3, copyTo: ["a", "b", "c"], publish: false, dryRun: true, json: false });
  });

  test.each`
    argv                                  | message
    ${[]}                                 | ${"--env is required: the environment: config/<name>.yaml (for example --env dev)"}
    ${["--env"]}                          | ${"option '--env <name>' argument missing"}
    ${["--env", "--dry-run"]}             | ${"--env needs a value (got the option --dry-run)"}
    ${["--env", "dev", "--colr", "blue"]} | ${"unknown option '--colr' (did you mean --color?)"}
    ${["--env", "dev", "extra"]}          | ${"unexpected argument 'extra': this command takes options only"}
    ${["--env", "dev", "--color", "red"]} | ${"--color 'red': must be one of blue, green"}
    ${["--env", "dev", "--keep", "0"]}    | ${"--keep '0': must be a whole number from 1 to 9"}
    ${["--env", "dev", "--keep", "2.5"]}  | ${"--keep '2.5': must be a whole number from 1 to 9"}
    ${["--env", "dev", "--env", "prod"]}  | ${"--env is given twice ('dev' and 'prod'); give it once"}
    ${["--env", "dev", "--dry-run=yes"]}  | ${"--dry-run takes no value (got 'yes')"}
  `("refuses $argv with one line naming the option: $message", ({ argv, message }) => {
    let error: unknown;
    try {
      parseArgv(spec, argv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toContain(message);
    expect((error as CliError).exitCode).toBe(EXIT.refused);
  });
});

describe("--help", () => {
  const help = helpText(spec);

  it("shows the usage, every option with its default, examples and exit codes", () => {
    expect(help).toContain("Usage: npm run demo -- [options]");
    expect(help).toContain("Does a demo.");
    expect(help).toMatch(/--env <name>\s+the environment: config\/<name>.yaml \(required\)/);
    expect(help).toMatch(/--color <blue\|green>\s+the color \(default: the idle color\)/);
    expect(help).toMatch(/--keep <n>\s+how many to keep \(default: 3\)/);
    expect(help).toMatch(/--no-publish\s+build only/);
    expect(help).toMatch(/-h, --help\s+show this help/);
    expect(help).toMatch(/--debug\s+print stack traces/);
    expect(help).toContain("Examples:\n  npm run demo -- --env dev");
    expect(help).toMatch(/Exit codes:\n\s+0 {2}done\n\s+1 {2}the demo failed\n\s+2 {2}refused, nothing changed/);
  });

  test.each([["--help"], ["-h"]])("%s prints it on stdout and exits 0, even with other options missing", async (flag) => {
    const r = await run(spec, [flag]);
    expect(r).toEqual({ code: 0, stdout: help, stderr: "" });
  });
});

describe("running a command", () => {
  it("prints the result's lines on stdout, and its JSON with --json", async () => {
    expect(await run(spec, ["--env", "dev"])).toEqual({ code: 0, stdout: "env dev\n", stderr: "" });
    const json = await run(spec, ["--env", "dev", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ env: "dev", json: true });
    expect(json.stderr).toBe("");
  });

  it("turns a usage error into one line on stderr and exit 2, nothing on stdout", async () => {
    const r = await run(spec, ["--env", "dev", "--colr", "blue"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: unknown option '--colr' (did you mean --color?); run `npm run demo -- --help` for the options\n");
  });

  const failing = (error: unknown) => defineCommand({ ...spec, options: {}, run: async () => Promise.reject(error) });

  it("prints a CliError as one line and exits with its code, no stack trace", async () => {
    const r = await run(failing(new CliError("the lock is held by alice", EXIT.refused)), []);
    expect(r).toEqual({ code: 2, stdout: "", stderr: "error: the lock is held by alice\n" });
  });

  it("prints a stack trace only with --debug", async () => {
    const r = await run(failing(new CliError("boom", EXIT.failed)), ["--debug"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: boom\nCliError: boom\n\s+at /);
  });

  it("says an unexpected error is one, and how to see where it came from", async () => {
    const r = await run(failing(new TypeError("x is undefined")), []);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: TypeError: x is undefined\n(unexpected: run again with --debug for the stack trace, and report it)\n");
  });

  it("explains missing AWS credentials in one line, exit 2", async () => {
    const r = await run(failing(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" })), []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: no AWS credentials found: set AWS_PROFILE/);
  });

  it("prints a configuration error's every line, exit 2", async () => {
    const configError = new ConfigError(["config/dev.yaml: a", "config/dev.yaml: b"]);
    const r = await run(failing(configError), []);
    expect(r).toEqual({ code: 2, stdout: "", stderr: "error: 2 configuration errors:\n  - config/dev.yaml: a\n  - config/dev.yaml: b\n" });
  });
});

describe("the interrupt handler", () => {
  function handler() {
    const source = new EventEmitter();
    const exits: number[] = [];
    const logged: string[] = [];
    const interrupts = new Interrupts({ source: source as never, exit: (c) => exits.push(c), log: (l) => logged.push(l) });
    const send = (s: Signal) => source.emit(s);
    return { interrupts, send, exits, logged };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it("by default runs the command's cleanups, newest first, and exits 130", async () => {
    const { interrupts, send, exits } = handler();
    const order: string[] = [];
    interrupts.defer(() => order.push("temp folder removed"));
    interrupts.defer(() => order.push("apache stopped"));
    send("SIGINT");
    await tick();
    expect(order).toEqual(["apache stopped", "temp folder removed"]);
    expect(exits).toEqual([130]);
  });

  it("runs a cleanup once: on the normal path it is run (or dropped) and unregistered", async () => {
    const { interrupts, send } = handler();
    let runs = 0;
    const removeTemp = interrupts.defer(() => runs++);
    await removeTemp.run();
    send("SIGTERM");
    await tick();
    expect(runs).toBe(1);
    const gone = interrupts.defer(() => runs++);
    gone.drop();
    await interrupts.runCleanups();
    expect(runs).toBe(1);
  });

  it("exits only when every cleanup under way has ended, also one a second signal or the normal path started", async () => {
    const { interrupts, send, exits } = handler();
    let finishHook!: () => void;
    let finishApache!: () => void;
    interrupts.defer(() => undefined); // the temp folder, removed at once
    const stopApache = interrupts.defer(() => new Promise<void>((r) => (finishApache = r)));
    interrupts.defer(() => new Promise<void>((r) => (finishHook = r)));
    send("SIGINT"); // stops the hook first (newest), which takes a while
    send("SIGINT"); // a second Ctrl-C goes on with Apache meanwhile
    void stopApache.run(); // (already taken: the normal path has nothing left to run)
    await tick();
    finishHook();
    await tick();
    expect(exits).toEqual([]); // Apache is still stopping
    finishApache();
    await tick();
    await tick();
    expect(exits).toEqual([130, 130]);
  });

  it("while the command cooperates, aborts its signal and lets it wind down; a second signal stops waiting", async () => {
    const { interrupts, send, exits, logged } = handler();
    await interrupts.cooperate(async () => {
      send("SIGINT");
      expect(interrupts.signal.aborted).toBe(true);
      expect(exits).toEqual([]);
      expect(logged[0]).toContain("SIGINT received: stopping");
      send("SIGINT");
      await tick();
      expect(exits).toEqual([130]);
    });
  });

  it("while the command holds, queues signals for it to take", async () => {
    const { interrupts, send, exits } = handler();
    await interrupts.hold(async () => {
      const woken = interrupts.wait();
      send("SIGTERM");
      await woken;
      expect(interrupts.take()).toBe("SIGTERM");
      expect(interrupts.take()).toBeUndefined();
    });
    expect(exits).toEqual([]);
    expect(interrupts.signal.aborted).toBe(false);
  });
});

describe("a dry run's pre-flight check", () => {
  it("records every blocker and goes on, then exits 2", async () => {
    const pre = new Preflight(true);
    expect(await pre.check(() => Promise.reject(new CliError("packer not found on PATH")))).toBeUndefined();
    expect(await pre.check(() => "credentials ok")).toBe("credentials ok");
    expect(await pre.check(() => Promise.reject(new CliError("no AWS credentials found")))).toBeUndefined();
    expect(pre.blockers).toEqual(["packer not found on PATH", "no AWS credentials found"]);
    expect(pre.exitCode).toBe(EXIT.refused);
    expect(pre.report()).toEqual(["a real run would stop here:", "  - packer not found on PATH", "  - no AWS credentials found"]);
  });

  it("lists what it could not check without failing", () => {
    const pre = new Preflight(true);
    pre.skip("the release lock", "read from AWS");
    expect(pre.exitCode).toBe(EXIT.ok);
    expect(pre.report()).toEqual(["not checked:", "  - the release lock: read from AWS", "pre-flight: no blocker found"]);
  });

  it("in a real run stops at the first blocker", async () => {
    const pre = new Preflight(false);
    await expect(pre.check(() => Promise.reject(new CliError("packer not found on PATH")))).rejects.toThrow("packer not found on PATH");
  });

  it("never swallows an error that is not a refusal", async () => {
    const pre = new Preflight(true);
    await expect(pre.check(() => Promise.reject(new TypeError("bug")))).rejects.toThrow("bug");
  });
});
