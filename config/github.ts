/**
 * Loads and validates config/github/ci.yaml: which GitHub repository may assume webfleet's AWS
 * roles, from which branch and for which environments. Like the environment files, every
 * problem is reported at once, each naming the file, the field, the value and what is valid.
 *
 * It lives in a folder of its own because every top-level file in config/ is an environment.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, configDir, displayPath, parseYaml, readText, schemaErrors, type EnvironmentConfig } from "./load";
import { awsRegion, stateBackend, userTags } from "./schema";
import { CI_STACK, resourcePrefix, stackName } from "../modules/names";
import { workloadBoundaryArn } from "../modules/ci-policies";

/** Where the CI configuration lives, below the config folder. */
export const CI_CONFIG_PATHS = ["github/ci.yaml", "github/ci.yml"] as const;

/** GitHub user and organization names: letters, digits, inner hyphens, at most 39. */
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/;
const REPOSITORY_NAME = /^[A-Za-z0-9._-]{1,100}$/;
/** Branch names as git allows them, minus anything IAM or a shell would read as a pattern. */
const BRANCH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const ACCOUNT_ID = /^\d{12}$/;
const OIDC_PROVIDER_ARN = /^arn:aws:iam::(\d{12}):oidc-provider\/token\.actions\.githubusercontent\.com$/;
const POLICY_ARN = /^arn:aws:iam::(\d{12}|aws):policy\/[\w+=,.@/-]{1,512}$/;

/**
 * IAM attaches at most 10 managed policies to a role (its default quota): the plan role gets
 * one per environment, plus one for the CI stack's own state.
 */
export const MAX_CI_ENVIRONMENTS = 9;

const repository = z.string().refine(
  (v) => {
    const [owner, name, ...rest] = v.split("/");
    return rest.length === 0 && OWNER.test(owner ?? "") && REPOSITORY_NAME.test(name ?? "") && name !== "." && name !== "..";
  },
  { error: "must be one GitHub repository as owner/name, such as example-org/webfleet (no wildcards: the roles trust exactly this repository)" },
);

/**
 * One environment CI knows. Its jobs run in the GitHub environment of the same name (the
 * workflows pass the environment's name as the job's `environment:`), so that is the name its
 * roles trust.
 */
const ciEnvironment = z.strictObject(
  {
    /**
     * Which roles the environment gets besides being planned (the plan role reads every
     * environment listed here); `[]` for planning only. @default - both
     */
    roles: z.array(z.enum(["release", "deploy"], { error: "must be release or deploy" })).default(["release", "deploy"]),
  },
  { error: "must be {} or { roles: [release, deploy] }" },
);

export const ciSchema = z
  .strictObject({
    /** The AWS account the roles live in; the stack refuses to deploy anywhere else. */
    accountId: z
      .string({ error: 'must be a 12-digit AWS account id in quotes, such as "123456789012" (unquoted, YAML drops leading zeros)' })
      .regex(ACCOUNT_ID, {
        error: 'must be a 12-digit AWS account id in quotes, such as "123456789012"',
      }),
    /** Region of the stack's provider (IAM itself is global) and of the workflows' STS calls. */
    region: awsRegion,
    /** The one repository whose workflows may assume the roles. */
    repository,
    /**
     * The numeric ids of the owner and the repository, for GitHub's immutable subject claims
     * (`repo:owner@<id>/name@<id>:…`): repositories created from 15 July 2026 on, and older ones
     * that opted in. @default - the name-only claim
     */
    immutableIds: z
      .strictObject(
        {
          owner: z
            .number({ error: "must be the owner's numeric id" })
            .int({ error: "must be the owner's numeric id" })
            .positive({ error: "must be the owner's numeric id" }),
          repository: z
            .number({ error: "must be the repository's numeric id" })
            .int({ error: "must be the repository's numeric id" })
            .positive({ error: "must be the repository's numeric id" }),
        },
        { error: "must be { owner: <numeric id>, repository: <numeric id> }" },
      )
      .optional(),
    /** The branch whose pushes may plan (the plan role's only trusted ref). */
    defaultBranch: z.string().regex(BRANCH, { error: "must be a branch name such as main (no wildcards)" }).default("main"),
    /** An existing GitHub OIDC provider of the account (there is at most one per URL). @default - the stack creates it */
    oidcProviderArn: z
      .string()
      .regex(OIDC_PROVIDER_ARN, { error: "must be arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com" })
      .optional(),
    /** A managed policy set as the permissions boundary of every CI role. @default - none */
    permissionsBoundaryArn: z
      .string()
      .regex(POLICY_ARN, { error: "must be an IAM policy ARN such as arn:aws:iam::123456789012:policy/ci-boundary" })
      .optional(),
    /** The environments CI may release to and deploy, by name (config/<name>.yaml). */
    environments: z
      .record(z.string(), ciEnvironment, { error: "must map environment names to their settings, such as { dev: {}, prod: {} }" })
      .refine((e) => Object.keys(e).length <= MAX_CI_ENVIRONMENTS, {
        error: `at most ${MAX_CI_ENVIRONMENTS} environments: the plan role takes one managed policy per environment, and a role holds 10`,
      })
      .default({}),
    stateBackend: stateBackend.prefault({ type: "local" }),
    /** Extra tags on the roles, policies and provider. */
    tags: userTags.default({}),
  })
  .superRefine(
    (ci, ctx) => {
      const arn = typeof ci.oidcProviderArn === "string" ? OIDC_PROVIDER_ARN.exec(ci.oidcProviderArn) : null;
      if (arn && typeof ci.accountId === "string" && arn[1] !== ci.accountId) {
        ctx.addIssue({
          code: "custom",
          path: ["oidcProviderArn"],
          message: `is in account ${arn[1]}, not accountId ${ci.accountId}; a role trusts a provider of its own account`,
        });
      }
    },
    { when: () => true },
  );

