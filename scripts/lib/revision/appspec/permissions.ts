/** The `permissions` section: owners, modes, ACLs and SELinux labels for what Install copied. */
import { posix } from "node:path";
import { isMap, isScalar, isSeq, Scalar, type Node } from "yaml";
import type { AppSpecFile, AppSpecPermission } from "./contract";
import { type Checker, type Entry, entriesOf, isNothing, jsOf, listOf, show, stringOf, suggestion, typeName } from "./yaml";

const PERMISSION_KEYS = ["object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type"];
const CONTEXT_KEYS = ["name", "type", "range"];
const PERMISSION_TYPES = ["file", "directory"] as const;
/** A Linux user or group name. */
export const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

/** A valid permissions entry, where it is written, and what Install needs to apply it. */
export interface PermissionEntry {
  readonly spec: AppSpecPermission;
  /** `permissions[1]` */
  readonly field: string;
  /** Lines of the entry's keys (the entry's own line for a key that is not written). */
  readonly lines: { readonly object: number; readonly pattern: number; readonly except: number; readonly acls: number };
  /** The first default ACL entry (`d:u:bob:rwx`), which the agent applies to folders only. */
  readonly defaultAce?: string;
}

/**
 * `files`: what the deployment installs, or undefined when that is not known (broken files section).
 * An optional key left empty (`acls:`) is what the agent reads as nil: as if it were not written.
 */
