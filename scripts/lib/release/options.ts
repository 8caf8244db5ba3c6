/**
 * The options of `npm run release`, declared once for the command's parser and --help, and the
 * rules between them. Bad input is a {@link CliError} (exit 2) that names the option, the value
 * it got and what would be valid.
 */
import { FILE_EXISTS_BEHAVIORS, STRATEGY_USAGE, type FileExistsBehavior } from "../../../modules/names";
import { parseDuration } from "../cli/duration";
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
  /** In place: stop watching after this many minutes. @default - none: CodeDeploy ends a stuck deployment itself */
  readonly timeoutMinutes?: number;
  /** What to do with the deployment when --timeout-minutes passes. @default "leave" */
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
  /** Blue/green and canary: seconds the new color's alarms are watched after each switch. @default 300 */
  readonly bakeSeconds?: number;
  /** Blue/green and canary: end with the old color up this long (rollback returns to it). */
  readonly keepPreviousSeconds?: number;
  /** Blue/green and canary: more paths the smoke test asks for. */
  readonly smokePaths: readonly string[];
  /** Blue/green and canary: the live color's revision onto the idle color (after a new AMI). */
  readonly sameRevision: boolean;
  /** Scale down the old color a previous release kept up, and do nothing else. */
  readonly finish: boolean;
}

const STRATEGY_HELP = STRATEGY_USAGE;

export const RELEASE_OPTIONS = {
  env: option.env(),
  strategy: option.string("strategy", STRATEGY_HELP, { defaultText: "the environment's deployment.defaultStrategy" }),
  github: option.string("owner/repo@sha", "deploy that commit from GitHub (a full 40-hex commit SHA) instead of a folder"),
  revisionDir: option.string("folder", "the revision folder to bundle", { defaultText: "app" }),
  dryRun: option.dryRun("take no lock and change nothing"),
  instances: option.integer("n", "with --dry-run: the live fleet's size, for a preview that needs no AWS account", { min: 1, max: 1000 }),
  json: option.json(),
  forceUnlock: option.flag("remove a stale release lock (its release died, or the deployment it left running has ended), then exit"),
  bake: option.custom("duration", "blue/green and canary: how long the new color's alarms are watched after each switch (90s, 10m)", parseDuration, {
    defaultText: "5m",
  }),
  keepPrevious: option.custom("duration", "blue/green and canary: end with the old color still up this long; npm run rollback returns to it", parseDuration, {
    defaultText: "scale it down after the bake",
  }),
  smokePath: option.list("path,...", "blue/green and canary: more paths the smoke test asks the new color for (status 200)", {
    defaultText: "the revision's pages",
  }),
  sameRevision: option.flag("blue/green and canary: the live color's revision onto the idle color (to promote a new AMI)"),
  finish: option.flag("scale down the old color a previous release kept up (--keep-previous), then exit"),
  timeoutMinutes: option.integer("minutes", "in place: stop watching after this many minutes", {
    min: 1,
    max: 1440,
    defaultText: "none: CodeDeploy enforces the hooks' timeouts itself, and the release follows it to the end",
  }),
  onTimeout: option.choice(["leave", "rollback"] as const, "with --timeout-minutes: leave the deployment running (the lock stays), or stop it and roll back", {
    defaultText: "leave: a slow deployment may be a healthy one",
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
    "npm run release -- --env dev --strategy blue-green --bake 10m --keep-previous 30m",
    "npm run release -- --env dev --strategy canary=10,50,100 --bake 5m",
    "npm run release -- --env dev --strategy blue-green --same-revision",
    "npm run release -- --env dev --finish",
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
  const only = [values.forceUnlock && "--force-unlock", values.finish && "--finish"].filter(Boolean);
  if (only.length > 1) throw new CliError(`${only.join(" and ")}: give one; each runs alone`);
  if (values.finish && (values.strategy !== undefined || values.github !== undefined || values.revisionDir !== undefined)) {
    throw new CliError("--finish only scales down the old color a release kept up: run it alone (npm run release -- --env <env> --finish)");
  }
  if (values.sameRevision && (values.github !== undefined || values.revisionDir !== undefined)) {
    throw new CliError("--same-revision takes the live color's revision: it does not go with --github or --revision-dir");
  }
  if (values.onTimeout !== undefined && values.timeoutMinutes === undefined) {
    throw new CliError(`--on-timeout ${values.onTimeout} needs --timeout-minutes: without it, the release follows the deployment to its end`);
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
    onTimeout: values.onTimeout ?? "leave",
    fileExistsBehavior: values.fileExistsBehavior,
    description: values.description,
    bakeSeconds: values.bake,
    keepPreviousSeconds: values.keepPrevious,
    smokePaths: values.smokePath.map((p) => (p.startsWith("/") ? p : `/${p}`)),
    sameRevision: values.sameRevision,
    finish: values.finish,
  };
}

/** `npm run release -- <argv>` → options (for tests and the command). */
export function parseReleaseArgs(argv: readonly string[]): ReleaseOptions {
  return releaseOptions(parseArgv(RELEASE_COMMAND, argv).options);
}
