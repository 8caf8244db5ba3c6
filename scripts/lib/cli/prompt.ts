/** A question on the terminal, for the commands that ask one (only when a person is there). */
import { createInterface } from "node:readline";

export interface Prompt {
  /** The answer, or null on a second Ctrl-C / end of input. */
  ask(question: string): Promise<string | null>;
}

/** Asks on stderr, reads stdin; a Ctrl-C or end of input at the prompt answers null. */
export const terminalPrompt: Prompt = {
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
