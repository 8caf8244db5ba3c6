/**
 * What an EC2/On-Premises AppSpec is: the lifecycle events, the agent's limits and the typed
 * shape the validator returns. Shared by the validator, the local run and the release estimate.
 */
import { FILE_EXISTS_BEHAVIORS, type FileExistsBehavior } from "../../../../modules/names";

/**
 * The lifecycle events that run hook scripts, in the order CodeDeploy runs them in an in-place
 * deployment whose deployment group has a load balancer (traffic control). Without a load
 * balancer the four *Traffic events are skipped. BeforeBlockTraffic, AfterBlockTraffic and
 * ApplicationStop run the scripts of the previous successful revision.
 */
export const SCRIPT_LIFECYCLE_EVENTS = [
  "BeforeBlockTraffic",
  "AfterBlockTraffic",
  "ApplicationStop",
  "BeforeInstall",
  "AfterInstall",
  "ApplicationStart",
  "ValidateService",
  "BeforeAllowTraffic",
  "AfterAllowTraffic",
] as const;
export type ScriptLifecycleEvent = (typeof SCRIPT_LIFECYCLE_EVENTS)[number];

/** Events that exist but are reserved for the agent: a hook on them is never run. */
export const AGENT_RESERVED_EVENTS = ["Start", "DownloadBundle", "Install", "BlockTraffic", "AllowTraffic", "End"] as const;

/** Events whose scripts come from the previous successful revision (none on a first deployment). */
export const PREVIOUS_REVISION_EVENTS: readonly ScriptLifecycleEvent[] = ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop"];

export { FILE_EXISTS_BEHAVIORS, type FileExistsBehavior };

/**
 * The user guide's limit for all scripts of one event together, so for one script too. The agent
 * itself does not enforce it: each script has its own timeout. Only written timeouts count.
 */
export const MAX_EVENT_SECONDS = 3600;
/** The agent's timeout for a script that names none. */
export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 3600;

/**
 * The AppSpec file of an EC2/On-Premises revision. The CodeDeploy user guide: it "must be named
 * appspec.yml, unless you are performing a local deployment"; the agent's hook executor reads
 * exactly that name (an appspec.yaml fails the deployment at its first hook).
 */
export const APPSPEC_FILE_NAME = "appspec.yml";
/** A name the agent does not read in a deployment from CodeDeploy (only codedeploy-local does). */
export const LOCAL_ONLY_APPSPEC_NAME = "appspec.yaml";

/**
 * Apache's document root on webfleet's instances: the AMI's httpd serves it (WEB_ROOT in
 * packer/scripts/install-web.sh), so whatever a files entry installs below it is anyone's to read.
 */
export const INSTANCE_WEB_ROOT = "/var/www/html";

export interface AppSpecFile {
  readonly source: string;
  readonly destination: string;
}

export interface AppSpecHookScript {
  /** Path of the script inside the revision, relative to its root. */
  readonly location: string;
  /** Seconds; the agent's default is 3600. */
  readonly timeout?: number;
  /** User the agent runs the script as; default: the agent's user (root). */
  readonly runas?: string;
  /** The agent runs it with sudo (not in the user guide; linux_util.rb reads it). */
  readonly sudo?: boolean;
}

export interface AppSpecPermission {
  readonly object: string;
  readonly pattern?: string;
  readonly except?: readonly string[];
  readonly owner?: string;
  readonly group?: string;
  /** Octal digits as written, e.g. "644" or "4755". */
  readonly mode?: string;
  readonly acls?: readonly string[];
  /** SELinux label; the agent reads the user from `name` and needs `range`. */
  readonly context?: { readonly name?: string; readonly type: string; readonly range: string };
  readonly type?: readonly ("file" | "directory")[];
}

export interface AppSpec {
  readonly version: number;
  readonly os: "linux";
  readonly files: readonly AppSpecFile[];
  readonly permissions: readonly AppSpecPermission[];
  readonly hooks: Partial<Record<ScriptLifecycleEvent, readonly AppSpecHookScript[]>>;
  /**
   * Top-level `file_exists_behavior`; CodeDeploy's default is DISALLOW. It takes precedence over
   * CreateDeployment's fileExistsBehavior (AppSpec 'files' section, file_exists_behavior).
   */
  readonly fileExistsBehavior?: FileExistsBehavior;
  /** The line of `file_exists_behavior`, when it is set. */
  readonly fileExistsBehaviorLine?: number;
}
