/**
 * A revision folder → a deterministic archive: the same content at the same source date gives
 * the same bytes and the same S3 key, on any machine.
 *
 * - entries sorted by path (bytes, not locale), directories before their contents;
 * - every entry's mtime is the revision's source date (below), uid/gid 0, uname/gname root:
 *   nothing from the checkout's owner;
 * - modes normalized to 0755 (any executable bit: hook scripts must stay executable) or 0644,
 *   so a umask or a filesystem does not change the hash;
 * - a symlink that stays inside the revision is stored as a copy of what it points to, and one
 *   that leaves it (or points nowhere) is refused: see ./tree.ts for why;
 * - gzip with mtime 0 and the OS byte fixed to Unix (Node on Windows writes another).
 * The key is the SHA-256 of the tar (the content), not of the gzip stream: a different zlib
 * build compresses differently, and must not make "new" revisions of the same content.
 *
 * Why a source date and not a fixed time: the CodeDeploy agent extracts with `tar -zxpsf` and
 * copies with the times preserved, so the tar's mtime becomes every deployed file's mtime, and
 * Apache's Last-Modified and ETag (MTime+Size) come from it. With one fixed time, an edit that
 * keeps a file's size answers 304 Not Modified and browsers cache heuristically for years.
 * The source date, in seconds:
 * 1. SOURCE_DATE_EPOCH when set (https://reproducible-builds.org/specs/source-date-epoch/);
 * 2. else, when the folder is in a git work tree and nothing under it is uncommitted,
 *    untracked or ignored, the committer time of the newest commit touching it
 *    (`git log -1 --format=%ct -- <dir>`): the same commit bundles to the same key in any
 *    clone, whatever the checkout's file times (in a shallow clone, when that commit was not
 *    fetched, the oldest fetched commit dates the folder: fetch more history, or set
 *    SOURCE_DATE_EPOCH);
 * 3. else (not in git, or local changes) the newest mtime among its files, floored to seconds:
 *    the same folder bundles to the same key until a file is touched.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pack as tarPack, type Header } from "tar-stream";
import { $ } from "zx";
import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { APPSPEC_FILE_NAME } from "./appspec";
import { IGNORED, walkRevision } from "./tree";
import { CliError } from "../cli/errors";
import { errorName } from "../aws/errors";
import { REVISION_BUCKET_KEYS } from "../../../modules/names";

export { IGNORED };
export const REVISION_PREFIX = REVISION_BUCKET_KEYS.revisions;

export interface BundleEntry {
  /** POSIX path relative to the revision folder; directories end without a slash. */
  readonly path: string;
  readonly type: "file" | "directory";
  readonly mode: number;
  /** Newest change of the content, in ms (a link's: its target's). */
  readonly mtimeMs: number;
}

/** The time every entry of the archive carries; see the module comment. */
export interface SourceDate {
  /** Seconds since 1970-01-01T00:00:00Z. */
  readonly seconds: number;
  readonly from: "SOURCE_DATE_EPOCH" | "git commit" | "newest file";
}

/**
 * Seconds since 1970 of the newest commit touching `dir`, when `dir` is inside a git work tree
 * and nothing under it is uncommitted, untracked or ignored; otherwise undefined.
 */
export type GitSourceDate = (dir: string) => Promise<number | undefined>;

export interface BundleOptions {
  /** Where SOURCE_DATE_EPOCH is read. @default process.env */
  readonly env?: { readonly SOURCE_DATE_EPOCH?: string };
  /** The git lookup of the source date. @default - {@link gitSourceDate}, which runs git */
  readonly gitSourceDate?: GitSourceDate;
}

export interface Bundle {
  readonly entries: readonly BundleEntry[];
  /** The mtime of every entry. */
  readonly sourceDate: SourceDate;
  readonly tar: Buffer;
  readonly tgz: Buffer;
  /** SHA-256 (hex) of {@link tar}. */
  readonly sha256: string;
  /** `revisions/<sha256>.tgz` */
  readonly key: string;
}

/**
 * Every entry under `dir` as the instance gets it, sorted, with normalized modes. Refuses the
 * first symlink that leaves the revision (or anything that is not a file or folder), naming it.
 */
export async function listRevision(dir: string): Promise<BundleEntry[]> {
  const tree = walkRevision(dir);
  const refused = tree.problems[0];
  if (refused) throw new CliError(`${join(dir, refused.path)} ${refused.message}`);
  return tree.entries.map((e) => ({
    path: e.path,
    type: e.type,
    mode: e.type === "directory" || e.stat.mode & 0o111 ? 0o755 : 0o644,
    mtimeMs: e.stat.mtimeMs,
  }));
}

/** {@link GitSourceDate} by running git in `dir`. */
export const gitSourceDate: GitSourceDate = async (dir) => {
  const git = $({ cwd: dir, nothrow: true, quiet: true });
  const inside = await git`git rev-parse --is-inside-work-tree`;
  if (inside.exitCode !== 0 || inside.stdout.trim() !== "true") return undefined;
  // Anything bundled that the commit does not hold (a change, a new file, an ignored one) means
  // the commit's time does not date the content. Paths are relative to the repository root.
  const status = await git`git status --porcelain -z --untracked-files=all --ignored -- .`;
  if (status.exitCode !== 0) return undefined;
  const shipped = status.stdout
    .split("\0")
    .filter((record) => record !== "")
    .filter(
      (record) =>
        !(
          record.startsWith("!! ") &&
          record
            .slice(3)
            .split("/")
            .some((part) => IGNORED.has(part))
        ),
    );
  if (shipped.length > 0) return undefined;
  const log = await git`git log -1 --format=%ct -- .`;
  const seconds = log.stdout.trim();
  return log.exitCode === 0 && /^\d+$/.test(seconds) ? Number(seconds) : undefined;
};

