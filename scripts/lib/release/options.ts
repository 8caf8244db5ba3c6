/**
 * The flags of `npm run release`, parsed without side effects. Bad input is an error that names
 * the flag, the value it got and what would be valid.
 */
import { ReleaseError } from "./errors";

export type OnTimeout = "rollback" | "leave";
export type FileExistsBehavior = "DISALLOW" | "OVERWRITE" | "RETAIN";

export interface ReleaseOptions {
  /** Environment name (config/<env>.yaml, stack webfleet-<env>). */
  readonly env: string;
  /** Strategy key; @default - the stack's `defaultStrategy` */
  readonly strategy?: string;
  /** `owner/repo@<40-hex sha>`: deploy that commit from GitHub instead of bundling a folder. */
  readonly github?: string;
  /** The folder to bundle. @default "app" */
  readonly revisionDir: string;
  /** Show what would happen, with the duration estimate; take no lock and change nothing. */
  readonly dryRun: boolean;
  /** Remove a stale release lock (and do nothing else). */
  readonly forceUnlock: boolean;
  /** Give up watching after this many minutes. @default - the worst-case estimate + 25 %, at least 10 min */
  readonly timeoutMinutes?: number;
  /** What to do with the deployment when the timeout passes. @default "rollback" */
  readonly onTimeout: OnTimeout;
  /**
   * CodeDeploy's fileExistsBehavior: what the agent does with a file at a destination that the
   * last deployment did not install. The appspec's `file_exists_behavior` wins over it, so a
   * different value is refused for a folder revision (and warned about for --github).
   * @default - the appspec's `file_exists_behavior`, else DISALLOW
   */
  readonly fileExistsBehavior?: FileExistsBehavior;
  /** Free text added to the deployment's description. */
  readonly description?: string;
  readonly help: boolean;
}

interface FlagSpec {
  readonly takes: "value" | "switch";
  readonly help: string;
}

export const FLAGS: Readonly<Record<string, FlagSpec>> = {
  "--env": { takes: "value", help: "environment to release to (config/<env>.yaml)" },
  "--strategy": { takes: "value", help: "all-at-once | half-at-a-time | one-at-a-time | min-healthy=<N>% | min-healthy=<N> (default: the environment's)" },
  "--github": { takes: "value", help: "owner/repo@<40-hex commit sha>: deploy that commit from GitHub instead of app/" },
  "--revision-dir": { takes: "value", help: "folder to bundle (default: app)" },
  "--dry-run": { takes: "switch", help: "show what would happen and the duration estimate; change nothing" },
  "--force-unlock": { takes: "switch", help: "remove a stale release lock (its release died, or the deployment it left running has ended), then exit" },
  "--timeout-minutes": { takes: "value", help: "stop watching after N minutes (default: worst-case estimate + 25 %)" },
  "--on-timeout": { takes: "value", help: "rollback (default: stop the deployment and roll back) | leave (leave it running)" },
  "--file-exists-behavior": {
    takes: "value",
    help: "disallow | overwrite | retain: for files already at a destination, not from the last deployment (default: the appspec's file_exists_behavior, else disallow; the appspec's value wins, so a different one is refused)",
  },
  "--description": { takes: "value", help: "text added to the deployment's description" },
  "--help": { takes: "switch", help: "show this help" },
};

export const USAGE = [
  "usage: npm run release -- --env <env> [options]",
  "",
  ...Object.entries(FLAGS).map(([flag, spec]) => `  ${(flag + (spec.takes === "value" ? " <value>" : "")).padEnd(32)} ${spec.help}`),
  "",
  "exit codes: 0 released · 1 failed and rolled back · 2 refused, nothing changed · 3 needs attention · 130 interrupted, left running",
].join("\n");

function usageError(message: string): ReleaseError {
  return new ReleaseError(`${message}\n\n${USAGE}`);
}

/** Parses `process.argv.slice(2)`. Throws {@link ReleaseError} (exit 2) on bad input. */
export function parseReleaseArgs(argv: readonly string[]): ReleaseOptions {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h") {
      switches.add("--help");
      continue;
    }
    if (!arg.startsWith("--")) throw usageError(`unexpected argument '${arg}': every option is a --flag`);
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const spec = FLAGS[flag];
    if (!spec) throw usageError(`unknown option '${flag}'; valid options: ${Object.keys(FLAGS).join(", ")}`);
    if (spec.takes === "switch") {
      if (eq !== -1) throw usageError(`${flag} takes no value (got '${arg.slice(eq + 1)}')`);
      switches.add(flag);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) value = argv[++i];
    if (value === undefined || value === "") throw usageError(`${flag} needs a value: ${spec.help}`);
    if (values.has(flag)) throw usageError(`${flag} is given twice ('${values.get(flag)}' and '${value}'); give it once`);
    values.set(flag, value);
  }

  const help = switches.has("--help");
  const env = values.get("--env");
  if (!env && !help) throw usageError("--env is required: the environment to release to, e.g. --env dev");

  const timeoutRaw = values.get("--timeout-minutes");
  let timeoutMinutes: number | undefined;
  if (timeoutRaw !== undefined) {
    timeoutMinutes = Number(timeoutRaw);
    if (!/^\d+(\.\d+)?$/.test(timeoutRaw) || !(timeoutMinutes > 0) || timeoutMinutes > 24 * 60) {
      throw usageError(`--timeout-minutes '${timeoutRaw}' must be a number of minutes from 1 to 1440`);
    }
  }

  const onTimeout = values.get("--on-timeout") ?? "rollback";
  if (onTimeout !== "rollback" && onTimeout !== "leave") {
    throw usageError(`--on-timeout '${onTimeout}' must be rollback (stop the deployment and roll back) or leave (leave it running)`);
  }

  const feb = values.get("--file-exists-behavior");
  const fileExistsBehavior = feb === undefined ? undefined : feb.toUpperCase();
  if (fileExistsBehavior !== undefined && !["DISALLOW", "OVERWRITE", "RETAIN"].includes(fileExistsBehavior)) {
    throw usageError(`--file-exists-behavior '${feb}' must be disallow, overwrite or retain`);
  }

  const github = values.get("--github");
  if (github !== undefined && values.has("--revision-dir")) {
    throw usageError(`--github and --revision-dir are two revisions: give one (--github ${github} deploys that commit; --revision-dir bundles a folder)`);
  }
  if (switches.has("--force-unlock") && (values.has("--strategy") || github !== undefined)) {
    throw usageError("--force-unlock only removes a stale lock: run it alone (npm run release -- --env <env> --force-unlock), then release");
  }

  return {
    env: env ?? "",
    strategy: values.get("--strategy"),
    github,
    revisionDir: values.get("--revision-dir") ?? "app",
    dryRun: switches.has("--dry-run"),
    forceUnlock: switches.has("--force-unlock"),
    timeoutMinutes,
    onTimeout,
    fileExistsBehavior: fileExistsBehavior as FileExistsBehavior | undefined,
    description: values.get("--description"),
    help,
  };
}
