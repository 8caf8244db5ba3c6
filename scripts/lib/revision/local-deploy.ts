/**
 * A local stand-in for what the CodeDeploy agent does on an instance, for `revision:check`:
 * copy the revision as the bundle holds it (DownloadBundle), install its files as the AppSpec
 * says (Install), and run its hook scripts in lifecycle order the way the agent's hook executor
 * does (hook_executor.rb): the agent's environment variables, stdin closed, the script in its
 * own process group, the timeout for the script and then for its output to close.
 *
 * The instance's file system is a folder (`instanceRoot`): `/var/www/html` becomes
 * `<instanceRoot>/var/www/html`. Scripts learn the local paths from WEB_ROOT, WEB_OWNER and
 * APP_URL, which they default to the real ones on an instance.
 */
import { randomUUID, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { basename, dirname, join, posix, relative } from "node:path";
import type { Readable } from "node:stream";
import type { Shell } from "zx";
import type { Defer } from "../cli/interrupts";
import { formatDuration } from "../cli/duration";
import { walkRevision } from "./tree";
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
  /** Each file copied: from (relative to the bundle) and to (the local instance path). */
  readonly copies: readonly { readonly from: string; readonly to: string }[];
}

/**
 * The Install event: copies each `files` entry from the bundle into the instance folder. A
 * folder source copies its contents into the destination; a file source goes into the
 * destination folder; a symlink inside the revision arrives as what it points to, as in the
 * bundle (./tree.ts). A file that is already there and not from the previous deployment
 * follows `file_exists_behavior` (DISALLOW fails, OVERWRITE replaces, RETAIN keeps).
 */
export function installFiles(spec: AppSpec, bundleDir: string, instanceRoot: string): Installed {
  const files: string[] = [];
  const createdDirs: string[] = [];
  const copies: { from: string; to: string }[] = [];
  const behavior = spec.fileExistsBehavior ?? "DISALLOW";
  const ensureDir = (dir: string) => {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      mkdirSync(d);
      createdDirs.push(d);
    }
  };
  const copyFile = (source: string, to: string) => {
    const from = join(bundleDir, source);
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
    // Like the agent's copy (FileUtils.copy, preserve: true): content, mode and times, links followed.
    copyFileSync(from, to);
    const st = statSync(from);
    chmodSync(to, st.mode & 0o7777);
    utimesSync(to, st.atime, st.mtime);
    files.push(to);
    copies.push({ from: source, to });
  };
  for (const f of spec.files) {
    const source = f.source === "/" ? "" : posix.normalize(f.source.replace(/^\/+/, "")).replace(/\/$/, "");
    const dest = localPath(instanceRoot, f.destination);
    if (statSync(join(bundleDir, source)).isDirectory()) {
      ensureDir(dest);
      for (const e of walkRevision(bundleDir, source).entries) {
        if (e.path === source) continue;
        const to = join(dest, source ? e.path.slice(source.length + 1) : e.path);
        if (e.type === "directory") ensureDir(to);
        else copyFile(e.path, to);
      }
    } else copyFile(source, join(dest, basename(source)));
  }
  return { files, createdDirs, copies };
}

/** Undoes an Install the way the agent cleans up the previous deployment before the next one. */
export function uninstallFiles(installed: Installed): void {
  for (const f of installed.files) rmSync(f, { force: true });
  for (const d of [...installed.createdDirs].reverse()) {
    if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
  }
}

/** How often a running hook says how long it has waited (a hook with no timeout may run an hour). */
export const HOOK_PROGRESS_SECONDS = 15;
/** After SIGTERM, how long a hook's process group gets before SIGKILL. */
const KILL_GRACE_MS = 3000;

