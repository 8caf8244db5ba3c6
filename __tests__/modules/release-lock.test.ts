/**
 * The shape of the plan-time lock check. Its behaviour (a plan and a destroy refused while
 * someone else holds the lock, the holder passing) is checked with the real terraform in
 * terraform.test.ts and release-states.test.ts.
 */
import { RELEASE_LOCK_DATA, ReleaseLockCheck } from "../../modules/release-lock";
import { LOCK_ID_VARIABLE, releaseParameters } from "../../modules/names";
import { doc, synthConstruct } from "../helpers/stack";

const json = () =>
  doc(synthConstruct((scope) => new ReleaseLockCheck(scope, "lock", { environment: "test" }))) as ReturnType<typeof doc> & {
    variable: Record<string, { sensitive?: boolean; default?: string; validation: Array<{ condition: string; error_message: string }> }>;
    locals: Record<string, string>;
  };

describe("ReleaseLockCheck", () => {
  it("reads the lock's folder with a read that returns nothing, instead of failing, when nobody holds it", () => {
    expect(json().data?.aws_ssm_parameters_by_path?.[RELEASE_LOCK_DATA]).toMatchObject({ path: releaseParameters("test").lockFolder, with_decryption: false });
    expect(releaseParameters("test").lockFolder).toBe("/webfleet/test/lock/");
  });

  it("refuses through the validation of the lock id variable, which a destroy cannot turn into a warning", () => {
    const variable = json().variable[LOCK_ID_VARIABLE];
    expect(variable).toMatchObject({ type: "string", default: "", sensitive: true });
    expect(variable.validation).toEqual([
      {
        condition: `\${local.release_lock_holder == null || (var.${LOCK_ID_VARIABLE} != "" && local.release_lock_holder_id_sha256 == sha256(var.${LOCK_ID_VARIABLE}))}`,
        error_message: expect.stringMatching(/^webfleet-test is locked by \$\{try\(local\.release_lock_holder\.user, "someone"\)\}@/),
      },
    ]);
  });

  it("knows the holder only from /webfleet/<env>/lock/holder, and compares lock ids by hash so a refusal does not print the holder's", () => {
    const { locals } = json();
    expect(locals.release_lock_holder).toContain('contains(data.aws_ssm_parameters_by_path.release_lock.names, "/webfleet/test/lock/holder")');
    expect(locals.release_lock_holder).toContain("nonsensitive(");
    expect(locals.release_lock_holder_id_sha256).toBe('${try(sha256(tostring(local.release_lock_holder.id)), "")}');
  });
});
