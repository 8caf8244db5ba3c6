import { chmodSync, cpSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { extract } from "tar-stream";
import { mockClient } from "aws-sdk-client-mock";
import { HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { FIXED_MTIME, createBundle, deterministicGzip, uploadBundle } from "../../../scripts/lib/release/bundle";
import { makeRevision, removeRevisions } from "./fakes";

afterAll(removeRevisions);

interface Listed {
  name: string;
  mode: number;
  type: string;
  mtime: number;
  uid: number;
  uname: string;
  body: string;
}

async function list(tar: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(Buffer.from(c as Uint8Array));
      const h = entry.header;
      out.push({ name: h.name, mode: h.mode, type: h.type, mtime: h.mtime.getTime(), uid: h.uid, uname: h.uname, body: Buffer.concat(chunks).toString() });
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

describe("a deterministic bundle", () => {
  it("GIVEN the same content THEN the same archive and key", async () => {
    const a = await createBundle(makeRevision());
    const b = await createBundle(makeRevision());
    expect(b.tgz.equals(a.tgz)).toBe(true);
    expect(b.key).toBe(a.key);
    expect(a.key).toMatch(/^revisions\/[0-9a-f]{64}\.tgz$/);
  });

  it("GIVEN different mtimes, permissions beyond the exec bit and creation order THEN still the same key", async () => {
    const a = makeRevision();
    const b = makeRevision();
    utimesSync(join(b, "index.html"), new Date("2031-01-01"), new Date("2031-01-01"));
    chmodSync(join(b, "index.html"), 0o664); // a group-writable umask
    chmodSync(join(b, "scripts/set_owner"), 0o775);
    // Recreate the folder so that readdir returns another order, if the filesystem keeps one.
    const c = `${b}-copy`;
    mkdirSync(c);
    for (const name of readdirSync(b).reverse()) cpSync(join(b, name), join(c, name), { recursive: true, preserveTimestamps: false });
    expect((await createBundle(c)).key).toBe((await createBundle(a)).key);
  });

  it("GIVEN one changed byte THEN another key", async () => {
    const a = await createBundle(makeRevision());
    const b = await createBundle(makeRevision({ "index.html": "<h1>hellO</h1>\n" }));
    expect(b.key).not.toBe(a.key);
  });

  it("GIVEN a revision THEN entries are sorted, owned by root at a fixed time, and hook scripts stay executable", async () => {
    const dir = makeRevision();
    symlinkSync("index.html", join(dir, "home.html"));
    const entries = await list((await createBundle(dir)).tar);
    expect(entries.map((e) => [e.name, e.type, e.mode.toString(8)])).toEqual([
      ["appspec.yml", "file", "644"],
      ["home.html", "symlink", "777"],
      ["index.html", "file", "644"],
      ["scripts/", "directory", "755"],
      ["scripts/set_owner", "file", "755"],
      ["scripts/validate_service", "file", "755"],
    ]);
    expect(new Set(entries.map((e) => e.mtime))).toEqual(new Set([FIXED_MTIME.getTime()]));
    expect(entries.every((e) => e.uid === 0 && e.uname === "root")).toBe(true);
    expect(entries.find((e) => e.name === "index.html")?.body).toBe("<h1>hello</h1>\n");
  });

  it("GIVEN a .git folder in the revision THEN it is left out", async () => {
    const dir = makeRevision();
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, ".git", "HEAD"), "ref: refs/heads/main\n");
    const names = (await list((await createBundle(dir)).tar)).map((e) => e.name);
    expect(names.some((n) => n.startsWith(".git"))).toBe(false);
  });

  it("GIVEN no appspec.yml at the top THEN it refuses, saying where CodeDeploy looks", async () => {
    const dir = makeRevision();
    rmSync(join(dir, "appspec.yml"));
    await expect(createBundle(dir)).rejects.toThrow("no appspec.yml at the top of the revision folder");
  });

  it("GIVEN any data THEN the gzip header has no time and the Unix OS byte, and decompresses to the tar", () => {
    const gz = deterministicGzip(Buffer.from("tar bytes"));
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gz[9]).toBe(3);
    expect(gunzipSync(gz).toString()).toBe("tar bytes");
  });
});

describe("uploading a bundle", () => {
  const bucket = "webfleet-dev-revisions";
  let s3: S3Client;
  let mock: ReturnType<typeof mockClient>;
  beforeEach(() => {
    s3 = new S3Client({ region: "us-east-1" });
    mock = mockClient(s3);
  });

  it("GIVEN the key is not in the bucket THEN it uploads once with a checksum and uses the new ETag", async () => {
    const bundle = await createBundle(makeRevision());
    mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: "NotFound", $fault: "client", $metadata: { httpStatusCode: 404 } }));
    mock.on(PutObjectCommand).resolves({ ETag: '"abc123"' });
    const r = await uploadBundle(s3, bucket, bundle);
    expect(r).toEqual({ bucket, key: bundle.key, bundleType: "tgz", eTag: "abc123", uploaded: true });
    const put = mock.commandCalls(PutObjectCommand)[0].args[0].input as { Key: string; ChecksumSHA256: string; Body: Buffer };
    expect(put.Key).toBe(bundle.key);
    expect(put.Body.equals(bundle.tgz)).toBe(true);
    expect(put.ChecksumSHA256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it("GIVEN the same content was uploaded before THEN HeadObject finds it and nothing is uploaded", async () => {
    const bundle = await createBundle(makeRevision());
    mock.on(HeadObjectCommand).resolves({ ETag: '"existing"' });
    const r = await uploadBundle(s3, bucket, bundle);
    expect(r).toMatchObject({ uploaded: false, eTag: "existing" });
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("GIVEN HeadObject is denied THEN the error says which permissions are missing", async () => {
    const bundle = await createBundle(makeRevision());
    mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: "Forbidden", $fault: "client", $metadata: { httpStatusCode: 403 } }));
    await expect(uploadBundle(s3, bucket, bundle)).rejects.toThrow("access denied reading s3://webfleet-dev-revisions/");
  });
});
