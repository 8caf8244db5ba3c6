/**
 * The provisioning scripts (packer/scripts/*.sh), run here as far as this machine allows:
 * their functions with bash on temporary folders, PHP's modules with Debian's php, and the
 * health endpoint's Apache configuration served for real by Debian's apache2 on loopback.
 * What needs Amazon Linux (dnf, systemctl, the CodeDeploy installer) runs in the Packer build,
 * where verify-image.sh checks the result before the image is made.
 *
 * @slow apache
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { HEALTH_CHECK } from "../../modules/names";
import { PACKER_DIR } from "../../scripts/lib/image/packer";
import { removeTempDirs, tempDir as makeTempDir } from "../helpers/fake-packer";
import { describeWithTool, missingProgram } from "../helpers/tools";

const SCRIPTS = join(PACKER_DIR, "scripts");
/** How AL2023's httpd hands PHP to PHP-FPM (its php-fpm package's www pool and php.conf). */
const AL2023_FPM_HANDLER = "proxy:unix:/run/php-fpm/www.sock|fcgi://localhost";
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

  it("answers the health path with a PHP script outside the web root, run by PHP-FPM on the image", () => {
    const conf = call(web, "render_health_conf", [HEALTH_CHECK.path, "/usr/share/webfleet/health", AL2023_FPM_HANDLER]).stdout;
    expect(conf).toContain(`AliasMatch "^${HEALTH_CHECK.path}$" "/usr/share/webfleet/health/health.php"`);
    expect(conf).toContain('<Directory "/usr/share/webfleet/health">');
    expect(conf).toContain(`SetHandler "${AL2023_FPM_HANDLER}"`);
    expect(conf).not.toContain('/var/www/html"');
    // AND main hands it AL2023's PHP-FPM socket (the www pool of the php-fpm package)
    expect(readFileSync(web, "utf8")).toContain(`readonly PHP_FPM_HANDLER='${AL2023_FPM_HANDLER}'`);
  });

  it("matches the health path exactly, dots included", () => {
    expect(call(web, "render_health_conf", ["/lb/ready.php", "/h", "x"]).stdout).toContain('AliasMatch "^/lb/ready\\.php$" "/h/health.php"');
  });

  it("installs the health endpoint the same way twice", () => {
    const dir = tempDir("webfleet-health-");
    const conf = join(dir, "conf.d", "webfleet-health.conf");
    const health = join(dir, "share", "health");
    const args = [conf, HEALTH_CHECK.path, health, AL2023_FPM_HANDLER];
    expect(call(web, "install_health_endpoint", args).status).toBe(0);
    const first = [readFileSync(conf, "utf8"), readFileSync(join(health, "health.php"), "utf8")];
    expect(call(web, "install_health_endpoint", args).status).toBe(0);
    expect([readFileSync(conf, "utf8"), readFileSync(join(health, "health.php"), "utf8")]).toEqual(first);
    expect(first[1]).toMatch(/^<\?php\n/);
  });

  test.each(["", "/", "health", "/a b", '/x"y', "/x/", "//x", "/x;rm"])("refuses the health path %p, naming it, and writes nothing", (path) => {
    const dir = tempDir("webfleet-health-");
    const r = call(web, "install_health_endpoint", [join(dir, "h.conf"), path, join(dir, "health"), AL2023_FPM_HANDLER]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`health path '${path}' is not a URL path of /segments made of letters, digits and ._~-`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("stops before installing anything when the health path is not given", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, WEBFLEET_PHP_VERSION: "8.3" };
    delete env.WEBFLEET_HEALTH_PATH;
    const r = spawnSync("bash", [web], { encoding: "utf8", env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("WEBFLEET_HEALTH_PATH is not set: the Packer template passes HEALTH_CHECK.path from modules/names.ts");
  });

  it("turns off symlinks and listings in the web root (AL2023's httpd.conf has Indexes FollowSymLinks there)", () => {
    const conf = call(web, "render_web_conf", ["/var/www/html"]).stdout;
    const options = conf.split("\n").filter((l) => /^\s*Options\b/.test(l));
    expect(options).toEqual(["    Options None"]);
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

  it("stops before installing anything when the agent's Ruby line is not given", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, WEBFLEET_REGION: "us-east-1" };
    delete env.WEBFLEET_AGENT_RUBY;
    const r = spawnSync("bash", [agent], { encoding: "utf8", env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("WEBFLEET_AGENT_RUBY is not set");
  });

  describe("making Ruby 3.2 the `ruby` the agent runs", () => {
    /**
     * A bin folder with fake rubies (each prints its version) and `ruby` pointing at `current`,
     * and, when `withAlternatives`, an `alternatives` on PATH that switches the link as AL2023's
     * does and records its calls.
     */
    function givenRubies(versions: string[], current: string, withAlternatives = true) {
      const dir = tempDir("webfleet-ruby-");
      const bin = join(dir, "bin");
      const tools = join(dir, "tools");
      mkdirSync(bin);
      mkdirSync(tools);
      for (const v of versions) {
        writeFileSync(join(bin, `ruby${v.split(".").slice(0, 2).join(".")}`), `#!/bin/sh\nprintf '%s' '${v}'\n`);
        chmodSync(join(bin, `ruby${v.split(".").slice(0, 2).join(".")}`), 0o755);
      }
      symlinkSync(join(bin, `ruby${current}`), join(bin, "ruby"));
      const log = join(dir, "alternatives.log");
      if (withAlternatives) {
        writeFileSync(
          join(tools, "alternatives"),
          `#!/bin/sh\necho "$*" >>'${log}'\n[ "$1" = --display ] && exit 0\n[ "$1" = --set ] && ln -sfn "$3" '${bin}/ruby'\n`,
        );
        chmodSync(join(tools, "alternatives"), 0o755);
      }
      const env = { ...process.env, PATH: `${tools}:${process.env.PATH}` };
      return { bin, env, calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []) };
    }

    it("switches `ruby` from 3.4 to 3.2 with alternatives, as AL2023 does", () => {
      // GIVEN AL2023 with Ruby 3.2 and 3.4, `ruby` being 3.4
      const world = givenRubies(["3.2.8", "3.4.1"], "3.4");
      // WHEN the agent's Ruby is set up, twice
      expect(call(agent, "use_ruby", ["3.2", world.bin], { env: world.env })).toMatchObject({ status: 0, stderr: "" });
      expect(call(agent, "use_ruby", ["3.2", world.bin], { env: world.env }).status).toBe(0);
      // THEN alternatives made ruby3.2 the `ruby`
      expect(world.calls()).toEqual(["--display ruby", `--set ruby ${world.bin}/ruby3.2`, "--display ruby", `--set ruby ${world.bin}/ruby3.2`]);
      expect(call(agent, "ruby_version", [join(world.bin, "ruby")]).stdout).toBe("3.2.8");
    });

    it("accepts a system with one Ruby and no alternatives entry when that Ruby is 3.2", () => {
      const world = givenRubies(["3.2.8"], "3.2", false);
      expect(call(agent, "use_ruby", ["3.2", world.bin], { env: world.env }).status).toBe(0);
    });

    it("fails, naming the version, when `ruby` stays another line", () => {
      const world = givenRubies(["3.2.8", "3.4.1"], "3.4", false);
      const r = call(agent, "use_ruby", ["3.2", world.bin], { env: world.env });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${world.bin}/ruby is Ruby 3.4.1, not 3.2, the line the CodeDeploy agent's installer supports`);
    });

    it("does not take 3.20 for 3.2", () => {
      const world = givenRubies(["3.20.0"], "3.20", false);
      writeFileSync(join(world.bin, "ruby3.2"), "#!/bin/sh\nprintf 3.2.8\n");
      chmodSync(join(world.bin, "ruby3.2"), 0o755);
      expect(call(agent, "use_ruby", ["3.2", world.bin], { env: world.env }).stderr).toContain("is Ruby 3.20.0, not 3.2");
    });

    it("fails when the ruby3.2 package did not install its interpreter", () => {
      const world = givenRubies(["3.4.1"], "3.4");
      const r = call(agent, "use_ruby", ["3.2", world.bin], { env: world.env });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${world.bin}/ruby3.2 is missing: the ruby3.2 package provides it`);
    });
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

  test.each([
    ["accepts", "3.2.8", 0],
    ["accepts", "3.2", 0],
    ["refuses", "3.4.1", 1],
    ["refuses", "3.20.0", 1],
    ["refuses", "", 1],
  ])("%s Ruby %p for the agent's Ruby line 3.2", (_verdict, actual, status) => {
    const r = call(verify, "check_agent_ruby", ["3.2", actual]);
    expect(r.status).toBe(status);
    if (status !== 0) expect(r.stderr).toContain(`the CodeDeploy agent would run on Ruby ${actual || "(none)"}, not 3.2`);
  });

  it("reads the agent's Ruby the way its service finds it: after sourcing the profile, `ruby` on PATH", () => {
    // GIVEN a profile that puts a Ruby 3.4 first on PATH
    const dir = tempDir("webfleet-profile-");
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "ruby"), "#!/bin/sh\nprintf 3.4.1\n");
    chmodSync(join(dir, "bin", "ruby"), 0o755);
    writeFileSync(join(dir, "profile"), `PATH=${join(dir, "bin")}:$PATH\n`);
    // THEN that is the Ruby the check sees
    expect(call(verify, "agent_ruby_version", [join(dir, "profile")]).stdout).toBe("3.4.1");
  });

  it("finds the agent's /bin/tar, or says the agent needs it", () => {
    const dir = tempDir("webfleet-tar-");
    const tar = join(dir, "tar");
    expect(call(verify, "check_agent_tar", [tar]).stderr).toContain(`${tar} is missing: the CodeDeploy agent unpacks tar revisions with ${tar}`);
    writeFileSync(tar, "");
    expect(call(verify, "check_agent_tar", [tar]).status).toBe(1);
    chmodSync(tar, 0o755);
    expect(call(verify, "check_agent_tar", [tar]).status).toBe(0);
    expect(readFileSync(verify, "utf8")).toContain("readonly AGENT_TAR=/bin/tar");
  });

  it("checks that the agent's service is enabled at boot", () => {
    expect(readFileSync(verify, "utf8")).toContain("readonly BOOT_SERVICES=(httpd.service php-fpm.service codedeploy-agent.service)");
  });

  it.each(["WEBFLEET_HEALTH_PATH", "WEBFLEET_AGENT_RUBY"])("stops before checking anything when %s is not given", (name) => {
    const env: NodeJS.ProcessEnv = { ...process.env, WEBFLEET_HEALTH_PATH: HEALTH_CHECK.path, WEBFLEET_AGENT_RUBY: "3.2" };
    delete env[name];
    const r = spawnSync("bash", [verify], { encoding: "utf8", env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${name} is not set`);
    expect(r.stdout).toBe("");
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

const MODULES = "/usr/lib/apache2/modules";

/** Debian's mod_php (libphp8.x.so), or undefined. */
function modPhp(): string | undefined {
  return existsSync(MODULES) ? readdirSync(MODULES).find((f) => /^libphp[\d.]*\.so$/.test(f)) : undefined;
}

/** Debian's php-fpm (php-fpm8.x in /usr/sbin), or AL2023's php-fpm, on PATH. */
function phpFpm(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin"].filter((d) => d && existsSync(d));
  for (const dir of dirs) {
    const found = readdirSync(dir).find((f) => /^php-fpm[\d.]*$/.test(f));
    if (found) return join(dir, found);
  }
  return undefined;
}

/** A throwaway Apache on loopback with the image's conf.d files, as the tests start it. */
interface Server {
  readonly base: string;
  readonly dir: string;
  readonly webRoot: string;
  readonly stop: () => Promise<void>;
}

/**
 * Starts Debian's apache2 on a free loopback port with its own ServerRoot in a temp folder: the
 * web root configured as AL2023's httpd.conf has it (Options Indexes FollowSymLinks), then the
 * webfleet files that `install` writes into conf.d, included last as AL2023 does.
 */
async function startApache(o: { modules: string[]; mpm: "event" | "prefork"; install: (dir: string, webRoot: string) => void }): Promise<Server> {
  const dir = tempDir("webfleet-apache-");
  const webRoot = join(dir, "html");
  mkdirSync(webRoot);
  mkdirSync(join(dir, "conf.d"));
  o.install(dir, webRoot);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const root = process.getuid?.() === 0;
  const load = (name: string, file: string) => `LoadModule ${name}_module ${MODULES}/${file}`;
  const conf = [
    `ServerRoot "${dir}"`,
    `ServerName 127.0.0.1`,
    `Listen 127.0.0.1:${port}`,
    `PidFile "${dir}/httpd.pid"`,
    `ErrorLog "${dir}/error.log"`,
    load(`mpm_${o.mpm}`, `mod_mpm_${o.mpm}.so`),
    ...["authz_core", "alias", "mime", "dir", "headers", "autoindex", ...o.modules].map((m) =>
      m.startsWith("libphp") ? `LoadModule php_module ${MODULES}/${m}` : load(m, `mod_${m}.so`),
    ),
    ...(root ? ["User #65534", "Group #65534"] : []),
    `TypesConfig /etc/mime.types`,
    `DocumentRoot "${webRoot}"`,
    `<Directory "${webRoot}">`,
    `    Options Indexes FollowSymLinks`,
    `    AllowOverride None`,
    `    Require all granted`,
    `</Directory>`,
    `DirectoryIndex index.html`,
    `IncludeOptional "${dir}/conf.d/*.conf"`,
  ].join("\n");
  writeFileSync(join(dir, "httpd.conf"), `${conf}\n`);
  const syntax = spawnSync("apache2", ["-t", "-f", join(dir, "httpd.conf")], { encoding: "utf8" });
  expect(`${syntax.stdout}${syntax.stderr}`.trim()).toBe("Syntax OK");
  // Its own process group: on SIGTERM, Apache's prefork parent signals its whole group.
  const apache = spawn("apache2", ["-DFOREGROUND", "-f", join(dir, "httpd.conf")], { stdio: "ignore", detached: true });
  const stop = () => stopProcess(apache);
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${base}/`);
      return { base, dir, webRoot, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(`apache2 did not start: ${existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "no error log"}`);
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** Writes what install-web.sh's main writes into conf.d: the health endpoint at `path` with `handler`, and the web root's conf. */
function installWebConf(dir: string, webRoot: string, handler: string, path: string = HEALTH_CHECK.path, name = "webfleet-health"): void {
  const web = script("install-web.sh");
  expect(call(web, "install_health_endpoint", [join(dir, "conf.d", `${name}.conf`), path, join(dir, name), handler])).toMatchObject({ status: 0 });
  expect(call(web, "install_web_conf", [join(dir, "conf.d", "webfleet-web.conf"), webRoot]).status).toBe(0);
}

const verifyImage = script("verify-image.sh");
/** verify-image.sh's http_get: [status, body]. */
const httpGet = (url: string): [string, string] => {
  const [status, ...body] = call(verifyImage, "http_get", [url, "5"]).stdout.split("\n");
  return [status, body.join("\n").trim()];
};

describeWithTool(
  "Apache with Debian's mod_php",
  missingProgram("apache2", "run npm run setup (Debian: apt-get install -y apache2 libapache2-mod-php)") ??
    missingProgram("curl", "run npm run setup (Debian: apt-get install -y curl)") ??
    (modPhp() ? undefined : `no libphp*.so in ${MODULES}: run npm run setup (Debian: apt-get install -y libapache2-mod-php)`),
)("the image's Apache configuration, served by Apache with PHP", () => {
  // mod_php stands in for PHP-FPM here (the same PHP script; only the handler differs). The
  // FPM handler itself is served below, with and without a PHP-FPM behind it.
  const OTHER_PATH = "/lb/ready";
  let server: Server;

  beforeAll(async () => {
    // GIVEN the health endpoint and the web root's conf as install-web.sh writes them, at the
    // contract's path and, to show nothing is hard-coded, at another one; and an empty web root
    server = await startApache({
      mpm: "prefork",
      modules: [modPhp()!],
      install: (dir, webRoot) => {
        writeFileSync(join(webRoot, "index.html"), "tutorial page");
        installWebConf(dir, webRoot, "application/x-httpd-php");
        installWebConf(dir, webRoot, "application/x-httpd-php", OTHER_PATH, "webfleet-health-other");
        expect(call(script("install-web.sh"), "empty_web_root", [webRoot]).status).toBe(0);
      },
    });
  });

  afterAll(() => server?.stop());

  it(`answers GET ${HEALTH_CHECK.path} with 200 "OK" from PHP, uncached, while the web root is empty`, async () => {
    expect(readdirSync(server.webRoot)).toEqual([]);
    const res = await fetch(`${server.base}${HEALTH_CHECK.path}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("OK\n");
    expect(res.headers.get("cache-control")).toBe("no-store");
    // text/plain is PHP's header(): Apache alone would have said text/html or served the source
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  it("answers at whatever path it is given, so the path comes from the template alone", async () => {
    expect(httpGet(`${server.base}${OTHER_PATH}`)).toEqual(["200", "OK"]);
  });

  it("serves nothing else from the empty web root", async () => {
    expect([403, 404]).toContain((await fetch(`${server.base}/`)).status);
    expect((await fetch(`${server.base}${HEALTH_CHECK.path}/anything`)).status).toBe(404);
    expect((await fetch(`${server.base}${HEALTH_CHECK.path}z`)).status).toBe(404);
  });

  it("keeps answering after CodeDeploy puts the application in the web root", async () => {
    writeFileSync(join(server.webRoot, "index.html"), "revision 1");
    expect(await (await fetch(`${server.base}/`)).text()).toBe("revision 1");
    expect((await fetch(`${server.base}${HEALTH_CHECK.path}`)).status).toBe(200);
  });

  it("hides a deployed AppSpec and makes browsers revalidate the site's files", async () => {
    // GIVEN a revision deployed with source: / (the tutorial's), AppSpec included
    writeFileSync(join(server.webRoot, "index.html"), "revision 2");
    writeFileSync(join(server.webRoot, "appspec.yml"), "version: 0.0\n");
    // THEN the AppSpec is refused and the page must be revalidated
    expect((await fetch(`${server.base}/appspec.yml`)).status).toBe(403);
    const page = await fetch(`${server.base}/`);
    expect(await page.text()).toBe("revision 2");
    expect(page.headers.get("cache-control")).toBe("no-cache");
  });

  it("does not follow a symlink in a revision to a file or a folder outside the web root", async () => {
    // GIVEN a revision that links to a secret outside the web root, as a file and as a folder
    const outside = tempDir("webfleet-secret-");
    chmodSync(outside, 0o755);
    writeFileSync(join(outside, "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
    symlinkSync(join(outside, "passwd"), join(server.webRoot, "passwd"));
    symlinkSync(outside, join(server.webRoot, "etc"));
    // THEN neither is served, though httpd.conf allowed FollowSymLinks in the web root
    for (const url of ["/passwd", "/etc/passwd"]) {
      const res = await fetch(`${server.base}${url}`);
      expect({ url, status: res.status }).toEqual({ url, status: 403 });
      expect(await res.text()).not.toContain("root:x:0:0");
    }
  });

  it("does not list a folder of the revision that has no index", async () => {
    mkdirSync(join(server.webRoot, "assets"));
    writeFileSync(join(server.webRoot, "assets", "site.css"), "body {}");
    expect((await fetch(`${server.base}/assets/`)).status).toBe(403);
    expect((await fetch(`${server.base}/assets/site.css`)).status).toBe(200);
  });

  it("is what verify-image.sh checks: 200 with PHP's OK", () => {
    expect(httpGet(`${server.base}${HEALTH_CHECK.path}`)).toEqual(["200", "OK"]);
    expect(call(verifyImage, "check_health_answers", [`${server.base}${HEALTH_CHECK.path}`])).toMatchObject({ status: 0, stderr: "" });
  });
});

describeWithTool(
  "Apache with mod_proxy_fcgi",
  missingProgram("apache2", "run npm run setup (Debian: apt-get install -y apache2)") ??
    missingProgram("curl", "run npm run setup (Debian: apt-get install -y curl)"),
)("the health check through PHP-FPM's handler, with PHP-FPM down", () => {
  let server: Server;

  beforeAll(async () => {
    // GIVEN the image's health endpoint, handed to a PHP-FPM socket that nothing listens on (PHP died)
    server = await startApache({
      mpm: "event",
      modules: ["proxy", "proxy_fcgi"],
      install: (dir, webRoot) => installWebConf(dir, webRoot, `proxy:unix:${join(dir, "www.sock")}|fcgi://localhost`),
    });
  });

  afterAll(() => server?.stop());

  it("answers 503, so the load balancer and the Auto Scaling group take the instance out", async () => {
    expect((await fetch(`${server.base}${HEALTH_CHECK.path}`)).status).toBe(503);
  });

  it("is what verify-image.sh expects with php-fpm stopped, and refuses as healthy", () => {
    const url = `${server.base}${HEALTH_CHECK.path}`;
    expect(call(verifyImage, "check_health_needs_php", [url]).status).toBe(0);
    const r = call(verifyImage, "check_health_answers", [url]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`GET ${url} answered 503, expected 200`);
  });
});

describeWithTool(
  "Apache with PHP-FPM",
  missingProgram("apache2", "run npm run setup (Debian: apt-get install -y apache2)") ??
    missingProgram("curl", "run npm run setup (Debian: apt-get install -y curl)") ??
    (phpFpm() ? undefined : "php-fpm not found (/usr/sbin/php-fpm8.x): run npm run setup (Debian: apt-get install -y php-fpm)"),
)("the health check through PHP-FPM, as on the image", () => {
  let server: Server;
  let fpm: ChildProcess | undefined;
  let socket: string;

  beforeAll(async () => {
    // GIVEN the image's health endpoint handed to a PHP-FPM pool on a socket, as AL2023's www pool
    server = await startApache({
      mpm: "event",
      modules: ["proxy", "proxy_fcgi"],
      install: (dir, webRoot) => {
        socket = join(dir, "www.sock");
        installWebConf(dir, webRoot, `proxy:unix:${socket}|fcgi://localhost`);
      },
    });
    const root = process.getuid?.() === 0;
    const conf = [
      "[global]",
      `pid = ${join(server.dir, "php-fpm.pid")}`,
      `error_log = ${join(server.dir, "php-fpm.log")}`,
      "daemonize = no",
      "[www]",
      `listen = ${socket}`,
      "listen.mode = 0666",
      "pm = static",
      "pm.max_children = 1",
      ...(root ? ["user = nobody", "group = nogroup"] : []),
    ].join("\n");
    writeFileSync(join(server.dir, "php-fpm.conf"), `${conf}\n`);
    fpm = spawn(phpFpm()!, ["--nodaemonize", "--fpm-config", join(server.dir, "php-fpm.conf")], { stdio: "ignore", detached: true });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(socket)).toBe(true);
  });

  afterAll(async () => {
    await stopProcess(fpm);
    await server?.stop();
  });

  it(`answers GET ${HEALTH_CHECK.path} with PHP's 200 "OK" through PHP-FPM`, async () => {
    const res = await fetch(`${server.base}${HEALTH_CHECK.path}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("OK\n");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(call(verifyImage, "check_health_answers", [`${server.base}${HEALTH_CHECK.path}`]).status).toBe(0);
  });

  it("answers only the exact path", async () => {
    expect((await fetch(`${server.base}${HEALTH_CHECK.path}/anything`)).status).toBe(404);
  });

  it("answers 503 once PHP-FPM has died", async () => {
    // WHEN PHP-FPM stops
    await stopProcess(fpm);
    // THEN the health check fails, as verify-image.sh makes sure on the image
    expect((await fetch(`${server.base}${HEALTH_CHECK.path}`)).status).toBe(503);
    expect(call(verifyImage, "check_health_needs_php", [`${server.base}${HEALTH_CHECK.path}`]).status).toBe(0);
  });
});
