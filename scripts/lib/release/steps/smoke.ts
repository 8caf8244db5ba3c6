/**
 * The smoke test of the idle color, before it takes any traffic: every page of the revision
 * (and any path the user names) fetched through the load balancer with the keyed color route
 * (X-Webfleet-Color + X-Webfleet-Smoke-Key), so only that color answers. A page must answer 200;
 * a static page must be byte for byte the file in the revision, a PHP page must not show a PHP
 * error.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { walkRevision } from "../../revision/tree";
import { COLOR_HEADER, SMOKE_KEY_HEADER, type Color } from "../../../../modules/names";

/** What the smoke test fetches and what it expects back. */
export interface SmokePage {
  /** URL path, `/` or `/instance.php`. */
  readonly path: string;
  /** The exact body a static page must have. @default - any body, without a PHP error */
  readonly body?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** Fetches a URL with headers; tests hand in a fake. */
export type HttpGet = (url: string, headers: Readonly<Record<string, string>>) => Promise<HttpResponse>;

/** The Apache document root on the instances (the AMI's), where the revision's pages are served from. */
export const WEB_ROOT = "/var/www/html";
const PAGE = /\.(html?|php)$/i;
const PHP_ERROR = /(Fatal error|Parse error|Warning|Notice|Deprecated)<\/b>:|PHP (Fatal error|Parse error|Warning)/;

/** `files` entries of an appspec, as the validator reads them. */
export interface FilesEntry {
  readonly source: string;
  readonly destination: string;
}

/**
 * The revision's pages as URL paths: every .html/.htm/.php file that a `files` entry copies
 * under the web root, plus `/` (answered by the index page). Static pages carry their content.
 */
export function revisionPages(revisionDir: string, files: readonly FilesEntry[]): SmokePage[] {
  const pages = new Map<string, SmokePage>();
  for (const entry of files) {
    const dest = posix.normalize(entry.destination);
    if (dest !== WEB_ROOT && !dest.startsWith(`${WEB_ROOT}/`)) continue;
    const start = posix.normalize(entry.source === "/" ? "" : entry.source.replace(/^\/+|\/+$/g, ""));
    if (!existsSync(join(revisionDir, start))) continue;
    const add = (rel: string, urlPath: string) => {
      if (!PAGE.test(rel)) return;
      // Linked pages included: the bundle ships what a link inside the revision points to.
      pages.set(urlPath, /\.php$/i.test(rel) ? { path: urlPath } : { path: urlPath, body: readFileSync(join(revisionDir, rel), "utf8") });
    };
    const base = `/${posix.relative(WEB_ROOT, dest)}`.replace(/\/$/, "");
    // The same walk as the bundler's (links that leave the revision are its problem, not ours).
    for (const e of walkRevision(revisionDir, start === "." ? "" : start).entries) {
      if (e.type !== "file") continue;
      const within = start === "." || start === "" ? e.path : e.path === start ? posix.basename(e.path) : posix.relative(start, e.path);
      add(e.path, `${base}/${within}`.replace(/^\/\//, "/"));
    }
  }
  const index = pages.get("/index.html") ?? pages.get("/index.php");
  if (index) pages.set("/", { ...index, path: "/" });
  return [...pages.values()].sort((a, b) => a.path.localeCompare(b.path));
}

export interface SmokeResult {
  readonly path: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly problem?: string;
}

/** Fetches every page from `color` only; returns one result per page. */
export async function smokeTest(get: HttpGet, siteUrl: string, color: Color, key: string, pages: readonly SmokePage[]): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const page of pages) {
    const url = new URL(page.path, siteUrl).toString();
    try {
      const r = await get(url, { [COLOR_HEADER]: color, [SMOKE_KEY_HEADER]: key, "Cache-Control": "no-cache" });
      let problem: string | undefined;
      if (r.status !== 200) problem = `answered ${r.status}, expected 200`;
      else if (page.body !== undefined && r.body !== page.body)
        problem = `answered 200 with other content than the revision's file (${r.body.length} bytes, expected ${page.body.length})`;
      else if (page.body === undefined && PHP_ERROR.test(r.body)) problem = `answered 200 with a PHP error: ${PHP_ERROR.exec(r.body)?.[0]}`;
      else if (page.body === undefined && r.body.trim() === "") problem = "answered 200 with an empty page";
      results.push({ path: page.path, ok: problem === undefined, status: r.status, problem });
    } catch (e) {
      results.push({ path: page.path, ok: false, problem: `no answer: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  return results;
}

/**
 * GET over HTTP(S) with a 10 s timeout. The load balancer's own name is not the certificate's,
 * so for HTTPS the chain is verified but not the host name (the smoke key travels encrypted).
 */
export const httpGet: HttpGet = (url, headers) =>
  new Promise((resolve, reject) => {
    const u = new URL(url);
    const request = u.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(u, { method: "GET", headers, timeout: 10_000, ...(u.protocol === "https:" ? { checkServerIdentity: () => undefined } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
    req.end();
  });
