/** What the validator reports, and how a problem is printed. */
import type { AppSpec } from "./contract";

export interface AppSpecProblem {
  /** 1-based line in the AppSpec file; 0 when the problem is the file itself (missing, empty). */
  line: number;
  /** Where in the document: `hooks.AfterInstall[0].timeout`, `files[1].destination`, `version`. */
  field: string;
  /** The offending value as parsed (undefined when missing). */
  value: unknown;
  /** What is wrong, the value it got, and what would be valid. */
  message: string;
}

export interface AppSpecResult {
  ok: boolean;
  problems: AppSpecProblem[];
  /** The parsed, typed AppSpec: present only when `ok`. */
  spec?: AppSpec;
  /** The AppSpec file that was read (absolute), when one was found. */
  file?: string;
}

/** `appspec.yml:12: hooks.Install: ...`, one problem per line, in file order. */
export function formatProblems(file: string, problems: AppSpecProblem[]): string {
  return [...problems]
    .sort((a, b) => a.line - b.line)
    .map((p) => `${file}${p.line > 0 ? `:${p.line}` : ""}: ${p.field}: ${p.message}`)
    .join("\n");
}
