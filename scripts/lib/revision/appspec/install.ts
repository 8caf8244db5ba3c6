/**
 * The Install step as the agent runs it, worked out from the revision folder: which files it
 * copies where, which folders it creates, and which of those each permissions entry reaches
 * (installer.rb, generate_instructions; install_instruction.rb, CommandBuilder;
 * linux_permission_info.rb, matches_pattern? and matches_except?). What the agent would fail on
 * is reported on the entry that causes it.
 *
 * The instance is taken to have each files destination and the folders above it already
 * (webfleet's AMI ships an empty /var/www/html); everything below a destination comes from the
 * revision, which is how a first deployment finds it.
 */
import { realpathSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { walkRevision } from "../tree";
import { APPSPEC_FILE_NAME, INSTANCE_WEB_ROOT } from "./contract";
import type { FileEntry } from "./files";
import { revisionPath } from "./files";
import type { PermissionEntry } from "./permissions";
import type { Checker } from "./yaml";

export interface InstallPlan {
  /** Instance path → the revision file copied there and the files entry that copies it. */
  readonly files: ReadonlyMap<string, { readonly source: string; readonly entry: number }>;
  /** Folders the deployment creates → the files entry that creates it. */
  readonly folders: ReadonlyMap<string, number>;
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const andMore = (items: readonly string[]): string => `${items[0]}${items.length > 1 ? ` and ${items.length - 1} more` : ""}`;

/** Works out the Install step and reports, on its files entry, each copy the agent would refuse. */
export function planInstall(c: Checker, revisionDir: string, entries: readonly FileEntry[]): InstallPlan {
  const files = new Map<string, { source: string; entry: number }>();
  const folders = new Map<string, number>();
  entries.forEach(({ spec, field, line }, i) => {
    const refused: string[] = [];
    let why = "";
    const copy = (source: string, to: string) => {
      const earlier = files.get(to);
      if (earlier) {
        if (!refused.length) {
          why = `where ${entries[earlier.entry].field} already copies ${earlier.source}: the agent fails the Install step on two sources for one destination (install_instruction.rb); copy each file once`;
        }
        refused.push(`${source} to ${to}`);
      } else if (folders.has(to)) {
        if (!refused.length)
          why = `where ${entries[folders.get(to)!].field} creates a folder: the agent fails the Install step (install_instruction.rb); rename one`;
        refused.push(`${source} to ${to}`);
      } else files.set(to, { source, entry: i });
    };
    const mkdir = (source: string, to: string) => {
      const earlier = files.get(to);
      if (earlier) {
        if (!refused.length)
          why = `where ${entries[earlier.entry].field} copies the file ${earlier.source}: the agent fails the Install step (install_instruction.rb); rename one`;
        refused.push(`the folder ${source} to ${to}`);
      } else if (!folders.has(to)) folders.set(to, i);
    };

    const source = spec.source === "/" ? "" : (revisionPath(spec.source.replace(/^\/+/, "")) ?? "");
    const stat = statSync(join(revisionDir, source), { throwIfNoEntry: false });
    if (stat?.isDirectory()) {
      for (const e of walkRevision(revisionDir, source).entries) {
        if (e.path === source) continue;
        const to = posix.join(spec.destination, source ? e.path.slice(source.length + 1) : e.path);
        if (e.type === "directory") mkdir(e.path, to);
        else copy(e.path, to);
      }
    } else if (stat) copy(source, posix.join(spec.destination, posix.basename(source)));
    if (refused.length) c.add(line, field, spec, `copies ${andMore(refused)}, ${why}`);
  });
  return { files, folders };
}

/**
 * The agent's glob for pattern and except (linux_permission_info.rb, matches_simple_glob): `*` is
 * any run of characters, everything else is itself, and a name with a / never matches.
 */
export function matchesSimpleGlob(name: string, glob: string): boolean {
  if (name.includes("/")) return false;
  const re = new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*+/g, ".*")}$`, "s");
  return re.test(name);
}

/**
 * Applies each permissions entry to the plan as the agent does, in order, and reports what it
 * would fail on: a default ACL or a pattern for a file, two entries for the same file or folder,
 * and (the agent says nothing) an entry that applies to nothing.
 */
export function checkPermissionsAgainstInstall(c: Checker, plan: InstallPlan, permissions: readonly PermissionEntry[], entries: readonly FileEntry[]): void {
  const setBy = new Map<string, string>();
  const existingFolder = (path: string) =>
    entries.some(({ spec }) => spec.destination === path || spec.destination.startsWith(path === "/" ? "/" : `${path}/`));
  for (const p of permissions) {
    const { spec, field, lines } = p;
    const object = posix.normalize(spec.object).replace(/(.)\/$/, "$1");
    const types = spec.type ?? ["file", "directory"];
    const pattern = spec.pattern ?? "**";
    const except = spec.except ?? [];
    let targets: string[] = [];
    let nothingBecause: string;

    if (plan.files.has(object)) {
      // The object is a file: the agent applies the entry to it alone, and refuses what only a folder can take.
      nothingBecause = `${object} is a file, and type has no file`;
      if (types.includes("file")) {
        if (pattern !== "**" || except.length) {
          const key = pattern !== "**" ? "pattern" : "except";
          c.add(
            lines[key],
            `${field}.${key}`,
            key === "pattern" ? pattern : except,
            `${object} is a file this deployment installs, and pattern and except pick files inside a folder: the agent fails the Install step (linux_permission_info.rb, validate_file_permission); remove ${key}, or make the folder the object`,
          );
        }
        targets = [object];
      }
    } else if (plan.folders.has(object) || existingFolder(object)) {
      const below = object === "/" ? "/" : `${object}/`;
      const candidates = [...(types.includes("file") ? plan.files.keys() : []), ...(types.includes("directory") ? plan.folders.keys() : [])];
      targets = candidates.filter((path) => {
        if (!path.startsWith(below)) return false;
        const name = path.slice(below.length);
        return (pattern === "**" || matchesSimpleGlob(name, pattern)) && !except.some((x) => matchesSimpleGlob(name, x));
      });
      const what = types.length === 2 ? "file or folder" : types[0] === "file" ? "file" : "folder";
      const filter = pattern !== "**" || except.length ? " that pattern and except let through" : "";
      nothingBecause = `no ${what} below ${object}${filter}; a permission never applies to its object folder itself`;
    } else nothingBecause = `nothing is installed at ${object}`;
    targets.sort(byteOrder);

    if (targets.length === 0) {
      c.add(lines.object, `${field}.object`, spec.object, `applies to nothing this deployment installs (${nothingBecause}): the agent skips it without a word`);
      continue;
    }
    const files = targets.filter((t) => plan.files.has(t));
    if (p.defaultAce && files.length) {
      c.add(
        lines.acls,
        `${field}.acls`,
        spec.acls,
        `default ACL entries (${p.defaultAce}) are for folders, and this entry also applies to files (${andMore(files)}): the agent fails the Install step (linux_permission_info.rb, validate_file_acl); add type: [directory]`,
      );
    }
    const taken = targets.filter((t) => setBy.has(t));
    if (taken.length) {
      c.add(
        lines.object,
        `${field}.object`,
        spec.object,
        `applies to ${taken[0]}${taken.length > 1 ? ` (and ${taken.length - 1} more)` : ""} that ${setBy.get(taken[0])} already sets: the agent sets each file's permissions once and fails the Install step on the second (install_instruction.rb, set_permissions); split them with pattern, except or type`,
      );
    }
    for (const t of targets) if (!setBy.has(t)) setBy.set(t, field);
  }
}

