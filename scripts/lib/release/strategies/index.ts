/**
 * The strategies: each key users type (modules/names.ts parses it) becomes a {@link Strategy}
 * whose plan the release executes. A new strategy is one form in modules/names.ts
 * (STRATEGY_FORMS) and one case in {@link strategyFor}: TypeScript refuses a kind without one.
 */
import {
  PREDEFINED_STRATEGIES,
  STRATEGY_FORMS,
  STRATEGY_USAGE,
  shortUsage,
  minHealthyStrategyKey,
  parseStrategy,
  type MinimumHealthyHosts,
  type PublishedStack,
  type StrategySpec,
} from "../../../../modules/names";
import { CliError } from "../../cli/errors";
import { InPlaceStrategy } from "./in-place";
import { TwinStrategy } from "./twin";
import type { Strategy } from "./types";

export * from "./types";
export { InPlaceStrategy, batchSize, summarize, type InPlaceRule } from "./in-place";
export { TwinStrategy, DEFAULT_BAKE_SECONDS, describeShifts } from "./twin";

/** The forms that release onto the idle color (blue-green, canary=...), as messages name them. */
export const TWIN_STRATEGY_USAGES: readonly string[] = STRATEGY_FORMS.filter((f) => !f.inPlace).map(shortUsage);

/** The in-place keys an environment's config creates deployment configs for (predefined first). */
export function configuredStrategyKeys(custom: readonly MinimumHealthyHosts[]): string[] {
  return [...Object.keys(PREDEFINED_STRATEGIES), ...custom.map(minHealthyStrategyKey)];
}

/**
 * Checks `--strategy` against the environment's config before anything touches AWS, so a typo
 * fails in milliseconds. Returns the canonical key.
 */
export function checkStrategyAgainstConfig(text: string, env: string, custom: readonly MinimumHealthyHosts[]): string {
  const valid = [...configuredStrategyKeys(custom), ...TWIN_STRATEGY_USAGES];
  const parsed = parseStrategy(text);
  if ("error" in parsed) {
    const what = parsed.error.includes("is not a strategy") ? `'${text}' is not a strategy` : parsed.error;
    throw new CliError(
      `--strategy ${what}; valid for ${env}: ${valid.join(", ")} (min-healthy=<N>% or min-healthy=<N> must be listed in deployment.minimumHealthyHosts of config/${env}.yaml)`,
    );
  }
  const { spec, key } = parsed;
  if (spec.kind === "in-place" && !configuredStrategyKeys(custom).includes(key)) {
    throw new CliError(
      `--strategy '${text}': ${env} creates no deployment config for it; valid for ${env}: ${valid.join(", ")}` +
        ` (add ${key.slice("min-healthy=".length)} to deployment.minimumHealthyHosts in config/${env}.yaml and run npx cdktf deploy webfleet-${env})`,
    );
  }
  return key;
}

/** The strategy of a parsed key, with what the deployed stack created for it. */
function strategyFor(key: string, spec: StrategySpec, stack: PublishedStack, source: string): Strategy {
  switch (spec.kind) {
    case "in-place": {
      const configName = stack.deploymentConfigs[key];
      if (!configName) {
        throw new CliError(
          `${source} has no deployment config in the deployed stack webfleet-${stack.environment}; deployed strategies: ${Object.keys(stack.deploymentConfigs).join(", ")}` +
            (spec.rule === "min-healthy" ? ` (if config/${stack.environment}.yaml lists it, run npx cdktf deploy webfleet-${stack.environment} first)` : ""),
        );
      }
      return new InPlaceStrategy(
        key,
        spec.rule === "min-healthy" ? { type: "min-healthy", minimumHealthy: spec.minimumHealthy } : { type: spec.rule },
        configName,
      );
    }
    case "blue-green":
      return new TwinStrategy(key, "blue-green", [100]);
    case "canary":
      return new TwinStrategy(key, "canary", spec.percentages);
  }
}

/**
 * The strategy for `key` (or the stack's default), from what the deployed stack created: what
 * is deployed, not what the local config says.
 */
export function resolveStrategy(key: string | undefined, stack: PublishedStack): Strategy {
  const wanted = key ?? stack.defaultStrategy;
  const source = key === undefined ? `the stack's default strategy '${wanted}'` : `--strategy '${wanted}'`;
  const parsed = parseStrategy(wanted);
  if ("error" in parsed) throw new CliError(`${source} is not a strategy (${parsed.error}); valid: ${STRATEGY_USAGE}`);
  return strategyFor(parsed.key, parsed.spec, stack, source);
}
