/**
 * AppSpec validator for EC2/On-Premises revisions (CodeDeploy ships none: the agent finds a
 * mistake only on the instance, mid-deployment, one at a time).
 *
 * Checks what the CodeDeploy user guide ("AppSpec 'files' / 'permissions' / 'hooks' section")
 * and the agent's parser (aws-codedeploy-agent, application_specification/*.rb) accept, and
 * reports every problem at once, each with its line, the field, the value and what is valid.
 *
 * Pure apart from reading the revision folder: no process, no network.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Node, type YAMLMap } from "yaml";
import { FILE_EXISTS_BEHAVIORS, type FileExistsBehavior } from "../../../modules/names";

/**
 * The lifecycle events that run hook scripts, in the order CodeDeploy runs them in an in-place
 * deployment whose deployment group has a load balancer (traffic control). Without a load
 * balancer the four *Traffic events are skipped. BeforeBlockTraffic, AfterBlockTraffic and
 * ApplicationStop run the scripts of the previous successful revision.
 */
export const SCRIPT_LIFECYCLE_EVENTS = [
  "BeforeBlockTraffic",
  "AfterBlockTraffic",
  "ApplicationStop",
  "BeforeInstall",
  "AfterInstall",
  "ApplicationStart",
  "ValidateService",
  "BeforeAllowTraffic",
  "AfterAllowTraffic",
] as const;
export type ScriptLifecycleEvent = (typeof SCRIPT_LIFECYCLE_EVENTS)[number];

/** Events that exist but are reserved for the agent: a hook on them is never run. */
export const AGENT_RESERVED_EVENTS = ["Start", "DownloadBundle", "Install", "BlockTraffic", "AllowTraffic", "End"] as const;

/** Events whose scripts come from the previous successful revision (none on a first deployment). */
export const PREVIOUS_REVISION_EVENTS: readonly ScriptLifecycleEvent[] = ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop"];

export { FILE_EXISTS_BEHAVIORS, type FileExistsBehavior };

/** A script may run at most this long, and so may all scripts of one event together. */
export const MAX_EVENT_SECONDS = 3600;
/** The agent's timeout for a script that names none. */
export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 3600;

/**
 * The AppSpec file of an EC2/On-Premises revision. The CodeDeploy user guide: it "must be named
 * appspec.yml, unless you are performing a local deployment"; the agent's hook executor reads
 * exactly that name (an appspec.yaml fails the deployment at its first hook).
 */
export const APPSPEC_FILE_NAME = "appspec.yml";
/** A name the agent does not read in a deployment from CodeDeploy (only codedeploy-local does). */
const LOCAL_ONLY_APPSPEC_NAME = "appspec.yaml";

export interface AppSpecProblem {
  /** 1-based line in the AppSpec file; 0 when the problem is the file itself (missing, empty). */
  line: number;
  /** Where in the document: `hooks.AfterInstall[0].timeout`, `files[1].destination`, `version`. */
  field: string;
  /** The offending value as parsed (undefined when missing). */
  value: unknown;
  /** What is wrong, the value it got, and what would be valid. */
  message: string;
}

export interface AppSpecFile {
  readonly source: string;
  readonly destination: string;
}

export interface AppSpecHookScript {
  /** Path of the script inside the revision, relative to its root. */
  readonly location: string;
  /** Seconds; the agent's default is 3600. */
  readonly timeout?: number;
  /** User the agent runs the script as; default: the agent's user (root). */
  readonly runas?: string;
}

export interface AppSpecPermission {
  readonly object: string;
  readonly pattern?: string;
  readonly except?: readonly string[];
  readonly owner?: string;
  readonly group?: string;
  /** Octal digits as written, e.g. "644" or "4755". */
  readonly mode?: string;
  readonly acls?: readonly string[];
  readonly context?: { readonly user?: string; readonly type: string; readonly range?: string };
  readonly type?: readonly ("file" | "directory")[];
}

export interface AppSpec {
  readonly version: number;
  readonly os: "linux";
  readonly files: readonly AppSpecFile[];
  readonly permissions: readonly AppSpecPermission[];
  readonly hooks: Partial<Record<ScriptLifecycleEvent, readonly AppSpecHookScript[]>>;
  /**
   * Top-level `file_exists_behavior`; CodeDeploy's default is DISALLOW. It takes precedence over
   * CreateDeployment's fileExistsBehavior (AppSpec 'files' section, file_exists_behavior).
   */
  readonly fileExistsBehavior?: FileExistsBehavior;
  /** The line of `file_exists_behavior`, when it is set. */
  readonly fileExistsBehaviorLine?: number;
}

