/**
 * The README stays true: its strategy table is what `release --dry-run` estimates, the commands
 * it documents exist, the workflows run only documented commands, and every link of the README
 * and docs/ stays inside the repository and reaches a file.
 */
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { executeCommand } from "../scripts/lib/cli/command";
import { formatDuration } from "../scripts/lib/cli/duration";
import { command as release } from "../scripts/release";

const ROOT = resolve(__dirname, "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const DOCS = readdirSync(join(ROOT, "docs"))
  .filter((f) => f.endsWith(".md"))
  .map((f) => join("docs", f));

/** The rows of the README table whose header starts with `| strategy |`, by their first cell. */
function strategyRows(): Map<string, string[]> {
  const lines = README.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| strategy |"));
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    rows.set(cells[0].replace(/`/g, ""), cells);
  }
  return rows;
}

class Sink {
  text = "";
  write(s: string) {
    this.text += s;
    return true;
  }
}

/** `release --dry-run --instances n --json` on dev's timings, with room for n idle instances. */
async function preview(strategy: string, instances: number, configDir: string) {
  const stdout = new Sink();
  const saved = { ...process.env };
  Object.assign(process.env, {
    WEBFLEET_CONFIG_DIR: configDir,
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
    AWS_PROFILE: "",
    AWS_EC2_METADATA_DISABLED: "true",
  });
  try {
    const code = await executeCommand(release as never, ["--env", "dev", "--strategy", strategy, "--dry-run", "--instances", String(instances), "--json"], {
      stdout,
      stderr: new Sink(),
      signals: new EventEmitter() as never,
      exit: () => undefined,
    });
    expect(code).toBe(0);
    return JSON.parse(stdout.text) as {
      fullTrafficSeconds: number;
      worstCaseSeconds: number;
      rollbackSeconds: number;
      estimate: { kind: "in-place" | "twin"; fullTrafficWorstSeconds?: number };
    };
  } finally {
    process.env = saved;
  }
}

describe("the README", () => {
  describe("strategy table", () => {
    let configDir: string;
    beforeAll(() => {
      // dev as shipped, but big enough for a 20-instance preview of blue/green and canary.
      configDir = mkdtempSync(join(tmpdir(), "webfleet-readme-"));
      const dev = parse(readFileSync(join(ROOT, "config", "dev.yaml"), "utf8")) as Record<string, unknown>;
      dev.capacity = { live: { min: 1, desired: 1, max: 20 }, idle: { min: 0, desired: 0, max: 20 } };
      writeFileSync(join(configDir, "dev.yaml"), JSON.stringify(dev));
    });
    afterAll(() => rmSync(configDir, { recursive: true, force: true }));

    const rows = strategyRows();

    it("lists the four ways to release: every in-place form, blue/green and canary", () => {
      expect([...rows.keys()]).toEqual(["all-at-once", "half-at-a-time", "one-at-a-time", "min-healthy=75%", "blue-green", "canary=10,50,100"]);
    });

    test.each([...rows.keys()])("%s: the times for 4 and 20 instances and the rollback are what release --dry-run estimates", async (strategy) => {
      const cells = rows.get(strategy)!;
      for (const [instances, cell] of [
        [4, cells[3]],
        [20, cells[4]],
      ] as const) {
        const plan = await preview(strategy, instances, configDir);
        const worst = plan.estimate.kind === "twin" ? plan.estimate.fullTrafficWorstSeconds! : plan.worstCaseSeconds;
        expect(`${instances}: ${cell}`).toBe(`${instances}: ${formatDuration(plan.fullTrafficSeconds)} (worst ${formatDuration(worst)})`);
        if (plan.estimate.kind === "twin") expect(cells[5]).toBe(`one weight switch, ≈ ${formatDuration(plan.rollbackSeconds)}`);
        else expect(plan.rollbackSeconds).toBe(plan.fullTrafficSeconds); // "as long again"
      }
    });
  });

  it("documents only npm scripts that package.json has", () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);
    const documented = new Set([...README.matchAll(/npm run (?:-s )?([\w:-]+)/g)].map((m) => m[1]));
    expect([...documented].filter((name) => !scripts.includes(name))).toEqual([]);
    // The two set-up commands.
    expect(README).toMatch(/```sh\nnpm run setup .*\nnpm test .*\n```/);
  });

  it("documents every npm command the workflows run", () => {
    const dir = join(ROOT, ".github", "workflows");
    const runs = readdirSync(dir)
      .filter((f) => f.endsWith(".yml"))
      .flatMap((f) => Object.values((parse(readFileSync(join(dir, f), "utf8")) as { jobs: Record<string, { steps: { run?: string }[] }> }).jobs))
      .flatMap((job) => job.steps.map((s) => s.run ?? ""));
    const called = new Set(runs.flatMap((r) => [...r.matchAll(/\bnpm (?:run (?:-s )?([\w:-]+)|(test)\b)/g)].map((m) => m[1] ?? m[2])));
    expect(called.size).toBeGreaterThan(0);
    for (const name of called) expect(README).toContain(name === "test" ? "npm test" : `npm run ${name}`);
  });

  test.each(["README.md", ...DOCS])("%s links only to files inside the repository", (file) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    for (const link of links) {
      expect(`${link}: ${/^[a-z]+:/i.test(link) ? "leaves the repository" : "ok"}`).toBe(`${link}: ok`);
      const target = resolve(ROOT, dirname(file), link.split("#")[0] || file);
      expect(`${link}: ${target.startsWith(`${ROOT}/`) ? "inside" : "outside"}`).toBe(`${link}: inside`);
      expect(`${link}: ${existsSync(target) ? "exists" : "missing"}`).toBe(`${link}: exists`);
    }
  });
});
