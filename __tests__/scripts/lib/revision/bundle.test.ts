import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { extract } from "tar-stream";
import { mockClient } from "aws-sdk-client-mock";
import { HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { createBundle, deterministicGzip, gitSourceDate, uploadBundle, type BundleOptions } from "../../../../scripts/lib/revision/bundle";
import { makeRevision, removeRevisions } from "../../../helpers/aws-fakes";

afterAll(removeRevisions);

/** 2025-05-01T10:00:00Z, as `git log -1 --format=%ct` prints it. */
const COMMIT = 1_746_093_600;
/** The revision's newest commit is at `seconds` (no SOURCE_DATE_EPOCH, whatever the test's environment). */
const committedAt = (seconds: number): BundleOptions => ({ env: {}, gitSourceDate: async () => seconds });
/** Not in git, or with local changes: no commit dates the content. */
const uncommitted: BundleOptions = { env: {}, gitSourceDate: async () => undefined };

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
  it("GIVEN the same content and the same source date THEN byte for byte the same archive, and the same key", async () => {
    const a = await createBundle(makeRevision(), committedAt(COMMIT));
    const b = await createBundle(makeRevision(), committedAt(COMMIT));
    expect(b.tar.equals(a.tar)).toBe(true);
    expect(b.tgz.equals(a.tgz)).toBe(true);
    expect(b.key).toBe(a.key);
    expect(a.key).toMatch(/^revisions\/[0-9a-f]{64}\.tgz$/);
  });

  it("GIVEN different mtimes, permissions beyond the exec bit and creation order, at the same source date THEN still the same key", async () => {
    const a = makeRevision();
    const b = makeRevision();
    utimesSync(join(b, "index.html"), new Date("2031-01-01"), new Date("2031-01-01"));
    chmodSync(join(b, "index.html"), 0o664); // a group-writable umask
    chmodSync(join(b, "scripts/set_owner"), 0o775);
    // Recreate the folder so that readdir returns another order, if the filesystem keeps one.
    const c = `${b}-copy`;
    mkdirSync(c);
    for (const name of readdirSync(b).reverse()) cpSync(join(b, name), join(c, name), { recursive: true, preserveTimestamps: false });
    expect((await createBundle(c, committedAt(COMMIT))).key).toBe((await createBundle(a, committedAt(COMMIT))).key);
  });

  it("GIVEN the same content at another source date THEN another archive and key", async () => {
    const a = await createBundle(makeRevision(), committedAt(COMMIT));
    const b = await createBundle(makeRevision(), committedAt(COMMIT + 1));
    expect(b.tgz.equals(a.tgz)).toBe(false);
    expect(b.key).not.toBe(a.key);
  });

  it("GIVEN one changed byte THEN another key", async () => {
    const a = await createBundle(makeRevision(), committedAt(COMMIT));
    const b = await createBundle(makeRevision({ "index.html": "<h1>hellO</h1>\n" }), committedAt(COMMIT));
    expect(b.key).not.toBe(a.key);
  });

  it("GIVEN a revision THEN entries are sorted, owned by root, dated at the source date, and hook scripts stay executable", async () => {
    const dir = makeRevision();
    const bundle = await createBundle(dir, committedAt(COMMIT));
    const entries = await list(bundle.tar);
    expect(entries.map((e) => [e.name, e.type, e.mode.toString(8)])).toEqual([
      ["appspec.yml", "file", "644"],
      ["index.html", "file", "644"],
      ["scripts/", "directory", "755"],
      ["scripts/set_owner", "file", "755"],
      ["scripts/validate_service", "file", "755"],
    ]);
    // The agent extracts with tar -p and copies with the times kept: this is every deployed file's mtime.
    expect(new Set(entries.map((e) => e.mtime))).toEqual(new Set([COMMIT * 1000]));
    expect(bundle.sourceDate).toEqual({ seconds: COMMIT, from: "git commit" });
    expect(entries.every((e) => e.uid === 0 && e.uname === "root")).toBe(true);
    expect(entries.find((e) => e.name === "index.html")?.body).toBe("<h1>hello</h1>\n");
  });

  it("GIVEN a symlink to a file inside the revision THEN the bundle holds a copy of the file, not the link", async () => {
    const dir = makeRevision();
    symlinkSync("index.html", join(dir, "home.html"));
    const entries = await list((await createBundle(dir, committedAt(COMMIT))).tar);
    expect(entries.find((e) => e.name === "home.html")).toMatchObject({ type: "file", mode: 0o644, body: "<h1>hello</h1>\n" });
    expect(entries.some((e) => e.type === "symlink")).toBe(false);
  });

  it("GIVEN a symlink to a folder inside the revision THEN the bundle holds the folder with its files", async () => {
    const dir = makeRevision({ "assets/logo.svg": "<svg/>\n" });
    mkdirSync(join(dir, "public"));
    symlinkSync("../assets", join(dir, "public", "assets"));
    const entries = await list((await createBundle(dir, committedAt(COMMIT))).tar);
    expect(entries.filter((e) => e.name.startsWith("public/")).map((e) => [e.name, e.type, e.body])).toEqual([
      ["public/", "directory", ""],
      ["public/assets/", "directory", ""],
      ["public/assets/logo.svg", "file", "<svg/>\n"],
    ]);
  });

  it.each([
    ["a file outside (/etc/passwd)", "/etc/passwd", "is a symlink to /etc/passwd, outside the revision"],
    ["a folder outside", "/etc", "is a symlink to /etc, outside the revision"],
    ["nothing", "gone.html", "is a symlink to gone.html, which does not exist"],
    ["the folder that holds it", ".", "is a symlink to ., a folder that contains it"],
  ])("GIVEN a symlink to %s THEN it refuses, naming the link and its target, and builds nothing", async (_what, target, message) => {
    const dir = makeRevision();
    symlinkSync(target, join(dir, "link"));
    await expect(createBundle(dir, committedAt(COMMIT))).rejects.toThrow(`${join(dir, "link")} ${message}`);
  });

  it("GIVEN SOURCE_DATE_EPOCH THEN it dates the entries, whatever git says", async () => {
    const bundle = await createBundle(makeRevision(), { env: { SOURCE_DATE_EPOCH: "1700000000" }, gitSourceDate: async () => COMMIT });
    expect(bundle.sourceDate).toEqual({ seconds: 1_700_000_000, from: "SOURCE_DATE_EPOCH" });
    expect(new Set((await list(bundle.tar)).map((e) => e.mtime))).toEqual(new Set([1_700_000_000_000]));
  });

  it("GIVEN a SOURCE_DATE_EPOCH that is not a number of seconds THEN it refuses, saying what is valid", async () => {
    await expect(createBundle(makeRevision(), { env: { SOURCE_DATE_EPOCH: "2025-05-01" } })).rejects.toThrow(
      "SOURCE_DATE_EPOCH '2025-05-01' must be a whole number of seconds since 1970-01-01T00:00:00Z",
    );
  });

  it("GIVEN no commit dates the content (not in git, or local changes) THEN the newest file's mtime, floored to seconds", async () => {
    const dir = makeRevision();
    const old = new Date("2024-01-01T00:00:00Z");
    for (const f of ["appspec.yml", "index.html", "scripts/set_owner", "scripts/validate_service"]) utimesSync(join(dir, f), old, old);
    utimesSync(join(dir, "index.html"), old, new Date("2025-03-04T05:06:07.890Z"));
    const bundle = await createBundle(dir, uncommitted);
    expect(bundle.sourceDate).toEqual({ seconds: Date.parse("2025-03-04T05:06:07Z") / 1000, from: "newest file" });
    expect(new Set((await list(bundle.tar)).map((e) => e.mtime))).toEqual(new Set([Date.parse("2025-03-04T05:06:07Z")]));
  });

  it("GIVEN a .git folder in the revision THEN it is left out", async () => {
    const dir = makeRevision();
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, ".git", "HEAD"), "ref: refs/heads/main\n");
    const names = (await list((await createBundle(dir, committedAt(COMMIT))).tar)).map((e) => e.name);
    expect(names.some((n) => n.startsWith(".git"))).toBe(false);
  });

  it("GIVEN no appspec.yml at the top THEN it refuses, saying where CodeDeploy looks", async () => {
    const dir = makeRevision();
    rmSync(join(dir, "appspec.yml"));
    await expect(createBundle(dir, committedAt(COMMIT))).rejects.toThrow("no appspec.yml at the top of the revision folder");
  });

  it("GIVEN any data THEN the gzip header has no time and the Unix OS byte, and decompresses to the tar", () => {
    const gz = deterministicGzip(Buffer.from("tar bytes"));
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gz[9]).toBe(3);
    expect(gunzipSync(gz).toString()).toBe("tar bytes");
  });
});