export function checkPermissions(c: Checker, e: Entry | undefined, files: readonly AppSpecFile[] | undefined): PermissionEntry[] {
  if (!e || isNothing(e.value)) return [];
  if (!isSeq(e.value)) {
    c.add(c.lineOf(e.value, c.lineOf(e.keyNode)), "permissions", jsOf(e.value), `must be a list of entries, each with an object (got ${typeName(e.value)})`);
    return [];
  }
  const out: PermissionEntry[] = [];
  e.value.items.forEach((item, i) => {
    const node = item as Node | null;
    const field = `permissions[${i}]`;
    if (!isMap(node)) {
      c.add(c.lineOf(node, c.lineOf(e.keyNode)), field, jsOf(node), `must be a mapping with at least an object (got ${typeName(node)})`);
      return;
    }
    const before = c.problems.length;
    const entries = new Map(entriesOf(node).map((x) => [x.key, x]));
    for (const x of entries.values()) {
      if (!PERMISSION_KEYS.includes(x.key)) {
        c.add(
          c.lineOf(x.keyNode),
          `${field}.${x.key}`,
          jsOf(x.value),
          `unknown key${suggestion(x.key, PERMISSION_KEYS)}: the agent ignores it; a permissions entry has: ${listOf(PERMISSION_KEYS)}`,
        );
      }
      if (x.key !== "object" && isNothing(x.value)) entries.delete(x.key);
    }
    const perm: Record<string, unknown> = {};
    const lineOfEntry = (x: Entry) => c.lineOf(x.value, c.lineOf(x.keyNode));
    const entryLine = c.lineOf(node);
    const lineOfKey = (key: string) => {
      const x = entries.get(key);
      return x ? lineOfEntry(x) : entryLine;
    };

    const object = entries.get("object");
    const objectValue = stringOf(object?.value ?? null);
    if (!object) {
      c.add(entryLine, `${field}.object`, undefined, "is required: the absolute path on the instance the permissions apply to, e.g. /var/www/html");
    } else if (objectValue === undefined || !objectValue.startsWith("/")) {
      c.add(
        lineOfEntry(object),
        `${field}.object`,
        jsOf(object.value),
        `must be an absolute path on the instance, e.g. /var/www/html (got ${typeName(object.value)})`,
      );
    } else {
      perm.object = objectValue;
      const dests = (files ?? []).map((f) => f.destination);
      const normalized = posix.normalize(objectValue).replace(/(.)\/$/, "$1");
      const covered = dests.some((d) => normalized === d || normalized.startsWith(d === "/" ? "/" : `${d}/`) || d.startsWith(`${normalized}/`));
      if (files && !covered) {
        c.add(
          lineOfEntry(object),
          `${field}.object`,
          objectValue,
          `${objectValue} is not under any files destination (${dests.length ? listOf(dests) : "no files entries"}): permissions apply only to what this deployment installs`,
        );
      }
    }

    for (const key of ["pattern", "owner", "group"] as const) {
      const x = entries.get(key);
      if (!x) continue;
      const v = stringOf(x.value);
      const valid = key === "pattern" ? v !== undefined && v !== "" : v !== undefined && USER_NAME.test(v);
      if (!valid) {
        const what =
          key === "pattern" ? 'a glob string, e.g. "*.txt" ("**" for everything, the default)' : `a ${key === "owner" ? "user" : "group"} name, e.g. ec2-user`;
        c.add(lineOfEntry(x), `${field}.${key}`, jsOf(x.value), `must be ${what} (got ${typeName(x.value)})`);
      } else if (key === "pattern" && v !== "**" && v!.includes("/")) {
        c.add(lineOfEntry(x), `${field}.pattern`, v, nameGlobProblem("pattern", v!));
      } else perm[key] = v;
    }

    const except = entries.get("except");
    if (except) {
      const list = stringList(except.value);
      if (!list) {
        c.add(
          lineOfEntry(except),
          `${field}.except`,
          jsOf(except.value),
          `must be a list of names or globs, e.g. [my-file-3.txt] (got ${typeName(except.value)})`,
        );
      } else {
        (except.value as { items: Node[] }).items.forEach((n, j) => {
          const v = String((n as Scalar).value);
          if (v.includes("/")) c.add(c.lineOf(n), `${field}.except[${j}]`, v, nameGlobProblem("except", v));
        });
        perm.except = list;
      }
    }

    const mode = entries.get("mode");
    if (mode) {
      const m = checkMode(c, mode, `${field}.mode`);
      if (m) perm.mode = m;
    }

    let defaultAce: string | undefined;
    const acls = entries.get("acls");
    if (acls) {
      const list = stringList(acls.value);
      if (!list) {
        c.add(lineOfEntry(acls), `${field}.acls`, jsOf(acls.value), `must be a list of setfacl entries, e.g. [u:bob:rw] (got ${typeName(acls.value)})`);
      } else {
        (acls.value as { items: Node[] }).items.forEach((n, j) => {
          const ace = String((n as Scalar).value);
          const parsed = parseAce(ace);
          if (typeof parsed === "string") c.add(c.lineOf(n), `${field}.acls[${j}]`, (n as Scalar).value, parsed);
          else if (parsed.isDefault) defaultAce ??= ace;
        });
        perm.acls = list;
      }
    }

    const context = entries.get("context");
    if (context) {
      const ctx = checkContext(c, context, `${field}.context`);
      if (ctx) perm.context = ctx;
    }

    const type = entries.get("type");
    if (type) {
      const list = stringList(type.value);
      if (!list || list.length === 0) {
        c.add(lineOfEntry(type), `${field}.type`, jsOf(type.value), `must be a list of file and/or directory, e.g. [file] (got ${typeName(type.value)})`);
      } else {
        (type.value as { items: Node[] }).items.forEach((n, j) => {
          const v = String((n as Scalar).value);
          if (!(PERMISSION_TYPES as readonly string[]).includes(v)) {
            c.add(c.lineOf(n), `${field}.type[${j}]`, v, `must be file or directory (got ${show(v)})`);
          }
        });
        perm.type = list;
      }
    }

    if (c.problems.length === before) {
      out.push({
        spec: perm as unknown as AppSpecPermission,
        field,
        lines: { object: lineOfKey("object"), pattern: lineOfKey("pattern"), except: lineOfKey("except"), acls: lineOfKey("acls") },
        ...(defaultAce ? { defaultAce } : {}),
      });
    }
  });
  return out;
}

