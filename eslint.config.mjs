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
          patterns: [
            {
              regex: "^@cdktf/provider-aws(/lib(/index(\\.js)?)?)?$",
              message:
                "Import provider resources by deep path, e.g. @cdktf/provider-aws/lib/launch-template: the package root loads ~2,200 modules (≈9 s, ≈740 MiB per synth).",
            },
          ],
        },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
);
