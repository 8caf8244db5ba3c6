/**
 * `revision:check`: checks a CodeDeploy revision offline (AppSpec validator, shellcheck of the
 * hook scripts), then deploys it to a local stand-in instance and looks at it for real: Debian's
 * Apache + mod_php on a loopback port, the hooks run in lifecycle order with CodeDeploy's
 * variables, every page fetched, appspec.yml and the hook scripts asked for (Apache must not
 * have them), and a headless Chromium screenshot for a human to look at.
 *
 * Library code: every dependency (the zx shell, tool paths, the log) comes in as an argument.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { isAbsolute, join, relative, sep } from "node:path";
import type { Shell } from "zx";
import type { Defer } from "../cli/interrupts";
import { APPSPEC_FILE_NAME, formatProblems, INSTANCE_WEB_ROOT, validateAppSpec, type AppSpec, type AppSpecResult } from "./appspec";
import { apacheConfig, findLocalTools, freePort, startApache, tailOf, type LocalTools, type RunningApache } from "./apache";
import { deployLocally, localDeploymentEnv, type HookRun, type Installed, type LocalDeployment } from "./local-deploy";
import { startBlackHole, startFakeImds, type BlackHole, type FakeImds, type ImdsRequestLog } from "./imds";

/** Apache's document root on webfleet's instances (defined with the AppSpec contract, whose validator needs it too). */
export { INSTANCE_WEB_ROOT };
/** The instance user the sample revision gives the web root to. */
export const INSTANCE_WEB_OWNER = "ec2-user";
/** URL prefix that serves the same pages with the metadata endpoint pointing at a black hole. */
export const UNREACHABLE_IMDS_PREFIX = "/__imds-unreachable/";
/** A page must answer within this, even when the metadata service never does. */
export const PAGE_BUDGET_MS = 5000;
export const UNREACHABLE_IMDS_BUDGET_MS = 3000;
const PAGE_EXTENSIONS = /\.(html?|php)$/i;

export interface RevisionCheckOptions {
  readonly revisionDir: string;
  /** Where screenshots go (created). */
  readonly outDir: string;
  /** Tool paths; found on this machine when not given. */
  readonly tools?: Partial<LocalTools>;
  /**
   * Deployments in a row onto the same local instance. The second one runs the scripts that
   * only run over a previous revision (ApplicationStop, *BlockTraffic) and shows whether the
   * hooks are safe to run again. @default 2
   */
  readonly deployments?: number;
  /** Only the offline checks (validator, shellcheck). @default false */
  readonly offline?: boolean;
  /** Keep the temp folder (config, logs, the local instance) for a look. @default false */
  readonly keepTemp?: boolean;
  /** @default [1024, 768] */
  readonly windowSize?: readonly [number, number];
  /** How often a running hook says how long it has waited. @default - every 15 s */
  readonly hookProgressSeconds?: number;
  /**
   * Aborted by Ctrl-C (the interrupt handler's signal): nothing new starts after it, neither a
   * hook nor a page or a browser. @default - never aborted
   */
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  /**
   * Registers a cleanup with the command's interrupt handler (Ctrl-C stops Apache and the hooks
   * and removes the temporary folder); returns the function that runs it on the normal path.
   * @default - cleanups run only on the normal path
   */
  readonly defer?: Defer;
}

export interface ShellcheckResult {
  readonly location: string;
  readonly ok: boolean;
  /** shellcheck's findings, or why the script was not checked. */
  readonly output: string;
  readonly skipped?: boolean;
}

export interface PageCheck {
  /** The URL path fetched, e.g. `/instance.php`. */
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly problem?: string;
  readonly body: string;
}

/** A page as headless Chromium rendered it. */
export interface RenderedPage {
  /** The URL path, e.g. `/`. */
  readonly path: string;
  /** The PNG file. */
  readonly screenshot: string;
  /** The DOM after its scripts ran. */
  readonly dom: string;
  /** Uncaught JavaScript errors from the browser console. */
  readonly jsErrors: readonly string[];
}

/** A URL where appspec.yml or a hook script would be if it were under the document root. */
export interface PrivatePathCheck {
  readonly path: string;
  /** What Apache answered (0: no answer); anything but 2xx keeps it private. */
  readonly status: number;
}

