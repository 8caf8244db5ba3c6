/**
 * `npm run test:fast`: the edit-test loop, without the suites that run the slow real tools. Such a
 * suite says so in its opening comment with `@slow <tools>`: Terraform with the AWS provider (each
 * command loads the provider's schema, seconds of CPU), a real Apache, Chromium. `npm test`
 * (jest.config.js, as in CI) runs every suite.
 */
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const base = require("./jest.config.js");

const TESTS = join(__dirname, "__tests__");
const openingComment = (file) => /^\s*\/\*\*([\s\S]*?)\*\//.exec(readFileSync(file, "utf8"))?.[1] ?? "";
const slow = readdirSync(TESTS, { recursive: true })
  .filter((name) => name.endsWith(".test.ts"))
  .map((name) => join(TESTS, name))
  .filter((file) => /^\s*\*\s*@slow\s/m.test(openingComment(file)));

module.exports = {
  ...base,
  testPathIgnorePatterns: ["/node_modules/", ...slow.map((file) => `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`)],
};
