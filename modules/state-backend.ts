import { S3Backend, type TerraformStack } from "cdktf";
import type { StateBackendConfig } from "../config/schema";

/** Where an S3-backed stack keeps its state: `<keyPrefix>/<env>/<stack>.tfstate`. */
export function stateKey(keyPrefix: string, environment: string, stackName: string): string {
  return `${keyPrefix}/${environment}/${stackName}.tfstate`;
}

/**
 * Points a stack's state at the environment's backend. `s3`: the team's bucket, encrypted,
 * one key per environment and stack, locked with S3's native lock file (`use_lockfile`,
 * Terraform >= 1.10; cdktf 0.21 has no prop for it, hence the override) or, for older
 * Terraform, a DynamoDB table. `local`: cdktf's default local state, for one person.
 */
export function configureStateBackend(
  stack: TerraformStack,
  backend: StateBackendConfig,
  opts: { environment: string; stackName: string; defaultRegion: string },
): void {
  if (backend.type === "local") return;
  new S3Backend(stack, {
    bucket: backend.bucket,
    key: stateKey(backend.keyPrefix, opts.environment, opts.stackName),
    region: backend.region ?? opts.defaultRegion,
    encrypt: true,
    dynamodbTable: backend.dynamodbTable,
  });
  if (backend.dynamodbTable === undefined) {
    useLockfile(stack);
  }
}

/** The oldest Terraform that takes `use_lockfile` in an S3 backend. */
export const LOCKFILE_TERRAFORM = "1.10.0";

/**
 * S3's own lock file for a stack's S3 backend, and the Terraform version it needs: an older
 * Terraform then says which version it needs, instead of failing on an unknown backend setting.
 * Call it after any other `required_version` of the stack (an override: the last one wins).
 */
export function useLockfile(stack: TerraformStack): void {
  stack.addOverride("terraform.backend.s3.use_lockfile", true);
  stack.addOverride("terraform.required_version", `>= ${LOCKFILE_TERRAFORM}`);
}
