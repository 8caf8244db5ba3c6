/**
 * The provisioning scripts (packer/scripts/*.sh), run here as far as this machine allows:
 * their functions with bash on temporary folders, PHP's modules with Debian's php, and the
 * health endpoint's Apache configuration served for real by Debian's apache2 on loopback.
 * What needs Amazon Linux (dnf, systemctl, the CodeDeploy installer) runs in the Packer build,
 * where verify-image.sh checks the result before the image is made.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { PACKER_DIR } from "../../scripts/lib/image/packer";
import { removeTempDirs, tempDir as makeTempDir } from "../helpers/fake-packer";
import { describeWithTool, missingProgram } from "../helpers/tools";

const SCRIPTS = join(PACKER_DIR, "scripts");
const script = (name: string) => join(SCRIPTS, name);

/** Sources `file` in bash and runs `fn args...`; the script's own `main` does not run. */
function call(file: string, fn: string, args: string[] = [], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync("bash", ["-c", 'source "$1"; shift; "$@"', "_", file, fn, ...args], {
    encoding: "utf8",
    input: options.input,
    env: options.env ?? process.env,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A temporary folder that Apache's unprivileged user can read. */
function tempDir(prefix: string): string {
  const dir = makeTempDir(prefix);
  chmodSync(dir, 0o755);
  return dir;
}

afterAll(removeTempDirs);

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(`${prefix}${e.name}${e.isDirectory() ? "/" : ""}`);
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
    }
  };
  walk(dir, "");
  return out;
}

const ALL = readdirSync(SCRIPTS)
  .filter((f) => f.endsWith(".sh"))
  .sort();

