/**
 * npm run revision:check [-- [revision-folder] [--offline] [--deployments N] [--keep] [--out DIR]]
 *
 * Checks a CodeDeploy revision (default: app/) offline (AppSpec, shellcheck), then deploys it to
 * a local Apache + PHP on 127.0.0.1 with its hooks, fetches every page and saves a Chromium
 * screenshot under revision-check.out/<folder>/. Needs Debian's apache2, libapache2-mod-php,
 * chromium and shellcheck. Exit code 0 when everything passed, 1 otherwise.
 */
import { basename, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "zx";
import { MissingToolsError } from "./lib/revision/apache";
import { checkRevision } from "./lib/revision/check";

const REPO_ROOT = resolve(__dirname, "..");

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      offline: { type: "boolean", default: false },
      deployments: { type: "string", default: "2" },
      keep: { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log("usage: npm run revision:check -- [revision-folder (default app)] [--offline] [--deployments N] [--keep] [--out DIR]");
    return 0;
  }
  if (positionals.length > 1) throw new Error(`one revision folder at a time (got ${positionals.join(", ")})`);
  const deployments = Number(values.deployments);
  if (!Number.isInteger(deployments) || deployments < 1) throw new Error(`--deployments must be a whole number >= 1 (got ${values.deployments})`);

  const revisionDir = resolve(positionals[0] ?? join(REPO_ROOT, "app"));
  const outDir = resolve(values.out ?? join(REPO_ROOT, "revision-check.out", basename(revisionDir)));
  console.log(`revision:check ${relative(process.cwd(), revisionDir) || "."}${values.offline ? " (offline)" : ""}`);

  const result = await checkRevision($, {
    revisionDir,
    outDir,
    deployments,
    offline: values.offline,
    keepTemp: values.keep,
    log: (line) => console.log(`  ${line}`),
  });
  if (result.tempDir) console.log(`  kept        ${result.tempDir}`);
  if (!result.ok) {
    console.error(`\nFAILED: ${result.failure}`);
    return 1;
  }
  const looked = result.rendered.map((r) => relative(process.cwd(), r.screenshot));
  console.log(`\nok${looked.length ? `: look at ${looked.join(", ")}` : ""}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(
      e instanceof MissingToolsError ? `revision:check needs local tools:\n${e.message}` : `revision:check: ${e instanceof Error ? e.message : String(e)}`,
    );
    process.exit(1);
  },
);
