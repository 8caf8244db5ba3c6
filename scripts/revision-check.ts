/**
 * npm run revision:check -- [revision-folder] [--offline] [--deployments N] [--keep] [--out DIR]
 *
 * Checks a CodeDeploy revision (default: app/) offline (AppSpec, shellcheck), then deploys it to
 * a local Apache + PHP on 127.0.0.1 with its hooks, fetches every page and saves a Chromium
 * screenshot under revision-check.out/<folder>/. Needs Debian's apache2, libapache2-mod-php,
 * chromium and shellcheck (npm run setup installs them).
 */
import { existsSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { $ } from "zx";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { CliError, EXIT } from "./lib/cli/errors";
import { MissingToolsError } from "./lib/revision/apache";
import { checkRevision } from "./lib/revision/check";

const REPO_ROOT = resolve(__dirname, "..");

export const command = defineCommand({
  name: "revision:check",
  summary: "Checks a CodeDeploy revision offline, then deploys it to a local Apache + PHP with its hooks and screenshots it.",
  options: {
    offline: option.flag("only the offline checks: the AppSpec validator and shellcheck"),
    deployments: option.integer("n", "deployments in a row onto the same local instance (the second runs the hooks that need a previous revision)", {
      min: 1,
      max: 10,
      default: 2,
      defaultText: "2",
    }),
    keep: option.flag("keep the temporary folder (config, logs, the local instance) to look at"),
    out: option.string("dir", "where the screenshots go", { defaultText: "revision-check.out/<folder>" }),
  },
  argument: { name: "revision-folder", help: "the revision to check (default: app)" },
  examples: ["npm run revision:check", "npm run revision:check -- path/to/revision --offline", "npm run revision:check -- app --keep"],
  exitCodes: { 0: "every check passed", 1: "a check failed: the first failure is printed", 2: "bad option, or a local tool is missing" },
  async run({ options, args }, ctx) {
    if (args.length > 1) throw new CliError(`one revision folder at a time (got ${args.join(", ")})`);
    const revisionDir = resolve(args[0] ?? join(REPO_ROOT, "app"));
    if (!existsSync(revisionDir) || !statSync(revisionDir).isDirectory()) {
      throw new CliError(
        `revision folder ${args[0] ?? revisionDir}: ${existsSync(revisionDir) ? "not a folder" : "does not exist"}: pass the folder that holds appspec.yml`,
      );
    }
    const outDir = resolve(options.out ?? join(REPO_ROOT, "revision-check.out", basename(revisionDir)));
    ctx.log(`revision:check ${relative(process.cwd(), revisionDir) || "."}${options.offline ? " (offline)" : ""}`);
    let result;
    try {
      result = await checkRevision($, {
        revisionDir,
        outDir,
        deployments: options.deployments,
        offline: options.offline,
        keepTemp: options.keep,
        log: (line) => ctx.log(`  ${line}`),
        defer: (cleanup) => ctx.interrupts.defer(cleanup),
        signal: ctx.interrupts.signal,
      });
    } catch (e) {
      if (e instanceof MissingToolsError) throw new CliError(`revision:check needs local tools (npm run setup installs them):\n${e.message}`);
      throw e;
    }
    // Ctrl-C stopped a hook or Apache: what failed then is the interrupt, not the revision.
    if (ctx.interrupts.interrupted) throw ctx.interrupts.signal.reason;
    if (result.tempDir) ctx.log(`  kept        ${result.tempDir}`);
    if (!result.ok) {
      ctx.log(`\nFAILED: ${result.failure}`);
      return EXIT.failed;
    }
    const looked = result.rendered.map((r) => relative(process.cwd(), r.screenshot));
    return { lines: [`ok${looked.length ? `: look at ${looked.join(", ")}` : ""}`] };
  },
});

if (require.main === module) runCommand(command);
