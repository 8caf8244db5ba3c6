/** The top level of the AppSpec: its keys, `version`, `os` and `file_exists_behavior`. */
import { isScalar } from "yaml";
import { FILE_EXISTS_BEHAVIORS, type FileExistsBehavior } from "./contract";
import { type Checker, type Entry, isNothing, jsOf, listOf, stringOf, typeName } from "./yaml";

export const TOP_LEVEL_KEYS = ["version", "os", "files", "permissions", "hooks", "file_exists_behavior"];
/** Lambda and ECS AppSpecs only. */
export const NOT_FOR_EC2_KEYS: Record<string, string> = {
  resources: "`resources` is for Lambda and ECS AppSpec files; an EC2/On-Premises AppSpec has files, permissions and hooks",
  Resources: "`Resources` is for Lambda and ECS AppSpec files; an EC2/On-Premises AppSpec has files, permissions and hooks",
  Hooks: "`Hooks` (capitalized) is the ECS form; an EC2/On-Premises AppSpec uses lowercase `hooks`",
};

export function checkVersion(c: Checker, e: Entry | undefined, rootLine: number): number | undefined {
  if (!e) {
    c.add(rootLine, "version", undefined, "is required: add `version: 0.0` (the only AppSpec version)");
    return undefined;
  }
  const v = e.value;
  if (isScalar(v) && typeof v.value === "number" && v.value === 0) return 0;
  if (isScalar(v) && typeof v.value === "string" && v.value.trim() === "0.0") {
    c.add(c.lineOf(v), "version", v.value, 'must be the number 0.0, unquoted (got the string "0.0"): the agent compares it with the number 0.0');
    return undefined;
  }
  c.add(c.lineOf(v, c.lineOf(e.keyNode)), "version", jsOf(v), `must be 0.0, the only AppSpec version (got ${typeName(v)})`);
  return undefined;
}

export function checkOs(c: Checker, e: Entry | undefined, rootLine: number): string | undefined {
  if (!e) {
    c.add(rootLine, "os", undefined, "is required: add `os: linux` (webfleet's instances run Amazon Linux)");
    return undefined;
  }
  const v = stringOf(e.value);
  if (v === "linux") return v;
  const hint =
    v === "windows"
      ? "CodeDeploy also knows windows, but webfleet's instances run Amazon Linux"
      : v?.toLowerCase() === "linux"
        ? "it is case-sensitive"
        : "the instances run Amazon Linux";
  c.add(c.lineOf(e.value, c.lineOf(e.keyNode)), "os", jsOf(e.value), `must be linux (got ${typeName(e.value)}): ${hint}`);
  return undefined;
}

/** Left empty (`file_exists_behavior:`), the agent reads nothing and uses the deployment's, as if it were left out. */
export function checkFileExistsBehavior(c: Checker, e: Entry | undefined): FileExistsBehavior | undefined {
  if (!e || isNothing(e.value)) return undefined;
  const v = stringOf(e.value);
  if (v !== undefined && (FILE_EXISTS_BEHAVIORS as readonly string[]).includes(v)) return v as FileExistsBehavior;
  c.add(
    c.lineOf(e.value, c.lineOf(e.keyNode)),
    "file_exists_behavior",
    jsOf(e.value),
    `must be one of ${listOf(FILE_EXISTS_BEHAVIORS)} (got ${typeName(e.value)}): the agent refuses anything else (application_specification.rb); leave it out for the default, DISALLOW`,
  );
  return undefined;
}
