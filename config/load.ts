/**
 * Loads and validates config/<env>.yaml. Every problem in a file is reported at once,
 * each naming the file, the field, the value it got and what would be valid.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { environmentSchema, type EnvironmentFile } from "./schema";
import type { MinimumHealthyHosts } from "../modules/names";
import { CliError, EXIT } from "../scripts/lib/cli/errors";

/** The folder with one file per environment. `WEBFLEET_CONFIG_DIR` points elsewhere (tests). */
export const DEFAULT_CONFIG_DIR = resolve(__dirname);

export function configDir(): string {
  return process.env.WEBFLEET_CONFIG_DIR ? resolve(process.env.WEBFLEET_CONFIG_DIR) : DEFAULT_CONFIG_DIR;
}

const ENV_NAME = /^[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?$/;
const EXTENSIONS = [".yaml", ".yml"];

export interface EnvironmentConfig extends EnvironmentFile {
  /** The environment's name: the file name without extension (`dev` for config/dev.yaml). */
  readonly name: string;
  /** The file it was loaded from, for messages. */
  readonly file: string;
  /** `deployment.minimumHealthyHosts`, parsed. */
  readonly customMinimumHealthyHosts: readonly MinimumHealthyHosts[];
}

/** Bad configuration: refused before anything changed (exit 2), every error listed. */
export class ConfigError extends CliError {
  constructor(readonly errors: readonly string[]) {
    super(errors.length === 1 ? errors[0] : `${errors.length} configuration errors:\n  - ${errors.join("\n  - ")}`, EXIT.refused);
    this.name = "ConfigError";
  }
}

/** The environments that have a file in `dir`, sorted (an environment with two files is listed once). */
export function listEnvironments(dir = configDir()): string[] {
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir)
    .filter((f) => EXTENSIONS.some((e) => f.endsWith(e)))
    .map((f) => basename(f).replace(/\.ya?ml$/, ""));
  return [...new Set(names)].sort();
}

/** The one file of `env`; a {@link ConfigError} when there are two (dev.yaml and dev.yml). */
function fileOf(env: string, dir: string): string | undefined {
  const files = EXTENSIONS.map((e) => join(dir, env + e)).filter((f) => existsSync(f));
  if (files.length > 1) {
    throw new ConfigError([
      `${files.map(displayPath).join(" and ")}: two files for the environment '${env}'; keep one (the other would be ignored without a word)`,
    ]);
  }
  return files[0];
}

/** A config file larger than this is not an environment file. */
export const MAX_FILE_BYTES = 256 * 1024;
/** Longest value shown as it is in "(got …)". */
const MAX_SHOWN_VALUE = 200;
/** YAML aliases a file may use before it counts as an alias bomb (yaml's own default is 100). */
export const MAX_ALIAS_COUNT = 100;

/** The file's text, or a {@link ConfigError} when it is too large, binary, or not UTF-8. `kind` names the file in messages. */
export function readText(file: string, kind = "an environment file"): string {
  const shown = displayPath(file);
  const bytes = readFileSync(file);
  if (bytes.length > MAX_FILE_BYTES) {
    throw new ConfigError([`${shown}: ${bytes.length} bytes is too large for ${kind} (at most ${MAX_FILE_BYTES}); is it the right file?`]);
  }
  if (bytes.includes(0)) throw new ConfigError([`${shown}: not a text file (it holds NUL bytes); ${kind} is YAML text`]);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError([`${shown}: not a text file (not valid UTF-8); ${kind} is YAML text`]);
  }
}

