/**
 * npm run bench [-- --runs 7 --root-import]: the median wall time and peak memory of
 * synthesizing all stacks as `cdktf synth` does: the `app` command of cdktf.json, run by a
 * shell in a fresh process each time, timed from outside. Targets on a 2-core machine: <= 2 s
 * and <= 250 MiB.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { defineCommand, option, runCommand } from "../scripts/lib/cli/command";
import { CliError, EXIT } from "../scripts/lib/cli/errors";

const ROOT = resolve(__dirname, "..");
export const TARGET_MS = 2000;
export const TARGET_MIB = 250;

export interface Sample {
  readonly wallMs: number;
  /** The largest peak resident memory of the run's node processes. */
  readonly peakRssMiB: number;
  readonly stacks: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The command cdktf runs to synthesize (cdktf.json `app`). */
export function appCommand(root = ROOT): string {
  return (JSON.parse(readFileSync(join(root, "cdktf.json"), "utf8")) as { app: string }).app;
}

function sample(command: string, rootImport: boolean): Sample {
  const scratch = mkdtempSync(join(tmpdir(), "webfleet-bench-"));
  const rssFile = join(scratch, "rss");
  const outdir = join(scratch, "cdktf.out");
  const requires = [`--require ${join(__dirname, "rss-probe.cjs")}`, ...(rootImport ? ["--require @cdktf/provider-aws"] : [])];
  try {
    const started = process.hrtime.bigint();
    const r = spawnSync("sh", ["-c", command], {
      cwd: ROOT,
      encoding: "utf8",
      // As cdktf runs it (it also raises the heap limit), plus the memory probe.
      env: { ...process.env, CDKTF_OUTDIR: outdir, NODE_OPTIONS: `--max-old-space-size=4096 ${requires.join(" ")}`, WEBFLEET_BENCH_RSS_FILE: rssFile },
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (r.status !== 0) throw new CliError(`\`${command}\` failed (exit ${r.status}):\n${r.stderr}`, EXIT.failed);
    const peaks = readFileSync(rssFile, "utf8").trim().split("\n").map(Number);
    return { wallMs, peakRssMiB: Math.max(...peaks) / 1024, stacks: readdirSync(join(outdir, "stacks")).length };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export const command = defineCommand({
  name: "bench",
  summary: "Median wall time and peak memory of synthesizing every stack, as cdktf synth runs it (the app command of cdktf.json).",
  options: {
    runs: option.integer("n", "measured runs (one more warms the disk cache first)", { min: 1, max: 50, default: 5, defaultText: "5" }),
    rootImport: option.flag("also load @cdktf/provider-aws from its package root first, to show what the deep-import rule saves"),
  },
  examples: ["npm run bench", "npm run bench -- --runs 9", "npm run bench -- --root-import --runs 3"],
  exitCodes: { 0: "measured, within the targets", 1: "measured, over a target (or synthesis failed)" },
  async run({ options }, ctx) {
    const command = appCommand();
    const label = options.rootImport ? "synth, provider imported from its package root" : "synth";
    sample(command, options.rootImport); // warm the disk cache; not counted
    const samples: Sample[] = [];
    for (let i = 0; i < options.runs; i++) {
      samples.push(sample(command, options.rootImport));
      ctx.log(`${label}: run ${i + 1}/${options.runs}`);
    }
    const wall = median(samples.map((s) => s.wallMs));
    const peak = Math.max(...samples.map((s) => s.peakRssMiB));
    const within = wall <= TARGET_MS && peak <= TARGET_MIB;
    return {
      exitCode: within || options.rootImport ? EXIT.ok : EXIT.failed,
      lines: [
        `${label}: \`${command}\`, ${samples[0].stacks} stacks, ${options.runs} runs`,
        `  median wall time  ${(wall / 1000).toFixed(2)} s   (target <= ${TARGET_MS / 1000} s)${wall <= TARGET_MS ? "" : "  OVER TARGET"}`,
        `  peak memory       ${peak.toFixed(0)} MiB   (target <= ${TARGET_MIB} MiB)${peak <= TARGET_MIB ? "" : "  OVER TARGET"}`,
      ],
    };
  },
});

if (require.main === module) runCommand(command);
