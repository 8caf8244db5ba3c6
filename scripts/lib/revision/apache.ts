/**
 * Debian's Apache + mod_php as a throwaway local web server for `revision:check`: its own
 * generated config (-f) in a temp folder, loopback only, on a free port, in the foreground.
 * The system's /etc/apache2 and port 80 are never read or touched.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { delimiter, join } from "node:path";
import type { Shell } from "zx";
import type { Defer } from "../cli/interrupts";

/** The local tools a revision check needs, found on this machine. */
export interface LocalTools {
  readonly apache2: string;
  readonly apacheModulesDir: string;
  /** mod_php for Apache (Debian: libphp8.x.so in the modules folder). */
  readonly phpModule: string;
  readonly chromium: string;
  readonly shellcheck: string;
}

export const DEFAULT_TOOL_PATHS = {
  apache2: "/usr/sbin/apache2",
  apacheModulesDir: "/usr/lib/apache2/modules",
  chromium: "/usr/bin/chromium",
} as const;

/** Modules the generated config loads (besides mod_php); Debian compiles in unixd and log_config. */
export const APACHE_MODULES = {
  mpm_prefork_module: "mod_mpm_prefork.so",
  authz_core_module: "mod_authz_core.so",
  dir_module: "mod_dir.so",
  mime_module: "mod_mime.so",
  env_module: "mod_env.so",
  alias_module: "mod_alias.so",
} as const;

export class MissingToolsError extends Error {
  constructor(
    readonly missing: readonly string[],
    packages: readonly string[],
  ) {
    super(`${missing.join("\n")}\n  fix: apt-get install -y ${[...new Set(packages)].join(" ")}`);
    this.name = "MissingToolsError";
  }
}

function onPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  return path
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, name))
    .find((f) => existsSync(f));
}

/** Newest `libphp<major>.<minor>.so` in the modules folder. */
export function findPhpModule(modulesDir: string): string | undefined {
  if (!existsSync(modulesDir)) return undefined;
  const found = readdirSync(modulesDir)
    .map((f) => /^libphp(\d+)\.(\d+)\.so$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]) || Number(b[2]) - Number(a[2]));
  return found[0] ? join(modulesDir, found[0][0]) : undefined;
}

/**
 * Finds apache2, its modules (mpm_prefork, mod_php), chromium and shellcheck. Throws
 * {@link MissingToolsError} naming everything missing and the Debian packages to install.
 */
export function findLocalTools(overrides: Partial<LocalTools> = {}): LocalTools {
  const missing: string[] = [];
  const packages: string[] = [];
  const need = (what: string, pkg: string) => {
    missing.push(what);
    packages.push(pkg);
  };
  const apache2 = overrides.apache2 ?? (existsSync(DEFAULT_TOOL_PATHS.apache2) ? DEFAULT_TOOL_PATHS.apache2 : onPath("apache2"));
  if (!apache2 || !existsSync(apache2)) need(`apache2 not found (looked for ${overrides.apache2 ?? DEFAULT_TOOL_PATHS.apache2} and on PATH)`, "apache2");
  const modulesDir = overrides.apacheModulesDir ?? DEFAULT_TOOL_PATHS.apacheModulesDir;
  const absent = Object.values(APACHE_MODULES).filter((m) => !existsSync(join(modulesDir, m)));
  if (absent.length) need(`Apache modules not found in ${modulesDir}: ${absent.join(", ")}`, "apache2");
  const phpModule = overrides.phpModule ?? findPhpModule(modulesDir);
  if (!phpModule || !existsSync(phpModule)) need(`mod_php not found (no libphp8.x.so in ${modulesDir})`, "libapache2-mod-php");
  const chromium = overrides.chromium ?? findChromium();
  if (!chromium || !existsSync(chromium)) {
    need(
      `chromium not found${overrides.chromium ? ` at ${overrides.chromium}` : ` (looked at WEBFLEET_CHROMIUM, ${DEFAULT_TOOL_PATHS.chromium}, PATH and .cache/browsers/)`}`,
      "chromium",
    );
  }
  const shellcheck = overrides.shellcheck ?? onPath("shellcheck");
  if (!shellcheck || !existsSync(shellcheck)) need(`shellcheck not found${overrides.shellcheck ? ` at ${overrides.shellcheck}` : " on PATH"}`, "shellcheck");
  if (missing.length) throw new MissingToolsError(missing, packages);
  return { apache2: apache2!, apacheModulesDir: modulesDir, phpModule: phpModule!, chromium: chromium!, shellcheck: shellcheck! };
}