export interface HookRun {
  /** The deployment that ran it. */
  readonly deployment: string;
  /** The deployment whose bundle the script came from (the previous one for ApplicationStop and *BlockTraffic). */
  readonly scriptFrom: string;
  readonly event: ScriptLifecycleEvent;
  readonly location: string;
  readonly ok: boolean;
  /** null when it was killed (timeout, Ctrl-C). */
  readonly exitCode: number | null;
  /** It was still running at its timeout, and was stopped. */
  readonly timedOut: boolean;
  /**
   * It exited, but something it started kept this stream open until the timeout: the agent
   * fails the script ("failed to close STDOUT") and leaves that process running.
   */
  readonly outputLeftOpen?: "stdout" | "stderr";
  /** The timeout it ran with (the AppSpec's, or the agent's default 3600). */
  readonly timeoutSeconds: number;
  readonly durationMs: number;
  /** The last {@link OUTPUT_TAIL_CHARS} characters of stdout and stderr, interleaved. */
  readonly outputTail: string;
  /** What the local run did in the agent's place, or could not do as the agent would. */
  readonly notes: readonly string[];
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
  /** Gets "<location> still running: waited ..." while the hook runs. @default - nothing is said */
  readonly progress?: (message: string) => void;
  /** @default HOOK_PROGRESS_SECONDS */
  readonly progressEverySeconds?: number;
}

/** npm's and node's variables: ours, not something an agent on an instance would have. */
const NOT_PASSED = /^(npm_|NODE_|INIT_CWD$|JEST_WORKER_ID$)/;

/** Whether `promise` settles within `ms` (at once when `ms` <= 0 and it has not). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

const closed = (stream: Readable | null | undefined): Promise<void> =>
  new Promise((resolve) => (!stream || stream.destroyed ? resolve() : stream.once("close", () => resolve())));

/**
 * Runs one hook script as the agent's hook executor does (hook_executor.rb): the bundle's file
 * (made executable if it is not), the agent's variables, stdin closed, its own process group.
 * One deadline, the timeout, covers the script and then its output: a script still running
 * then is stopped (its whole group: SIGTERM, like the agent); one that exited while something it
 * started still holds its stdout or stderr fails, as the agent fails it after waiting just as
 * long. The agent leaves that process running; here it is stopped, so the check leaves nothing.
 */
export async function runHookScript($: Shell, o: RunHookOptions): Promise<HookRun> {
  const path = join(o.bundleDir, o.script.location);
  const timeout = o.timeoutSeconds ?? o.script.timeout ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS;
  const notes: string[] = [];
  const mode = statSync(path).mode;
  if ((mode & 0o111) === 0) {
    chmodSync(path, mode | 0o111);
    notes.push("not executable in the revision: made executable, as the agent does (chmod +x)");
  }
  if (o.script.runas && o.script.runas !== o.currentUser) notes.push(`runas ${o.script.runas}: ran as ${o.currentUser} locally (the agent would switch user)`);
  if (o.script.sudo) notes.push("sudo: ran without sudo locally");
  // The agent gives a script its own environment plus the five CodeDeploy variables; here the
  // check is the agent.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !NOT_PASSED.test(k)) env[k] = v;
  Object.assign(env, o.env, o.deploymentEnv, { LIFECYCLE_EVENT: o.event });

  const started = Date.now();
  const deadline = started + timeout * 1000;
  // Like the agent: cwd is not the bundle folder, and the script gets its own process group.
  const proc = $({ cwd: "/", env, nothrow: true, quiet: true, detached: true })`${path}`;
  const child = proc.child!;
  child.stdin?.end();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const outputs = { stdout: closed(child.stdout), stderr: closed(child.stderr) };
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  const stop = async () => {
    signalGroup("SIGTERM");
    if (!(await within(proc, KILL_GRACE_MS))) {
      signalGroup("SIGKILL");
      await proc;
    }
  };
  // Detached, so a Ctrl-C at the terminal does not reach it: the interrupt handler stops it.
  const running = o.defer?.(stop);

  let phase = "still running";
  const waited = o.script.timeout === undefined && o.timeoutSeconds === undefined ? " (none in appspec.yml: the agent's default)" : "";
  const progress = o.progress
    ? setInterval(
        () =>
          o.progress!(
            `${o.script.location} ${phase}: waited ${formatDuration((Date.now() - started) / 1000)} of its timeout of ${formatDuration(timeout)}${waited}`,
          ),
        (o.progressEverySeconds ?? HOOK_PROGRESS_SECONDS) * 1000,
      )
    : undefined;
  let timedOut = false;
  let outputLeftOpen: "stdout" | "stderr" | undefined;
  try {
    if (!(await within(exited, deadline - Date.now()))) timedOut = true;
    else {
      phase = `exited with code ${child.exitCode ?? "none"}, waiting for its output to close`;
      for (const stream of ["stdout", "stderr"] as const) {
        if (!(await within(outputs[stream], deadline - Date.now()))) {
          outputLeftOpen = stream;
          break;
        }
      }
    }
  } finally {
    clearInterval(progress);
  }
  if (timedOut || outputLeftOpen) await stop();
  const out = await proc;
  running?.drop(); // it has ended: nothing to stop
  const exitCode = timedOut ? null : (child.exitCode ?? out.exitCode);
  return {
    deployment: o.deploymentEnv.DEPLOYMENT_ID,
    scriptFrom: o.scriptFrom ?? o.deploymentEnv.DEPLOYMENT_ID,
    event: o.event,
    location: o.script.location,
    ok: exitCode === 0 && !timedOut && !outputLeftOpen,
    exitCode,
    timedOut,
    ...(outputLeftOpen ? { outputLeftOpen } : {}),
    timeoutSeconds: timeout,
    durationMs: Date.now() - started,
    outputTail: out.stdall.slice(-OUTPUT_TAIL_CHARS),
    notes,
  };
}

