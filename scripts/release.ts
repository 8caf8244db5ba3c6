/**
 * npm run release -- --env <env> [--strategy …] [--github owner/repo@sha] [--dry-run] [--force-unlock]
 *
 * Releases a revision to the live color's CodeDeploy deployment group (in place). The logic
 * lives in scripts/lib/release/; this file builds the real clients, the clock, the prompt and
 * the signal handling, and turns errors into messages and exit codes.
 */
import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { CodeDeployClient } from "@aws-sdk/client-codedeploy";
import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { ConfigError, loadEnvironment } from "../config/load";
import { USAGE, parseReleaseArgs } from "./lib/release/options";
import type { Prompt, Signal } from "./lib/release/deploy-watch";
import { EXIT, ReleaseError } from "./lib/release/errors";
import { runRelease, type ReleaseInterrupts } from "./lib/release/flow";
import { explainAwsAccessError } from "./lib/aws/environment";

/**
 * Ctrl-C / SIGTERM. Before the lock is taken nothing needs cleaning up: exit at once. While it
 * is held, signals are queued for the watcher, which decides (and the lock is released after,
 * unless the deployment is left running: then the lock is kept for it).
 */
class ProcessInterrupts implements ReleaseInterrupts {
  private readonly queue: Signal[] = [];
  private holding = 0;
  private arrived!: () => void;
  private arrival = this.renew();

  constructor() {
    process.on("SIGINT", () => this.fire("SIGINT"));
    process.on("SIGTERM", () => this.fire("SIGTERM"));
  }

  private renew(): Promise<void> {
    return new Promise<void>((r) => (this.arrived = r));
  }

  private fire(signal: Signal): void {
    if (this.holding === 0) process.exit(signal === "SIGINT" ? EXIT.interrupted : 143);
    this.queue.push(signal);
    const wake = this.arrived;
    this.arrival = this.renew();
    wake();
  }

  take(): Signal | undefined {
    return this.queue.shift();
  }

  wait(): Promise<void> {
    return this.queue.length > 0 ? Promise.resolve() : this.arrival;
  }

  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.holding++;
    try {
      return await fn();
    } finally {
      this.holding--;
    }
  }
}

/** Asks on the terminal; a second Ctrl-C or end of input answers null. */
const terminalPrompt: Prompt = {
  ask: (question) =>
    new Promise((resolveAnswer) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      let answered = false;
      const done = (answer: string | null) => {
        if (answered) return;
        answered = true;
        rl.close();
        resolveAnswer(answer);
      };
      rl.on("SIGINT", () => done(null));
      rl.on("close", () => done(null));
      rl.question(`\n${question}`, (answer) => done(answer));
    }),
};

async function main(): Promise<number> {
  const options = parseReleaseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.released;
  }
  const env = loadEnvironment(options.env);
  const region = env.region;
  // The SDK's own retry (standard mode, exponential backoff with jitter) absorbs throttling of
  // single calls; the watcher also backs off its polling when throttled.
  const common = { region, maxAttempts: 6 };
  const out = process.stderr;
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  try {
    return await runRelease(
      { ...options, revisionDir: resolve(options.revisionDir) },
      { name: env.name, region, customMinimumHealthyHosts: env.customMinimumHealthyHosts },
      {
        ssm: new SSMClient(common),
        s3: new S3Client(common),
        codedeploy: new CodeDeployClient(common),
        autoScaling: new AutoScalingClient(common),
        sts: new STSClient(common),
        clock: { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
        out,
        interrupts: new ProcessInterrupts(),
        prompt: interactive ? terminalPrompt : undefined,
        whoami: { user: safeUser(), host: hostname() },
        newLockId: () => randomUUID(),
      },
    );
  } catch (e) {
    if (e instanceof ReleaseError || e instanceof ConfigError) throw e;
    throw explainAwsAccessError(e, region);
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof ReleaseError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(EXIT.refused);
    }
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`error: ${err.name}: ${err.message}\n`);
    if (process.env.WEBFLEET_DEBUG) process.stderr.write(`${err.stack}\n`);
    else process.stderr.write("(set WEBFLEET_DEBUG=1 for the stack trace)\n");
    process.exit(EXIT.needsAttention);
  },
);
