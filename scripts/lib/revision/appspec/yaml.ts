/**
 * Reading the AppSpec's YAML with line numbers: the problems collected so far, the pairs of a
 * mapping, how a node is shown in a message, and where the agent's YAML reads the same text
 * differently.
 *
 * The agent reads the AppSpec with Ruby's `YAML.load` (Psych on libyaml, YAML 1.1); this reads
 * it as YAML 1.2. Where that matters, the difference is reported rather than papered over:
 * a byte-order mark, duplicate keys, aliases, dates (below), and leading-zero modes (permissions).
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, Scalar, type Node, type YAMLMap } from "yaml";
import type { AppSpecProblem } from "./result";

export const show = (v: unknown): string => (v === undefined ? "nothing" : typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)));
export const listOf = (xs: readonly string[]): string => xs.join(", ");

export class Checker {
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

export interface Entry {
  key: string;
  keyNode: Node | null;
  value: Node | null;
}

/** The pairs of a map with scalar keys, in order. */
export function entriesOf(map: YAMLMap): Entry[] {
  return map.items.map((pair) => {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    return { key, keyNode, value: (pair.value as Node | null) ?? null };
  });
}

export function jsOf(node: Node | null): unknown {
  return node === null ? null : node.toJSON();
}

export function typeName(node: Node | null): string {
  if (node === null || (isScalar(node) && node.value === null)) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return typeof node.value === "string" ? `the string ${JSON.stringify(node.value)}` : String(node.value);
  return "something else";
}

/** An empty value (`key:` or `key: null`): the agent reads nil. */
export function isNothing(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

export function stringOf(node: Node | null): string | undefined {
  return isScalar(node) && typeof node.value === "string" ? node.value : undefined;
}

/** The line of an entry's value, or of its key when the value is missing. */
export function lineOfValue(c: Checker, e: Entry | undefined): number {
  return c.lineOf(e?.value, c.lineOf(e?.keyNode));
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

export function suggestion(name: string, candidates: readonly string[]): string {
  const best = candidates
    .map((c) => ({ c, d: c.toLowerCase() === name.toLowerCase() ? 0 : levenshtein(c.toLowerCase(), name.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 3 ? ` (did you mean ${best.c}?)` : "";
}

/** Psych's YAML 1.1 timestamp and date forms (psych/scalar_scanner.rb), for a plain scalar. */
const PSYCH_TIME = /^-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?$/;
const PSYCH_DATE = /^\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)$/;

/** `files[0].source`, `hooks.AfterInstall[1].timeout`: the field of a node, as problems name it. */
const child = (path: string, key: string | number): string => (typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/**
 * Reports what the agent's YAML reads differently from this one, anywhere in the document:
 * - a key set twice: Psych keeps the last one without a word (so does this reader, after the report);
 * - an alias: Psych 4 and later (Ruby 3.1+, the agent's Ruby on Amazon Linux 2023) refuse them in
 *   YAML.load;
 * - a plain scalar that YAML 1.1 reads as a date or a time: YAML.load (Psych 4+) refuses the
 *   class, and older ones hand the agent a Date where it expects a string.
 */
export function checkYamlAsTheAgentReadsIt(c: Checker, root: Node): void {
  const visit = (node: Node | null, path: string): void => {
    if (node === null) return;
    if (isAlias(node)) {
      c.add(
        c.lineOf(node),
        path,
        `*${node.source}`,
        `is a YAML alias (*${node.source}): the agent's YAML.load (Psych 4 and later, Ruby 3.1+ as on Amazon Linux 2023) refuses aliases ("Alias parsing was not enabled"); write the value out`,
      );
      return;
    }
    if (isScalar(node)) {
      if (node.type !== Scalar.PLAIN || typeof node.value !== "string") return;
      const text = c.sourceOf(node);
      const kind = PSYCH_TIME.test(text) ? "time" : PSYCH_DATE.test(text) ? "date" : undefined;
      if (kind) {
        const cls = kind === "time" ? "Time" : "Date";
        c.add(
          c.lineOf(node),
          path,
          text,
          `${text} is a ${kind} to the agent's YAML (Ruby's Psych reads YAML 1.1), and its YAML.load refuses ${kind}s ("Tried to load unspecified class: ${cls}"): quote it, "${text}"`,
        );
      }
      return;
    }
    if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item as Node | null, child(path, i)));
      return;
    }
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const e of entriesOf(node)) {
        const field = child(path, e.key);
        const line = c.lineOf(e.keyNode);
        const first = seen.get(e.key);
        if (first !== undefined) {
          c.add(line, field, jsOf(e.value), `is set twice (first on line ${first}): the agent's YAML parser keeps the last one without a word; keep one`);
        } else seen.set(e.key, line);
        visit(e.keyNode, field);
        visit(e.value, field);
      }
    }
  };
  visit(root, "");
}
