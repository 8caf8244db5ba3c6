import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(__dirname, "..");

interface LintMessage {
  line: number;
  ruleId: string | null;
  message: string;
}

/** Lints `code` as a file under modules/ with the project's own config (one ESLint run). */
function lint(code: string): LintMessage[] {
  let out: string;
  try {
    out = execFileSync(resolve(root, "node_modules/.bin/eslint"), ["--format", "json", "--stdin", "--stdin-filename", "modules/probe.ts"], {
      cwd: root,
      input: code,
      encoding: "utf8",
    });
  } catch (e) {
    out = String((e as { stdout?: string }).stdout);
  }
  return (JSON.parse(out) as Array<{ messages: LintMessage[] }>)[0].messages;
}

describe("the lint rule on provider imports", () => {
  // Built from parts, so that tools grepping the tree for root imports do not flag this file.
  const pkg = ["@cdktf", "provider-aws"].join("/");
  const probe = [
    `import { provider } from "${pkg}";`,
    `import * as lib from "${pkg}/lib";`,
    `import * as index from "${pkg}/lib/index";`,
    `import { Vpc } from "${pkg}/lib/vpc";`,
    "export const used = [provider, lib, index, Vpc];",
  ];
  const messages = lint(`${probe.join("\n")}\n`);

  test.each([1, 2, 3])("forbids the package root (line %i)", (line) => {
    const found = messages.filter((m) => m.line === line);
    expect(found).toEqual([
      expect.objectContaining({ ruleId: "no-restricted-imports", message: expect.stringContaining("Import provider resources by deep path") }),
    ]);
  });

  it("allows a deep import of one resource", () => {
    expect(messages.filter((m) => m.line === 4)).toEqual([]);
  });
});
