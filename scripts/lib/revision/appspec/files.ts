/** The `files` section: what Install copies from the revision to the instance. */
import { existsSync } from "node:fs";
import { join, posix } from "node:path";
import { isMap, isSeq, type Node } from "yaml";
import type { AppSpecFile } from "./contract";
import { type Checker, type Entry, entriesOf, isNothing, jsOf, listOf, show, stringOf, suggestion, typeName } from "./yaml";

const FILE_KEYS = ["source", "destination"];

/** Path inside the revision: no `..`, normalized (`./scripts/x` → `scripts/x`). */
export function revisionPath(p: string): string | undefined {
  const n = posix.normalize(p.replace(/\\/g, "/"));
  if (n === ".." || n.startsWith("../")) return undefined;
  return n === "." ? "" : n.replace(/\/$/, "");
}

/** A valid files entry and where it is written. */
export interface FileEntry {
  readonly spec: AppSpecFile;
  /** `files[1]` */
  readonly field: string;
  readonly line: number;
}

/** The valid entries; undefined when the section is absent or any entry is wrong. */
export function checkFiles(c: Checker, e: Entry | undefined, revisionDir?: string): FileEntry[] | undefined {
  if (!e) return undefined;
  if (isNothing(e.value)) return [];
  if (!isSeq(e.value)) {
    c.add(c.lineOf(e.value, c.lineOf(e.keyNode)), "files", jsOf(e.value), `must be a list of {source, destination} entries (got ${typeName(e.value)})`);
    return undefined;
  }
  const out: FileEntry[] = [];
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
          ? "file_exists_behavior is a top-level key (it applies to all files), not part of a files entry, where the agent ignores it: move it to the left margin"
          : `unknown key${suggestion(x.key, FILE_KEYS)}: the agent ignores it; a files entry has: ${listOf(FILE_KEYS)}`;
      c.add(c.lineOf(x.keyNode), `${field}.${x.key}`, jsOf(x.value), why);
    }
    const itemLine = c.lineOf(node);
    const source = checkSource(c, entries.get("source"), `${field}.source`, itemLine, revisionDir);
    const destination = checkDestination(c, entries.get("destination"), `${field}.destination`, itemLine);
    if (source !== undefined && destination !== undefined) out.push({ spec: { source, destination }, field, line: itemLine });
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
