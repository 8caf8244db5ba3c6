/**
 * The `hooks` section: which scripts run at which lifecycle event, for how long, as whom.
 *
 * The agent's own rules (application_specification.rb, script_info.rb, hook_executor.rb,
 * linux_util.rb): an event left empty is skipped; each script gets its own timeout (3600 s when
 * none is written) read with Ruby's `to_i`; a script without its execute bit is made executable;
 * the location is run as an unquoted command line inside the revision's folder.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isMap, isScalar, isSeq, Scalar, type Node } from "yaml";
import { AGENT_RESERVED_EVENTS, MAX_EVENT_SECONDS, SCRIPT_LIFECYCLE_EVENTS, type AppSpec, type AppSpecHookScript, type ScriptLifecycleEvent } from "./contract";
import { revisionPath } from "./files";
import { USER_NAME } from "./permissions";
import { type Checker, type Entry, entriesOf, isNothing, jsOf, listOf, show, stringOf, suggestion, typeName } from "./yaml";

const HOOK_KEYS = ["location", "timeout", "runas", "sudo"];
const ECS_ONLY_EVENTS = ["AfterAllowTestTraffic"];
/** What splits or changes a command line: the agent runs the location unquoted. */
const COMMAND_LINE_SPECIAL = /[\s'"`$\\;&|<>(){}*?[\]]/;

export function checkHooks(c: Checker, e: Entry | undefined, revisionDir?: string): AppSpec["hooks"] {
  const hooks: Partial<Record<ScriptLifecycleEvent, AppSpecHookScript[]>> = {};
  if (!e || isNothing(e.value)) return hooks;
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
    // The agent takes any event name and looks up only the ones it runs: a script under any
    // other name is never run, and nothing says so. Refused here for that reason.
    if (!scriptable) {
      const why = (AGENT_RESERVED_EVENTS as readonly string[]).includes(ev.key)
        ? `${ev.key} is reserved for the CodeDeploy agent and never runs scripts (the agent accepts the hook and ignores it); events that run scripts: ${listOf(SCRIPT_LIFECYCLE_EVENTS)}`
        : ECS_ONLY_EVENTS.includes(ev.key)
          ? `${ev.key} is an Amazon ECS lifecycle event; events that run scripts on EC2/On-Premises: ${listOf(SCRIPT_LIFECYCLE_EVENTS)}`
          : `unknown lifecycle event${suggestion(ev.key, SCRIPT_LIFECYCLE_EVENTS)}: the agent accepts any name and never runs it; events that run scripts: ${listOf(SCRIPT_LIFECYCLE_EVENTS)}`;
      c.add(eventLine, field, ev.key, why);
    }
    // Empty (`AfterInstall:` or `[]`): the agent skips the event.
    if (isNothing(ev.value) || (isSeq(ev.value) && ev.value.items.length === 0)) continue;
    if (!isSeq(ev.value)) {
      c.add(c.lineOf(ev.value, eventLine), field, jsOf(ev.value), `must be a list of scripts, e.g. - location: scripts/set_owner (got ${typeName(ev.value)})`);
      continue;
    }
    const scripts: AppSpecHookScript[] = [];
    let allValid = true;
    ev.value.items.forEach((item, i) => {
      const s = checkScript(c, item as Node | null, `${field}[${i}]`, eventLine, revisionDir);
      if (s) scripts.push(s);
      else allValid = false;
    });
    // The user guide's limit for one event; a script without a timeout does not count towards
    // it (the agent gives it its own 3600 s).
    const written = scripts.filter((s) => s.timeout !== undefined);
    const total = written.reduce((sum, s) => sum + (s.timeout ?? 0), 0);
    if (allValid && written.length > 1 && total > MAX_EVENT_SECONDS) {
      c.add(
        eventLine,
        field,
        scripts.map((s) => s.timeout ?? null),
        `the timeouts written for its ${written.length} scripts add up to ${total} s; the user guide allows all scripts of one event at most ${MAX_EVENT_SECONDS} s together: lower them`,
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
      c.add(
        c.lineOf(x.keyNode),
        `${field}.${x.key}`,
        jsOf(x.value),
        `unknown key${suggestion(x.key, HOOK_KEYS)}: the agent ignores it; a hook script has: ${listOf(HOOK_KEYS)}`,
      );
    }
  }
  const out: { location?: string; timeout?: number; runas?: string; sudo?: boolean } = {};

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
    } else if (COMMAND_LINE_SPECIAL.test(locValue)) {
      const first = locValue.split(/\s/)[0];
      c.add(
        line,
        `${field}.location`,
        locValue,
        `${show(locValue)} has a space or a shell character: the agent runs the location as an unquoted command line (linux_util.rb, prepare_script_command), so it would run ${first}; rename the script`,
      );
    } else {
      out.location = rel;
      if (revisionDir) {
        const why = scriptFileProblem(join(revisionDir, rel), locValue, rooted ? rel : undefined);
        if (why) c.add(line, `${field}.location`, locValue, why);
      }
    }
  }

  const timeout = entries.get("timeout");
  if (timeout && !isNothing(timeout.value)) {
    const v = timeout.value;
    const line = c.lineOf(v, c.lineOf(timeout.keyNode));
    const read = timeoutAsTheAgentReadsIt(v, isScalar(v) && v.type === Scalar.PLAIN ? c.sourceOf(v) : undefined);
    if (read.seconds !== undefined && read.why === undefined) out.timeout = read.seconds;
    else {
      c.add(
        line,
        `${field}.timeout`,
        jsOf(v),
        `must be a whole number of seconds from 1 to ${MAX_EVENT_SECONDS} (got ${typeName(v)})${read.why ? `: ${read.why}` : ""}`,
      );
    }
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

  // Not in the user guide, but read by the agent: true runs the script with sudo (linux_util.rb).
  const sudo = entries.get("sudo");
  if (sudo && !isNothing(sudo.value)) {
    if (!isScalar(sudo.value) || typeof sudo.value.value !== "boolean") {
      const v = sudo.value;
      const yaml11 =
        isScalar(v) && v.type === Scalar.PLAIN && /^(yes|no|on|off)$/i.test(c.sourceOf(v))
          ? `: the agent's YAML (1.1) reads ${c.sourceOf(v)} as a boolean, YAML 1.2 as a string; write true or false`
          : "";
      c.add(c.lineOf(v, c.lineOf(sudo.keyNode)), `${field}.sudo`, jsOf(v), `must be true or false (got ${typeName(v)})${yaml11}`);
    } else if (sudo.value.value) out.sudo = true;
  }

  return c.problems.length === before && out.location ? (out as AppSpecHookScript) : undefined;
}

