// Lint: only what tsc cannot say. The main rule keeps provider imports on deep paths:
// `@cdktf/provider-aws` from its package root loads ~2,200 modules (≈9 s, ≈740 MiB per synth).
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "cdktf.out/**", "coverage/**", "**/*.js", "**/*.mjs"] },
  {
    files: ["**/*.ts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "@cdktf/provider-aws",
              message: "Import provider resources by deep path, e.g. @cdktf/provider-aws/lib/launch-template: the package root loads ~2,200 modules.",
            },
          ],
          patterns: [
            {
              group: ["@cdktf/provider-aws/lib", "@cdktf/provider-aws/lib/index"],
              message: "Import the one resource you need: @cdktf/provider-aws/lib/<resource>.",
            },
          ],
        },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
);
