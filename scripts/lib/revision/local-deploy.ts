/**
 * A local stand-in for what the CodeDeploy agent does on an instance, for `revision:check`:
 * copy the revision (DownloadBundle), install its files as the AppSpec says (Install), and run
 * its hook scripts in lifecycle order with the agent's environment variables.
 *
 * The instance's file system is a folder (`instanceRoot`): `/var/www/html` becomes
 * `<instanceRoot>/var/www/html`. Scripts learn the local paths from WEB_ROOT, WEB_OWNER and
 * APP_URL, which they default to the real ones on an instance.
 */
import { randomUUID, randomBytes } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import type { Shell } from "zx";
import type { Defer } from "../cli/interrupts";
import {
  DEFAULT_SCRIPT_TIMEOUT_SECONDS,
  PREVIOUS_REVISION_EVENTS,
  SCRIPT_LIFECYCLE_EVENTS,
  type AppSpec,
  type AppSpecHookScript,
  type ScriptLifecycleEvent,
} from "./appspec";

/** The agent keeps about this much of a script's output for the deployment's error. */
export const OUTPUT_TAIL_CHARS = 2048;

/** The five variables the agent gives every hook script (AppSpec 'hooks' section). */
export interface CodeDeployEnv {
  readonly APPLICATION_NAME: string;
  readonly DEPLOYMENT_ID: string;
  readonly DEPLOYMENT_GROUP_NAME: string;
  readonly DEPLOYMENT_GROUP_ID: string;
}

/** `d-` and nine capitals or digits, like CodeDeploy's own deployment ids. */
export function localDeploymentId(): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return "d-" + [...randomBytes(9)].map((b) => chars[b % chars.length]).join("");
}

export function localDeploymentEnv(applicationName = "webfleet-local", deploymentGroupName = "local"): CodeDeployEnv {
  return {
    APPLICATION_NAME: applicationName,
    DEPLOYMENT_ID: localDeploymentId(),
    DEPLOYMENT_GROUP_NAME: deploymentGroupName,
    DEPLOYMENT_GROUP_ID: randomUUID(),
  };
}

/** Where an instance path lives locally: `/var/www/html` → `<instanceRoot>/var/www/html`. */
export function localPath(instanceRoot: string, instancePath: string): string {
  return join(instanceRoot, instancePath);
}

export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstallError";
  }
}

/** What one Install put on the "instance": files and the folders it had to create. */
export interface Installed {
  readonly files: readonly string[];
  readonly createdDirs: readonly string[];
}

/**
 * The Install event: copies each `files` entry from the bundle into the instance folder. A
 * folder source copies its contents into the destination; a file source goes into the
 * destination folder. A file that is already there and not from the previous deployment
 * follows `file_exists_behavior` (DISALLOW fails, OVERWRITE replaces, RETAIN keeps).
 */
export function installFiles(spec: AppSpec, bundleDir: string, instanceRoot: string): Installed {
  const files: string[] = [];
  const createdDirs: string[] = [];
  const behavior = spec.fileExistsBehavior ?? "DISALLOW";
  const ensureDir = (dir: string) => {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      mkdirSync(d);
      createdDirs.push(d);
    }
  };
  const copyFile = (from: string, to: string) => {
    if (existsSync(to)) {
      const shown = "/" + relative(instanceRoot, to);
      if (behavior === "DISALLOW") {
        throw new InstallError(
          `Install failed: ${shown} already exists and was not installed by the previous deployment (file_exists_behavior DISALLOW): remove it from the instance, or set file_exists_behavior: OVERWRITE or RETAIN`,
        );
      }
      if (behavior === "RETAIN") return;
      rmSync(to, { force: true });
    }
    ensureDir(dirname(to));
    cpSync(from, to, { preserveTimestamps: true });
    files.push(to);
  };
  const copyTree = (from: string, to: string) => {
    ensureDir(to);
    for (const name of readdirSync(from)) {
      const src = join(from, name);
      if (lstatSync(src).isDirectory()) copyTree(src, join(to, name));
      else copyFile(src, join(to, name));
    }
  };
  for (const f of spec.files) {
    const src = f.source === "/" ? bundleDir : join(bundleDir, f.source.replace(/^\/+/, ""));
    const dest = localPath(instanceRoot, f.destination);
    if (statSync(src).isDirectory()) copyTree(src, dest);
    else copyFile(src, join(dest, basename(src)));
  }
  return { files, createdDirs };
}