/** Where `npm run setup` puts Chrome for Testing's headless shell on Ubuntu (whose chromium is a snap). */
export const BROWSER_CACHE = join(__dirname, "../../../.cache/browsers/chrome-headless-shell");

/**
 * Ubuntu's chromium is a snap (/snap/bin/chromium, a link to /usr/bin/snap), which does not run
 * headless in containers or under another user's home: setup fetches a headless shell instead.
 */
export function isSnap(binary: string): boolean {
  if (binary.startsWith("/snap/")) return true;
  try {
    return realpathSync(binary).endsWith("/snap");
  } catch {
    return false;
  }
}

/** WEBFLEET_CHROMIUM, Debian's chromium, chromium on PATH, or the headless shell `npm run setup` fetched. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.WEBFLEET_CHROMIUM) return env.WEBFLEET_CHROMIUM;
  if (existsSync(DEFAULT_TOOL_PATHS.chromium)) return DEFAULT_TOOL_PATHS.chromium;
  const onPathChromium = onPath("chromium", env.PATH);
  if (onPathChromium && !isSnap(onPathChromium)) return onPathChromium;
  if (!existsSync(BROWSER_CACHE)) return undefined;
  for (const version of readdirSync(BROWSER_CACHE).sort().reverse()) {
    for (const platform of readdirSync(join(BROWSER_CACHE, version))) {
      const binary = join(BROWSER_CACHE, version, platform, "chrome-headless-shell");
      if (existsSync(binary)) return binary;
    }
  }
  return undefined;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ApacheConfigOptions {
  /** Folder for the config, pid file, logs and runtime files. */
  readonly serverRoot: string;
  readonly documentRoot: string;
  readonly port: number;
  readonly modulesDir: string;
  readonly phpModule: string;
  /** SetEnv for every request (WEBFLEET_IMDS_ENDPOINT). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * A second URL prefix serving the same document root with other variables, e.g. the metadata
   * endpoint pointing at a server that never answers.
   * @default - none
   */
  readonly altRoute?: { readonly prefix: string; readonly env: Readonly<Record<string, string>> };
  /**
   * User and group for the worker processes, needed when started as root (Apache refuses to
   * serve as root). @default - the current user (no User/Group directives)
   */
  readonly runAs?: { readonly user: string; readonly group: string };
}

