import { Construct } from "constructs";
import { TerraformLocal, TerraformVariable } from "cdktf";
import { DataAwsSsmParametersByPath } from "@cdktf/provider-aws/lib/data-aws-ssm-parameters-by-path";
import { LOCK_ID_VARIABLE, releaseParameters, stackName } from "./names";

/** Address of the lock read in the Terraform JSON (tests mock it by this name). */
export const RELEASE_LOCK_DATA = "release_lock";

export interface ReleaseLockCheckProps {
  /** Environment name: the lock's mirror lives under /webfleet/<env>/lock/. */
  readonly environment: string;
}

/**
 * Refuses to plan (deploy or destroy) while someone holds the environment's release lock: an
 * instance refresh started in the middle of a CodeDeploy deployment mixes revisions, and a
 * destroy under a running release pulls its instances away.
 *
 * The release tooling mirrors the lock's holder to SSM `/webfleet/<env>/lock/holder`. Terraform
 * reads the folder with `aws_ssm_parameters_by_path`, which returns an empty list when nobody
 * holds the lock, so the read cannot fail on a free environment. The check is the validation of
 * the variable {@link LOCK_ID_VARIABLE}: unlike a postcondition, which Terraform turns into a
 * warning in the refresh before a destroy, a failed variable validation stops `destroy` too. The
 * lock's own holder passes with its lock id: `TF_VAR_release_lock_id=<id>`.
 *
 * Advisory: it sees the lock as it is at plan time; a lock taken between plan and apply is not
 * seen, and `-refresh=false` skips the read before a destroy.
 */
export class ReleaseLockCheck extends Construct {
  readonly lockIdVariable: TerraformVariable;

  constructor(scope: Construct, id: string, props: ReleaseLockCheckProps) {
    super(scope, id);
    const names = releaseParameters(props.environment);

    const lock = new DataAwsSsmParametersByPath(this, "lock", { path: names.lockFolder, withDecryption: false });
    lock.overrideLogicalId(RELEASE_LOCK_DATA);
    const read = `data.aws_ssm_parameters_by_path.${RELEASE_LOCK_DATA}`;

    // The holder's JSON ({ id, user, host, startedAt, ... }); {} when the value is not JSON, so a
    // damaged holder still locks (and is named as unreadable) instead of failing the read.
    const holder = new TerraformLocal(
      this,
      "holder",
      `\${contains(${read}.names, "${names.lockHolder}") ? try(jsondecode(nonsensitive(${read}.values[index(${read}.names, "${names.lockHolder}")])), {}) : null}`,
    );
    holder.overrideLogicalId("release_lock_holder");
    const h = "local.release_lock_holder";
    // Compared by hash: Terraform prints the values a failed condition refers to, and a refusal
    // in a CI log should not carry the lock's id (the token that passes the check).
    const holderId = new TerraformLocal(this, "holder-id", `\${try(sha256(tostring(${h}.id)), "")}`);
    holderId.overrideLogicalId("release_lock_holder_id_sha256");
    const tf = (expression: string) => "${" + expression + "}";
    const field = (key: string, fallback: string) => tf(`try(${h}.${key}, "${fallback}")`);

    this.lockIdVariable = new TerraformVariable(this, LOCK_ID_VARIABLE, {
      type: "string",
      default: "",
      sensitive: true,
      description: `The release lock's id, given only by the lock's own holder (a nightly rollout, a teardown) to deploy or destroy while it holds ${names.lockHolder}`,
      validation: [
        {
          condition: tf(`${h} == null || (var.${LOCK_ID_VARIABLE} != "" && local.release_lock_holder_id_sha256 == sha256(var.${LOCK_ID_VARIABLE}))`),
          errorMessage:
            `${stackName(props.environment)} is locked by ${field("user", "someone")}@${field("host", "an unknown host")} since ${field("startedAt", "an unknown time")}` +
            ` (${field("purpose", "release")}${tf(`try(" of deployment ${tf(`${h}.deploymentId`)}", "")`)}; ${names.lockHolder}): a deploy or destroy now could replace` +
            " or remove instances in the middle of their deployment. Wait for it to end and run again; the lock's own holder passes with" +
            ` TF_VAR_${LOCK_ID_VARIABLE}=<its lock id>.`,
        },
      ],
    });
    this.lockIdVariable.overrideLogicalId(LOCK_ID_VARIABLE);
  }
}
