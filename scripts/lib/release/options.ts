/**
 * The options of `npm run release`, declared once for the command's parser and --help, and the
 * rules between them. Bad input is a {@link CliError} (exit 2) that names the option, the value
 * it got and what would be valid.
 */
import { FILE_EXISTS_BEHAVIORS, type FileExistsBehavior } from "../../../modules/names";
import { option, parseArgv, type OptionValues } from "../cli/command";
import { CliError } from "../cli/errors";

export type { FileExistsBehavior };
export type OnTimeout = "rollback" | "leave";

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
  /** With --dry-run: the live fleet's size, so the preview needs no AWS account. */
  readonly instances?: number;
  /** Print the dry run's plan and estimate as JSON. */
  readonly json: boolean;
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
}

const STRATEGY_HELP = "all-at-once | half-at-a-time | one-at-a-time | min-healthy=<N>% | min-healthy=<N>";

export const RELEASE_OPTIONS = {
  env: option.env(),
  strategy: option.string("strategy", STRATEGY_HELP, { defaultText: "the environment's deployment.defaultStrategy" }),
  github: option.string("owner/repo@sha", "deploy that commit from GitHub (a full 40-hex commit SHA) instead of a folder"),
  revisionDir: option.string("folder", "the revision folder to bundle", { defaultText: "app" }),
  dryRun: option.dryRun("take no lock and change nothing"),
  instances: option.integer("n", "with --dry-run: the live fleet's size, for a preview that needs no AWS account", { min: 1, max: 1000 }),
  json: option.json(),
  forceUnlock: option.flag("remove a stale release lock (its release died, or the deployment it left running has ended), then exit"),
  timeoutMinutes: option.integer("minutes", "stop watching after this many minutes", {
    min: 1,
    max: 1440,
    defaultText: "the worst-case estimate + 25 %, at least 10",
  }),
  onTimeout: option.choice(["rollback", "leave"] as const, "at the timeout, stop the deployment and roll back, or leave it running", {
    defaultText: "rollback",
  }),
  fileExistsBehavior: option.custom(
    "disallow|overwrite|retain",
    "for files already at a destination and not from the last deployment; the appspec's value wins, so a different one is refused",
    (raw, flag) => {
      const v = raw.toUpperCase();
      if ((FILE_EXISTS_BEHAVIORS as readonly string[]).includes(v)) return v as FileExistsBehavior;
      throw new CliError(`${flag} '${raw}': must be ${FILE_EXISTS_BEHAVIORS.map((b) => b.toLowerCase()).join(", ")}`);
    },
    { defaultText: "the appspec's file_exists_behavior, else disallow" },
  ),
  description: option.string("text", "text added to the deployment's description"),
};

export const RELEASE_COMMAND = {
  name: "release",
  summary: "Releases a revision (app/ by default) to the environment with a strategy, with automatic rollback.",
  description:
    "Everything it knows comes from AWS: the stack's published facts, the live color and the live fleet's size. " +
    "With --dry-run --instances N it previews the plan and the estimate offline.",
  options: RELEASE_OPTIONS,
  examples: [
    "npm run release -- --env dev",
    "npm run release -- --env dev --strategy half-at-a-time",
    "npm run -s release -- --env dev --strategy one-at-a-time --dry-run --instances 4",
    "npm run release -- --env dev --github owner/repo@0123456789abcdef0123456789abcdef01234567",
    "npm run release -- --env dev --force-unlock",
  ],
  exitCodes: {
    0: "released: the revision runs on every instance (or the dry run found no blocker)",
    1: "failed, timed out or stopped, and the rollback to the previous revision succeeded",
    2: "refused, nothing changed (bad option, invalid revision, not deployed, lock held, no credentials)",
    3: "needs attention: the rollback failed or did not happen, or the deployment was left running",
    130: "interrupted; the deployment was left running",
  },
} as const;

/** The parsed options, with the rules between them checked. */
export function releaseOptions(values: OptionValues<typeof RELEASE_OPTIONS>): ReleaseOptions {
  if (values.github !== undefined && values.revisionDir !== undefined) {
    throw new CliError(
      `--github and --revision-dir are two revisions: give one (--github ${values.github} deploys that commit; --revision-dir bundles a folder)`,
    );
  }
  if (values.forceUnlock && (values.strategy !== undefined || values.github !== undefined)) {
    throw new CliError("--force-unlock only removes a stale lock: run it alone (npm run release -- --env <env> --force-unlock), then release");
  }
  if (values.instances !== undefined && !values.dryRun) {
    throw new CliError(`--instances ${values.instances} only previews a plan: add --dry-run (a real release reads the fleet's size from AWS)`);
  }
  return {
    env: values.env,
    strategy: values.strategy,
    github: values.github,
    revisionDir: values.revisionDir ?? "app",
    dryRun: values.dryRun,
    instances: values.instances,
    json: values.json,
    forceUnlock: values.forceUnlock,
    timeoutMinutes: values.timeoutMinutes,
    onTimeout: values.onTimeout ?? "rollback",
    fileExistsBehavior: values.fileExistsBehavior,
    description: values.description,
  };
}

/** `npm run release -- <argv>` → options (for tests and the command). */
export function parseReleaseArgs(argv: readonly string[]): ReleaseOptions {
  return releaseOptions(parseArgv(RELEASE_COMMAND, argv).options);
}