export type CiFile = z.output<typeof ciSchema>;

export interface CiConfig extends CiFile {
  /** The file it was loaded from, for messages. */
  readonly file: string;
}

/** The CI configuration's file in `dir`, if there is one; a {@link ConfigError} when there are two. */
export function ciConfigFile(dir = configDir()): string | undefined {
  const files = CI_CONFIG_PATHS.map((p) => join(dir, p)).filter((f) => existsSync(f));
  if (files.length > 1) {
    throw new ConfigError([`${files.map(displayPath).join(" and ")}: two CI configuration files; keep one (the other would be ignored without a word)`]);
  }
  return files[0];
}

/** Validates already-parsed data; `file` is only used in messages. */
export function parseCiConfig(file: string, data: unknown): CiConfig {
  const shown = displayPath(file);
  const result = ciSchema.safeParse(data ?? {});
  if (!result.success) throw new ConfigError(schemaErrors(shown, data, result.error.issues, "docs/ci.md"));
  return { ...result.data, file: shown };
}

/** config/github/ci.yaml, validated; undefined when the project has none (no CI stack then). */
export function loadCiConfig(dir = configDir()): CiConfig | undefined {
  const file = ciConfigFile(dir);
  if (!file) return undefined;
  return parseCiConfig(file, parseYaml(file, readText(file, "a CI configuration file")));
}

/**
 * The environment files the CI configuration names, each loaded and valid: the roles are scoped
 * by an environment's region, names and state bucket, so a missing or broken one stops the CI
 * stack (and only it). An environment named `ci` would take the CI stack's name. One with a deploy
 * role whose file names another permissions boundary than the CI stack's for it could never be
 * deployed by that role (it changes the environment's roles only with that boundary).
 */
export function ciEnvironments(ci: CiConfig, loaded: readonly EnvironmentConfig[], broken: readonly string[]): EnvironmentConfig[] {
  const errors: string[] = [];
  const clash = loaded.find((e) => stackName(e.name) === CI_STACK);
  if (clash) {
    errors.push(`${clash.file}: the environment name '${clash.name}' is the CI stack's (${CI_STACK}, from ${ci.file}); rename the environment file`);
  }
  const out: EnvironmentConfig[] = [];
  for (const name of Object.keys(ci.environments)) {
    const env = loaded.find((e) => e.name === name);
    // Roles are scoped by names `webfleet-<env>-*`: that must not also match another environment's.
    const overlapping = [...loaded.map((e) => e.name), ...broken].filter((other) => other.startsWith(`${name}-`));
    if (overlapping.length) {
      errors.push(
        `${ci.file}: environments.${name}: its roles reach names ${resourcePrefix(name)}-*, which also match environment ${overlapping.join(", ")}; rename one of them`,
      );
    }
    const boundary = workloadBoundaryArn(ci.accountId, name);
    if (env && ci.environments[name].roles.includes("deploy") && env.permissionsBoundaryArn !== undefined && env.permissionsBoundaryArn !== boundary) {
      errors.push(
        `${env.file}: permissionsBoundaryArn: ${env.permissionsBoundaryArn} is not the boundary the CI stack makes for ${name}; ` +
          `its deploy role (${ci.file}) creates and changes the environment's roles only with ${boundary}: set that`,
      );
    }
    if (env) out.push(env);
    else if (broken.includes(name)) {
      errors.push(
        `${ci.file}: environments.${name}: its environment file is broken (see its errors); the roles are scoped by its region and state, so fix it first`,
      );
    } else {
      const valid = loaded.map((e) => e.name);
      errors.push(`${ci.file}: environments.${name}: no environment file config/${name}.yaml; valid: ${valid.length ? valid.join(", ") : "(none)"}`);
    }
  }
  if (errors.length) throw new ConfigError(errors);
  return out;
}

/**
 * The stacks the plan role may plan: the listed environments', and the CI stack's own when its
 * state is shared. The ci workflow's plan job asks for this list.
 */
export function ciPlannedStacks(ci: CiFile): string[] {
  return [...Object.keys(ci.environments).map(stackName), ...(ci.stateBackend.type === "s3" ? [CI_STACK] : [])];
}