/** pattern and except are matched against the names right inside object, one level down. */
function nameGlobProblem(key: "pattern" | "except", glob: string): string {
  const name = glob.split("/").filter(Boolean).pop() ?? glob;
  return `${show(glob)} has a /, and never matches: the agent matches ${key} against the names right inside object (linux_permission_info.rb); write ${name}`;
}

function stringList(node: Node | null): string[] | undefined {
  if (!isSeq(node)) return undefined;
  const values = node.items.map((n) => (isScalar(n) && (typeof n.value === "string" || typeof n.value === "number") ? String(n.value) : undefined));
  return values.every((v) => v !== undefined) ? (values as string[]) : undefined;
}

function checkMode(c: Checker, e: Entry, field: string): string | undefined {
  const v = e.value;
  const line = c.lineOf(v, c.lineOf(e.keyNode));
  if (!isScalar(v) || (typeof v.value !== "number" && typeof v.value !== "string")) {
    c.add(line, field, jsOf(v), `must be octal digits like 644 or "0644" (got ${typeName(v)})`);
    return undefined;
  }
  const plain = v.type === Scalar.PLAIN;
  const written = plain ? c.sourceOf(v) : String(v.value);
  if (plain && /^0[0-7]+$/.test(written)) {
    const decimal = String(parseInt(written, 8));
    c.add(
      line,
      field,
      written,
      `${written} has a leading zero: the agent's YAML (1.1) reads it as an octal number, ${decimal}, and ${
        /[89]/.test(decimal) ? "fails the deployment on it (mode_info.rb: not an octal digit)" : `applies mode ${decimal}`
      }; write "${written}" (quoted) or ${written.replace(/^0+(?=\d{3})/, "")}`,
    );
    return undefined;
  }
  if (!/^[0-7]{1,4}$/.test(written)) {
    c.add(line, field, written, `must be 1 to 4 octal digits (0-7), like 644 or "4755"; symbolic modes such as u+x are not supported (got ${show(written)})`);
    return undefined;
  }
  return written;
}

/** One setfacl entry as the agent parses it (ace_info.rb): whether it is a default entry, or why it is invalid. */
function parseAce(ace: string): { isDefault: boolean } | string {
  const bad = `is not a valid ACL entry (got ${show(ace)}): write [d[efault]:]u[ser]|g[roup]|m[ask]|o[ther]:name:rwx, e.g. u:bob:rw`;
  const parts = ace.split(":").reverse();
  if (parts.length < 2 || parts.length > 4) return bad;
  let isDefault = false;
  let type: string | undefined;
  let name = "";
  if (parts.length === 4) {
    if (!["d", "default"].includes(parts[3])) return bad;
    isDefault = true;
  }
  if (parts.length >= 3) {
    const t = parts[2];
    if (["d", "default"].includes(t)) {
      if (isDefault) return bad;
      isDefault = true;
    } else if (["m", "mask"].includes(t)) type = "mask";
    else if (["o", "other"].includes(t)) type = "other";
    else if (["g", "group"].includes(t)) type = "group";
    else if (["u", "user"].includes(t)) type = "user";
    else return bad;
  }
  const n = parts[1];
  if (["m", "mask", "o", "other"].includes(n)) {
    if (type === undefined) type = ["m", "mask"].includes(n) ? "mask" : "other";
    else name = n;
  } else {
    type ??= "user";
    name = n;
  }
  if ((type === "mask" || type === "other") && name !== "") return bad;
  if (!isDefault && type !== "mask" && name === "") {
    return `sets a base entry (got ${show(ace)}): an ACL entry needs a user or group name, e.g. u:bob:rw; use mode for the owner, group and others`;
  }
  const perms = parts[0];
  if (!/^[0-7]$/.test(perms) && !/^[rwx-]*$/.test(perms)) {
    return `has invalid permission characters (got ${show(ace)}): use r, w, x and -, or one octal digit`;
  }
  return { isDefault };
}

