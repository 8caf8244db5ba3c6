/**
 * The real local run: Debian's Apache + mod_php on loopback, the hooks, every page, Chromium.
 * Without apache2, libapache2-mod-php, chromium or shellcheck the suite is skipped with a banner
 * naming the packages (a failure under WEBFLEET_REQUIRE_TOOLS=1, as in CI).
 *
 * @slow apache chromium
 */
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { inflateSync } from "node:zlib";
import { $ } from "zx";
import { executeCommand } from "../../../../scripts/lib/cli/command";
import { Interrupts } from "../../../../scripts/lib/cli/interrupts";
import { command as revisionCheck } from "../../../../scripts/revision-check";
import { findLocalTools, MissingToolsError } from "../../../../scripts/lib/revision/apache";
import { describeWithTool } from "../../../helpers/tools";
import { checkRevision, type RevisionCheckResult } from "../../../../scripts/lib/revision/check";
import { LOCAL_IDENTITY } from "../../../../scripts/lib/revision/imds";

const ROOT = resolve(__dirname, "../../../..");
const FIXTURES = join(ROOT, "__tests__/fixtures/revisions");
const temps: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), "revision-check-test-"));
  temps.push(d);
  return d;
};
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Png {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** Unfiltered pixel bytes, row after row. */
  readonly px: Buffer;
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes). */
function decodePng(file: string): Png {
  const buf = readFileSync(file);
  expect(buf.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < buf.length;) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString("ascii", at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[12]]).toEqual([8, 0]); // bit depth 8, not interlaced
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
    } else if (type === "IDAT") idat.push(data);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? px[row + i - channels] : 0; // left
      const b = y > 0 ? px[row - stride + i] : 0; // up
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const c = i >= channels && y > 0 ? px[row - stride + i - channels] : 0; // up-left
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[row + i] = (raw[y * (stride + 1) + 1 + i] + pred) & 0xff;
    }
  }
  return { width, height, channels, px };
}

/** How many pixels are within `tolerance` of the color. */
function countColor({ px, channels }: Png, [r, g, b]: [number, number, number], tolerance = 12): number {
  let n = 0;
  for (let i = 0; i < px.length; i += channels) {
    if (Math.abs(px[i] - r) <= tolerance && Math.abs(px[i + 1] - g) <= tolerance && Math.abs(px[i + 2] - b) <= tolerance) n++;
  }
  return n;
}

function missingLocalTools(): string | undefined {
  try {
    findLocalTools();
    return undefined;
  } catch (e) {
    if (e instanceof MissingToolsError) return e.message.replace(/\n\s*/g, "; ");
    throw e;
  }
}
const describeLocal = describeWithTool("the local revision run (Apache + PHP, Chromium)", missingLocalTools());

async function checkOffline(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { text: "", write: (s: string) => ((out.text += s), true) };
  const err = { text: "", write: (s: string) => ((err.text += s), true) };
  const code = await executeCommand(revisionCheck, [dir, "--offline", "--out", temp()], { stdout: out, stderr: err, exit: () => undefined });
  return { code, stdout: out.text, stderr: err.text };
}

// A revision the validator refuses is refused before any local tool is looked for.
describe("revision:check --offline", () => {
  it("GIVEN the whole revision copied to the web root THEN it fails, naming appspec.yml, the hook script, where they would land and what to install instead", async () => {
    const { code, stderr } = await checkOffline(join(FIXTURES, "whole-revision-served"));
    expect(code).toBe(1);
    expect(stderr).toContain(
      "whole-revision-served/appspec.yml:6: files[0]: installs appspec.yml to /var/www/html/appspec.yml and scripts/set_owner to /var/www/html/scripts/set_owner, under the web root (/var/www/html), where the instance's Apache serves them to anyone: appspec.yml and the hook scripts run from the agent's own copy of the revision and need not be installed; install only the public folder there, e.g. source: public",
    );
  });
});

