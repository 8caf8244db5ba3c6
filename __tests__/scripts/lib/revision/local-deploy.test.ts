import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { $ } from "zx";
import { SCRIPT_LIFECYCLE_EVENTS, validateAppSpec, type AppSpec } from "../../../../scripts/lib/revision/appspec";
import { deployLocally, installFiles, localDeploymentEnv, uninstallFiles, type LocalDeployment } from "../../../../scripts/lib/revision/local-deploy";

const FIXTURES = resolve(__dirname, "../../../fixtures/revisions");
const temps: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), "revision-deploy-test-"));
  temps.push(dir);
  return dir;
}
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

function specOf(revisionDir: string): AppSpec {
  const result = validateAppSpec(revisionDir);
  if (!result.spec) throw new Error(`fixture ${revisionDir} is not valid: ${JSON.stringify(result.problems)}`);
  return result.spec;
}

/** Deploys a fixture (by name) or a revision folder (by path) onto the local instance folder. */
async function deploy(
  fixture: string,
  instanceRoot: string,
  previous?: LocalDeployment,
  extra: { env?: Record<string, string>; hookProgressSeconds?: number } = {},
) {
  const revisionDir = fixture.startsWith("/") ? fixture : join(FIXTURES, fixture);
  const deploymentEnv = localDeploymentEnv("webfleet-test", "test-group");
  const lines: string[] = [];
  const result = await deployLocally($, {
    revisionDir,
    spec: specOf(revisionDir),
    deploymentDir: join(instanceRoot, "..", "deployments", deploymentEnv.DEPLOYMENT_ID),
    instanceRoot,
    deploymentEnv,
    env: { WEB_ROOT: join(instanceRoot, "var/www/html"), WEB_OWNER: userInfo().username, APP_URL: "http://127.0.0.1:9/", ...extra.env },
    currentUser: userInfo().username,
    previous,
    log: (l) => lines.push(l),
    ...(extra.hookProgressSeconds ? { hookProgressSeconds: extra.hookProgressSeconds } : {}),
  });
  return { result, deploymentEnv, lines };
}

/** A revision folder with one ValidateService script (timeout 10 s) and an index page. */
function revisionWithHook(script: string, mode = 0o755): string {
  const dir = temp();
  mkdirSync(join(dir, "scripts"));
  writeFileSync(join(dir, "index.html"), "<p>hook test</p>\n");
  writeFileSync(
    join(dir, "appspec.yml"),
    "version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /var/www/html\nhooks:\n  ValidateService:\n    - location: scripts/hook\n      timeout: 10\n",
  );
  writeFileSync(join(dir, "scripts/hook"), script);
  chmodSync(join(dir, "scripts/hook"), mode);
  return dir;
}

