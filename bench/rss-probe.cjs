// Loaded into every node process of a bench run (NODE_OPTIONS=--require): at exit, appends this
// process's peak resident memory (KiB) to the file named by WEBFLEET_BENCH_RSS_FILE.
const { appendFileSync } = require("node:fs");

process.on("exit", () => {
  const file = process.env.WEBFLEET_BENCH_RSS_FILE;
  if (file) appendFileSync(file, `${process.resourceUsage().maxRSS}\n`);
});
