/**
 * What every release step runs on: the clock, the output, Ctrl-C, the prompt, and what a step
 * returns. Handed in, so tests run whole releases against fakes without waiting.
 */
import type { ExitCode } from "../cli/errors";
import type { Prompt } from "../cli/prompt";

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface Output {
  write(text: string): unknown;
}

export type Signal = "SIGINT" | "SIGTERM";

/**
 * Ctrl-C and SIGTERM as a queue: {@link wait} only wakes the watcher, {@link take} consumes.
 * (A promise per signal would be lost when the poll interval wins the race.)
 */
export interface Interrupts {
  /** The oldest signal not yet taken. */
  take(): Signal | undefined;
  /** Resolves when a signal is waiting to be taken (at once if one is). Consumes nothing. */
  wait(): Promise<void>;
}

export type { Prompt };

export function say(out: Output, ...lines: string[]): void {
  for (const l of lines) out.write(`${l}\n`);
}

export function consoleUrl(region: string, deploymentId: string): string {
  return `https://${region}.console.aws.amazon.com/codesuite/codedeploy/deployments/${deploymentId}?region=${region}`;
}

export interface StepResult {
  readonly exitCode: ExitCode;
  readonly deploymentId?: string;
  readonly summary: string;
  /** The deployment (or its rollback) that is still running when the step returns; the release keeps its lock for it. */
  readonly leftRunning?: string;
}
