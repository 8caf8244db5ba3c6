/**
 * The CDKTF app: one stack per environment file in config/, plus the state bootstrap stack
 * when an environment keeps its state in S3. `cdktf synth` / `cdktf deploy webfleet-<env>`
 * run this file with tsx (cdktf.json).
 */
import { App } from "cdktf";
import { type EnvironmentConfig, ConfigError, configDir, loadAllEnvironments, loadEnvironment } from "./config/load";
import { BOOTSTRAP_STACK, COLORS, type Color, stackName } from "./modules/names";
import { StateBootstrapStack, type StateBucket } from "./modules/state-bootstrap-stack";
import { WebfleetStack } from "./modules/webfleet-stack";

export interface BuildOptions {
  /** Environments to synthesize. @default - every file in config/ */
  readonly environments?: readonly string[];
  /** @default "cdktf.out" */
  readonly outdir?: string;
  /** @default - the config directory (WEBFLEET_CONFIG_DIR or config/) */
  readonly configDir?: string;
  /** Initial AMI per color for parameters that do not exist yet (see WebfleetStackProps). */
  readonly initialAmi?: Readonly<Partial<Record<Color, string>>>;
}

/** Loads and validates every requested environment, then builds the app (not yet synthesized). */
export function buildApp(options: BuildOptions = {}): { app: App; environments: EnvironmentConfig[] } {
  const dir = options.configDir ?? configDir();
  const environments = options.environments ? collect(options.environments.map((name) => () => loadEnvironment(name, dir))) : loadAllEnvironments(dir);

  const app = new App({ outdir: options.outdir ?? "cdktf.out", skipValidation: false });
  for (const config of environments) {
    new WebfleetStack(app, stackName(config.name), { config, initialAmi: options.initialAmi });
  }
  const buckets: StateBucket[] = environments.flatMap((c) =>
    c.stateBackend.type === "s3" ? [{ bucket: c.stateBackend.bucket, region: c.stateBackend.region ?? c.region }] : [],
  );
  if (buckets.length > 0) new StateBootstrapStack(app, BOOTSTRAP_STACK, { buckets });
  return { app, environments };
}

function collect<T>(loaders: Array<() => T>): T[] {
  const out: T[] = [];
  const errors: string[] = [];
  for (const load of loaders) {
    try {
      out.push(load());
    } catch (e) {
      if (e instanceof ConfigError) errors.push(...e.errors);
      else throw e;
    }
  }
  if (errors.length) throw new ConfigError(errors);
  return out;
}

/** `WEBFLEET_INITIAL_AMI_BLUE=ami-...`: set by `npm run deploy` for a parameter's first creation. */
export function initialAmiFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Record<Color, string>> {
  const out: Partial<Record<Color, string>> = {};
  const errors: string[] = [];
  for (const color of COLORS) {
    const name = `WEBFLEET_INITIAL_AMI_${color.toUpperCase()}`;
    const value = env[name];
    if (!value) continue;
    if (/^ami-[0-9a-f]{8}([0-9a-f]{9})?$/.test(value)) out[color] = value;
    else errors.push(`${name}: must be an AMI id such as ami-0123456789abcdef0 (got ${JSON.stringify(value)})`);
  }
  if (errors.length) throw new ConfigError(errors);
  return out;
}

if (require.main === module) {
  try {
    const { app } = buildApp({ initialAmi: initialAmiFromEnv() });
    app.synth();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
}