export interface AppSpecResult {
  ok: boolean;
  problems: AppSpecProblem[];
  /** The parsed, typed AppSpec: present only when `ok`. */
  spec?: AppSpec;
  /** The AppSpec file that was read (absolute), when one was found. */
  file?: string;
}

/** Finds `<dir>/appspec.yml`. */
export function findAppSpec(revisionDir: string): string | undefined {
  const file = join(revisionDir, APPSPEC_FILE_NAME);
  return existsSync(file) ? file : undefined;
}

/**
 * Validates `<revisionDir>/appspec.yml` and the revision around it: sources and hook scripts
 * must exist in the folder, and scripts must be executable. An appspec.yaml is a problem: the
 * agent would not read it.
 */
export function validateAppSpec(revisionDir: string): AppSpecResult {
  if (!existsSync(revisionDir) || !statSync(revisionDir).isDirectory()) {
    return fileProblem("revision", revisionDir, `revision folder ${revisionDir} does not exist: pass the folder that holds appspec.yml`);
  }
  const file = join(revisionDir, APPSPEC_FILE_NAME);
  const yaml = join(revisionDir, LOCAL_ONLY_APPSPEC_NAME);
  const hasYml = existsSync(file);
  const yamlProblem: AppSpecProblem | undefined = existsSync(yaml)
    ? {
        line: 0,
        field: LOCAL_ONLY_APPSPEC_NAME,
        value: LOCAL_ONLY_APPSPEC_NAME,
        message: hasYml
          ? `the CodeDeploy agent reads appspec.yml, not appspec.yaml: delete appspec.yaml, or merge it into appspec.yml`
          : `the CodeDeploy agent reads appspec.yml, not appspec.yaml (that name only works in local deployments): rename it to appspec.yml (git mv ${yaml} ${file})`,
      }
    : undefined;
  if (!hasYml) {
    if (yamlProblem) return { ok: false, problems: [yamlProblem], file: yaml };
    return fileProblem("appspec.yml", undefined, `no appspec.yml in ${revisionDir}: the AppSpec file must be at the root of the revision`);
  }
  const result = validateAppSpecSource(readFileSync(file, "utf8"), revisionDir);
  if (!yamlProblem) return { ...result, file };
  return { ok: false, problems: [yamlProblem, ...result.problems], file };
}

function fileProblem(field: string, value: unknown, message: string): AppSpecResult {
  return { ok: false, problems: [{ line: 0, field, value, message }] };
}

/** `appspec.yml:12: hooks.Install: ...`, one problem per line, in file order. */
export function formatProblems(file: string, problems: AppSpecProblem[]): string {
  return [...problems]
    .sort((a, b) => a.line - b.line)
    .map((p) => `${file}${p.line > 0 ? `:${p.line}` : ""}: ${p.field}: ${p.message}`)
    .join("\n");
}

// ---------------------------------------------------------------------------------------------

const TOP_LEVEL_KEYS = ["version", "os", "files", "permissions", "hooks", "file_exists_behavior"];
const FILE_KEYS = ["source", "destination"];
const HOOK_KEYS = ["location", "timeout", "runas"];
const PERMISSION_KEYS = ["object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type"];
const CONTEXT_KEYS = ["user", "type", "range"];
const PERMISSION_TYPES = ["file", "directory"] as const;
/** Lambda and ECS AppSpecs only. */
const NOT_FOR_EC2_KEYS: Record<string, string> = {
  resources: "`resources` is for Lambda and ECS AppSpec files; an EC2/On-Premises AppSpec has files, permissions and hooks",
  Resources: "`Resources` is for Lambda and ECS AppSpec files; an EC2/On-Premises AppSpec has files, permissions and hooks",
  Hooks: "`Hooks` (capitalized) is the ECS form; an EC2/On-Premises AppSpec uses lowercase `hooks`",
};
const ECS_ONLY_EVENTS = ["AfterAllowTestTraffic"];
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

const show = (v: unknown): string => (v === undefined ? "nothing" : typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)));
const listOf = (xs: readonly string[]): string => xs.join(", ");

class Checker {
  readonly problems: AppSpecProblem[] = [];
  constructor(
    private readonly text: string,
    private readonly lines: LineCounter,
  ) {}