describe("the git source date", () => {
  const repos: string[] = [];
  afterAll(() => repos.forEach((d) => rmSync(d, { recursive: true, force: true })));

  /** A git repository with app/ (a revision) committed at COMMIT and other/ committed later. */
  function repository(): string {
    const root = mkdtempSync(join(tmpdir(), "webfleet-git-"));
    repos.push(root);
    const git = (args: string[], at = COMMIT) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", ...args], {
        cwd: root,
        env: { ...process.env, GIT_AUTHOR_DATE: `@${at} +0000`, GIT_COMMITTER_DATE: `@${at} +0000` },
        stdio: "pipe",
      });
    git(["init", "-q"]);
    cpSync(makeRevision(), join(root, "app"), { recursive: true });
    writeFileSync(join(root, ".gitignore"), ".DS_Store\n*.log\n");
    git(["add", "."]);
    git(["commit", "-q", "-m", "app"]);
    mkdirSync(join(root, "other"));
    writeFileSync(join(root, "other", "x"), "x\n");
    git(["add", "."]);
    git(["commit", "-q", "-m", "other"], COMMIT + 600);
    return root;
  }

  it("GIVEN a committed folder THEN the committer time of the newest commit touching it, not of HEAD", async () => {
    const root = repository();
    expect(await gitSourceDate(join(root, "app"))).toBe(COMMIT);
    expect(await gitSourceDate(root)).toBe(COMMIT + 600);
  });

  it("GIVEN a changed, a new or an ignored file under the folder THEN no git date (the commit does not hold what is bundled)", async () => {
    const changed = repository();
    writeFileSync(join(changed, "app", "index.html"), "<h1>edited</h1>\n");
    const added = repository();
    writeFileSync(join(added, "app", "new.html"), "new\n");
    const ignored = repository();
    writeFileSync(join(ignored, "app", "debug.log"), "log\n");
    for (const root of [changed, added, ignored]) expect(await gitSourceDate(join(root, "app"))).toBeUndefined();
  });

  it("GIVEN only a .DS_Store (never bundled) or changes outside the folder THEN still the commit's date", async () => {
    const root = repository();
    writeFileSync(join(root, "app", ".DS_Store"), "finder\n");
    writeFileSync(join(root, "other", "x"), "changed\n");
    expect(await gitSourceDate(join(root, "app"))).toBe(COMMIT);
  });

  it("GIVEN a folder outside any git work tree THEN no git date", async () => {
    expect(await gitSourceDate(makeRevision())).toBeUndefined();
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
    const bundle = await createBundle(makeRevision(), committedAt(COMMIT));
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
    const bundle = await createBundle(makeRevision(), committedAt(COMMIT));
    mock.on(HeadObjectCommand).resolves({ ETag: '"existing"' });
    const r = await uploadBundle(s3, bucket, bundle);
    expect(r).toMatchObject({ uploaded: false, eTag: "existing" });
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("GIVEN HeadObject is denied THEN the error says which permissions are missing", async () => {
    const bundle = await createBundle(makeRevision(), committedAt(COMMIT));
    mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: "Forbidden", $fault: "client", $metadata: { httpStatusCode: 403 } }));
    await expect(uploadBundle(s3, bucket, bundle)).rejects.toThrow("access denied reading s3://webfleet-dev-revisions/");
  });
});
