/**
 * Suites that run a real tool (terraform, packer, shellcheck, Apache + PHP, Chromium) ask for it
 * here. When it is missing they are skipped with a banner that names the tool and how to get
 * it, or, with WEBFLEET_REQUIRE_TOOLS=1 (set by .ci/run), they fail: CI never passes on a check
 * that did not run.
 */
import { spawnSync } from "node:child_process";

export const REQUIRE_TOOLS = process.env.WEBFLEET_REQUIRE_TOOLS === "1";

/** The path of `program` on PATH, or undefined. */
export function onPath(program: string): string | undefined {
  const r = spawnSync("sh", ["-c", 'command -v "$1"', "_", program], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

function banner(what: string, why: string): void {
  const line = "!".repeat(78);
  console.warn(`${line}\n!! SKIPPED: ${what}.\n!! Why: ${why}.\n!! (WEBFLEET_REQUIRE_TOOLS=1 makes this a failure; .ci/run sets it.)\n${line}`);
}

/**
 * `describe` when `missing` is undefined (the tool is there); otherwise a skipped `describe`
 * with a banner, or, under WEBFLEET_REQUIRE_TOOLS=1, a `describe` whose one test fails with
 * `missing` as its message.
 */
export function describeWithTool(what: string, missing: string | undefined): jest.Describe {
  if (missing === undefined) return describe;
  if (REQUIRE_TOOLS) {
    const failing = ((name: string) =>
      describe(name, () => {
        it(`has what it needs: ${what}`, () => {
          throw new Error(`${missing} (WEBFLEET_REQUIRE_TOOLS=1: a missing tool is a failure)`);
        });
      })) as unknown as jest.Describe;
    return failing;
  }
  banner(what, missing);
  return describe.skip;
}

/** `missing` for a program on PATH: undefined when found, else what to install. */
export function missingProgram(program: string, install: string): string | undefined {
  return onPath(program) ? undefined : `${program} not found on PATH: ${install}`;
}