const q = (s: string): string => {
  if (/["\n\r]/.test(s)) throw new Error(`cannot put ${JSON.stringify(s)} in an Apache config: it contains a quote or a newline`);
  return `"${s}"`;
};

/** The whole httpd config for one local run (pure). */
export function apacheConfig(o: ApacheConfigOptions): string {
  const docRoot = o.documentRoot.replace(/\/+$/, "");
  const setEnv = (env: Readonly<Record<string, string>> | undefined, indent = "") =>
    Object.entries(env ?? {}).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name for SetEnv: ${JSON.stringify(k)}`);
      return `${indent}SetEnv ${k} ${q(v)}`;
    });
  const lines = [
    "# Generated by webfleet `npm run revision:check` for one local run (apache2 -f this file).",
    "# Loopback only; the system's /etc/apache2 is not used.",
    `ServerRoot ${q(o.serverRoot)}`,
    `DefaultRuntimeDir ${q(o.serverRoot)}`,
    `PidFile ${q(join(o.serverRoot, "apache2.pid"))}`,
    `Mutex file:${o.serverRoot} default`,
    `Listen 127.0.0.1:${o.port}`,
    "ServerName 127.0.0.1",
    ...Object.entries(APACHE_MODULES).map(([name, file]) => `LoadModule ${name} ${q(join(o.modulesDir, file))}`),
    `LoadModule php_module ${q(o.phpModule)}`,
    ...(o.runAs ? [`User ${o.runAs.user}`, `Group ${o.runAs.group}`] : []),
    "StartServers 2",
    "MinSpareServers 1",
    "MaxSpareServers 4",
    "MaxRequestWorkers 8",
    `ErrorLog ${q(join(o.serverRoot, "error.log"))}`,
    "LogLevel warn",
    'LogFormat "%h %t \\"%r\\" %>s %b %{ms}Tms" local',
    `CustomLog ${q(join(o.serverRoot, "access.log"))} local`,
    ...(existsSync("/etc/mime.types") ? ["TypesConfig /etc/mime.types"] : ["AddType text/html .html .htm", "AddType text/css .css"]),
    "AddDefaultCharset UTF-8",
    `DocumentRoot ${q(docRoot)}`,
    "<Directory />",
    "  AllowOverride None",
    "  Require all denied",
    "</Directory>",
    `<Directory ${q(docRoot)}>`,
    "  Options None",
    "  AllowOverride None",
    "  Require all granted",
    "</Directory>",
    "DirectoryIndex index.html index.php",
    '<FilesMatch "\\.php$">',
    "  SetHandler application/x-httpd-php",
    "</FilesMatch>",
    ...setEnv(o.env),
  ];
  if (o.altRoute) {
    const prefix = `/${o.altRoute.prefix.replace(/^\/+|\/+$/g, "")}/`;
    lines.push(`Alias ${q(prefix)} ${q(`${docRoot}/`)}`, `<Location ${q(prefix)}>`, ...setEnv(o.altRoute.env, "  "), "</Location>");
  }
  return lines.join("\n") + "\n";
}

export interface RunningApache {
  readonly url: string;
  readonly errorLog: string;
  stop(): Promise<void>;
}

/** Last `n` lines of a file, or "" when it does not exist. */
export function tailOf(file: string, n = 20): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
}

/** Signals the process group led by `pid` (a detached child); nothing when it is gone. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts `apache2 -f <confFile> -DFOREGROUND` and waits until it answers on the port. With
 * `defer`, its stop is registered with the interrupt handler as soon as it is started, so a
 * Ctrl-C while it comes up stops it too. Throws with the error log's tail when it exits or does
 * not answer within `startTimeoutMs`.
 */
export async function startApache(
  $: Shell,
  o: {
    readonly apache2: string;
    readonly confFile: string;
    readonly port: number;
    readonly errorLog: string;
    readonly startTimeoutMs?: number;
    readonly defer?: Defer;
  },
): Promise<RunningApache> {
  const url = `http://127.0.0.1:${o.port}/`;
  // Its own process group (detached): on shutdown prefork signals its whole group, which would
  // otherwise be ours.
  const proc = $({ quiet: true, nothrow: true, detached: true })`${o.apache2} -f ${o.confFile} -DFOREGROUND`;
  let exited = false;
  void proc.then(() => {
    exited = true;
  });
  // The signal goes to Apache's process group before anything is awaited: on Ctrl-C the process
  // may end soon after. Prefork's parent stops its workers itself.
  const stopNow = async () => {
    if (exited) return;
    signalGroup(proc.pid, "SIGTERM");
    if (!(await Promise.race([proc.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5000).unref())]))) {
      signalGroup(proc.pid, "SIGKILL");
      await proc;
    }
  };
  const registered = o.defer?.(stopNow);
  const stop = registered ? () => registered.run() : stopNow;
  const deadline = Date.now() + (o.startTimeoutMs ?? 5000);
  while (Date.now() < deadline && !exited) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(500) });
      return { url, errorLog: o.errorLog, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await stop();
  const out = await proc;
  const why = [out.stdall.trim(), tailOf(o.errorLog)].filter(Boolean).join("\n");
  throw new Error(`apache2 did not start on 127.0.0.1:${o.port} (config ${o.confFile})${why ? `:\n${why}` : ""}`);
}