/** The YAML document as plain data; a {@link ConfigError} for syntax errors and alias bombs. */
export function parseYaml(file: string, text: string): unknown {
  const shown = displayPath(file);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${shown}: not valid YAML: ${e.message.split("\n")[0]}`));
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (e instanceof ReferenceError || /alias/i.test(String((e as Error)?.message))) {
      throw new ConfigError([
        `${shown}: its YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} alias references): write the values out instead of nesting aliases`,
      ]);
    }
    throw e;
  }
}

/** `file` relative to the working directory when it is below it, for messages. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), "");
}

/** A value as JSON for "(got …)", summed up when long (46 tags, a 300-character string) so the line stays readable. */
function shownValue(value: unknown): string {
  const json = JSON.stringify(value);
  if (json.length <= MAX_SHOWN_VALUE) return json;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value !== null && typeof value === "object") return `${Object.keys(value).length} entries`;
  return `${json.slice(0, 40)}… (${[...String(value)].length} characters)`;
}

/**
 * One line per schema issue: the file, the field, what is valid and the value it got. An unknown
 * field points at `reference`, the page that lists the valid ones.
 */
export function schemaErrors(shown: string, data: unknown, issues: readonly z.core.$ZodIssue[], reference = "docs/configuration.md"): string[] {
  return issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const where = fieldName(issue.path);
      return `${shown}: ${issue.keys.map((k) => (where ? `${where}.${k}` : k)).join(", ")}: unknown field${issue.keys.length > 1 ? "s" : ""}; check the spelling against the configuration reference in ${reference}`;
    }
    const value = valueAt(data, issue.path);
    const got = value === undefined ? "missing" : `got ${shownValue(value)}`;
    return `${shown}: ${fieldName(issue.path) || "(file)"}: ${value === undefined && issue.code === "invalid_type" ? "is required" : issue.message} (${got})`;
  });
}

/** Validates already-parsed data; `file` is only used in messages. */
export function parseEnvironment(name: string, file: string, data: unknown): EnvironmentConfig {
  const shown = displayPath(file);
  if (!ENV_NAME.test(name)) {
    throw new ConfigError([
      `${shown}: environment name '${name}' must be 1-16 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    ]);
  }
  const result = environmentSchema.safeParse(data ?? {});
  if (!result.success) throw new ConfigError(schemaErrors(shown, data, result.error.issues));
  const env = result.data;
  return {
    ...env,
    name,
    file: shown,
    customMinimumHealthyHosts: env.deployment.minimumHealthyHosts.map(parseMinimumHealthy),
  };
}

/** `"75%"` → fleet percent 75; `2` or `"2"` → host count 2 (the schema already checked the form). */
export function parseMinimumHealthy(value: string | number): MinimumHealthyHosts {
  const s = String(value);
  return s.endsWith("%") ? { type: "FLEET_PERCENT", value: Number(s.slice(0, -1)) } : { type: "HOST_COUNT", value: Number(s) };
}

/** Loads config/<name>.yaml (or from `dir`). Throws {@link ConfigError} naming what is wrong. */
export function loadEnvironment(name: string, dir = configDir()): EnvironmentConfig {
  // A name, not a path: `--env ../config/dev` must not read a file by another name.
  if (!ENV_NAME.test(name)) {
    const known = listEnvironments(dir);
    throw new ConfigError([
      `unknown environment '${name}': an environment name is 1-16 lowercase letters, digits and hyphens (a file in ${displayPath(dir)}/ without .yaml); valid environments: ${known.length ? known.join(", ") : "(none)"}`,
    ]);
  }
  const file = fileOf(name, dir);
  if (!file) {
    const known = listEnvironments(dir);
    throw new ConfigError([
      `unknown environment '${name}': no ${displayPath(join(dir, name))}.yaml; valid environments: ${known.length ? known.join(", ") : "(none: add a file to " + displayPath(dir) + ")"}`,
    ]);
  }
  return parseEnvironment(name, file, parseYaml(file, readText(file)));
}

/** An environment whose file could not be loaded, and why. */
export interface BrokenEnvironment {
  readonly name: string;
  readonly errors: readonly string[];
}

/**
 * Loads every environment in `dir`. A broken file (or two files of one environment) does not
 * stop the others: it is returned in `broken`, with its errors.
 */
export function loadEnvironments(dir = configDir()): { loaded: EnvironmentConfig[]; broken: BrokenEnvironment[] } {
  const loaded: EnvironmentConfig[] = [];
  const broken: BrokenEnvironment[] = [];
  for (const name of listEnvironments(dir)) {
    try {
      loaded.push(loadEnvironment(name, dir));
    } catch (e) {
      if (e instanceof ConfigError) broken.push({ name, errors: e.errors });
      else throw e;
    }
  }
  return { loaded, broken };
}

/** Loads every environment; throws one {@link ConfigError} with the errors of every broken file. */
export function loadAllEnvironments(dir = configDir()): EnvironmentConfig[] {
  const { loaded, broken } = loadEnvironments(dir);
  if (broken.length) throw new ConfigError(broken.flatMap((b) => b.errors));
  return loaded;
}
