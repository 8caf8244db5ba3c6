/**
 * Every shell script in the repository passes shellcheck: Packer's provisioning scripts,
 * CodeDeploy's hook scripts under app/, CI's scripts. Scripts are found by extension
 * (.sh, .bash) or by a shell shebang, so a new script is checked without being listed here.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { describeWithTool, missingProgram } from "./helpers/tools";

const REPO = resolve(__dirname, "..");
/** Folders that are not the project's own scripts. */
const SKIP = new Set(["node_modules", ".git", "cdktf.out", "coverage", ".terraform", "packer_cache", ".gen", ".cache"]);
const SHELL_SHEBANG = /^#!\s*(\/usr)?\/bin\/(env\s+)?(ba|da|k)?sh\b/;

function firstLine(file: string): string {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(128);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n).toString("utf8").split("\n")[0];
  } catch {
    return "";
  } finally {
    closeSync(fd);
  }
}

/** The repository's shell scripts, relative to its root, sorted. */
function shellScripts(root = REPO): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP.has(entry.name)) walk(path);
      } else if (entry.isFile() && (/\.(sh|bash)$/.test(entry.name) || SHELL_SHEBANG.test(firstLine(path)))) {
        found.push(relative(root, path));
      }
    }
  };
  walk(root);
  return found.sort();
}

describe("shellcheck", () => {
  it("finds scripts by extension or shell shebang, outside node_modules and .git", () => {
    // GIVEN a tree with scripts of every kind
    const root = mkdtempSync(join(tmpdir(), "webfleet-shellcheck-"));
    try {
      const files: Record<string, string> = {
        "app/scripts/start_server": "#!/bin/bash\nsystemctl start httpd\n",
        ".ci/run": "#!/usr/bin/env bash\nnpm test\n",
        "tools/posix": "#!/bin/sh\ntrue\n",
        "lib/helpers.sh": "helper() { :; }\n",
        "scripts/tool.ts": "#!/usr/bin/env node\n",
        "README.md": "# not a script\n",
        "node_modules/x/install.sh": "#!/bin/sh\n",
        ".git/hooks/pre-commit": "#!/bin/sh\n",
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(root, path, ".."), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      // THEN only the project's shell scripts are found
      expect(shellScripts(root)).toEqual([".ci/run", "app/scripts/start_server", "lib/helpers.sh", "tools/posix"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("finds the provisioning scripts among the repository's shell scripts", () => {
    const scripts = shellScripts();
    expect(scripts).toEqual(expect.arrayContaining(["packer/scripts/install-web.sh", "packer/scripts/cleanup.sh"]));
    expect(scripts.some((s) => s.startsWith("node_modules/"))).toBe(false);
  });
});

describeWithTool("shellcheck of every shell script", missingProgram("shellcheck", "run npm run setup (Debian: apt-get install -y shellcheck)"))(
  "shellcheck",
  () => {
    it("reports nothing for any shell script in the repository", () => {
      const scripts = shellScripts();
      // One run for all of them; -x follows `source` of files next to a script.
      const result = spawnSync("shellcheck", ["--external-sources", "--source-path=SCRIPTDIR", "--format=gcc", ...scripts], { cwd: REPO, encoding: "utf8" });
      expect({ status: result.status, findings: `${result.stdout}${result.stderr}`.trim().split("\n").filter(Boolean) }).toEqual({ status: 0, findings: [] });
    });
  },
);