  lineOf(node: Node | null | undefined, fallback = 0): number {
    const offset = node?.range?.[0];
    return offset === undefined ? fallback : this.lines.linePos(offset).line;
  }

  /** The characters of a node as written in the file (for `mode: 0644` vs `mode: "0644"`). */
  sourceOf(node: Node): string {
    return node.range ? this.text.slice(node.range[0], node.range[1]).trim() : "";
  }

  add(line: number, field: string, value: unknown, message: string): void {
    this.problems.push({ line, field, value, message });
  }
}

interface Entry {
  key: string;
  keyNode: Node | null;
  value: Node | null;
}

/** The pairs of a map with scalar keys, in order. */
function entriesOf(map: YAMLMap): Entry[] {
  return map.items.map((pair) => {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    return { key, keyNode, value: (pair.value as Node | null) ?? null };
  });
}

function jsOf(node: Node | null): unknown {
  return node === null ? null : node.toJSON();
}

function typeName(node: Node | null): string {
  if (node === null || (isScalar(node) && node.value === null)) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return typeof node.value === "string" ? `the string ${JSON.stringify(node.value)}` : String(node.value);
  return "something else";
}

function stringOf(node: Node | null): string | undefined {
  return isScalar(node) && typeof node.value === "string" ? node.value : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function suggestion(name: string, candidates: readonly string[]): string {
  const best = candidates
    .map((c) => ({ c, d: c.toLowerCase() === name.toLowerCase() ? 0 : levenshtein(c.toLowerCase(), name.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 3 ? ` (did you mean ${best.c}?)` : "";
}

/** Path inside the revision: no `..`, normalized (`./scripts/x` → `scripts/x`). */
function revisionPath(p: string): string | undefined {
  const n = posix.normalize(p.replace(/\\/g, "/"));
  if (n === ".." || n.startsWith("../")) return undefined;
  return n === "." ? "" : n.replace(/\/$/, "");
}

/**
 * Validates AppSpec text. With `revisionDir`, also checks that sources and scripts exist in it
 * (and that scripts are executable); without, only the document itself is checked.
 */
export function validateAppSpecSource(text: string, revisionDir?: string): AppSpecResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const c = new Checker(text, lines);

  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
      c.add(line, "(yaml)", undefined, `not valid YAML: ${e.message.split("\n")[0]}`);
    }
    return { ok: false, problems: c.problems };
  }
  const root = doc.contents as Node | null;
  if (!isMap(root)) {
    c.add(c.lineOf(root), "(file)", jsOf(root), `the AppSpec must be a mapping with version, os, files and hooks (got ${typeName(root)})`);
    return { ok: false, problems: c.problems };
  }

  const top = new Map<string, Entry>();
  for (const e of entriesOf(root)) {
    top.set(e.key, e);
    if (!TOP_LEVEL_KEYS.includes(e.key)) {
      const why = NOT_FOR_EC2_KEYS[e.key] ?? `unknown top-level key${suggestion(e.key, TOP_LEVEL_KEYS)}; valid keys: ${listOf(TOP_LEVEL_KEYS)}`;
      c.add(c.lineOf(e.keyNode), e.key, jsOf(e.value), why);
    }
  }

  const version = checkVersion(c, top.get("version"), c.lineOf(root, 1));
  const os = checkOs(c, top.get("os"), c.lineOf(root, 1));
  const fileExistsBehavior = checkFileExistsBehavior(c, top.get("file_exists_behavior"));
  const files = checkFiles(c, top.get("files"), revisionDir);
  // Whether permissions cover installed files is only known when the files section is sound.
  const filesKnown = !top.has("files") || files !== undefined;
  const permissions = checkPermissions(c, top.get("permissions"), filesKnown ? (files ?? []) : undefined);
  const hooks = checkHooks(c, top.get("hooks"), revisionDir);

  const ok = c.problems.length === 0;
  c.problems.sort((a, b) => a.line - b.line);
  return {
    ok,
    problems: c.problems,
    spec: ok
      ? {
          version: version as number,
          os: os as "linux",
          files: files ?? [],
          permissions,
          hooks,
          ...(fileExistsBehavior ? { fileExistsBehavior, fileExistsBehaviorLine: lineOfValue(c, top.get("file_exists_behavior")) } : {}),
        }
      : undefined,
  };
}

function lineOfValue(c: Checker, e: Entry | undefined): number {
  return c.lineOf(e?.value, c.lineOf(e?.keyNode));
}

function checkVersion(c: Checker, e: Entry | undefined, rootLine: number): number | undefined {
  if (!e) {
    c.add(rootLine, "version", undefined, "is required: add `version: 0.0` (the only AppSpec version)");
    return undefined;
  }
  const v = e.value;
  if (isScalar(v) && typeof v.value === "number" && v.value === 0) return 0;
  if (isScalar(v) && typeof v.value === "string" && v.value.trim() === "0.0") {
    c.add(c.lineOf(v), "version", v.value, 'must be the number 0.0, unquoted (got the string "0.0"): the agent compares it with the number 0.0');
    return undefined;
  }
  c.add(c.lineOf(v, c.lineOf(e.keyNode)), "version", jsOf(v), `must be 0.0, the only AppSpec version (got ${typeName(v)})`);
  return undefined;
}

function checkOs(c: Checker, e: Entry | undefined, rootLine: number): string | undefined {
  if (!e) {
    c.add(rootLine, "os", undefined, "is required: add `os: linux` (webfleet's instances run Amazon Linux)");
    return undefined;
  }
  const v = stringOf(e.value);
  if (v === "linux") return v;
  const hint =
    v === "windows"
      ? "CodeDeploy also knows windows, but webfleet's instances run Amazon Linux"
      : v?.toLowerCase() === "linux"
        ? "it is case-sensitive"
        : "the instances run Amazon Linux";
  c.add(c.lineOf(e.value, c.lineOf(e.keyNode)), "os", jsOf(e.value), `must be linux (got ${typeName(e.value)}): ${hint}`);
  return undefined;
}

function checkFileExistsBehavior(c: Checker, e: Entry | undefined): FileExistsBehavior | undefined {
  if (!e) return undefined;
  const v = stringOf(e.value);
  if (v !== undefined && (FILE_EXISTS_BEHAVIORS as readonly string[]).includes(v)) return v as FileExistsBehavior;
  c.add(
    c.lineOf(e.value, c.lineOf(e.keyNode)),
    "file_exists_behavior",
    jsOf(e.value),
    `must be one of ${listOf(FILE_EXISTS_BEHAVIORS)} (got ${typeName(e.value)}); leave it out for the default, DISALLOW`,
  );
  return undefined;
}

/** The valid entries; undefined when the section is absent or any entry is wrong. */
function checkFiles(c: Checker, e: Entry | undefined, revisionDir?: string): AppSpecFile[] | undefined {
  if (!e) return undefined;
  if (e.value === null || (isScalar(e.value) && e.value.value === null)) return [];
  if (!isSeq(e.value)) {
    c.add(c.lineOf(e.value, c.lineOf(e.keyNode)), "files", jsOf(e.value), `must be a list of {source, destination} entries (got ${typeName(e.value)})`);
    return undefined;
  }
  const out: AppSpecFile[] = [];
  const before = c.problems.length;
  e.value.items.forEach((item, i) => {
    const node = item as Node | null;
    const field = `files[${i}]`;
    if (!isMap(node)) {
      c.add(c.lineOf(node, c.lineOf(e.keyNode)), field, jsOf(node), `must be a mapping with source and destination (got ${typeName(node)})`);
      return;
    }
    const entries = new Map(entriesOf(node).map((x) => [x.key, x]));
    for (const x of entries.values()) {
      if (FILE_KEYS.includes(x.key)) continue;
      const why =
        x.key === "file_exists_behavior"
          ? "file_exists_behavior is a top-level key (it applies to all files), not part of a files entry: move it to the left margin"
          : `unknown key${suggestion(x.key, FILE_KEYS)}; a files entry has: ${listOf(FILE_KEYS)}`;
      c.add(c.lineOf(x.keyNode), `${field}.${x.key}`, jsOf(x.value), why);
    }
    const itemLine = c.lineOf(node);
    const source = checkSource(c, entries.get("source"), `${field}.source`, itemLine, revisionDir);
    const destination = checkDestination(c, entries.get("destination"), `${field}.destination`, itemLine);
    if (source !== undefined && destination !== undefined) out.push({ source, destination });
  });
  return c.problems.length === before ? out : undefined;
}

function checkSource(c: Checker, e: Entry | undefined, field: string, itemLine: number, revisionDir?: string): string | undefined {
  if (!e) {
    c.add(itemLine, field, undefined, 'is required: a file or folder of the revision, relative to appspec.yml ("/" for all of it)');
    return undefined;
  }
  const v = stringOf(e.value);
  const line = c.lineOf(e.value, c.lineOf(e.keyNode));
  if (v === undefined || v.trim() === "") {
    c.add(line, field, jsOf(e.value), `must be a path in the revision, relative to appspec.yml ("/" for all of it) (got ${typeName(e.value)})`);
    return undefined;
  }
  if (v === "/") return v;
  const rel = revisionPath(v.replace(/^\/+/, ""));
  if (rel === undefined) {
    c.add(line, field, v, `must stay inside the revision (got ${show(v)}): paths are relative to appspec.yml, without ..`);
    return undefined;
  }
  if (revisionDir && !existsSync(join(revisionDir, rel))) {
    c.add(line, field, v, `${show(v)} is not in the revision: sources are relative to appspec.yml ("/" for all of it)`);
    return undefined;
  }
  return v;
}

function checkDestination(c: Checker, e: Entry | undefined, field: string, itemLine: number): string | undefined {
  if (!e) {
    c.add(itemLine, field, undefined, "is required: the absolute folder on the instance to copy to, e.g. /var/www/html");
    return undefined;
  }
  const v = stringOf(e.value);
  if (v === undefined || !v.startsWith("/")) {
    c.add(
      c.lineOf(e.value, c.lineOf(e.keyNode)),
      field,
      jsOf(e.value),
      `must be an absolute path on the instance, e.g. /var/www/html (got ${typeName(e.value)})`,
    );
    return undefined;
  }
  return posix.normalize(v).replace(/(.)\/$/, "$1");
}

/** `files`: what the deployment installs, or undefined when that is not known (broken files section). */
function checkPermissions(c: Checker, e: Entry | undefined, files: AppSpecFile[] | undefined): AppSpecPermission[] {
  if (!e || e.value === null || (isScalar(e.value) && e.value.value === null)) return [];
  if (!isSeq(e.value)) {
    c.add(c.lineOf(e.value, c.lineOf(e.keyNode)), "permissions", jsOf(e.value), `must be a list of entries, each with an object (got ${typeName(e.value)})`);
    return [];
  }
  const out: AppSpecPermission[] = [];
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
          `unknown key${suggestion(x.key, PERMISSION_KEYS)}; a permissions entry has: ${listOf(PERMISSION_KEYS)}`,
        );
      }
    }
    const perm: Record<string, unknown> = {};
    const lineOfEntry = (x: Entry) => c.lineOf(x.value, c.lineOf(x.keyNode));

    const object = entries.get("object");
    const objectValue = stringOf(object?.value ?? null);
    if (!object) {
      c.add(c.lineOf(node), `${field}.object`, undefined, "is required: the absolute path on the instance the permissions apply to, e.g. /var/www/html");
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
      } else perm.except = list;
    }

    const mode = entries.get("mode");
    if (mode) {
      const m = checkMode(c, mode, `${field}.mode`);
      if (m) perm.mode = m;
    }

    const acls = entries.get("acls");
    if (acls) {
      const list = stringList(acls.value);
      if (!list || list.length === 0) {
        c.add(lineOfEntry(acls), `${field}.acls`, jsOf(acls.value), `must be a list of setfacl entries, e.g. [u:bob:rw] (got ${typeName(acls.value)})`);
      } else {
        (acls.value as { items: Node[] }).items.forEach((n, j) => {
          const why = aceProblem(String((n as Scalar).value));
          if (why) c.add(c.lineOf(n), `${field}.acls[${j}]`, (n as Scalar).value, why);
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

    if (c.problems.length === before) out.push(perm as unknown as AppSpecPermission);
  });
  return out;
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
    c.add(
      line,
      field,
      written,
      `${written} has a leading zero: the agent's YAML reads it as an octal number and applies the wrong mode; write "${written}" (quoted) or ${written.replace(/^0+(?=\d{3})/, "")}`,
    );
    return undefined;
  }
  if (!/^[0-7]{1,4}$/.test(written)) {
    c.add(line, field, written, `must be 1 to 4 octal digits (0-7), like 644 or "4755"; symbolic modes such as u+x are not supported (got ${show(written)})`);
    return undefined;
  }
  return written;
}