/** The source date of `dir` (see the module comment). */
export async function sourceDateOf(dir: string, entries: readonly BundleEntry[], options: BundleOptions = {}): Promise<SourceDate> {
  const epoch = (options.env ?? process.env).SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== "") {
    if (!/^\d{1,11}$/.test(epoch)) {
      throw new CliError(
        `SOURCE_DATE_EPOCH '${epoch}' must be a whole number of seconds since 1970-01-01T00:00:00Z (e.g. $(git log -1 --format=%ct)), or unset`,
      );
    }
    return { seconds: Number(epoch), from: "SOURCE_DATE_EPOCH" };
  }
  const committed = await (options.gitSourceDate ?? gitSourceDate)(dir);
  if (committed !== undefined) return { seconds: committed, from: "git commit" };
  let newestMs = 0;
  for (const e of entries) if (e.type !== "directory") newestMs = Math.max(newestMs, e.mtimeMs);
  return { seconds: Math.floor(newestMs / 1000), from: "newest file" };
}

async function packTar(dir: string, entries: readonly BundleEntry[], mtime: Date): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on("data", (c: unknown) => chunks.push(Buffer.from(c as Uint8Array)));
    pack.on("end", () => resolve(Buffer.concat(chunks)));
    pack.on("error", reject);
  });
  const common = { mtime, uid: 0, gid: 0, uname: "root", gname: "root" };
  for (const e of entries) {
    const header: Partial<Header> & { name: string } = { ...common, name: e.path, mode: e.mode, type: e.type };
    if (e.type === "file") {
      const body = await readFile(join(dir, e.path));
      await new Promise<void>((resolve, reject) => pack.entry({ ...header, size: body.length }, body, (err) => (err ? reject(err) : resolve())));
    } else {
      await new Promise<void>((resolve, reject) => pack.entry({ ...header, name: `${e.path}/` }, (err) => (err ? reject(err) : resolve())));
    }
  }
  pack.finalize();
  return done;
}

/** gzip whose header carries no time and the same OS byte everywhere. */
export function deterministicGzip(data: Buffer): Buffer {
  const out = gzipSync(data, { level: 9 });
  out.writeUInt32LE(0, 4); // MTIME
  out[9] = 3; // OS: Unix, whatever Node runs on
  return out;
}

/** Bundles `dir` (the revision: appspec.yml at its root), every entry dated at its source date. */
export async function createBundle(dir: string, options: BundleOptions = {}): Promise<Bundle> {
  const entries = await listRevision(dir);
  // The same name the validator insists on (appspec.ts): the agent reads no other.
  if (!entries.some((e) => e.path === APPSPEC_FILE_NAME && e.type === "file")) {
    throw new CliError(`${dir}: no ${APPSPEC_FILE_NAME} at the top of the revision folder; CodeDeploy reads it from the archive's root`);
  }
  const sourceDate = await sourceDateOf(dir, entries, options);
  const tar = await packTar(dir, entries, new Date(sourceDate.seconds * 1000));
  const sha256 = createHash("sha256").update(tar).digest("hex");
  return { entries, sourceDate, tar, tgz: deterministicGzip(tar), sha256, key: `${REVISION_PREFIX}${sha256}.tgz` };
}

export interface S3Revision {
  readonly bucket: string;
  readonly key: string;
  readonly bundleType: "tgz";
  readonly eTag?: string;
  /** False when the same content was already in the bucket. */
  readonly uploaded: boolean;
}

const unquote = (etag: string | undefined) => etag?.replace(/^"|"$/g, "");

/** Whether the bundle is already in the bucket (content-addressed: same key, same content). */
export async function findUploaded(s3: S3Client, bucket: string, key: string): Promise<string | undefined | false> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return unquote(head.ETag);
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (errorName(e) === "NotFound" || errorName(e) === "NoSuchKey" || status === 404) return false;
    if (status === 403 || errorName(e) === "Forbidden") {
      throw new CliError(`access denied reading s3://${bucket}/${key}: your role needs s3:GetObject and s3:ListBucket on the revision bucket`);
    }
    throw e;
  }
}

/** Uploads the bundle unless the bucket has it already (HeadObject first). */
export async function uploadBundle(s3: S3Client, bucket: string, bundle: Bundle): Promise<S3Revision> {
  const existing = await findUploaded(s3, bucket, bundle.key);
  if (existing !== false) return { bucket, key: bundle.key, bundleType: "tgz", eTag: existing, uploaded: false };
  const put = await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: bundle.key,
      Body: bundle.tgz,
      ContentType: "application/gzip",
      ChecksumSHA256: createHash("sha256").update(bundle.tgz).digest("base64"),
      Metadata: { "tar-sha256": bundle.sha256 },
    }),
  );
  return { bucket, key: bundle.key, bundleType: "tgz", eTag: unquote(put.ETag), uploaded: true };
}