export interface RevisionCheckResult {
  readonly ok: boolean;
  readonly appspec: AppSpecResult;
  readonly shellcheck: readonly ShellcheckResult[];
  readonly hooks: readonly HookRun[];
  readonly pages: readonly PageCheck[];
  /** appspec.yml and the hook scripts, asked for on the web root. */
  readonly privatePaths: readonly PrivatePathCheck[];
  readonly rendered: readonly RenderedPage[];
  /** What the IMDS stand-in answered, in order. */
  readonly imdsRequests: readonly ImdsRequestLog[];
  /** The first thing that failed, for the user (multi-line). */
  readonly failure?: string;
  /** The temp folder, when kept. */
  readonly tempDir?: string;
}

const ms = (since: number) => Date.now() - since;

/** Bash or sh scripts (by their #! line) are shellchecked; others are reported as skipped. */
function shellOf(file: string): string | undefined {
  const first = readFileSync(file, "utf8").split("\n")[0];
  const m = /^#!\s*(?:\S*\/env\s+)?\S*?\b(bash|sh|dash|ksh)\b/.exec(first);
  return m?.[1];
}

export async function shellcheckHooks($: Shell, shellcheck: string, revisionDir: string, spec: AppSpec): Promise<ShellcheckResult[]> {
  const locations = [...new Set(Object.values(spec.hooks).flatMap((scripts) => (scripts ?? []).map((s) => s.location)))];
  const results: ShellcheckResult[] = [];
  for (const location of locations) {
    const shell = shellOf(join(revisionDir, location));
    if (!shell) {
      results.push({ location, ok: true, skipped: true, output: "not a shell script (by its #! line): not shellchecked" });
      continue;
    }
    const out = await $({
      cwd: revisionDir,
      nothrow: true,
      quiet: true,
    })`${shellcheck} --color=never --external-sources --shell=${shell === "dash" ? "sh" : shell} ${location}`;
    results.push({ location, ok: out.exitCode === 0, output: out.stdall.trim() });
  }
  return results;
}

/** The pages under the local web root, as URL paths (`/index.html`, `/sub/page.php`). */
export function listPages(webRoot: string): string[] {
  if (!existsSync(webRoot)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (PAGE_EXTENSIONS.test(name)) out.push("/" + relative(webRoot, p).split("\\").join("/"));
    }
  };
  walk(webRoot);
  return out;
}

export async function checkPage(baseUrl: string, path: string, budgetMs = PAGE_BUDGET_MS): Promise<PageCheck> {
  const started = Date.now();
  try {
    const res = await fetch(new URL(path, baseUrl), { signal: AbortSignal.timeout(budgetMs), redirect: "manual" });
    const body = await res.text();
    const took = ms(started);
    const type = res.headers.get("content-type") ?? "";
    const problem =
      res.status !== 200
        ? `answered HTTP ${res.status}, expected 200`
        : !type.startsWith("text/html")
          ? `answered Content-Type ${type || "(none)"}, expected text/html`
          : body.trim() === ""
            ? "answered an empty page"
            : body.includes("<?php")
              ? "answered PHP source: PHP did not run"
              : took > budgetMs
                ? `took ${took} ms, more than ${budgetMs} ms`
                : undefined;
    return { path, status: res.status, ms: took, ok: !problem, ...(problem ? { problem } : {}), body };
  } catch (e) {
    const took = ms(started);
    const why =
      e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError") ? `no answer within ${budgetMs} ms` : `request failed: ${String(e)}`;
    return { path, status: 0, ms: took, ok: false, problem: why, body: "" };
  }
}

/**
 * Where appspec.yml and the hook scripts would be served from: the URL of each place Install put
 * one of them under the web root, and the URLs the tutorial's `source: /` would give them.
 */
export function privateUrlPaths(spec: AppSpec, installed: Installed, webRoot: string): string[] {
  const locations = Object.values(spec.hooks).flatMap((scripts) => (scripts ?? []).map((s) => s.location));
  const privateFiles = new Set([APPSPEC_FILE_NAME, ...locations]);
  const paths = new Set([`/${APPSPEC_FILE_NAME}`, ...locations.map((l) => `/${l}`)]);
  for (const { from, to } of installed.copies) {
    const under = relative(webRoot, to);
    if (privateFiles.has(from) && !under.startsWith("..") && !isAbsolute(under)) paths.add(`/${under.split(sep).join("/")}`);
  }
  return [...paths].sort();
}