/** Undoes an Install the way the agent cleans up the previous deployment before the next one. */
export function uninstallFiles(installed: Installed): void {
  for (const f of installed.files) rmSync(f, { force: true });
  for (const d of [...installed.createdDirs].reverse()) {
    if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
  }
}

export interface HookRun {
  /** The deployment that ran it. */
  readonly deployment: string;
  /** The deployment whose bundle the script came from (the previous one for ApplicationStop and *BlockTraffic). */
  readonly scriptFrom: string;
  readonly event: ScriptLifecycleEvent;
  readonly location: string;
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** The timeout it ran with (the AppSpec's, or the agent's default 3600). */
  readonly timeoutSeconds: number;
  readonly durationMs: number;
  /** The last {@link OUTPUT_TAIL_CHARS} characters of stdout and stderr, interleaved. */
  readonly outputTail: string;
  /** When the AppSpec asks for a user other than the one running the check. */
  readonly runasNote?: string;
}

export interface RunHookOptions {
  readonly bundleDir: string;
  readonly event: ScriptLifecycleEvent;
  readonly script: AppSpecHookScript;
  readonly deploymentEnv: CodeDeployEnv;
  /** Extra variables: WEB_ROOT, WEB_OWNER, APP_URL. */
  readonly env: Readonly<Record<string, string>>;
  readonly currentUser: string;
  /** The deployment whose bundle `bundleDir` is. @default - this deployment */
  readonly scriptFrom?: string;
  /** Overrides the script's timeout (tests). */
  readonly timeoutSeconds?: number;
  /** Registers the running script with the interrupt handler: Ctrl-C kills its process group. */
  readonly defer?: Defer;
}

/** npm's and node's variables: ours, not something an agent on an instance would have. */
const NOT_PASSED = /^(npm_|NODE_|INIT_CWD$|JEST_WORKER_ID$)/;

/** Runs one hook script as the agent does: the bundle's file, its timeout, the agent's variables. */
export async function runHookScript($: Shell, o: RunHookOptions): Promise<HookRun> {
  const path = join(o.bundleDir, o.script.location);
  const timeout = o.timeoutSeconds ?? o.script.timeout ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS;
  // The agent gives a script its own environment plus the five CodeDeploy variables; here the
  // check is the agent.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !NOT_PASSED.test(k)) env[k] = v;
  Object.assign(env, o.env, o.deploymentEnv, { LIFECYCLE_EVENT: o.event });
  const started = Date.now();
  // Like the agent: cwd is not the bundle folder, and the script gets its own process group,
  // which is what the timeout kills.
  const child = $({ cwd: "/", env, nothrow: true, quiet: true, detached: true, timeout: `${timeout}s`, timeoutSignal: "SIGTERM" })`${path}`;
  // Detached, so a Ctrl-C at the terminal does not reach it: the interrupt handler kills it.
  const running = o.defer?.(() => child.kill("SIGTERM").catch(() => undefined));
  const out = await child;
  running?.drop(); // it has ended: nothing to kill
  const durationMs = Date.now() - started;
  // zx kills the script (and its children) at the timeout; a script that traps the signal still counts.
  const timedOut = out.exitCode !== 0 && durationMs >= timeout * 1000 - 50;
  const runasNote =
    o.script.runas && o.script.runas !== o.currentUser ? `runas ${o.script.runas}: ran as ${o.currentUser} locally (the agent would switch user)` : undefined;
  return {
    deployment: o.deploymentEnv.DEPLOYMENT_ID,
    scriptFrom: o.scriptFrom ?? o.deploymentEnv.DEPLOYMENT_ID,
    event: o.event,
    location: o.script.location,
    ok: out.exitCode === 0,
    exitCode: out.exitCode,
    timedOut,
    timeoutSeconds: timeout,
    durationMs,
    outputTail: out.stdall.slice(-OUTPUT_TAIL_CHARS),
    ...(runasNote ? { runasNote } : {}),
  };
}

export function describeHookFailure(run: HookRun): string {
  const what = run.timedOut
    ? `did not finish within its timeout of ${run.timeoutSeconds} s and was stopped`
    : `failed with exit code ${run.exitCode ?? "none (killed)"}`;
  const tail = run.outputTail.trimEnd();
  return `hook ${run.event} (${run.location}) ${what}${tail ? `; output (last ${OUTPUT_TAIL_CHARS} characters):\n${tail.replace(/^/gm, "  | ")}` : "; no output"}`;
}

