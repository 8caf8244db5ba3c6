/** Programs a command needs, with the oldest version that works and how to get it. */
import semver from "semver";
import { CliError } from "./errors";
import { formatCommand, type Runner } from "./runner";

export interface ToolRequirement {
  readonly program: string;
  /** Arguments that print the version: `["version"]` for `packer version`. */
  readonly versionArgs: readonly string[];
  /** The oldest version that works, `major.minor.patch`. */
  readonly minimumVersion: string;
  /** What the user should do, completing "packer not found on PATH: ...". */
  readonly install: string;
  /** Why the minimum, for the too-old message ("required_plugins and imds_support"). */
  readonly why?: string;
}

export interface FoundTool {
  readonly path: string;
  readonly version: string;
}

/** The first version in a tool's output (`Terraform v1.11.4`, `packer 1.6.6`), as `x.y.z`. */
export function parseToolVersion(output: string): string | undefined {
  return semver.coerce(output)?.version;
}

/** Finds `req.program` on PATH and checks its version; a {@link CliError} (exit 2) that says what to do otherwise. */
export async function requireTool(runner: Runner, req: ToolRequirement): Promise<FoundTool> {
  const path = await runner.which(req.program);
  if (!path) throw new CliError(`${req.program} not found on PATH: ${req.install}`);
  const shown = formatCommand(req.program, req.versionArgs);
  const result = await runner.run(path, req.versionArgs);
  const version = result.exitCode === 0 ? parseToolVersion(result.stdout + "\n" + result.stderr) : undefined;
  if (!version) {
    const output = (result.stdout + result.stderr).trim().split("\n")[0] ?? "";
    throw new CliError(
      `could not read the version of ${req.program} (${path}) from \`${shown}\` (exit ${result.exitCode}${output ? `: ${output}` : ""}): ${req.install}`,
    );
  }
  if (semver.lt(version, req.minimumVersion)) {
    throw new CliError(`${req.program} ${version} (${path}) is too old${req.why ? `: ${req.why}` : ""}; ${req.install}`);
  }
  return { path, version };
}