describe("every provisioning script", () => {
  test.each(ALL)("%s says what it is for, is strict, and runs main only when executed", (name) => {
    const text = readFileSync(script(name), "utf8");
    const lines = text.split("\n");
    expect(lines[0]).toBe("#!/usr/bin/env bash");
    expect(lines[1]).toMatch(/^# \S/);
    expect(text).toMatch(/^set -euo pipefail$/m);
    expect(text).toContain('if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then\n  main "$@"\nfi\n');
  });

  test.each(ALL)("%s can be sourced without running anything", (name) => {
    const r = call(script(name), "true");
    expect(r).toEqual({ status: 0, stdout: "", stderr: "" });
  });
});

describe("install-web.sh", () => {
  const web = script("install-web.sh");

  it("installs PHP 8.x with mbstring and the MySQL driver", () => {
    expect(call(web, "php_packages", ["8.3"]).stdout.split("\n").filter(Boolean)).toEqual([
      "php8.3",
      "php8.3-cli",
      "php8.3-fpm",
      "php8.3-mbstring",
      "php8.3-mysqlnd",
    ]);
  });

  test.each(["7.4", "8", "8.3; rm -rf /", ""])("refuses the PHP version %p", (version) => {
    const r = call(web, "php_packages", [version]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("is not a PHP 8 line such as 8.3");
  });

  it("serves /health from a file outside the web root", () => {
    const conf = call(web, "render_health_conf", ["/usr/share/webfleet/health"]).stdout;
    expect(conf).toContain('Alias "/health" "/usr/share/webfleet/health/health.txt"');
    expect(conf).toContain('<Directory "/usr/share/webfleet/health">');
    expect(conf).not.toContain('/var/www/html"');
  });

  it("installs the health endpoint the same way twice", () => {
    const dir = tempDir("webfleet-health-");
    const conf = join(dir, "conf.d", "webfleet-health.conf");
    const health = join(dir, "share", "health");
    expect(call(web, "install_health_endpoint", [conf, health]).status).toBe(0);
    const first = [readFileSync(conf, "utf8"), readFileSync(join(health, "health.txt"), "utf8")];
    expect(call(web, "install_health_endpoint", [conf, health]).status).toBe(0);
    expect([readFileSync(conf, "utf8"), readFileSync(join(health, "health.txt"), "utf8")]).toEqual(first);
    expect(first[1]).toBe("OK\n");
  });

  it("empties the web root, dotfiles and folders included, and keeps the folder", () => {
    // GIVEN a web root with what the tutorial left there
    const root = join(tempDir("webfleet-www-"), "html");
    mkdirSync(join(root, "assets"), { recursive: true });
    writeFileSync(join(root, "index.html"), "<h1>hello</h1>");
    writeFileSync(join(root, ".htaccess"), "");
    writeFileSync(join(root, "assets", "site.css"), "");
    // WHEN it is emptied, twice
    expect(call(web, "empty_web_root", [root]).status).toBe(0);
    expect(call(web, "empty_web_root", [root]).status).toBe(0);
    // THEN the folder is there and empty
    expect(readdirSync(root)).toEqual([]);
  });

  it.each(["/", ""])("refuses to empty %p", (root) => {
    const r = call(web, "empty_web_root", [root]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("refusing to empty");
  });
});

describe("install-codedeploy-agent.sh", () => {
  const agent = script("install-codedeploy-agent.sh");

  test.each([
    ["us-east-1", "https://aws-codedeploy-us-east-1.s3.us-east-1.amazonaws.com/latest/install"],
    ["eu-west-1", "https://aws-codedeploy-eu-west-1.s3.eu-west-1.amazonaws.com/latest/install"],
    ["cn-north-1", "https://aws-codedeploy-cn-north-1.s3.cn-north-1.amazonaws.com.cn/latest/install"],
    ["us-gov-west-1", "https://aws-codedeploy-us-gov-west-1.s3.us-gov-west-1.amazonaws.com/latest/install"],
  ])("downloads the agent for %s from the region's own bucket", (region, url) => {
    expect(call(agent, "codedeploy_installer_url", [region]).stdout.trim()).toBe(url);
  });

  it("refuses something that is not a region", () => {
    const r = call(agent, "codedeploy_installer_url", ["us-east-1/../../evil"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("is not an AWS region");
  });

  it("stops before installing anything when the build region is not given", () => {
    const env = { ...process.env };
    delete env.WEBFLEET_REGION;
    const r = spawnSync("bash", [agent], { encoding: "utf8", env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("WEBFLEET_REGION is not set: the Packer template passes the build region");
  });
});

describe("security-updates.sh", () => {
  const updates = script("security-updates.sh");

  it("turns off package updates at boot with a cloud-init drop-in, the same way twice", () => {
    const dir = tempDir("webfleet-cloud-");
    const cfg = join(dir, "cloud.cfg.d", "90-webfleet-no-boot-upgrades.cfg");
    expect(call(updates, "disable_boot_upgrades", [cfg]).status).toBe(0);
    const first = readFileSync(cfg, "utf8");
    expect(call(updates, "disable_boot_upgrades", [cfg]).status).toBe(0);
    expect(readFileSync(cfg, "utf8")).toBe(first);
    expect(first).toMatch(/^repo_upgrade: none$/m);
    expect(first).toMatch(/^package_upgrade: false$/m);
  });
});

describe("cleanup.sh", () => {
  const cleanup = script("cleanup.sh");

  it("clears the CodeDeploy agent's cached state and logs, and keeps its folders", () => {
    // GIVEN an agent that ran on the build instance
    const dir = tempDir("webfleet-agent-");
    const agent = join(dir, "opt", "codedeploy-agent");
    const logs = join(dir, "var", "log", "aws", "codedeploy-agent");
    const files = [
      join(agent, "deployment-root", "deployment-instructions", "d-ABC-last-successful-install"),
      join(agent, "deployment-root", "deployment-instructions", "d-ABC-cleanup"),
      join(agent, "deployment-root", "0f1e2d3c", "d-XYZ", "deployment-archive", "appspec.yml"),
      join(agent, "deployment-root", "ongoing-deployment"),
      join(agent, "state", ".pid", "codedeploy-agent.pid"),
      join(logs, "codedeploy-agent.log"),
      join(agent, "bin", "codedeploy-agent"),
    ];
    for (const f of files) {
      mkdirSync(join(f, ".."), { recursive: true });
      writeFileSync(f, "x");
    }
    // WHEN its state is cleared, twice
    expect(call(cleanup, "clear_codedeploy_state", [agent, logs]).status).toBe(0);
    expect(call(cleanup, "clear_codedeploy_state", [agent, logs]).status).toBe(0);
    // THEN only the agent itself and its pid folder remain
    expect(tree(agent)).toEqual(["bin/", "bin/codedeploy-agent", "deployment-root/", "state/", "state/.pid/"]);
    expect(readdirSync(logs)).toEqual([]);
  });

  it("does nothing when the agent is not there", () => {
    const dir = tempDir("webfleet-noagent-");
    expect(call(cleanup, "clear_codedeploy_state", [join(dir, "missing"), join(dir, "logs")]).status).toBe(0);
  });
});

describe("verify-image.sh", () => {
  const verify = script("verify-image.sh");

  it("names the PHP modules that are missing from `php -m`", () => {
    const phpM = "[PHP Modules]\nCore\nmbstring\nmysqlnd\nPDO\n\n[Zend Modules]\n";
    const r = call(verify, "missing_php_modules", ["mbstring", "mysqli", "pdo_mysql", "PDO"], { input: phpM });
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(["mysqli", "pdo_mysql"]);
  });

  it("tells an empty web root from one with a dotfile", () => {
    const root = tempDir("webfleet-empty-");
    expect(call(verify, "web_root_is_empty", [root]).status).toBe(0);
    writeFileSync(join(root, ".keep"), "");
    expect(call(verify, "web_root_is_empty", [root]).status).toBe(1);
    expect(call(verify, "web_root_is_empty", [join(root, "missing")]).status).toBe(1);
  });
});

describeWithTool("PHP modules of Debian's php", missingProgram("php", "run npm run setup (Debian: apt-get install -y php-cli php-mbstring php-mysql)"))(
  "verify-image.sh with php",
  () => {
    const verify = script("verify-image.sh");

    it("finds mbstring, mysqli and pdo_mysql in a PHP 8 built like the image's (Debian's php)", () => {
      const phpM = spawnSync("php", ["-m"], { encoding: "utf8" }).stdout;
      expect(call(verify, "missing_php_modules", ["mbstring", "mysqli", "pdo_mysql"], { input: phpM }).stdout).toBe("");
    });
  },
);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describeWithTool(
  "the health endpoint served by Apache",
  missingProgram("apache2", "run npm run setup (Debian: apt-get install -y apache2 libapache2-mod-php)") ??
    missingProgram("curl", "run npm run setup (Debian: apt-get install -y curl)"),
)("the health endpoint, served by Apache", () => {
  const MODULES = "/usr/lib/apache2/modules";
  let apache: ChildProcess | undefined;
  let base: string;
  let dir: string;
  let webRoot: string;

  beforeAll(async () => {
    const httpd = "apache2";
    // GIVEN the health endpoint installed by install-web.sh into a throwaway server root
    dir = tempDir("webfleet-apache-");
    webRoot = join(dir, "html");
    mkdirSync(webRoot);
    writeFileSync(join(webRoot, "index.html"), "tutorial page");
    const web = script("install-web.sh");
    expect(call(web, "install_health_endpoint", [join(dir, "conf.d", "webfleet-health.conf"), join(dir, "health")]).status).toBe(0);
    expect(call(web, "install_web_conf", [join(dir, "conf.d", "webfleet-web.conf"), webRoot]).status).toBe(0);
    expect(call(web, "empty_web_root", [webRoot]).status).toBe(0);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const root = process.getuid?.() === 0;
    const conf = [
      `ServerRoot "${dir}"`,
      `ServerName 127.0.0.1`,
      `Listen 127.0.0.1:${port}`,
      `PidFile "${dir}/httpd.pid"`,
      `ErrorLog "${dir}/error.log"`,
      ...["mpm_event", "authz_core", "alias", "mime", "dir", "headers"].map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
      ...(root ? ["User #65534", "Group #65534"] : []),
      `TypesConfig /etc/mime.types`,
      `DocumentRoot "${webRoot}"`,
      `<Directory "${webRoot}">`,
      `    Require all granted`,
      `</Directory>`,
      `DirectoryIndex index.html`,
      `IncludeOptional "${dir}/conf.d/*.conf"`,
    ].join("\n");
    writeFileSync(join(dir, "httpd.conf"), `${conf}\n`);
    const syntax = spawnSync(httpd, ["-t", "-f", join(dir, "httpd.conf")], { encoding: "utf8" });
    expect(`${syntax.stdout}${syntax.stderr}`.trim()).toBe("Syntax OK");
    apache = spawn(httpd, ["-DFOREGROUND", "-f", join(dir, "httpd.conf")], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      try {
        await fetch(`${base}/health`);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`apache2 did not start: ${existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "no error log"}`);
  });

  afterAll(async () => {
    if (apache && apache.exitCode === null) {
      const exited = new Promise((r) => apache!.once("exit", r));
      apache.kill("SIGTERM");
      await exited;
    }
  });

  it("answers GET /health with 200 OK, uncached, while the web root is empty", async () => {
    expect(readdirSync(webRoot)).toEqual([]);
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("OK\n");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  });

  it("serves nothing else from the empty web root", async () => {
    expect([403, 404]).toContain((await fetch(`${base}/`)).status);
    expect((await fetch(`${base}/health/anything`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`)).status).toBe(404);
  });

  it("keeps answering after CodeDeploy puts the application in the web root", async () => {
    writeFileSync(join(webRoot, "index.html"), "revision 1");
    expect(await (await fetch(`${base}/`)).text()).toBe("revision 1");
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it("hides a deployed AppSpec and makes browsers revalidate the site's files", async () => {
    // GIVEN a revision deployed with source: / (the tutorial's), AppSpec included
    writeFileSync(join(webRoot, "index.html"), "revision 2");
    writeFileSync(join(webRoot, "appspec.yml"), "version: 0.0\n");
    // THEN the AppSpec is refused and the page must be revalidated
    expect((await fetch(`${base}/appspec.yml`)).status).toBe(403);
    const page = await fetch(`${base}/`);
    expect(await page.text()).toBe("revision 2");
    expect(page.headers.get("cache-control")).toBe("no-cache");
  });

  it("is what verify-image.sh checks with curl", () => {
    expect(call(script("verify-image.sh"), "http_status", [`${base}/health`, "5"]).stdout.trim()).toBe("200");
  });
});
