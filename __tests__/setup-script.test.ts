/**
 * `npm run setup` (scripts/setup.sh) against a fake system: fake uname, id, apt-get, sudo, brew,
 * npm and npx on a PATH of their own, and the file probes and /etc/os-release under a fake root
 * (WEBFLEET_SETUP_ROOT). What it installs, how (sudo or not), and what it says where it cannot.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const SCRIPT = resolve(__dirname, "../scripts/setup.sh");
const BASH = ["/bin/bash", "/usr/bin/bash"].find(existsSync)!;
/** What the script runs from the system besides the fakes. */
const UTILITIES = ["dirname", "sort", "readlink", "env", "cat"];
const DEBIAN_PROBE_FILES = [
  "usr/sbin/apache2",
  "usr/lib/apache2/modules/libphp8.2.so",
  "etc/php/8.2/mods-available/mbstring.ini",
  "etc/php/8.2/mods-available/mysqli.ini",
  "usr/sbin/php-fpm8.2",
];
const ALL_DEBIAN = "apache2 chromium curl libapache2-mod-php packer php-cli php-fpm php-mbstring php-mysql shellcheck";

interface FakeSystem {
  readonly os?: string;
  readonly osRelease?: string;
  readonly uid?: number;
  readonly sudo?: boolean;
  readonly brew?: boolean;
  /** Commands on PATH (as empty programs). */
  readonly commands?: readonly string[];
  /** Files under the fake root that the probes look for. */
  readonly files?: readonly string[];
  /** chromium on PATH is a snap: /snap/bin style, a link to a `snap` launcher. */
  readonly snapChromium?: boolean;
}

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

function write(file: string, text: string, mode = 0o755): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

function runSetup(system: FakeSystem) {
  const dir = mkdtempSync(join(tmpdir(), "webfleet-setup-"));
  temps.push(dir);
  const bin = join(dir, "bin");
  const root = join(dir, "root");
  const log = join(dir, "log");
  mkdirSync(bin);
  mkdirSync(join(dir, "checkout", "scripts"), { recursive: true });
  copyFileSync(SCRIPT, join(dir, "checkout", "scripts", "setup.sh"));
  for (const utility of UTILITIES) {
    const found = ["/usr/bin", "/bin"].map((d) => join(d, utility)).find(existsSync);
    if (found) symlinkSync(found, join(bin, utility));
  }
  const logs = (name: string) => `#!${BASH}\nprintf '%s\\n' "${name} $*" >>'${log}'\n`;
  write(join(bin, "uname"), `#!${BASH}\necho ${system.os ?? "Linux"}\n`);
  write(join(bin, "id"), `#!${BASH}\necho ${system.uid ?? 0}\n`);
  write(join(bin, "apt-get"), logs("apt-get"));
  write(join(bin, "npm"), logs("npm"));
  write(join(bin, "npx"), logs("npx"));
  if (system.sudo) write(join(bin, "sudo"), `${logs("sudo")}exec "$@"\n`);
  if (system.brew) write(join(bin, "brew"), logs("brew"));
  for (const command of system.commands ?? []) write(join(bin, command), `#!${BASH}\n`);
  if (system.snapChromium) {
    write(join(bin, "snap"), `#!${BASH}\n`);
    symlinkSync(join(bin, "snap"), join(bin, "chromium"));
  }
  for (const file of system.files ?? []) write(join(root, file), "", 0o644);
  if (system.osRelease) write(join(root, "etc/os-release"), `${system.osRelease}\n`, 0o644);
  const r = spawnSync(BASH, [join(dir, "checkout", "scripts", "setup.sh")], {
    encoding: "utf8",
    env: { PATH: bin, HOME: dir, WEBFLEET_SETUP_ROOT: root },
  });
  return {
    status: r.status,
    stderr: r.stderr,
    calls: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [],
    checkout: join(dir, "checkout"),
  };
}

const NPM_CI = "npm ci --no-audit --no-fund";

describe("npm run setup", () => {
  it("on Debian as root installs every missing package with apt, then runs npm ci", () => {
    const r = runSetup({ osRelease: "ID=debian" });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(["apt-get update -qq", `apt-get install -y -qq --no-install-recommends ${ALL_DEBIAN}`, NPM_CI]);
    expect(r.stderr).toContain(`setup: installing Debian packages: ${ALL_DEBIAN}`);
  });

  it("installs only what is missing, through sudo when not root", () => {
    const r = runSetup({ osRelease: "ID=debian", uid: 1000, sudo: true, commands: ["shellcheck", "packer", "php", "curl"], files: DEBIAN_PROBE_FILES });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
      "apt-get update -qq",
      "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium",
      "apt-get install -y -qq --no-install-recommends chromium",
      NPM_CI,
    ]);
  });

  it("installs nothing when everything is there (a second run), and says so", () => {
    const r = runSetup({ osRelease: "ID=debian", commands: ["shellcheck", "packer", "php", "curl", "chromium", "terraform"], files: DEBIAN_PROBE_FILES });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([NPM_CI]);
    expect(r.stderr).toContain("setup: system tools: all present");
    expect(r.stderr).not.toContain("terraform is not on PATH");
  });

  it("says what to do when it needs root and there is no sudo, and stops before npm ci", () => {
    const r = runSetup({ osRelease: "ID=debian", uid: 1000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("need root to run 'env DEBIAN_FRONTEND=noninteractive apt-get update -qq' and there is no sudo");
    expect(r.calls).toEqual([]);
  });

  it("on Ubuntu leaves apt's snap chromium out and fetches the headless shell, pinned, with its libraries", () => {
    const r = runSetup({ osRelease: "ID=ubuntu\nID_LIKE=debian" });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      "apt-get update -qq",
      `apt-get install -y -qq --no-install-recommends ${ALL_DEBIAN.replace("chromium ", "")}`,
      `npx --yes @puppeteer/browsers@2.13.2 install chrome-headless-shell@stable --path ${r.checkout}/.cache/browsers --install-deps`,
      NPM_CI,
    ]);
  });

  it("on Ubuntu fetches the headless shell when the chromium on PATH is a snap", () => {
    const r = runSetup({
      osRelease: "ID=ubuntu\nID_LIKE=debian",
      uid: 1000,
      sudo: true,
      snapChromium: true,
      commands: ["shellcheck", "packer", "php", "curl"],
      files: DEBIAN_PROBE_FILES,
    });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([`npx --yes @puppeteer/browsers@2.13.2 install chrome-headless-shell@stable --path ${r.checkout}/.cache/browsers`, NPM_CI]);
  });

  it("on macOS installs what Homebrew has and says the local revision run is skipped", () => {
    const r = runSetup({ os: "Darwin", brew: true, commands: ["curl"] });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(["brew install shellcheck packer", NPM_CI]);
    expect(r.stderr).toContain("the local revision run (revision:check) is skipped by npm test, with a banner");
  });

  it("on another system says what to install by hand, and still runs npm ci", () => {
    const r = runSetup({ osRelease: "ID=arch" });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      "setup: unsupported system (Linux arch): install shellcheck, packer, Apache 2 with mod_php (Debian layout), chromium and curl by hand;",
    );
    expect(r.stderr).toContain("terraform is not on PATH");
    expect(r.calls).toEqual([NPM_CI]);
  });
});
