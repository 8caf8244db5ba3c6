/**
 * The CDKTF app: one stack per environment file in config/, plus the state bootstrap stack
 * when an environment keeps its state in S3. `cdktf synth` / `cdktf deploy webfleet-<env>`
 * run this file with tsx (cdktf.json).
 */
import { App } from "cdktf";
import { type BrokenEnvironment, type EnvironmentConfig, ConfigError, configDir, loadEnvironment, loadEnvironments } from "./config/load";
import { ciEnvironments, loadCiConfig } from "./config/github";
import { CiStack } from "./modules/ci-stack";
import { BOOTSTRAP_STACK, CI_STACK, COLORS, type Color, stackName } from "./modules/names";
import { StateBootstrapStack, type StateBucket } from "./modules/state-bootstrap-stack";
import { WebfleetStack } from "./modules/webfleet-stack";

export interface BuildOptions {
  /** Environments to synthesize. @default - every file in config/ */
  readonly environments?: readonly string[];
  /** @default - CDKTF_OUTDIR (set by the cdktf CLI), else "cdktf.out" */
  readonly outdir?: string;
  /** @default - the config directory (WEBFLEET_CONFIG_DIR or config/) */
  readonly configDir?: string;
  /** Initial AMI per color for parameters that do not exist yet (see WebfleetStackProps). */
  readonly initialAmi?: Readonly<Partial<Record<Color, string>>>;
  /**
   * The state bootstrap's very first run: its own state stays local until the bucket exists.
   * @default false - its state lives in the bucket it created (see StateBootstrapStack)
   */
  readonly bootstrapFirstRun?: boolean;
}

/** The app, the environments in it, and the environments left out, with why. */
export interface BuiltApp {
  readonly app: App;
  readonly environments: EnvironmentConfig[];
  /** Environments whose file (or stack) is broken: left out, each with its errors. */
  readonly broken: BrokenEnvironment[];
  /** Why a stack was left out (the state bootstrap stack with a broken environment). */
  readonly notes: string[];
}

/**
 * Loads and validates the environments, then builds the app (not yet synthesized).
 * - Environments named in `options.environments` must all be valid (a ConfigError otherwise).
 * - Otherwise every file in config/ is loaded, and a broken one does not stop the others: it is
 *   left out and reported in `broken`. The state bootstrap stack is then left out too, since a
 *   bootstrap from a partial set of environments would plan to destroy a state bucket.
 */
export function buildApp(options: BuildOptions = {}): BuiltApp {
  const dir = options.configDir ?? configDir();
  let environments: EnvironmentConfig[];
  let broken: BrokenEnvironment[] = [];
  if (options.environments) environments = collect(options.environments.map((name) => () => loadEnvironment(name, dir)));
  else ({ loaded: environments, broken } = loadEnvironments(dir));

  // cdktf CLI says where with CDKTF_OUTDIR (cdktf.json "output"), which App reads when no outdir is given.
  const app = new App({ outdir: options.outdir, skipValidation: false });
  const built: EnvironmentConfig[] = [];
  for (const config of environments) {
    const id = stackName(config.name);
    try {
      new WebfleetStack(app, id, { config, initialAmi: options.initialAmi });
      built.push(config);
    } catch (e) {
      // A construct refused a value of this file: leave this environment out, not the others.
      app.node.tryRemoveChild(id);
      if (options.environments) throw new ConfigError([`${config.file}: ${e instanceof Error ? e.message : String(e)}`]);
      broken = [...broken, { name: config.name, errors: [`${config.file}: ${e instanceof Error ? e.message : String(e)}`] }];
    }
  }
  // The GitHub Actions roles, when config/github/ci.yaml exists; a broken one is left out like an
  // environment (it may name a state bucket too), and never stops the environments. The roles
  // need an environment's file only, so an environment whose stack failed still gets them.
  const backends: Array<{ stateBackend: EnvironmentConfig["stateBackend"]; region: string }> = [...built];
  if (!options.environments) {
    let file = "config/github/ci.yaml";
    try {
      const ci = loadCiConfig(dir);
      if (ci) {
        file = ci.file;
        const unreadable = broken.map((b) => b.name).filter((name) => !environments.some((e) => e.name === name));
        new CiStack(app, CI_STACK, { config: ci, environments: ciEnvironments(ci, environments, unreadable) });
        backends.push(ci);
      }
    } catch (e) {
      // Only a half-built CI stack: an environment named `ci` is refused above, not removed.
      if (app.node.tryFindChild(CI_STACK) instanceof CiStack) app.node.tryRemoveChild(CI_STACK);
      const errors = e instanceof ConfigError ? e.errors : [`${file}: ${e instanceof Error ? e.message : String(e)}`];
      broken = [...broken, { name: "ci", errors }];
    }
  }
  const notes: string[] = [];
  const buckets: StateBucket[] = backends.flatMap((c) =>
    c.stateBackend.type === "s3" ? [{ bucket: c.stateBackend.bucket, region: c.stateBackend.region ?? c.region }] : [],
  );
  if (options.environments) {
    // A subset: the bootstrap stack needs every environment's buckets.
  } else if (broken.length > 0) {
    notes.push(
      `${BOOTSTRAP_STACK} was not synthesized: with ${broken.map((b) => b.name).join(", ")} broken, it could miss a state bucket and plan to destroy it; fix the file${broken.length > 1 ? "s" : ""} first`,
    );
  } else if (buckets.length > 0) {
    new StateBootstrapStack(app, BOOTSTRAP_STACK, { buckets, firstRun: options.bootstrapFirstRun });
  }
  return { app, environments: built, broken, notes };
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

/** `WEBFLEET_BOOTSTRAP_FIRST_RUN=1`: the very first `cdktf deploy webfleet-state-bootstrap`, before any state bucket exists. */
export function bootstrapFirstRunFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.WEBFLEET_BOOTSTRAP_FIRST_RUN;
  if (value === undefined || value === "") return false;
  if (value === "1") return true;
  throw new ConfigError([
    `WEBFLEET_BOOTSTRAP_FIRST_RUN: must be 1 (the first run of ${BOOTSTRAP_STACK}, before its bucket exists) or unset (got ${JSON.stringify(value)})`,
  ]);
}

/**
 * `cdktf synth` / `cdktf deploy` run this (cdktf.json). A broken environment file is reported on
 * stderr and left out, so the others still deploy; only when nothing can be synthesized does it
 * fail.
 */
if (require.main === module) {
  try {
    const { app, environments, broken, notes } = buildApp({ initialAmi: initialAmiFromEnv(), bootstrapFirstRun: bootstrapFirstRunFromEnv() });
    for (const b of broken) {
      process.stderr.write(`webfleet: ${stackName(b.name)} left out: ${b.errors.length === 1 ? b.errors[0] : `\n  - ${b.errors.join("\n  - ")}`}\n`);
    }
    for (const note of notes) process.stderr.write(`webfleet: ${note}\n`);
    if (environments.length === 0 && broken.length > 0) process.exit(1);
    app.synth();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`webfleet: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}