/**
 * The agent reads a timeout with Ruby's `to_i` (script_info.rb): "300" is 300, 1.5 is 1,
 * "5 minutes" is 5, and 0 or less is refused. Written otherwise than as a whole number the
 * result is rarely what was meant, so only whole numbers (bare or quoted) pass, each wrong one
 * with what the agent would make of it. `plain`: the text of an unquoted value, which the
 * agent's YAML 1.1 reads in base 60 (1:30) or 8 (010) where YAML 1.2 does not.
 */
function timeoutAsTheAgentReadsIt(v: Node | null, plain?: string): { seconds?: number; why?: string } {
  if (!isScalar(v)) return {};
  if (plain !== undefined && /^[1-9]\d*(:[0-5]?\d){1,2}$/.test(plain)) {
    const read = plain.split(":").reduce((n, part) => n * 60 + Number(part), 0);
    return { why: `the agent's YAML (1.1) reads ${plain} in base 60, as ${read} s: write ${read}` };
  }
  if (plain !== undefined && /^0[0-7]+$/.test(plain)) {
    return { why: `the agent's YAML (1.1) reads ${plain} as an octal number, ${parseInt(plain, 8)} s: write it without the leading zero` };
  }
  const raw = v.value;
  let seconds: number | undefined;
  if (typeof raw === "number") {
    if (!Number.isInteger(raw)) return { why: `the agent would cut it to ${Math.trunc(raw)} s (Ruby's to_i)` };
    seconds = raw;
  } else if (typeof raw === "string") {
    if (/^\s*\d+\s*$/.test(raw)) seconds = Number(raw.trim());
    else {
      const lead = /^\s*([-+]?\d+)/.exec(raw)?.[1];
      return {
        why: lead
          ? `the agent would read it as ${Number(lead)} s (Ruby's to_i keeps the leading digits)`
          : "the agent would read it as 0 (Ruby's to_i) and refuse it (script_info.rb)",
      };
    }
  } else return {};
  if (seconds < 1) return { seconds, why: "the agent refuses 0 and less (script_info.rb)" };
  if (seconds > MAX_EVENT_SECONDS) return { seconds, why: "the user guide's limit for all scripts of one event" };
  return { seconds };
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
  // No execute bit is fine: the agent sets it before running the script (hook_executor.rb).
  const head = readFileSync(path).subarray(0, 256).toString("utf8");
  if (!head.startsWith("#!")) {
    return `${shown} has no #! line: start it with the interpreter, e.g. #!/bin/bash (the agent would run it with /bin/sh: Ruby falls back to sh when a script has no #!)`;
  }
  const first = head.split("\n")[0];
  if (first.endsWith("\r")) return `${shown} has Windows line endings (CRLF): "${first.trim()}\\r" is not an interpreter; convert it to LF`;
  return undefined;
}