/** One deployment of a revision to the local "instance". */
export interface LocalDeployment {
  readonly deploymentEnv: CodeDeployEnv;
  /** This deployment's copy of the revision (the agent's deployment-archive). */
  readonly bundleDir: string;
  readonly spec: AppSpec;
  readonly installed: Installed;
}

export interface DeployOptions {
  readonly revisionDir: string;
  readonly spec: AppSpec;
  /** Folder for this deployment's bundle (created). */
  readonly deploymentDir: string;
  readonly instanceRoot: string;
  readonly deploymentEnv: CodeDeployEnv;
  readonly env: Readonly<Record<string, string>>;
  readonly currentUser: string;
  /** The last successful deployment on this instance: its scripts run for the events before Install. */
  readonly previous?: LocalDeployment;
  readonly log: (line: string) => void;
  /** Passed on to each hook run (see {@link RunHookOptions.defer}). */
  readonly defer?: Defer;
}

export interface DeployResult {
  readonly ok: boolean;
  readonly hooks: readonly HookRun[];
  readonly deployment?: LocalDeployment;
  /** What failed and why, for the user. */
  readonly failure?: string;
}

/**
 * Runs one in-place deployment with traffic control in lifecycle order. Events before Install
 * run the previous deployment's scripts (none on a new instance); the agent's own events
 * (DownloadBundle, Install, BlockTraffic, AllowTraffic) are done here or, for traffic, logged.
 * Stops at the first failing script, like the agent.
 */
export async function deployLocally($: Shell, o: DeployOptions): Promise<DeployResult> {
  const hooks: HookRun[] = [];
  const id = o.deploymentEnv.DEPLOYMENT_ID;
  const bundleDir = join(o.deploymentDir, "deployment-archive");
  let installed: Installed | undefined;
  const agentStep = (event: string, what: string) => o.log(`  ${event.padEnd(18)} ${what}`);

  for (const event of SCRIPT_LIFECYCLE_EVENTS) {
    if (event === "AfterBlockTraffic") agentStep("BlockTraffic", "(agent) no load balancer locally: nothing to deregister");
    if (event === "BeforeInstall") {
      mkdirSync(o.deploymentDir, { recursive: true });
      cpSync(o.revisionDir, bundleDir, { recursive: true, preserveTimestamps: true });
      agentStep("DownloadBundle", `(agent) copied ${o.revisionDir} to ${bundleDir}`);
    }
    if (event === "AfterInstall") {
      try {
        if (o.previous) uninstallFiles(o.previous.installed);
        installed = installFiles(o.spec, bundleDir, o.instanceRoot);
      } catch (e) {
        if (!(e instanceof InstallError)) throw e;
        return { ok: false, hooks, failure: e.message };
      }
      agentStep(
        "Install",
        `(agent) installed ${installed.files.length} file${installed.files.length === 1 ? "" : "s"}: ${o.spec.files.map((f) => `${f.source} → ${f.destination}`).join(", ") || "no files section"}`,
      );
    }
    if (event === "AfterAllowTraffic") agentStep("AllowTraffic", "(agent) no load balancer locally: nothing to register");

    const fromPrevious = PREVIOUS_REVISION_EVENTS.includes(event);
    const source = fromPrevious ? o.previous : { spec: o.spec, bundleDir, deploymentEnv: o.deploymentEnv };
    const scripts = source?.spec.hooks[event] ?? [];
    if (fromPrevious && !o.previous) {
      if ((o.spec.hooks[event] ?? []).length) agentStep(event, "skipped: a new instance has no previous revision to run it from");
      continue;
    }
    if (!scripts.length) continue;
    for (const script of scripts) {
      const run = await runHookScript($, {
        defer: o.defer,
        bundleDir: source!.bundleDir,
        scriptFrom: source!.deploymentEnv.DEPLOYMENT_ID,
        event,
        script,
        deploymentEnv: o.deploymentEnv,
        env: o.env,
        currentUser: o.currentUser,
      });
      hooks.push(run);
      agentStep(event, `${script.location} ${run.ok ? "ok" : "FAILED"} (${run.durationMs} ms)${run.runasNote ? `; ${run.runasNote}` : ""}`);
      if (!run.ok) return { ok: false, hooks, failure: `deployment ${id}: ${describeHookFailure(run)}` };
    }
  }
  return { ok: true, hooks, deployment: { deploymentEnv: o.deploymentEnv, bundleDir, spec: o.spec, installed: installed ?? { files: [], createdDirs: [] } } };
}
