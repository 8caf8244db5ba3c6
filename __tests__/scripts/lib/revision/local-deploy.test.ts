import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

async function deploy(fixture: string, instanceRoot: string, previous?: LocalDeployment) {
  const revisionDir = join(FIXTURES, fixture);
  const deploymentEnv = localDeploymentEnv("webfleet-test", "test-group");
  const lines: string[] = [];
  const result = await deployLocally($, {
    revisionDir,
    spec: specOf(revisionDir),
    deploymentDir: join(instanceRoot, "..", "deployments", deploymentEnv.DEPLOYMENT_ID),
    instanceRoot,
    deploymentEnv,
    env: { WEB_ROOT: join(instanceRoot, "var/www/html"), WEB_OWNER: userInfo().username, APP_URL: "http://127.0.0.1:9/" },
    currentUser: userInfo().username,
    previous,
    log: (l) => lines.push(l),
  });
  return { result, deploymentEnv, lines };
}

describe("a local deployment", () => {
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

  it("stops a hook at its timeout, with everything it started", async () => {
    const root = join(temp(), "instance");
    mkdirSync(root);
    const started = Date.now();
    const { result } = await deploy("slow-hook", root);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.hooks[0]).toMatchObject({ event: "ValidateService", timedOut: true, ok: false });
    expect(result.failure).toContain("hook ValidateService (scripts/wait_forever) did not finish within its timeout of 1 s and was stopped");
    expect(result.failure).toContain("waiting for the app to come up");
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

  it("can be undone before the next deployment, leaving folders it did not create", () => {
    const { bundle, root, spec } = setup();
    uninstallFiles(installFiles(spec, bundle, root));
    expect(existsSync(join(root, "var/www/html"))).toBe(true);
    expect(existsSync(join(root, "var/www/html/css"))).toBe(false);
    expect(() => installFiles(spec, bundle, root)).not.toThrow();
  });
});