describeLocal("revision:check --offline with the local tools", () => {
  it("GIVEN the sample revision, which installs only public/ THEN it passes", async () => {
    const { code, stdout } = await checkOffline(join(ROOT, "app"));
    expect(code).toBe(0);
    expect(stdout).toBe("ok\n");
  });
});

describeLocal("revision:check on the sample revision (app/)", () => {
  let result: RevisionCheckResult;
  let seconds = 0;

  beforeAll(async () => {
    const started = Date.now();
    result = await checkRevision($, { revisionDir: join(ROOT, "app"), outDir: temp() });
    seconds = (Date.now() - started) / 1000;
  }, 60_000);

  it("passes, in a few seconds", () => {
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(seconds).toBeLessThan(30); // about 5 s on an idle machine; the bound only catches hangs
  });

  it("validates the AppSpec and shellchecks both hook scripts first", () => {
    expect(result.appspec.ok).toBe(true);
    expect(result.shellcheck).toEqual([
      { location: "scripts/set_owner", ok: true, output: "" },
      { location: "scripts/validate_service", ok: true, output: "" },
    ]);
  });

  it("deploys twice, new instance then redeploy, running AfterInstall then ValidateService each time", () => {
    expect(result.hooks.map((h) => `${h.event} ${h.location} ${h.ok ? "ok" : "failed"}`)).toEqual([
      "AfterInstall scripts/set_owner ok",
      "ValidateService scripts/validate_service ok",
      "AfterInstall scripts/set_owner ok",
      "ValidateService scripts/validate_service ok",
    ]);
    expect(new Set(result.hooks.map((h) => h.deployment)).size).toBe(2);
  });

  it("lets the hooks find the local web root and Apache through WEB_ROOT and APP_URL", () => {
    const [setOwner, validate] = result.hooks;
    expect(setOwner.outputTail).toMatch(/^Running set_owner: chown -R \S+ \/tmp\/.*\/instance\/var\/www\/html$/m);
    expect(validate.outputTail).toMatch(/^ok: http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(validate.outputTail).toMatch(/^ok: http:\/\/127\.0\.0\.1:\d+\/instance\.php$/m);
  });

  it("serves every page with 200", () => {
    expect(result.pages.map((p) => `${p.status} ${p.path}`)).toEqual(["200 /", "200 /index.html", "200 /instance.php", "200 /__imds-unreachable/instance.php"]);
  });

  it("keeps appspec.yml and the hook scripts off the web: asked for, Apache has none of them", () => {
    expect(result.privatePaths).toEqual([
      { path: "/appspec.yml", status: 404 },
      { path: "/scripts/set_owner", status: 404 },
      { path: "/scripts/validate_service", status: 404 },
    ]);
  });

  it("shows on the instance page what the metadata service said", () => {
    const page = result.pages.find((p) => p.path === "/instance.php")!;
    for (const [field, value] of [
      ["instanceId", LOCAL_IDENTITY.instanceId],
      ["privateIp", LOCAL_IDENTITY.localIpv4],
      ["availabilityZone", LOCAL_IDENTITY.availabilityZone],
      ["region", LOCAL_IDENTITY.region],
    ]) {
      expect(page.body).toContain(`<td data-field="${field}">${value}</td>`);
    }
  });

  it("reads the metadata with IMDSv2: a token first, then only requests that carry it", () => {
    const requests = result.imdsRequests;
    expect(requests.length).toBeGreaterThan(0);
    expect(requests[0]).toMatchObject({ method: "PUT", path: "/latest/api/token", status: 200 });
    const reads = requests.filter((r) => r.path.startsWith("/latest/meta-data/"));
    expect(reads.length).toBeGreaterThanOrEqual(4);
    expect(reads.every((r) => r.hadToken && r.status === 200)).toBe(true);
  });

  it("says 'not on EC2' within the page's short timeout when the metadata service never answers", () => {
    const page = result.pages.find((p) => p.path === "/__imds-unreachable/instance.php")!;
    expect(page.body).toContain("Not on EC2 (metadata service unreachable at http://127.0.0.1:");
    expect(page.ms).toBeLessThan(3000);
  });

  it("renders the index page in Chromium: the formula, the star and three 'I told you so!' lines, no script errors", () => {
    const index = result.rendered.find((r) => r.path === "/")!;
    expect(index.jsErrors).toEqual([]);
    expect(index.dom).toContain("<math");
    expect(index.dom).toContain("<polygon");
    expect(index.dom.match(/<p>I told you so!<\/p>/g)).toHaveLength(3);
  });

  it("saves a screenshot in which the lime star with its purple outline shows", () => {
    const index = result.rendered.find((r) => r.path === "/")!;
    const png = decodePng(index.screenshot);
    expect([png.width, png.height]).toEqual([1024, 768]);
    expect(countColor(png, [0, 255, 0])).toBeGreaterThan(2000); // fill: lime
    expect(countColor(png, [128, 0, 128])).toBeGreaterThan(500); // stroke: purple
  });

  it("saves a screenshot of the instance page too", () => {
    expect(result.rendered.map((r) => r.path)).toEqual(["/", "/instance.php"]);
  });
});

describeLocal("revision:check on broken revisions", () => {
  it("reports every AppSpec problem, with lines, before starting anything", async () => {
    const result = await checkRevision($, { revisionDir: join(FIXTURES, "bad-appspec"), outDir: temp() });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(/^13 problems in .*bad-appspec\/appspec\.yml:\n/);
    expect(result.failure).toContain('bad-appspec/appspec.yml:2: version: must be the number 0.0, unquoted (got the string "0.0")');
    expect(result.failure).toContain("bad-appspec/appspec.yml:13: hooks.Install: Install is reserved for the CodeDeploy agent and never runs scripts");
    expect(result.shellcheck).toEqual([]);
    expect(result.hooks).toEqual([]);
  });

  it("stops at a failing hook, naming it with its exit code and output, and serves nothing", async () => {
    const result = await checkRevision($, { revisionDir: join(FIXTURES, "failing-hook"), outDir: temp() });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatch(
      /^deployment d-[A-Z0-9]{9}: hook AfterInstall \(scripts\/configure\) failed with exit code 3; output \(last 2048 characters\):\n/,
    );
    expect(result.failure).toContain("  | app.conf is missing");
    expect(result.pages).toEqual([]);
    expect(result.rendered).toEqual([]);
  }, 30_000);

  it("refuses a revision that puts appspec.yml and its hook scripts under the document root before deploying anything", async () => {
    const result = await checkRevision($, { revisionDir: join(FIXTURES, "whole-revision-served"), outDir: temp() });
    expect(result.ok).toBe(false);
    expect(result.failure).toContain("whole-revision-served/appspec.yml:6: files[0]: installs appspec.yml to /var/www/html/appspec.yml");
    expect(result.hooks).toEqual([]);
    expect(result.privatePaths).toEqual([]);
  }, 30_000);

  it("fails a hook that leaves a background process holding its output, as the agent does, after its timeout", async () => {
    const result = await checkRevision($, { revisionDir: join(FIXTURES, "background-output"), outDir: temp(), deployments: 1 });
    expect(result.ok).toBe(false);
    expect(result.failure).toContain(
      "hook ValidateService (scripts/start_server) exited with code 0, but a process it started kept its standard output open until the timeout of 2 s",
    );
  }, 30_000);
});

describeLocal("revision:check interrupted", () => {
  /** A process id printed by the hook as `name=<pid>`. */
  const pidOf = (output: string, name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(output)?.[1]);
  const running = (pid: number) => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    return !/^\d+ \(.*\) Z /.test(existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : "");
  };
  const eventually = async (done: () => boolean, ms = 5000) => {
    for (const until = Date.now() + ms; !done() && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    return done();
  };

  it("GIVEN Ctrl-C while a hook runs THEN, by the time the command exits 130, the hook and what it started, Apache and the temporary folder are gone", async () => {
    // GIVEN the command's interrupt handler, with a signal source the test controls; the
    // process would end at exit(130), so what is still there then is left behind for good
    const signals = new EventEmitter();
    const exits: number[] = [];
    let apachePid = 0;
    let tempDir = "";
    const atExit: { apache?: boolean; temp?: boolean } = {};
    const interrupts = new Interrupts({
      source: signals as never,
      exit: (code) => {
        exits.push(code);
        atExit.apache = running(apachePid);
        atExit.temp = existsSync(tempDir);
      },
      log: () => undefined,
    });
    const lines: string[] = [];
    // WHEN Ctrl-C arrives while the long hook (no timeout: an hour) runs
    const result = await checkRevision($, {
      revisionDir: join(FIXTURES, "long-hook"),
      outDir: temp(),
      hookProgressSeconds: 0.3,
      defer: (cleanup) => interrupts.defer(cleanup),
      log: (line) => {
        lines.push(line);
        const conf = /^apache .* -f (\S+httpd\.conf)\)$/.exec(line)?.[1];
        if (conf) {
          tempDir = dirname(dirname(conf));
          apachePid = Number(readFileSync(join(dirname(conf), "apache2.pid"), "utf8"));
        }
        if (line.includes("still running") && !lines.some((l) => l === "(SIGINT sent)")) {
          lines.push("(SIGINT sent)");
          // Twice, as a terminal's Ctrl-C arrives under npm run (npm passes it on as well).
          signals.emit("SIGINT");
          signals.emit("SIGINT");
        }
      },
    });
    interrupts.dispose();
    // THEN the cleanups ran and the command exits 130, with Apache stopped and the temporary folder removed by then
    expect(await eventually(() => exits.length > 0)).toBe(true);
    expect(exits[0]).toBe(130);
    expect(apachePid).toBeGreaterThan(0);
    expect(atExit).toEqual({ apache: false, temp: false });
    expect(result.ok).toBe(false);
    // the hook and the child it started are stopped
    const output = result.hooks[0].outputTail;
    expect(await eventually(() => !running(pidOf(output, "hook")) && !running(pidOf(output, "child")))).toBe(true);
    // Apache answers no more, and the temporary folder (its config, the local instance) is gone
    const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(lines.find((l) => l.startsWith("apache "))!)![1];
    await expect(fetch(url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    expect(existsSync(tempDir)).toBe(false);
  }, 30_000);

  it("GIVEN Ctrl-C between two steps THEN no hook starts after it", async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const interrupts = new Interrupts({ source: signals as never, exit: (code) => exits.push(code), log: () => undefined });
    // WHEN Ctrl-C arrives as Install ends, just before the hook would start
    const result = await checkRevision($, {
      revisionDir: join(FIXTURES, "long-hook"),
      outDir: temp(),
      defer: (cleanup) => interrupts.defer(cleanup),
      signal: interrupts.signal,
      log: (line) => {
        if (/^ {2}Install /.test(line)) signals.emit("SIGINT");
      },
    });
    interrupts.dispose();
    expect(await eventually(() => exits.length > 0)).toBe(true);
    expect(result.hooks).toEqual([]);
    expect(result.failure).toBe("interrupted before AfterInstall: no hook started after Ctrl-C");
  }, 30_000);

  it("GIVEN the revision:check command WHEN Ctrl-C stops a hook THEN it exits 130 saying it was interrupted, not that the revision failed", async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const stderr = {
      text: "",
      write(s: string) {
        this.text += s;
        if (/^ {4}Install /m.test(s)) setTimeout(() => signals.emit("SIGINT"), 500); // the hook is running by then
        return true;
      },
    };
    const code = await executeCommand(revisionCheck, [join(FIXTURES, "long-hook"), "--out", temp()], {
      stdout: { write: () => true },
      stderr,
      signals: signals as never,
      exit: (c) => exits.push(c),
    });
    expect(await eventually(() => exits.length > 0)).toBe(true);
    expect(code).toBe(130);
    expect(exits).toEqual([130]);
    expect(stderr.text).toContain("interrupted by SIGINT");
    expect(stderr.text).not.toContain("FAILED:");
  }, 30_000);
});