/**
 * Refuses an Install that puts appspec.yml or a hook script under the web root, where the
 * instance's Apache serves them to anyone (the AMI's config refuses only /appspec.yml). The agent
 * runs the hooks from its own copy of the revision (its deployment-archive folder), so neither
 * needs installing: the tutorial's `source: /` is the usual cause. A file is matched by what it
 * is, not its name, so a link inside the revision to a hook script counts too. Reported on the
 * files entry that installs them, naming each file and where it would land.
 */
export function checkNothingPrivateServed(
  c: Checker,
  revisionDir: string,
  plan: InstallPlan,
  entries: readonly FileEntry[],
  scriptLocations: readonly string[],
): void {
  const real = (rel: string): string => {
    try {
      return realpathSync(join(revisionDir, rel));
    } catch {
      return join(revisionDir, rel);
    }
  };
  const privates = new Set([APPSPEC_FILE_NAME, ...scriptLocations].map(real));
  const served = new Map<number, string[]>();
  for (const [to, { source, entry }] of plan.files) {
    if (!to.startsWith(`${INSTANCE_WEB_ROOT}/`) || !privates.has(real(source))) continue;
    served.set(entry, [...(served.get(entry) ?? []), `${source} to ${to}`]);
  }
  for (const [i, copies] of served) {
    const { spec, field, line } = entries[i];
    const list = copies.length > 1 ? `${copies.slice(0, -1).join(", ")} and ${copies[copies.length - 1]}` : copies[0];
    c.add(
      line,
      field,
      spec,
      `installs ${list}, under the web root (${INSTANCE_WEB_ROOT}), where the instance's Apache serves them to anyone: ` +
        `appspec.yml and the hook scripts run from the agent's own copy of the revision and need not be installed; ` +
        `install only the public folder there, e.g. source: public`,
    );
  }
}
