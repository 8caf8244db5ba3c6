/**
 * What Ctrl-C (or SIGTERM) means while a deployment runs. Pure: the flow asks this function,
 * and only asks the user when it says "ask".
 *
 * - A rollback is never stopped from here: stopping it would leave the fleet half rolled back.
 * - Without a terminal (CI, a cancelled job) nobody can answer: leave the deployment running
 *   and print how to watch or stop it. Stopping would roll back a release someone may want.
 * - In a terminal: ask. Enter (or "w") keeps watching, so a stray Ctrl-C costs nothing;
 *   a second Ctrl-C or end of input at the prompt leaves it running (the user wants out).
 */

export type InterruptAction = "stop" | "leave" | "keep-watching";

export interface InterruptInput {
  /** stdin and stdout are a terminal. */
  readonly interactive: boolean;
  /** What is being watched. */
  readonly phase: "deploy" | "rollback";
  /** SIGINT or SIGTERM: a SIGTERM (the job is being killed) never waits for an answer. */
  readonly signal: "SIGINT" | "SIGTERM";
  /** The user's answer: undefined = not asked yet; null = a second Ctrl-C / end of input at the prompt. */
  readonly answer?: string | null;
}

export const INTERRUPT_QUESTION = "Deployment still running. Stop it and roll back [s], leave it running and exit [l], or keep watching [w, Enter]? ";

export function interruptAction(input: InterruptInput): InterruptAction | "ask" {
  if (input.phase === "rollback") return "leave";
  if (!input.interactive || input.signal === "SIGTERM") return "leave";
  if (input.answer === undefined) return "ask";
  if (input.answer === null) return "leave";
  const a = input.answer.trim().toLowerCase();
  if (a === "s" || a === "stop") return "stop";
  if (a === "l" || a === "leave") return "leave";
  if (a === "" || a === "w" || a === "watch") return "keep-watching";
  return "ask";
}

/** What to print when a deployment is left running. */
export function leftRunningMessage(deploymentId: string, region: string): string {
  return [
    `Deployment ${deploymentId} is still running; CodeDeploy refuses another deployment to this group until it ends.`,
    `  watch it: aws deploy get-deployment --region ${region} --deployment-id ${deploymentId} --query deploymentInfo.status`,
    `  stop it:  aws deploy stop-deployment --region ${region} --deployment-id ${deploymentId} --auto-rollback-enabled`,
  ].join("\n");
}
