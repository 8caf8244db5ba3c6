/**
 * npm run bench [-- --runs 7 --root-import]: the median wall time and peak memory of
 * synthesizing all stacks, each run in a fresh process (tsx, as `cdktf synth` runs main.ts).
 * Targets on a 2-core machine: <= 2 s and <= 250 MiB.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const TARGET_MS = 2000;
const TARGET_MIB = 250;

interface Sample {
  wallMs: number;
  peakRssMiB: number;
  stacks: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sample(rootImport: boolean): Sample {
  const tsx = resolve(__dirname, "../node_modules/.bin/tsx");
  const args = [resolve(__dirname, "synth-once.ts"), ...(rootImport ? ["--root-import"] : [])];
  const out = execFileSync(tsx, args, { encoding: "utf8", cwd: resolve(__dirname, "..") });
  return JSON.parse(out.trim().split("\n").pop()!) as Sample;
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, "root-import": { type: "boolean", default: false } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`--runs (${values.runs}) must be a whole number >= 1`);
    process.exit(2);
  }
  const label = values["root-import"] ? "synth, provider imported from its package root" : "synth (deep imports)";
  sample(values["root-import"]!); // warm the disk cache; not counted
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    samples.push(sample(values["root-import"]!));
    process.stderr.write(`\r${label}: run ${i + 1}/${runs}`);
  }
  process.stderr.write("\n");
  const wall = median(samples.map((s) => s.wallMs));
  const peak = Math.max(...samples.map((s) => s.peakRssMiB));
  console.log(`${label}: ${samples[0].stacks} stacks, ${runs} runs`);
  console.log(`  median wall time  ${(wall / 1000).toFixed(2)} s   (target <= ${TARGET_MS / 1000} s)${wall <= TARGET_MS ? "" : "  OVER TARGET"}`);
  console.log(`  peak memory       ${peak.toFixed(0)} MiB   (target <= ${TARGET_MIB} MiB)${peak <= TARGET_MIB ? "" : "  OVER TARGET"}`);
}

if (require.main === module) main();
