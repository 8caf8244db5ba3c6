// A jest reporter that names the slowest suites at the end of a run, so the one that makes
// `npm test` slow is known by name (targets: test:fast under 20 s, npm test under 90 s on 2 cores).
class SlowestSuites {
  constructor(_globalConfig, options = {}) {
    this.count = options.count ?? 5;
  }

  onRunComplete(_contexts, results) {
    const suites = results.testResults
      .map((r) => ({ path: r.testFilePath.replace(`${process.cwd()}/`, ""), seconds: (r.perfStats.end - r.perfStats.start) / 1000 }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, this.count);
    if (suites.length === 0) return;
    const lines = suites.map((s) => `  ${s.seconds.toFixed(1).padStart(6)} s  ${s.path}`);
    process.stderr.write(`\nslowest suites:\n${lines.join("\n")}\n`);
  }
}

module.exports = SlowestSuites;
