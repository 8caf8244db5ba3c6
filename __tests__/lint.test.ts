import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(__dirname, "..");

function lint(code: string): string {
  try {
    execFileSync(resolve(root, "node_modules/.bin/eslint"), ["--stdin", "--stdin-filename", "modules/probe.ts"], { cwd: root, input: code, encoding: "utf8" });
    return "";
  } catch (e) {
    return String((e as { stdout?: string }).stdout);
  }
}

describe("the lint rule on provider imports", () => {
  test.each([
    ['import { provider } from "@cdktf/provider-aws";'],
    ['import * as aws from "@cdktf/provider-aws/lib";'],
    ['import * as aws from "@cdktf/provider-aws/lib/index";'],
  ])("forbids the package root: %s", (line) => {
    expect(lint(`${line}\nexport const x = 1;\n`)).toContain("Import provider resources by deep path");
  });

  it("allows a deep import of one resource", () => {
    expect(lint('import { Vpc } from "@cdktf/provider-aws/lib/vpc";\nexport const x = Vpc;\n')).toBe("");
  });
});