const SENSITIVITY = /^s\d+$/;
const CATEGORY = /^c(\d+)$/;

/** SELinux range s#[-s#][:c#[.c#](,c#[.c#])*], as the agent checks it (range_info.rb). */
function rangeProblem(range: string): string | undefined {
  const bad = `is not a valid SELinux range (got ${show(range)}): write s0, s0-s1 or s0:c0.c10,c12 (categories c0 to c1023, no duplicates)`;
  const [levels, cats, ...rest] = range.split(":");
  if (rest.length || !levels) return bad;
  const [low, high, ...more] = levels.split("-");
  if (more.length || !SENSITIVITY.test(low) || (high !== undefined && !SENSITIVITY.test(high))) return bad;
  if (high !== undefined && Number(high.slice(1)) < Number(low.slice(1))) return bad;
  if (cats === undefined) return undefined;
  const seen = new Set<number>();
  for (const part of cats.split(",")) {
    const ends = part.split(".");
    if (ends.length > 2) return bad;
    const nums = ends.map((x) => CATEGORY.exec(x)?.[1]).map((x) => (x === undefined ? NaN : Number(x)));
    if (nums.some((x) => Number.isNaN(x) || x > 1023)) return bad;
    const [a, b = a] = nums;
    if (b < a) return bad;
    for (let k = a; k <= b; k++) {
      if (seen.has(k)) return bad;
      seen.add(k);
    }
  }
  return undefined;
}

/**
 * The agent reads the SELinux user from `name` (context_info.rb), although the user guide writes
 * `user`; and it needs `range`, although the guide calls it optional: applying a context reads
 * its range (install_instruction.rb, ChangeContextCommand#to_h).
 */
function checkContext(c: Checker, e: Entry, field: string): AppSpecPermission["context"] | undefined {
  const v = e.value;
  if (!isMap(v)) {
    c.add(
      c.lineOf(v, c.lineOf(e.keyNode)),
      field,
      jsOf(v),
      `must be a mapping with type and range (and optionally name), e.g. {type: httpd_sys_content_t, range: s0} (got ${typeName(v)})`,
    );
    return undefined;
  }
  const before = c.problems.length;
  const entries = new Map(entriesOf(v).map((x) => [x.key, x]));
  const out: Record<string, string> = {};
  for (const x of entries.values()) {
    if (x.key === "user") {
      c.add(
        c.lineOf(x.keyNode),
        `${field}.user`,
        jsOf(x.value),
        "the agent ignores context.user and reads the SELinux user from context.name (context_info.rb): rename it to name",
      );
      continue;
    }
    if (!CONTEXT_KEYS.includes(x.key)) {
      c.add(
        c.lineOf(x.keyNode),
        `${field}.${x.key}`,
        jsOf(x.value),
        `unknown key${suggestion(x.key, CONTEXT_KEYS)}: the agent ignores it; context has: ${listOf(CONTEXT_KEYS)}`,
      );
      continue;
    }
    const s = stringOf(x.value);
    if (s === undefined || s === "") {
      c.add(c.lineOf(x.value, c.lineOf(x.keyNode)), `${field}.${x.key}`, jsOf(x.value), `must be a string (got ${typeName(x.value)})`);
      continue;
    }
    if (x.key === "range") {
      const why = rangeProblem(s);
      if (why) {
        c.add(c.lineOf(x.value), `${field}.range`, s, why);
        continue;
      }
    }
    out[x.key] = s;
  }
  if (!entries.has("type")) {
    c.add(c.lineOf(v), `${field}.type`, undefined, "is required: the SELinux type to label the files with, e.g. httpd_sys_content_t");
  }
  if (!entries.has("range")) {
    c.add(
      c.lineOf(v),
      `${field}.range`,
      undefined,
      "is required by the agent, though the user guide says optional: without it the Install step fails (install_instruction.rb reads the range of every context it applies); add range: s0",
    );
  }
  return c.problems.length === before ? (out as { type: string; range: string }) : undefined;
}
