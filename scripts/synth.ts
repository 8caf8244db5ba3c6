/**
 * npm run synth [-- --env <name> | --all]: synthesizes one environment (default `dev`) into
 * cdktf.out/ offline and prints a short summary of each stack. An invalid configuration exits
 * 2 with every error and writes nothing.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { stackName } from "../modules/names";
import { defineCommand, option, runCommand } from "./lib/cli/command";
import { CliError, EXIT } from "./lib/cli/errors";

export interface StackSummary {
  readonly stack: string;
  readonly resources: number;
  readonly byType: Record<string, number>;
  readonly dataSources: string[];
  readonly backend: string;
  readonly outputs: string[];
}

/** Summarizes a synthesized cdk.tf.json. */
export function summarize(
  stack: string,
  json: {
    resource?: Record<string, Record<string, unknown>>;
    data?: Record<string, Record<string, unknown>>;
    output?: Record<string, unknown>;
    terraform?: { backend?: Record<string, { bucket?: string; key?: string }> };
  },
): StackSummary {
  const byType: Record<string, number> = {};
  for (const [type, items] of Object.entries(json.resource ?? {})) byType[type] = Object.keys(items).length;
  const [kind, settings] = Object.entries(json.terraform?.backend ?? { local: {} })[0];
  return {
    stack,
    resources: Object.values(byType).reduce((a, b) => a + b, 0),
    byType,
    dataSources: Object.keys(json.data ?? {}),
    backend: kind === "s3" ? `s3://${settings.bucket}/${settings.key}` : kind,
    outputs: Object.keys(json.output ?? {}),
  };
}

export function formatSummary(s: StackSummary): string {
  const types = Object.entries(s.byType)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([t, n]) => `${t.replace(/^aws_/, "")}×${n}`)
    .join(", ");
  return [
    `${s.stack}: ${s.resources} resources, state ${s.backend}`,
    types ? `  ${types}` : "",
    s.dataSources.length ? `  reads: ${s.dataSources.join(", ")}` : "  reads no data source",
    s.outputs.length ? `  outputs: ${s.outputs.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("\n");
}

/**
 * Refuses an --outdir that cannot be written before anything is synthesized: the folder itself
 * when it exists, else its nearest existing parent. (No trial mkdir: a recursive mkdir under
 * /proc spins forever on Node.js 20.)
 */
function checkWritable(outdir: string): void {
  let dir = resolve(outdir);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const problem = !statSync(dir).isDirectory()
    ? `${dir} is not a folder`
    : (() => {
        try {
          accessSync(dir, constants.W_OK);
          return undefined;
        } catch {
          return `${dir} is not writable`;
        }
      })();
  if (problem) throw new CliError(`--outdir ${outdir}: cannot write there (${problem}); give a folder you can write to`);
}

/** Runs `write` (making the app, or synthesizing: their only file system work is outdir's), a file system error named as --outdir's. */
function writingTo<T>(outdir: string, write: () => T): T {
  try {
    return write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && /^E[A-Z]+$/.test(code)) throw new CliError(`--outdir ${outdir}: cannot write there (${(e as Error).message}); give a folder you can write to`);
    throw e;
  }
}

export const command = defineCommand({
  name: "synth",
  summary: "Synthesizes environments into cdktf.out/ offline and prints a summary of each stack.",
  description:
    "An invalid environment file exits 2 with every error and writes nothing. With --all, a broken file is reported and left out, and the others are synthesized.",
  options: {
    env: option.string("name", "the environment to synthesize (config/<name>.yaml)", { defaultText: "dev" }),
    all: option.flag("every environment in config/, and the state bootstrap stack when some state lives in S3"),
    outdir: option.string("dir", "where the stacks go", { defaultText: "cdktf.out" }),
    json: option.json(),
  },
  examples: ["npm run synth", "npm run synth -- --env prod", "npm run synth -- --all", "npm run -s synth -- --all --json | jq '.[].resources'"],
  exitCodes: {
    0: "synthesized",
    1: "with --all: some environment was broken and left out (the others were synthesized)",
    2: "an invalid environment file: nothing was synthesized",
  },
  async run({ options }, ctx) {
    if (options.all && options.env) throw new CliError(`--all and --env ${options.env}: give one (--all synthesizes every environment)`);
    const outdir = options.outdir ?? "cdktf.out";
    checkWritable(outdir);
    const { buildApp } = await import("../main");
    const built = writingTo(outdir, () => buildApp({ environments: options.all ? undefined : [options.env ?? "dev"], outdir }));
    for (const b of built.broken) ctx.log(`${stackName(b.name)} left out:\n  - ${b.errors.join("\n  - ")}`);
    for (const note of built.notes) ctx.log(note);
    const started = performance.now();
    writingTo(outdir, () => built.app.synth());
    const summaries = built.app.node.children.map((c) =>
      summarize(c.node.id, JSON.parse(readFileSync(join(outdir, "stacks", c.node.id, "cdk.tf.json"), "utf8"))),
    );
    ctx.log(`synthesized into ${outdir}/ in ${Math.round(performance.now() - started)} ms`);
    return { exitCode: built.broken.length > 0 ? EXIT.failed : EXIT.ok, json: summaries, lines: summaries.map(formatSummary) };
  },
});

if (require.main === module) runCommand(command);
