import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { $ } from "zx";
import { apacheConfig, findLocalTools, MissingToolsError } from "../../../../scripts/lib/revision/apache";
import { LOCAL_IDENTITY, startBlackHole, startFakeImds, type FakeImds } from "../../../../scripts/lib/revision/imds";

const INSTANCE_PAGE = resolve(__dirname, "../../../../app/public/instance.php");

describe("the local IMDSv2 stand-in", () => {
  let imds: FakeImds;
  beforeAll(async () => {
    imds = await startFakeImds();
  });
  afterAll(() => imds.close());

  const token = async (headers: Record<string, string> = { "X-aws-ec2-metadata-token-ttl-seconds": "60" }) =>
    fetch(`${imds.endpoint}/latest/api/token`, { method: "PUT", headers });

  it("listens on loopback only", () => {
    expect(imds.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("issues a session token for a PUT with a TTL", async () => {
    const res = await token();
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBeGreaterThan(20);
  });

  test.each([
    ["without a TTL header", {}, 400],
    ["with a TTL over 6 hours", { "X-aws-ec2-metadata-token-ttl-seconds": "21601" }, 400],
    ["that came through a proxy", { "X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "203.0.113.9" }, 403],
  ])("refuses a token request %s", async (_name, headers, status) => {
    expect((await token(headers)).status).toBe(status);
  });

  it("refuses metadata requests without a token (IMDSv1)", async () => {
    expect((await fetch(`${imds.endpoint}/latest/meta-data/instance-id`)).status).toBe(401);
  });

  it("refuses a token it did not issue", async () => {
    const res = await fetch(`${imds.endpoint}/latest/meta-data/instance-id`, { headers: { "X-aws-ec2-metadata-token": "made-up" } });
    expect(res.status).toBe(401);
  });

  test.each([
    ["instance-id", LOCAL_IDENTITY.instanceId],
    ["local-ipv4", LOCAL_IDENTITY.localIpv4],
    ["placement/availability-zone", LOCAL_IDENTITY.availabilityZone],
    ["placement/region", LOCAL_IDENTITY.region],
  ])("answers %s with a valid token", async (path, value) => {
    const t = await (await token()).text();
    const res = await fetch(`${imds.endpoint}/latest/meta-data/${path}`, { headers: { "X-aws-ec2-metadata-token": t } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(value);
  });

  it("logs each request with whether it carried a token", async () => {
    const before = imds.requests.length;
    await fetch(`${imds.endpoint}/latest/meta-data/instance-id`);
    expect(imds.requests.slice(before)).toEqual([{ method: "GET", path: "/latest/meta-data/instance-id", hadToken: false, status: 401 }]);
  });
});

describe("the black hole", () => {
  it("accepts a connection and never answers", async () => {
    const hole = await startBlackHole();
    try {
      await expect(fetch(hole.endpoint, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    } finally {
      await hole.close();
    }
  });
});

describe("the generated Apache config", () => {
  const base = {
    serverRoot: "/tmp/run/apache",
    documentRoot: "/tmp/run/instance/var/www/html",
    port: 41234,
    modulesDir: "/usr/lib/apache2/modules",
    phpModule: "/usr/lib/apache2/modules/libphp8.2.so",
    env: { WEBFLEET_IMDS_ENDPOINT: "http://127.0.0.1:40000" },
  };
  const conf = apacheConfig(base);

  it("listens on the loopback port only, never port 80", () => {
    expect(conf.match(/^Listen .*$/gm)).toEqual(["Listen 127.0.0.1:41234"]);
  });

  it("keeps its pid file, logs and runtime files in its own folder", () => {
    for (const line of [
      'ServerRoot "/tmp/run/apache"',
      'DefaultRuntimeDir "/tmp/run/apache"',
      'PidFile "/tmp/run/apache/apache2.pid"',
      'ErrorLog "/tmp/run/apache/error.log"',
    ]) {
      expect(conf).toContain(line);
    }
    const directives = conf.split("\n").filter((l) => !l.startsWith("#"));
    expect(directives.filter((l) => l.includes("/etc/apache2"))).toEqual([]);
  });

  it("runs mod_php on the prefork MPM", () => {
    expect(conf).toContain('LoadModule mpm_prefork_module "/usr/lib/apache2/modules/mod_mpm_prefork.so"');
    expect(conf).toContain('LoadModule php_module "/usr/lib/apache2/modules/libphp8.2.so"');
    expect(conf).toMatch(/<FilesMatch "\\\.php\$">\n {2}SetHandler application\/x-httpd-php/);
  });

  it("points pages at the metadata stand-in", () => {
    expect(conf).toContain('SetEnv WEBFLEET_IMDS_ENDPOINT "http://127.0.0.1:40000"');
  });

  it("serves the document root a second time under a prefix with other variables", () => {
    const alt = apacheConfig({ ...base, altRoute: { prefix: "/__imds-unreachable/", env: { WEBFLEET_IMDS_ENDPOINT: "http://127.0.0.1:40001" } } });
    expect(alt).toContain('Alias "/__imds-unreachable/" "/tmp/run/instance/var/www/html/"');
    expect(alt).toContain('<Location "/__imds-unreachable/">\n  SetEnv WEBFLEET_IMDS_ENDPOINT "http://127.0.0.1:40001"\n</Location>');
  });

  it("names a worker user only when asked (Apache refuses to serve as root)", () => {
    expect(conf).not.toMatch(/^User /m);
    expect(apacheConfig({ ...base, runAs: { user: "www-data", group: "www-data" } })).toMatch(/^User www-data\nGroup www-data$/m);
  });

  it("refuses paths it cannot quote", () => {
    expect(() => apacheConfig({ ...base, documentRoot: '/tmp/a"b' })).toThrow('cannot put "/tmp/a\\"b" in an Apache config');
  });
});

describe("finding the local tools", () => {
  it("names every missing tool and the Debian packages to install", () => {
    const find = () =>
      findLocalTools({
        apache2: "/nonexistent/apache2",
        apacheModulesDir: "/nonexistent/modules",
        chromium: "/nonexistent/chromium",
        shellcheck: "/nonexistent/shellcheck",
      });
    expect(find).toThrow(MissingToolsError);
    expect(find).toThrow("apache2 not found (looked for /nonexistent/apache2 and on PATH)");
    expect(find).toThrow("mod_php not found (no libphp8.x.so in /nonexistent/modules)");
    expect(find).toThrow("chromium not found at /nonexistent/chromium");
    expect(find).toThrow("fix: apt-get install -y apache2 libapache2-mod-php chromium shellcheck");
  });
});

describe("the instance page, run by php-cli", () => {
  let imds: FakeImds;
  beforeAll(async () => {
    if (!existsSync("/usr/bin/php")) throw new Error("php not found at /usr/bin/php: apt-get install -y php-cli");
    imds = await startFakeImds();
  });
  afterAll(() => imds.close());

  /** The page's ?format=json answer with WEBFLEET_IMDS_ENDPOINT set to `endpoint`. */
  async function identity(endpoint: string): Promise<{ json: Record<string, unknown>; ms: number }> {
    const started = Date.now();
    const code = `$_GET["format"] = "json"; include ${JSON.stringify(INSTANCE_PAGE)};`;
    const out = await $({ quiet: true, env: { ...process.env, WEBFLEET_IMDS_ENDPOINT: endpoint } })`php -r ${code}`;
    return { json: JSON.parse(out.stdout) as Record<string, unknown>, ms: Date.now() - started };
  }

  it("answers JSON with the instance's identity, read with a token", async () => {
    const { json } = await identity(imds.endpoint);
    expect(json).toMatchObject({
      state: "ok",
      values: {
        instanceId: LOCAL_IDENTITY.instanceId,
        privateIp: LOCAL_IDENTITY.localIpv4,
        availabilityZone: LOCAL_IDENTITY.availabilityZone,
        region: LOCAL_IDENTITY.region,
      },
    });
    expect(imds.requests.filter((r) => r.status === 401)).toEqual([]);
  });

  it("says unreachable after its short timeout when the metadata service never answers", async () => {
    const hole = await startBlackHole();
    try {
      const { json, ms } = await identity(hole.endpoint);
      expect(json).toMatchObject({ state: "unreachable", endpoint: hole.endpoint });
      expect(ms).toBeLessThan(3000);
    } finally {
      await hole.close();
    }
  });

  it("says what the metadata service refused", async () => {
    const { json } = await identity(`${imds.endpoint}/elsewhere`);
    expect(json).toMatchObject({ state: "error", detail: "token request answered HTTP 404" });
  });
});