/** What Apache answers for `path` (0 when it does not). */
export async function statusOf(baseUrl: string, path: string, budgetMs = PAGE_BUDGET_MS): Promise<number> {
  try {
    const res = await fetch(new URL(path, baseUrl), { signal: AbortSignal.timeout(budgetMs), redirect: "manual" });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** `PHP Warning: ...` and friends from Apache's error log (mod_php logs there when display_errors is off). */
export function phpErrors(errorLog: string): string[] {
  if (!existsSync(errorLog)) return [];
  return readFileSync(errorLog, "utf8")
    .split("\n")
    .filter((l) => /PHP (Fatal error|Parse error|Warning|Notice|Deprecated)/.test(l));
}

/** Renders `url` in headless Chromium: a PNG in `file`, plus the DOM and uncaught JS errors. */
export async function renderPage(
  $: Shell,
  chromium: string,
  url: string,
  file: string,
  size: readonly [number, number],
  scratch: string,
): Promise<{ dom: string; jsErrors: string[] }> {
  const profile = mkdtempSync(join(scratch, "chromium-"));
  const flags = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    `--user-data-dir=${profile}`,
    `--screenshot=${file}`,
    "--dump-dom",
    `--window-size=${size[0]},${size[1]}`,
  ];
  rmSync(file, { force: true });
  const out = await $({ nothrow: true, quiet: true, timeout: "30s" })`${chromium} ${flags} ${url}`;
  rmSync(profile, { recursive: true, force: true });
  if (!existsSync(file) || statSync(file).size === 0) {
    const tail = out.stdall.trim().split("\n").slice(-10).join("\n");
    throw new Error(`chromium wrote no screenshot of ${url} (exit code ${out.exitCode}):\n${tail}`);
  }
  const jsErrors = [...out.stderr.matchAll(/:CONSOLE(?::\d+)?(?:\(\d+\))?\] "(Uncaught [^\n]*?)", source: ([^\n]*)/g)].map((m) => `${m[1]} (${m[2]})`);
  return { dom: out.stdout, jsErrors };
}

function apacheUser(): { user: string; group: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = existsSync("/etc/passwd") ? readFileSync("/etc/passwd", "utf8") : "";
  return /^www-data:/m.test(passwd) ? { user: "www-data", group: "www-data" } : { user: "nobody", group: "nogroup" };
}

/**
 * Checks a revision folder: AppSpec, shellcheck, then (unless `offline`) a real local run.
 * Throws {@link MissingToolsError} when apache2, mod_php, chromium or shellcheck is missing;
 * everything wrong with the revision itself comes back in the result.
 */