/** Whether a process with this id is still there (zombies count as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  return !/^\d+ \(.*\) Z /.test(stat);
}

async function gone(pid: number, withinMs = 3000): Promise<boolean> {
  for (const until = Date.now() + withinMs; Date.now() < until;) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

describe("a local deployment", () => {
  // The three tests that wait out a hook's timeout or its progress interval sleep, not compute:
  // they run side by side (it.concurrent), each in its own folders.
  it("runs the hooks of a new instance in lifecycle order, skipping those that need a previous revision", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const { result } = await deploy("lifecycle", root);
    expect(result.failure).toBeUndefined();
    expect(result.hooks.map((h) => h.event)).toEqual([
      "BeforeInstall",
      "AfterInstall",
      "ApplicationStart",
      "ValidateService",
      "BeforeAllowTraffic",
      "AfterAllowTraffic",
    ]);
  });

  it("runs every event over a previous deployment, the first three with the previous revision's scripts", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const first = await deploy("lifecycle", root);
    const second = await deploy("lifecycle", root, first.result.deployment);
    expect(second.result.failure).toBeUndefined();
    // The order itself is pinned in appspec.test.ts.
    expect(second.result.hooks.map((h) => h.event)).toEqual([...SCRIPT_LIFECYCLE_EVENTS]);
    const [older, newer] = [first.deploymentEnv.DEPLOYMENT_ID, second.deploymentEnv.DEPLOYMENT_ID];
    expect(second.result.hooks.map((h) => h.scriptFrom)).toEqual([older, older, older, newer, newer, newer, newer, newer, newer]);
    expect(new Set(second.result.hooks.map((h) => h.deployment))).toEqual(new Set([newer]));
  });

  it("gives each script CodeDeploy's five variables", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const { result, deploymentEnv } = await deploy("lifecycle", root);
    const env = deploymentEnv;
    expect(env.DEPLOYMENT_ID).toMatch(/^d-[A-Z0-9]{9}$/);
    expect(env.DEPLOYMENT_GROUP_ID).toMatch(/^[0-9a-f-]{36}$/);
    for (const hook of result.hooks) {
      expect(hook.outputTail.trim()).toBe(
        `event=${hook.event} deployment=${env.DEPLOYMENT_ID} app=webfleet-test group=test-group group_id=${env.DEPLOYMENT_GROUP_ID}`,
      );
    }
  });

  it("installs the files section into the local instance folder", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    await deploy("lifecycle", root);
    expect(readFileSync(join(root, "var/www/html/index.html"), "utf8")).toContain("lifecycle fixture");
  });

  it("stops at a failing hook and reports its name, exit code and the tail of its output", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const { result } = await deploy("failing-hook", root);
    expect(result.ok).toBe(false);
    expect(result.hooks).toHaveLength(1);
    expect(result.hooks[0]).toMatchObject({ event: "AfterInstall", location: "scripts/configure", exitCode: 3, timedOut: false, ok: false });
    expect(result.failure).toContain("hook AfterInstall (scripts/configure) failed with exit code 3; output (last 2048 characters):");
    expect(result.failure).toMatch(/configuring the app\n {2}\| reading \/etc\/webfleet\/app.conf\n {2}\| app.conf is missing/);
  });

  it.concurrent("stops a hook at its timeout, with everything it started", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const started = Date.now();
    const { result } = await deploy("slow-hook", root);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.hooks[0]).toMatchObject({ event: "ValidateService", timedOut: true, ok: false });
    expect(result.failure).toContain("hook ValidateService (scripts/wait_forever) did not finish within its timeout of 1 s and was stopped");
    expect(result.failure).toContain("waiting for the app to come up");
  });

  it.concurrent(
    "GIVEN a hook that exits but leaves a process holding its output THEN it fails like the agent: after waiting for the output until the timeout, saying why",
    async () => {
      const root = join(temp(), "instance");
      mkdirSync(root);
      const started = Date.now();
      const { result } = await deploy("background-output", root);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(1900); // the agent waits for the output until the timeout (2 s)...
      expect(took).toBeLessThan(6000); // ...and not for the process itself
      expect(result.hooks[0]).toMatchObject({ event: "ValidateService", ok: false, exitCode: 0, timedOut: false, outputLeftOpen: "stdout" });
      expect(result.failure).toContain(
        'hook ValidateService (scripts/start_server) exited with code 0, but a process it started kept its standard output open until the timeout of 2 s: the agent waits for a script\'s output to close and then fails the deployment (hook_executor.rb: "failed to close STDOUT"), leaving that process running; redirect the output of what it starts in the background (command >/dev/null 2>&1 &)',
      );
      // The agent would leave it running; here it is stopped with the hook, nothing is left behind.
      const child = Number(/child=(\d+)/.exec(result.hooks[0].outputTail)?.[1]);
      expect(await gone(child)).toBe(true);
    },
  );

  it("GIVEN the same hook with its background process's output redirected THEN it passes at once", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const dir = revisionWithHook('#!/bin/bash\nset -euo pipefail\nsleep 30 >/dev/null 2>&1 &\necho "started child=$!"\n');
    const started = Date.now();
    const { result } = await deploy(dir, root);
    expect(result.failure).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1500);
    process.kill(Number(/child=(\d+)/.exec(result.hooks[0].outputTail)?.[1]), "SIGTERM");
  });

  it.concurrent("GIVEN a hook with no timeout (the agent's hour) THEN it says every so often how long it has waited", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const { result, lines } = await deploy("long-hook", root, undefined, { env: { WAIT_SECONDS: "1.5" }, hookProgressSeconds: 0.4 });
    expect(result.failure).toBeUndefined();
    const waiting = lines.filter((l) => l.includes("still running"));
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    expect(waiting[0]).toMatch(
      /^ {2}AfterInstall {7}scripts\/wait_a_while still running: waited \d+ s of its timeout of 1 h \(none in appspec\.yml: the agent's default\)$/,
    );
  });

  it("GIVEN a hook script without its execute bit THEN it runs, made executable as the agent does, and says so", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const { result, lines } = await deploy(revisionWithHook("#!/bin/bash\necho ran\n", 0o644), root);
    expect(result.failure).toBeUndefined();
    expect(result.hooks[0].outputTail).toBe("ran\n");
    expect(lines.join("\n")).toContain("scripts/hook ok");
    expect(result.hooks[0].notes).toEqual(["not executable in the revision: made executable, as the agent does (chmod +x)"]);
  });
});

describe("installFiles", () => {
  function setup(fileExistsBehavior?: AppSpec["fileExistsBehavior"]) {
    const dir = temp();
    const bundle = join(dir, "bundle");
    const root = join(dir, "instance");
    mkdirSync(join(bundle, "css"), { recursive: true });
    writeFileSync(join(bundle, "index.html"), "new");
    writeFileSync(join(bundle, "css/site.css"), "body{}");
    mkdirSync(join(root, "var/www/html"), { recursive: true });
    const spec: AppSpec = {
      version: 0,
      os: "linux",
      files: [{ source: "/", destination: "/var/www/html" }],
      permissions: [],
      hooks: {},
      ...(fileExistsBehavior ? { fileExistsBehavior } : {}),
    };
    return { bundle, root, spec, index: join(root, "var/www/html/index.html") };
  }

  it("copies a folder source's contents into the destination, keeping subfolders", () => {
    const { bundle, root, spec } = setup();
    const installed = installFiles(spec, bundle, root);
    expect(installed.files.map((f) => f.slice(root.length)).sort()).toEqual(["/var/www/html/css/site.css", "/var/www/html/index.html"]);
  });

  it("puts a file source inside the destination folder", () => {
    const { bundle, root, spec } = setup();
    installFiles({ ...spec, files: [{ source: "css/site.css", destination: "/etc/webfleet" }] }, bundle, root);
    expect(existsSync(join(root, "etc/webfleet/site.css"))).toBe(true);
  });

  it("fails on a file it did not install before, by default (DISALLOW)", () => {
    const { bundle, root, spec, index } = setup();
    writeFileSync(index, "left by hand");
    expect(() => installFiles(spec, bundle, root)).toThrow(
      "Install failed: /var/www/html/index.html already exists and was not installed by the previous deployment (file_exists_behavior DISALLOW)",
    );
  });

  test.each([
    ["OVERWRITE", "new"],
    ["RETAIN", "left by hand"],
  ] as const)("with file_exists_behavior %s, leaves %j in a file that was already there", (behavior, content) => {
    const { bundle, root, spec, index } = setup(behavior);
    writeFileSync(index, "left by hand");
    installFiles(spec, bundle, root);
    expect(readFileSync(index, "utf8")).toBe(content);
  });

  it("copies a symlink inside the revision as what it points to, as the bundle holds it", () => {
    const { bundle, root, spec } = setup();
    symlinkSync("index.html", join(bundle, "home.html"));
    const installed = installFiles(spec, bundle, root);
    const home = join(root, "var/www/html/home.html");
    expect(lstatSync(home).isSymbolicLink()).toBe(false);
    expect(readFileSync(home, "utf8")).toBe("new");
    expect(installed.copies).toContainEqual({ from: "home.html", to: home });
  });

  it("can be undone before the next deployment, leaving folders it did not create", () => {
    const { bundle, root, spec } = setup();
    uninstallFiles(installFiles(spec, bundle, root));
    expect(existsSync(join(root, "var/www/html"))).toBe(true);
    expect(existsSync(join(root, "var/www/html/css"))).toBe(false);
    expect(() => installFiles(spec, bundle, root)).not.toThrow();
  });
});
