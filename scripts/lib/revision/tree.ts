/**
 * A revision folder as the instance gets it: what is never shipped, and what a symlink in it
 * becomes. The validator, the bundler and the local run all walk it through here, so they agree.
 *
 * Symlinks. A link that leaves the revision (to /etc/passwd, to a folder outside, or to nothing)
 * is refused: the bundle would carry the link, not what it points to, and on the instance it
 * would point at the instance's own files, which Apache follows. An absolute link is refused
 * too, even into the revision: it names a path on this machine. A link that stays inside the
 * revision is followed, and the bundle holds a copy of what it points to (a file, or a folder
 * with its content): the agent copies a file link as a link (install_instruction.rb,
 * CopyCommand), which then resolves against the instance's folders and which the AMI's Apache,
 * without FollowSymLinks, refuses to serve; a folder link it already follows as a folder
 * (installer.rb, File.directory?). A copy makes the instance hold exactly what the revision
 * shows, and the same content bundles to the same bytes.
 */
import { readdirSync, readlinkSync, realpathSync, statSync, lstatSync, type Stats } from "node:fs";
import { isAbsolute, join, posix, sep } from "node:path";

/** Never shipped, at any depth. */
export const IGNORED = new Set([".git", ".DS_Store"]);

export interface RevisionEntry {
  /** POSIX path relative to the revision folder. */
  readonly path: string;
  readonly type: "file" | "directory";
  /** The file or folder itself, after following a link. */
  readonly stat: Stats;
}

export interface RevisionProblem {
  /** POSIX path relative to the revision folder. */
  readonly path: string;
  /** The link's target as written, when the problem is a symlink. */
  readonly target?: string;
  /** Says what is wrong and what to do; starts with "is ...", to follow the path. */
  readonly message: string;
}

export interface RevisionTree {
  /** Sorted by path (bytes), each folder before its content. */
  readonly entries: readonly RevisionEntry[];
  readonly problems: readonly RevisionProblem[];
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const inside = (path: string, folder: string): boolean => path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);

/**
 * Walks `root` (or the part of it at `start`) as the instance gets it: ignored names left out,
 * links inside followed, links that leave it reported (and skipped).
 */
export function walkRevision(root: string, start = ""): RevisionTree {
  const rootReal = realpathSync(root);
  const entries: RevisionEntry[] = [];
  const problems: RevisionProblem[] = [];

  /** `chain`: the real paths of the folders being walked, outermost first. */
  const visit = (rel: string, chain: readonly string[]): void => {
    const abs = join(root, rel);
    const own = lstatSync(abs);
    let stat: Stats = own;
    if (own.isSymbolicLink()) {
      const target = readlinkSync(abs);
      const why = linkProblem(rootReal, abs, target, chain);
      if (why) {
        problems.push({ path: rel, target, message: why });
        return;
      }
      stat = statSync(abs);
    }
    if (stat.isDirectory()) {
      if (rel !== "") entries.push({ path: rel, type: "directory", stat });
      const real = realpathSync(abs);
      const names = readdirSync(abs)
        .filter((n) => !IGNORED.has(n))
        .sort(byteOrder);
      for (const name of names) visit(rel ? posix.join(rel, name) : name, [...chain, real]);
    } else if (stat.isFile()) {
      entries.push({ path: rel, type: "file", stat });
    } else {
      problems.push({ path: rel, message: "is not a file, folder or symlink; a revision holds only those" });
    }
  };

  const parts = start.split("/").filter(Boolean);
  const chain = [rootReal];
  for (let i = 1; i < parts.length; i++) chain.push(realpathSync(join(root, ...parts.slice(0, i))));
  // A part of the revision reached through a link that leaves it: the link itself is reported
  // by the walk of the whole revision; what it leads to is not the revision's to list.
  if (!chain.every((folder) => inside(folder, rootReal)))
    return { entries, problems: [{ path: start, message: "is outside the revision: a symlink on its way leaves it" }] };
  visit(parts.join("/"), start === "" ? [] : chain);
  return { entries: entries.sort((a, b) => byteOrder(a.path, b.path)), problems };
}

/** Why the link at `abs` (saying `target`) must not ship, or undefined. */
function linkProblem(rootReal: string, abs: string, target: string, chain: readonly string[]): string | undefined {
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    return `is a symlink to ${target}, which does not exist: delete the link, or restore what it points to`;
  }
  if (!inside(real, rootReal)) {
    return `is a symlink to ${target}, outside the revision: the bundle would not carry what it points to, and the instance's Apache would follow it; copy the file into the revision, or delete the link`;
  }
  if (isAbsolute(target)) return `is a symlink to ${target}, an absolute path: it means something else on every machine; make it relative to the link`;
  if (chain.some((folder) => folder === real)) return `is a symlink to ${target}, a folder that contains it: copying it would never end; delete the link`;
  return undefined;
}