/** The agent's rules for one setfacl entry (ace_info.rb); undefined when valid. */
function aceProblem(ace: string): string | undefined {
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
  return undefined;
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

function checkContext(c: Checker, e: Entry, field: string): AppSpecPermission["context"] | undefined {
  const v = e.value;
  if (!isMap(v)) {
    c.add(
      c.lineOf(v, c.lineOf(e.keyNode)),
      field,
      jsOf(v),
      `must be a mapping with type (and optionally user, range), e.g. {type: httpd_sys_content_t} (got ${typeName(v)})`,
    );
    return undefined;
  }
  const before = c.problems.length;
  const entries = new Map(entriesOf(v).map((x) => [x.key, x]));
  const out: Record<string, string> = {};
  for (const x of entries.values()) {
    if (!CONTEXT_KEYS.includes(x.key)) {
      c.add(c.lineOf(x.keyNode), `${field}.${x.key}`, jsOf(x.value), `unknown key${suggestion(x.key, CONTEXT_KEYS)}; context has: ${listOf(CONTEXT_KEYS)}`);
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
  return c.problems.length === before ? (out as { type: string }) : undefined;
}

function checkHooks(c: Checker, e: Entry | undefined, revisionDir?: string): AppSpec["hooks"] {
  const hooks: Partial<Record<ScriptLifecycleEvent, AppSpecHookScript[]>> = {};
  if (!e || e.value === null || (isScalar(e.value) && e.value.value === null)) return hooks;
  if (!isMap(e.value)) {
    const why = isSeq(e.value)
      ? "must be a mapping of lifecycle event to a list of scripts (the `- Event: function` list form is for Lambda and ECS)"
      : `must be a mapping of lifecycle event to a list of scripts (got ${typeName(e.value)})`;
    c.add(c.lineOf(e.value, c.lineOf(e.keyNode)), "hooks", jsOf(e.value), why);
    return hooks;
  }
  for (const ev of entriesOf(e.value)) {
    const field = `hooks.${ev.key}`;
    const eventLine = c.lineOf(ev.keyNode);
    const scriptable = (SCRIPT_LIFECYCLE_EVENTS as readonly string[]).includes(ev.key);
    if (!scriptable) {
      const why = (AGENT_RESERVED_EVENTS as readonly string[]).includes(ev.key)
        ? `${ev.key} is reserved for the CodeDeploy agent and cannot run scripts; events that run scripts: ${listOf(SCRIPT_LIFECYCLE_EVENTS)}`
        : ECS_ONLY_EVENTS.includes(ev.key)
          ? `${ev.key} is an Amazon ECS lifecycle event; events that run scripts on EC2/On-Premises: ${listOf(SCRIPT_LIFECYCLE_EVENTS)}`
          : `unknown lifecycle event${suggestion(ev.key, SCRIPT_LIFECYCLE_EVENTS)}; events that run scripts: ${listOf(SCRIPT_LIFECYCLE_EVENTS)}`;
      c.add(eventLine, field, ev.key, why);
    }
    if (!isSeq(ev.value) || ev.value.items.length === 0) {
      c.add(c.lineOf(ev.value, eventLine), field, jsOf(ev.value), `must be a list of scripts, e.g. - location: scripts/set_owner (got ${typeName(ev.value)})`);
      continue;
    }
    const scripts: AppSpecHookScript[] = [];
    let total = 0;
    let allValid = true;
    ev.value.items.forEach((item, i) => {
      const s = checkScript(c, item as Node | null, `${field}[${i}]`, eventLine, revisionDir);
      if (s) {
        scripts.push(s);
        total += s.timeout ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS;
      } else allValid = false;
    });
    if (allValid && scripts.length > 1 && total > MAX_EVENT_SECONDS) {
      const defaults = scripts.some((s) => s.timeout === undefined)
        ? ` (a script without timeout counts as the default ${DEFAULT_SCRIPT_TIMEOUT_SECONDS} s)`
        : "";
      c.add(
        eventLine,
        field,
        scripts.map((s) => s.timeout ?? null),
        `the ${scripts.length} scripts' timeouts add up to ${total} s${defaults}; all scripts of one event together may run at most ${MAX_EVENT_SECONDS} s: lower their timeouts`,
      );
    }
    if (scriptable && allValid) hooks[ev.key as ScriptLifecycleEvent] = scripts;
  }
  return hooks;
}

function checkScript(c: Checker, node: Node | null, field: string, eventLine: number, revisionDir?: string): AppSpecHookScript | undefined {
  if (!isMap(node)) {
    c.add(c.lineOf(node, eventLine), field, jsOf(node), `must be a mapping with location (and optionally timeout, runas) (got ${typeName(node)})`);
    return undefined;
  }
  const before = c.problems.length;
  const entries = new Map(entriesOf(node).map((x) => [x.key, x]));
  for (const x of entries.values()) {
    if (!HOOK_KEYS.includes(x.key)) {
      c.add(c.lineOf(x.keyNode), `${field}.${x.key}`, jsOf(x.value), `unknown key${suggestion(x.key, HOOK_KEYS)}; a hook script has: ${listOf(HOOK_KEYS)}`);
    }
  }
  const out: { location?: string; timeout?: number; runas?: string } = {};

  const loc = entries.get("location");
  const locValue = stringOf(loc?.value ?? null)?.trim();
  if (!loc) {
    c.add(c.lineOf(node), `${field}.location`, undefined, "is required: the script's path in the revision, e.g. scripts/set_owner");
  } else if (!locValue) {
    c.add(
      c.lineOf(loc.value, c.lineOf(loc.keyNode)),
      `${field}.location`,
      jsOf(loc.value),
      `must be the script's path in the revision, e.g. scripts/set_owner (got ${typeName(loc.value)})`,
    );
  } else {
    const line = c.lineOf(loc.value);
    // The agent joins the location onto the revision's folder (hook_executor.rb,
    // script_absolute_path: File.join(archive_dir, location)): a leading / is the revision root.
    const rooted = locValue.startsWith("/");
    const rel = revisionPath(locValue.replace(/^\/+/, ""));
    if (rel === undefined || rel === "") {
      c.add(line, `${field}.location`, locValue, `must be a path inside the revision, without .., e.g. scripts/set_owner (got ${show(locValue)})`);
    } else {
      out.location = rel;
      if (revisionDir) {
        const why = scriptFileProblem(join(revisionDir, rel), locValue, rooted ? rel : undefined);
        if (why) c.add(line, `${field}.location`, locValue, why);
      }
    }
  }

  const timeout = entries.get("timeout");
  if (timeout) {
    const v = timeout.value;
    const n = isScalar(v) && typeof v.value === "number" ? v.value : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_EVENT_SECONDS) {
      c.add(
        c.lineOf(v, c.lineOf(timeout.keyNode)),
        `${field}.timeout`,
        jsOf(v),
        `must be a whole number of seconds from 1 to ${MAX_EVENT_SECONDS} (got ${typeName(v)})`,
      );
    } else out.timeout = n;
  }

  const runas = entries.get("runas");
  if (runas) {
    const v = stringOf(runas.value)?.trim();
    if (v === undefined || !USER_NAME.test(v)) {
      c.add(
        c.lineOf(runas.value, c.lineOf(runas.keyNode)),
        `${field}.runas`,
        jsOf(runas.value),
        `must be a user name on the instance, e.g. root or ec2-user (got ${typeName(runas.value)})`,
      );
    } else out.runas = v;
  }

  return c.problems.length === before && out.location ? (out as AppSpecHookScript) : undefined;
}

/** Why the agent could not run this script, or undefined. `rooted`: the location began with /, this is the rest. */
function scriptFileProblem(path: string, shown: string, rooted?: string): string | undefined {
  if (!existsSync(path)) {
    return rooted === undefined
      ? `${shown} is not in the revision: locations are relative to the revision root, e.g. scripts/set_owner`
      : `${shown} is not in the revision: a leading / is the revision root, not the instance's (the agent runs <revision>/${rooted})`;
  }
  const st = statSync(path);
  if (!st.isFile()) return `${shown} is a folder: name the script itself`;
  if ((st.mode & 0o111) === 0) {
    const mode = (st.mode & 0o777).toString(8);
    return `${shown} is not executable (mode ${mode}): chmod +x it, and commit the mode (git update-index --chmod=+x ${shown})`;
  }
  const head = readFileSync(path).subarray(0, 256).toString("utf8");
  if (!head.startsWith("#!")) return `${shown} has no #! line: start it with the interpreter, e.g. #!/bin/bash`;
  const first = head.split("\n")[0];
  if (first.endsWith("\r")) return `${shown} has Windows line endings (CRLF): "${first.trim()}\\r" is not an interpreter; convert it to LF`;
  return undefined;
}