export async function checkRevision($: Shell, o: RevisionCheckOptions): Promise<RevisionCheckResult> {
  const log = o.log ?? (() => undefined);
  const shown = relative(process.cwd(), o.revisionDir) || ".";
  const empty = { shellcheck: [], hooks: [], pages: [], privatePaths: [], rendered: [], imdsRequests: [] };

  const appspec = validateAppSpec(o.revisionDir);
  const appspecName = appspec.file ? relative(process.cwd(), appspec.file) : join(shown, "appspec.yml");
  if (!appspec.ok || !appspec.spec) {
    return {
      ...empty,
      ok: false,
      appspec,
      failure: `${appspec.problems.length} problem${appspec.problems.length === 1 ? "" : "s"} in ${appspecName}:\n${formatProblems(appspecName, appspec.problems)}`,
    };
  }
  const spec = appspec.spec;
  const hookCount = Object.values(spec.hooks).reduce((n, s) => n + (s?.length ?? 0), 0);
  log(
    `appspec     ${appspecName}: ok (${spec.files.length} files entr${spec.files.length === 1 ? "y" : "ies"}, ${hookCount} hook script${hookCount === 1 ? "" : "s"})`,
  );

  const tools = findLocalTools(o.tools);
  const shellcheck = await shellcheckHooks($, tools.shellcheck, o.revisionDir, spec);
  for (const r of shellcheck) log(`shellcheck  ${r.location}: ${r.skipped ? r.output : r.ok ? "ok" : "FAILED"}`);
  const dirty = shellcheck.filter((r) => !r.ok);
  if (dirty.length) {
    return {
      ...empty,
      ok: false,
      appspec,
      shellcheck,
      failure: `shellcheck found problems in ${dirty.map((r) => r.location).join(", ")}:\n${dirty.map((r) => r.output).join("\n")}`,
    };
  }
  if (o.offline) return { ...empty, ok: true, appspec, shellcheck };

  const defer: Defer =
    o.defer ??
    ((cleanup) => ({
      run: async () => void (await cleanup()),
      drop: () => undefined,
    }));
  const temp = mkdtempSync(join(tmpdir(), "webfleet-revision-"));
  const removeTemp = defer(() => {
    if (!o.keepTemp) rmSync(temp, { recursive: true, force: true });
  });
  chmodSync(temp, 0o755); // Apache's workers (www-data when we are root) must reach the web root.
  const apacheDir = join(temp, "apache");
  const instanceRoot = join(temp, "instance");
  const webRoot = join(instanceRoot, INSTANCE_WEB_ROOT);
  mkdirSync(apacheDir);
  mkdirSync(webRoot, { recursive: true }); // The AMI ships Apache with an empty web root.

  let imds: FakeImds | undefined;
  let blackHole: BlackHole | undefined;
  let apache: RunningApache | undefined;
  const hooks: HookRun[] = [];
  const pages: PageCheck[] = [];
  const privatePaths: PrivatePathCheck[] = [];
  const rendered: RenderedPage[] = [];
  let failure: string | undefined;
  try {
    imds = await startFakeImds();
    blackHole = await startBlackHole();
    log(`imds        stand-in at ${imds.endpoint} (IMDSv2: token required); black hole at ${blackHole.endpoint}`);
    const port = await freePort();
    const confFile = join(apacheDir, "httpd.conf");
    writeFileSync(
      confFile,
      apacheConfig({
        serverRoot: apacheDir,
        documentRoot: webRoot,
        port,
        modulesDir: tools.apacheModulesDir,
        phpModule: tools.phpModule,
        env: { WEBFLEET_IMDS_ENDPOINT: imds.endpoint },
        altRoute: { prefix: UNREACHABLE_IMDS_PREFIX, env: { WEBFLEET_IMDS_ENDPOINT: blackHole.endpoint } },
        runAs: apacheUser(),
      }),
    );
    apache = await startApache($, { apache2: tools.apache2, confFile, port, errorLog: join(apacheDir, "error.log"), defer });
    log(`apache      ${apache.url} (${tools.apache2} -f ${confFile})`);

    const currentUser = userInfo().username;
    const env = { WEB_ROOT: webRoot, WEB_OWNER: currentUser, APP_URL: apache.url };
    const count = Math.max(1, o.deployments ?? 2);
    let previous: LocalDeployment | undefined;
    for (let n = 1; n <= count && !failure; n++) {
      const deploymentEnv = localDeploymentEnv();
      log(`deployment  ${n} of ${count}: ${deploymentEnv.DEPLOYMENT_ID} ${previous ? `(over ${previous.deploymentEnv.DEPLOYMENT_ID})` : "(new instance)"}`);
      const result = await deployLocally($, {
        revisionDir: o.revisionDir,
        spec,
        deploymentDir: join(temp, "deployments", deploymentEnv.DEPLOYMENT_ID),
        instanceRoot,
        deploymentEnv,
        env,
        currentUser,
        previous,
        log,
        defer,
        ...(o.hookProgressSeconds !== undefined ? { hookProgressSeconds: o.hookProgressSeconds } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      hooks.push(...result.hooks);
      if (!result.ok) failure = result.failure;
      previous = result.deployment;
    }
    if (spec.permissions.length)
      log(
        `permissions ${spec.permissions.length} entr${spec.permissions.length === 1 ? "y" : "ies"} validated; not applied locally (owners, ACLs and SELinux labels are the instance's)`,
      );

    if (!failure && o.signal?.aborted) failure = "interrupted: no page checked after Ctrl-C";
    if (!failure) {
      const files = listPages(webRoot);
      if (files.length === 0) {
        failure = `nothing to serve: no .html or .php page under ${INSTANCE_WEB_ROOT} after Install; the files section must copy the pages there (Apache's document root on the instances)`;
      } else {
        for (const path of ["/", ...files]) pages.push(await checkPage(apache.url, path));
        for (const path of files.filter((f) => f.endsWith(".php"))) {
          pages.push(await checkPage(apache.url, UNREACHABLE_IMDS_PREFIX + path.slice(1), UNREACHABLE_IMDS_BUDGET_MS));
        }
        for (const p of pages) log(`page        ${String(p.status).padStart(3)} ${p.path} ${p.ms} ms${p.problem ? `: ${p.problem}` : ""}`);
        const bad = pages.filter((p) => !p.ok);
        const php = phpErrors(apache.errorLog);
        if (bad.length) failure = `pages failed:\n${bad.map((p) => `  ${p.path}: ${p.problem}`).join("\n")}`;
        else if (php.length) failure = `PHP reported problems (Apache error log):\n${php.map((l) => `  ${l}`).join("\n")}`;
      }
    }

    if (!failure && previous) {
      // The tutorial copied the whole revision to the web root: the AppSpec and the hook scripts
      // were then anyone's to read. The validator refuses such a files section; Apache is asked
      // for each of them anyway, to see for real that none is served.
      for (const path of privateUrlPaths(spec, previous.installed, webRoot)) privatePaths.push({ path, status: await statusOf(apache.url, path) });
      const served = privatePaths.filter((p) => p.status >= 200 && p.status < 300);
      log(`private     ${privatePaths.map((p) => `${p.path} ${p.status}`).join(", ")}: ${served.length ? "SERVED" : "not served"}`);
      if (served.length) {
        failure =
          `Apache serves what must stay off the web: ${served.map((p) => `${p.path} (${p.status})`).join(", ")}: the files section puts appspec.yml and the hook scripts ` +
          `under the document root (${INSTANCE_WEB_ROOT}), where anyone can read them; copy only the web content there (for example public/ with source: public)`;
      }
    }

    if (!failure && o.signal?.aborted) failure = "interrupted: no screenshot taken after Ctrl-C";
    if (!failure) {
      mkdirSync(o.outDir, { recursive: true });
      const size = o.windowSize ?? [1024, 768];
      const targets = ["/", ...listPages(webRoot).filter((f) => f.endsWith(".php"))];
      for (const path of targets) {
        const name =
          path === "/"
            ? "index"
            : path
                .slice(1)
                .replace(/\.[^.]+$/, "")
                .replace(/[^A-Za-z0-9_-]+/g, "-");
        const file = join(o.outDir, `${name}.png`);
        const { dom, jsErrors } = await renderPage($, tools.chromium, new URL(path, apache.url).toString(), file, size, temp);
        rendered.push({ path, screenshot: file, dom, jsErrors });
        log(`screenshot  ${relative(process.cwd(), file)} (${path})${jsErrors.length ? `: ${jsErrors.length} JavaScript error(s)` : ""}`);
      }
      const broken = rendered.filter((r) => r.jsErrors.length);
      if (broken.length) failure = `JavaScript errors in the browser:\n${broken.flatMap((r) => r.jsErrors.map((e) => `  ${r.path}: ${e}`)).join("\n")}`;
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    await apache?.stop();
    await imds?.close();
    await blackHole?.close();
    if (failure && apache) {
      // Apache's own start/stop notices say nothing about the failure; warnings and errors might.
      const tail = tailOf(apache.errorLog, 200)
        .split("\n")
        .filter((l) => l && !/:notice\]/.test(l))
        .slice(-15);
      if (tail.length) failure += `\napache error log${o.keepTemp ? ` (${apache.errorLog})` : ""}:\n${tail.map((l) => `  | ${l}`).join("\n")}`;
    }
    await removeTemp.run();
  }
  return {
    ok: !failure,
    appspec,
    shellcheck,
    hooks,
    pages,
    privatePaths,
    rendered,
    imdsRequests: imds?.requests ?? [],
    ...(failure ? { failure } : {}),
    ...(o.keepTemp ? { tempDir: temp } : {}),
  };
}
