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
  testTimeout: 120000,
  // Two workers on the 2-core machines: the terraform suite waits on child processes most of the time.
  maxWorkers: 2,
};
