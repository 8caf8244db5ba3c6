/**
 * A revision folder → a deterministic archive: same content, same bytes, same S3 key, on any
 * machine and in any checkout.
 *
 * - entries sorted by path (bytes, not locale), directories before their contents;
 * - fixed mtime, uid/gid 0, uname/gname root: nothing from the checkout's clock or owner;
 * - modes normalized to 0755 (any executable bit: hook scripts must stay executable) or 0644,
 *   so a umask or a filesystem does not change the hash;
 * - gzip with mtime 0 and the OS byte fixed to Unix (Node on Windows writes another).
 * The key is the SHA-256 of the tar (the content), not of the gzip stream: a different zlib
 * build compresses differently, and must not make "new" revisions of the same content.
 */
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { gzipSync } from "node:zlib";
import { pack as tarPack, type Header } from "tar-stream";
import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ReleaseError, errorName } from "./errors";

/** 2000-01-01T00:00:00Z: any fixed time would do; 0 makes some tools warn about 1970. */
export const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));
/** Folders never shipped. */
export const IGNORED = new Set([".git", ".DS_Store"]);
export const REVISION_PREFIX = "revisions/";

export interface BundleEntry {
  /** POSIX path relative to the revision folder; directories end without a slash. */
  readonly path: string;
  readonly type: "file" | "directory" | "symlink";
  readonly mode: number;
  readonly linkname?: string;
}

export interface Bundle {
  readonly entries: readonly BundleEntry[];
  readonly tar: Buffer;
  readonly tgz: Buffer;
  /** SHA-256 (hex) of {@link tar}. */
  readonly sha256: string;
  /** `revisions/<sha256>.tgz` */
  readonly key: string;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Every entry under `dir`, sorted, with normalized modes. */
export async function listRevision(dir: string): Promise<BundleEntry[]> {
  const entries: BundleEntry[] = [];
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(dir, rel))).filter((n) => !IGNORED.has(n)).sort(byteOrder);
    for (const name of names) {
      const relPath = rel ? posix.join(rel, name) : name;
      const abs = join(dir, relPath);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) {
        entries.push({ path: relPath, type: "symlink", mode: 0o777, linkname: await readlink(abs) });
      } else if (st.isDirectory()) {
        entries.push({ path: relPath, type: "directory", mode: 0o755 });
        await walk(relPath);
      } else if (st.isFile()) {
        entries.push({ path: relPath, type: "file", mode: st.mode & 0o111 ? 0o755 : 0o644 });
      } else {
        throw new ReleaseError(`${abs}: not a file, folder or symlink; a revision holds only those`);
      }
    }
  }
  await walk("");
  return entries.sort((a, b) => byteOrder(a.path, b.path));
}

async function packTar(dir: string, entries: readonly BundleEntry[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on("data", (c: unknown) => chunks.push(Buffer.from(c as Uint8Array)));
    pack.on("end", () => resolve(Buffer.concat(chunks)));
    pack.on("error", reject);
  });
  const common = { mtime: FIXED_MTIME, uid: 0, gid: 0, uname: "root", gname: "root" };
  for (const e of entries) {
    const header: Partial<Header> & { name: string } = { ...common, name: e.path, mode: e.mode, type: e.type };
    if (e.type === "file") {
      const body = await readFile(join(dir, e.path));
      await new Promise<void>((resolve, reject) => pack.entry({ ...header, size: body.length }, body, (err) => (err ? reject(err) : resolve())));
    } else if (e.type === "symlink") {
      await new Promise<void>((resolve, reject) => pack.entry({ ...header, linkname: e.linkname }, (err) => (err ? reject(err) : resolve())));
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

/** Bundles `dir` (the revision: appspec.yml at its root). */
export async function createBundle(dir: string): Promise<Bundle> {
  const entries = await listRevision(dir);
  if (!entries.some((e) => e.path === "appspec.yml" && e.type === "file")) {
    throw new ReleaseError(`${dir}: no appspec.yml at the top of the revision folder; CodeDeploy reads it from the archive's root`);
  }
  const tar = await packTar(dir, entries);
  const sha256 = createHash("sha256").update(tar).digest("hex");
  return { entries, tar, tgz: deterministicGzip(tar), sha256, key: `${REVISION_PREFIX}${sha256}.tgz` };
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
      throw new ReleaseError(`access denied reading s3://${bucket}/${key}: your role needs s3:GetObject and s3:ListBucket on the revision bucket`);
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
