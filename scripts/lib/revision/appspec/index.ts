/**
 * AppSpec validator for EC2/On-Premises revisions (CodeDeploy ships none: the agent finds a
 * mistake only on the instance, mid-deployment, one at a time).
 *
 * Checks what the CodeDeploy user guide ("AppSpec 'files' / 'permissions' / 'hooks' section")
 * and the agent's parser (aws-codedeploy-agent, application_specification/*.rb) accept, and
 * reports every problem at once, each with its line, the field, the value and what is valid.
 *
 * The judge is the agent, not the guide: where they disagree, the validator says what the agent
 * would do and names the agent's rule; where it is stricter than the agent (a hook on an event
 * that never runs scripts, an event name in the wrong case, an unquoted leading-zero mode, a key
 * set twice, a setting the agent ignores), the message says why.
 *
 * One concern per file: contract.ts (events, limits, the typed AppSpec), yaml.ts (reading with
 * line numbers, as the agent's YAML reads it), document.ts (the top level), files.ts,
 * permissions.ts, hooks.ts, install.ts (the Install step worked out from the revision folder),
 * result.ts (problems and their format); ../tree.ts walks the revision folder (symlinks).
 * Pure apart from reading the revision folder: no process, no network.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isMap, LineCounter, parseDocument, type Node } from "yaml";
import { APPSPEC_FILE_NAME, LOCAL_ONLY_APPSPEC_NAME } from "./contract";
import { checkFileExistsBehavior, checkOs, checkVersion, NOT_FOR_EC2_KEYS, TOP_LEVEL_KEYS } from "./document";
import { walkRevision } from "../tree";
import { checkFiles } from "./files";
import { checkHooks } from "./hooks";
import { checkNothingPrivateServed, checkPermissionsAgainstInstall, planInstall, type InstallPlan } from "./install";
import { checkPermissions } from "./permissions";
import type { AppSpecProblem, AppSpecResult } from "./result";
import { Checker, checkYamlAsTheAgentReadsIt, type Entry, entriesOf, jsOf, lineOfValue, listOf, suggestion, typeName } from "./yaml";

export * from "./contract";
export * from "./result";

/** Finds `<dir>/appspec.yml`. */
export function findAppSpec(revisionDir: string): string | undefined {
  const file = join(revisionDir, APPSPEC_FILE_NAME);
  return existsSync(file) ? file : undefined;
}

/**
 * Validates `<revisionDir>/appspec.yml` and the revision around it: sources and hook scripts
 * must exist in the folder, what Install would copy must be possible, nothing private (appspec.yml,
 * a hook script) may land under the web root, and no symlink may leave the folder. An
 * appspec.yaml is a problem: the agent would not read it.
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

/**
 * Validates AppSpec text. With `revisionDir`, also checks the revision against it (sources and
 * scripts exist, the Install step works out, permissions reach what it installs, symlinks stay
 * inside); without, only the document itself is checked.
 */
export function validateAppSpecSource(text: string, revisionDir?: string): AppSpecResult {
  const lines = new LineCounter();
  // Duplicate keys are the agent's YAML's business (the last one wins), reported below.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const c = new Checker(text, lines);
  if (text.startsWith("\uFEFF")) {
    // Psych gives libyaml the encoding, so libyaml does not skip the mark, and the first key goes wrong.
    c.add(
      1,
      "(file)",
      undefined,
      "starts with a byte-order mark (BOM): the agent's YAML parser (Ruby's Psych on libyaml) fails on it (\"did not find expected <document start>\"): save appspec.yml as UTF-8 without BOM",
    );
  }
  for (const p of revisionDir ? walkRevision(revisionDir).problems : []) c.add(0, p.path, p.target, p.message);

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
  checkYamlAsTheAgentReadsIt(c, root);

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
  const permissions = checkPermissions(c, top.get("permissions"), filesKnown ? (files ?? []).map((f) => f.spec) : undefined);
  let plan: InstallPlan | undefined;
  if (revisionDir && filesKnown) {
    plan = planInstall(c, revisionDir, files ?? []);
    checkPermissionsAgainstInstall(c, plan, permissions, files ?? []);
  }
  const hooks = checkHooks(c, top.get("hooks"), revisionDir);
  if (revisionDir && plan) {
    const locations = Object.values(hooks).flatMap((scripts) => (scripts ?? []).map((s) => s.location));
    checkNothingPrivateServed(c, revisionDir, plan, files ?? [], locations);
  }

  const ok = c.problems.length === 0;
  c.problems.sort((a, b) => a.line - b.line);
  return {
    ok,
    problems: c.problems,
    spec: ok
      ? {
          version: version as number,
          os: os as "linux",
          files: (files ?? []).map((f) => f.spec),
          permissions: permissions.map((p) => p.spec),
          hooks,
          ...(fileExistsBehavior ? { fileExistsBehavior, fileExistsBehaviorLine: lineOfValue(c, top.get("file_exists_behavior")) } : {}),
        }
      : undefined,
  };
}
