/** Jest runs TypeScript through @swc/jest (no type checking: `tsc --noEmit` does that in `npm test`). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } }, module: { type: "commonjs" } }],
  },
  // zx 8 ships ESM-only builds of some parts; let swc transform them.
  transformIgnorePatterns: ["/node_modules/(?!zx/)"],
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  // One folder per run for the terraform workspaces every suite shares (helpers/terraform.ts).
  globalSetup: "<rootDir>/__tests__/helpers/global-setup.ts",
  globalTeardown: "<rootDir>/__tests__/helpers/global-teardown.ts",
  testTimeout: 120000,
  // One and a half workers per core: many suites spend their time waiting on child processes
  // (terraform, bash hooks, Apache), so a third worker on the 2-core machines cuts the wall time
  // of `npm test` from 70 s to 60 s and of `npm run test:fast` from 23 s to 18 s.
  // (jest reads "150%" as 150 workers, so it is counted here.)
  maxWorkers: Math.ceil(require("node:os").availableParallelism() * 1.5),
  reporters: ["default", ["<rootDir>/__tests__/helpers/slowest-reporter.cjs", { count: 5 }]],
};
