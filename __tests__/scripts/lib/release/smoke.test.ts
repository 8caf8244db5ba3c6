/** The smoke test's pages: what the revision installs under the web root, as URL paths. */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { revisionPages, smokeTest } from "../../../../scripts/lib/release/steps/smoke";

const APP = resolve(__dirname, "../../../../app");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("the pages a smoke test asks for", () => {
  it("GIVEN the sample revision THEN its pages under /var/www/html, and / answered by the index, static ones with their content", () => {
    const pages = revisionPages(APP, [{ source: "public", destination: "/var/www/html" }]);
    expect(pages.map((p) => p.path)).toEqual(["/", "/index.html", "/instance.php"]);
    expect(pages.find((p) => p.path === "/")?.body).toBe(readFileSync(join(APP, "public/index.html"), "utf8"));
    expect(pages.find((p) => p.path === "/instance.php")?.body).toBeUndefined();
  });

  it("GIVEN one file copied into a folder of the web root, and a page linked inside the revision THEN both are pages", () => {
    const dir = mkdtempSync(join(tmpdir(), "webfleet-smoke-"));
    dirs.push(dir);
    mkdirSync(join(dir, "site"));
    writeFileSync(join(dir, "about.html"), "<p>about</p>");
    writeFileSync(join(dir, "site", "a.html"), "<p>a</p>");
    symlinkSync("a.html", join(dir, "site", "b.html"));
    const pages = revisionPages(dir, [
      { source: "about.html", destination: "/var/www/html/info" },
      { source: "site", destination: "/var/www/html" },
      { source: "site", destination: "/etc/not-served" },
    ]);
    expect(pages.map((p) => [p.path, p.body])).toEqual([
      ["/a.html", "<p>a</p>"],
      ["/b.html", "<p>a</p>"],
      ["/info/about.html", "<p>about</p>"],
    ]);
  });
});

describe("the smoke test", () => {
  it("passes a 200 with the file's content, and names what fails: status, other content, a PHP error", async () => {
    const answers: Record<string, { status: number; body: string }> = {
      "/": { status: 200, body: "<h1>hi</h1>" },
      "/x.html": { status: 200, body: "stale" },
      "/y.php": { status: 200, body: "<b>Fatal error</b>: boom" },
      "/z.php": { status: 503, body: "" },
    };
    const results = await smokeTest(async (url) => answers[new URL(url).pathname], "http://lb.example/", "green", "key", [
      { path: "/", body: "<h1>hi</h1>" },
      { path: "/x.html", body: "fresh" },
      { path: "/y.php" },
      { path: "/z.php" },
    ]);
    expect(results.map((r) => [r.path, r.ok, r.problem])).toEqual([
      ["/", true, undefined],
      ["/x.html", false, "answered 200 with other content than the revision's file (5 bytes, expected 5)"],
      ["/y.php", false, "answered 200 with a PHP error: Fatal error</b>:"],
      ["/z.php", false, "answered 503, expected 200"],
    ]);
  });
});
