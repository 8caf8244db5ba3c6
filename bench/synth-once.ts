/**
 * One measured synthesis of every stack (shipped environments + bootstrap), in a fresh process
 * so that module loading counts. Prints one JSON line: wall ms since process start, peak RSS.
 * `--root-import` first loads @cdktf/provider-aws from its package root, to show what the
 * deep-path rule saves.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const outdir = mkdtempSync(join(tmpdir(), "webfleet-bench-"));
if (process.argv.includes("--root-import")) {
  require("@cdktf/provider-aws");
}
const { buildApp } = require("../main") as typeof import("../main");
const { app } = buildApp({ outdir });
app.synth();
const wallMs = performance.now(); // since the process started (performance.timeOrigin)
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
rmSync(outdir, { recursive: true, force: true });
console.log(JSON.stringify({ wallMs, peakRssMiB, stacks: app.node.children.length }));