export function describeHookFailure(run: HookRun): string {
  const stream = run.outputLeftOpen === "stderr" ? "error" : "output";
  const what = run.timedOut
    ? `did not finish within its timeout of ${run.timeoutSeconds} s and was stopped (the agent: "failed to complete in ${run.timeoutSeconds} seconds")`
    : run.outputLeftOpen
      ? `exited with code ${run.exitCode}, but a process it started kept its standard ${stream} open until the timeout of ${run.timeoutSeconds} s: ` +
        `the agent waits for a script's output to close and then fails the deployment (hook_executor.rb: "failed to close ${run.outputLeftOpen.toUpperCase()}"), leaving that process running; ` +
        "redirect the output of what it starts in the background (command >/dev/null 2>&1 &)"
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
  /** How often a running hook says how long it has waited. @default HOOK_PROGRESS_SECONDS */
  readonly hookProgressSeconds?: number;
  /**
   * Aborted by Ctrl-C: no hook starts after it (the cleanups stop only what was started before).
   * @default - never aborted
   */
  readonly signal?: AbortSignal;
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
      const refused = copyAsBundled(o.revisionDir, bundleDir);
      if (refused) return { ok: false, hooks, failure: `DownloadBundle failed: ${refused}` };
      agentStep("DownloadBundle", `(agent) copied ${o.revisionDir} to ${bundleDir}, as the bundle holds it`);
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
      if (o.signal?.aborted) return { ok: false, hooks, failure: `interrupted before ${event}: no hook started after Ctrl-C` };
      const run = await runHookScript($, {
        defer: o.defer,
        progress: (message) => agentStep(event, message),
        progressEverySeconds: o.hookProgressSeconds,
        bundleDir: source!.bundleDir,
        scriptFrom: source!.deploymentEnv.DEPLOYMENT_ID,
        event,
        script,
        deploymentEnv: o.deploymentEnv,
        env: o.env,
        currentUser: o.currentUser,
      });
      hooks.push(run);
      agentStep(event, `${script.location} ${run.ok ? "ok" : "FAILED"} (${run.durationMs} ms)${run.notes.map((n) => `; ${n}`).join("")}`);
      if (!run.ok) return { ok: false, hooks, failure: `deployment ${id}: ${describeHookFailure(run)}` };
    }
  }
  return {
    ok: true,
    hooks,
    deployment: { deploymentEnv: o.deploymentEnv, bundleDir, spec: o.spec, installed: installed ?? { files: [], createdDirs: [], copies: [] } },
  };
}

/**
 * The revision as the bundle holds it (./tree.ts: ignored names left out, links inside
 * followed), with modes and times; what the bundler would refuse, as a message.
 */
function copyAsBundled(revisionDir: string, to: string): string | undefined {
  const tree = walkRevision(revisionDir);
  if (tree.problems[0]) return `${join(revisionDir, tree.problems[0].path)} ${tree.problems[0].message}`;
  mkdirSync(to, { recursive: true });
  for (const e of tree.entries) {
    const target = join(to, e.path);
    if (e.type === "directory") mkdirSync(target, { recursive: true });
    else {
      copyFileSync(join(revisionDir, e.path), target);
      chmodSync(target, e.stat.mode & 0o7777);
      utimesSync(target, e.stat.atime, e.stat.mtime);
    }
  }
  return undefined;
}
