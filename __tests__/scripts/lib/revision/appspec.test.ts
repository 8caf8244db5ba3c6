import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { formatProblems, SCRIPT_LIFECYCLE_EVENTS, validateAppSpec, type AppSpecProblem } from "../../../../scripts/lib/revision/appspec";

const ROOT = resolve(__dirname, "../../../..");
const BASH = "#!/bin/bash\nset -euo pipefail\necho hook\n";

type RevisionFile = string | { content: string; mode: number };
const made: string[] = [];

/** A revision folder: appspec.yml plus the files it names (scripts default to executable bash). */
function revision(appspec: string, files: Record<string, RevisionFile> = {}, appspecName = "appspec.yml"): string {
  const dir = mkdtempSync(join(tmpdir(), "appspec-test-"));
  made.push(dir);
  const all: Record<string, RevisionFile> = {
    "index.html": "<!DOCTYPE html><title>t</title>",
    "scripts/set_owner": { content: BASH, mode: 0o755 },
    ...files,
    [appspecName]: appspec,
  };
  for (const [path, f] of Object.entries(all)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof f === "string" ? f : f.content);
    chmodSync(file, typeof f === "string" ? 0o644 : f.mode);
  }
  return dir;
}

afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The tutorial's appspec (lines 1-10), the base most cases change one thing of. */
const TUTORIAL = `version: 0.0
os: linux
files:
  - source: /
    destination: /var/www/html
hooks:
  AfterInstall:
    - location: scripts/set_owner
      timeout: 5
      runas: root
`;
const HEAD = "version: 0.0\nos: linux\n"; // lines 1-2
const FILES = `${HEAD}files:\n  - source: /\n    destination: /var/www/html\n`; // lines 1-5

const report = (dir: string) => formatProblems("appspec.yml", validateAppSpec(dir).problems);

describe("the lifecycle events that run scripts", () => {
  it("are listed in the order CodeDeploy runs them in an in-place deployment with a load balancer", () => {
    expect(SCRIPT_LIFECYCLE_EVENTS).toEqual([
      "BeforeBlockTraffic",
      "AfterBlockTraffic",
      "ApplicationStop",
      "BeforeInstall",
      "AfterInstall",
      "ApplicationStart",
      "ValidateService",
      "BeforeAllowTraffic",
      "AfterAllowTraffic",
    ]);
  });
});

// Table rows are tuples for reading; each test gets them as one object, since jest would take a
// test function with more parameters than a row has values for a done-callback test.
type Accepted = [name: string, appspec: string, files?: Record<string, RevisionFile>];
type Rejected = [name: string, appspec: string, expected: string, files?: Record<string, RevisionFile>];

describe("validateAppSpec accepts", () => {
  const accepted: Accepted[] = [
    ["the tutorial's appspec", TUTORIAL],
    ["file_exists_behavior at the top level", `${TUTORIAL}file_exists_behavior: OVERWRITE\n`],
    ["no hooks at all", FILES],
    ["hooks without a files section", `${HEAD}hooks:\n  ValidateService:\n    - location: scripts/set_owner\n`],
    ["a location written with ./", `${FILES}hooks:\n  AfterInstall:\n    - location: ./scripts/set_owner\n`],
    // The agent joins the location onto the revision's folder (hook_executor.rb, script_absolute_path).
    ["a location with a leading / (the revision root)", `${FILES}hooks:\n  AfterInstall:\n    - location: /scripts/set_owner\n`],
    ["a single file as source", `${HEAD}files:\n  - source: index.html\n    destination: /var/www/html\n`],
    [
      "scripts on every scriptable event, timeouts adding up to exactly 3600 s",
      `${FILES}hooks:\n${SCRIPT_LIFECYCLE_EVENTS.map((e) => `  ${e}:\n    - location: scripts/set_owner\n      timeout: 1800\n    - location: scripts/set_owner\n      timeout: 1800\n`).join("")}`,
    ],
    [
      "the user guide's permissions example with acls and an SELinux context",
      `${FILES}permissions:
  - object: /var/www/html/WordPress
    pattern: "**"
    except: [/var/www/html/WordPress/ReadMe.txt]
    owner: bob
    group: writers
    mode: 644
    acls:
      - u:mary:rw
      - u:sam:rw
      - m::rw
    context:
      user: unconfined_u
      type: httpd_sys_content_t
      range: s0
    type:
      - file
`,
    ],
    [
      "a quoted mode with a leading zero, and setuid modes",
      `${FILES}permissions:\n  - object: /var/www/html\n    mode: "0644"\n  - object: /var/www/html\n    mode: 4755\n    type: [file, directory]\n`,
    ],
    [
      "default ACL entries and MLS ranges with categories",
      `${FILES}permissions:\n  - object: /var/www/html\n    acls: [d:u:bob:rwx, default:g:web:5, d:o::r]\n    context:\n      type: httpd_sys_content_t\n      range: s0-s1:c0.c10,c12\n`,
    ],
  ];
  test.each(accepted.map(([name, appspec, files]) => ({ name, appspec, files })))("$name", ({ appspec, files }) => {
    const result = validateAppSpec(revision(appspec, files));
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it("a location with a leading /, returned relative to the revision root", () => {
    const result = validateAppSpec(revision(`${FILES}hooks:\n  AfterInstall:\n    - location: /scripts/set_owner\n`));
    expect(result.spec?.hooks.AfterInstall).toEqual([{ location: "scripts/set_owner" }]);
  });

  it("the sample revision in app/, and returns it typed", () => {
    const result = validateAppSpec(join(ROOT, "app"));
    expect(result.problems).toEqual([]);
    expect(result.spec).toEqual({
      version: 0,
      os: "linux",
      files: [{ source: "/", destination: "/var/www/html" }],
      permissions: [],
      hooks: {
        AfterInstall: [{ location: "scripts/set_owner", timeout: 5, runas: "root" }],
        ValidateService: [{ location: "scripts/validate_service", timeout: 60 }],
      },
    });
  });
});

describe("the sample revision's ValidateService script", () => {
  /** `--flag N` in the script, or undefined. */
  const flag = (text: string, name: string): number | undefined => {
    const m = new RegExp(`${name}\\s+(\\d+)\\b`).exec(text);
    return m ? Number(m[1]) : undefined;
  };

  it("GIVEN its curl retries THEN every check ends within 25 s, and all of them well inside the hook's timeout, so the script's own message reaches the log", () => {
    const text = readFileSync(join(ROOT, "app/scripts/validate_service"), "utf8");
    const timeout = validateAppSpec(join(ROOT, "app")).spec!.hooks.ValidateService![0].timeout!;
    const checks = text.match(/^check "/gm)?.length ?? 0;
    const maxTime = flag(text, "--max-time")!;
    const retries = flag(text, "--retry") ?? 0;
    const delay = flag(text, "--retry-delay") ?? 1;
    const retryMaxTime = flag(text, "--retry-max-time");
    // curl starts no retry once --retry-max-time has passed; the attempt under way may still run --max-time.
    const everyAttempt = (retries + 1) * maxTime + retries * delay;
    const worstCheck = retryMaxTime === undefined ? everyAttempt : Math.min(everyAttempt, retryMaxTime + maxTime);
    expect(checks).toBeGreaterThan(0);
    expect(worstCheck).toBeLessThanOrEqual(25);
    expect(checks * worstCheck).toBeLessThanOrEqual(timeout * 0.75);
  });
});

describe("validateAppSpec rejects, naming the line, the field, the value and what is valid:", () => {
  const rejected: Rejected[] = [
    // version, os, top level
    ["a missing version", "os: linux\n", "appspec.yml:1: version: is required: add `version: 0.0`"],
    ["another version", "version: 1.0\nos: linux\n", "appspec.yml:1: version: must be 0.0, the only AppSpec version (got 1)"],
    ["a quoted version", 'version: "0.0"\nos: linux\n', 'appspec.yml:1: version: must be the number 0.0, unquoted (got the string "0.0")'],
    ["os windows", "version: 0.0\nos: windows\n", 'appspec.yml:2: os: must be linux (got the string "windows"): CodeDeploy also knows windows'],
    ["os in capitals", "version: 0.0\nos: Linux\n", 'appspec.yml:2: os: must be linux (got the string "Linux"): it is case-sensitive'],
    [
      "a misspelled top-level key",
      `${HEAD}hook:\n  AfterInstall: []\n`,
      "appspec.yml:3: hook: unknown top-level key (did you mean hooks?); valid keys: version, os, files, permissions, hooks, file_exists_behavior",
    ],
    ["a Lambda/ECS resources section", `${HEAD}resources: []\n`, "appspec.yml:3: resources: `resources` is for Lambda and ECS AppSpec files"],
    ["YAML that does not parse", `${HEAD}files:\n  - source: /\n   destination: /var/www/html\n`, "appspec.yml:5: (yaml): not valid YAML:"],
    ["a key given twice", `${HEAD}os: linux\n`, "appspec.yml:3: (yaml): not valid YAML: Map keys must be unique"],
    ["a document that is a list", "- version: 0.0\n", "appspec.yml:1: (file): the AppSpec must be a mapping with version, os, files and hooks (got a list)"],
    // files
    [
      "files that is not a list",
      `${HEAD}files: /var/www/html\n`,
      'appspec.yml:3: files: must be a list of {source, destination} entries (got the string "/var/www/html")',
    ],
    [
      "a files entry without destination",
      `${HEAD}files:\n  - source: /\n`,
      "appspec.yml:4: files[0].destination: is required: the absolute folder on the instance to copy to, e.g. /var/www/html",
    ],
    [
      "a relative destination",
      `${HEAD}files:\n  - source: /\n    destination: var/www/html\n`,
      'appspec.yml:5: files[0].destination: must be an absolute path on the instance, e.g. /var/www/html (got the string "var/www/html")',
    ],
    [
      "a source that is not in the revision",
      `${HEAD}files:\n  - source: public\n    destination: /var/www/html\n`,
      'appspec.yml:4: files[0].source: "public" is not in the revision: sources are relative to appspec.yml',
    ],
    [
      "a source outside the revision",
      `${HEAD}files:\n  - source: ../secrets\n    destination: /var/www/html\n`,
      'appspec.yml:4: files[0].source: must stay inside the revision (got "../secrets")',
    ],
    [
      "an unknown file_exists_behavior",
      `${FILES}file_exists_behavior: overwrite\n`,
      'appspec.yml:6: file_exists_behavior: must be one of DISALLOW, OVERWRITE, RETAIN (got the string "overwrite")',
    ],
    [
      "file_exists_behavior inside a files entry",
      `${HEAD}files:\n  - source: /\n    destination: /var/www/html\n    file_exists_behavior: OVERWRITE\n`,
      "appspec.yml:6: files[0].file_exists_behavior: file_exists_behavior is a top-level key (it applies to all files), not part of a files entry",
    ],
    // hooks: events
    [
      "the ECS list form of hooks",
      `${FILES}hooks:\n  - AfterInstall: fn\n`,
      "appspec.yml:7: hooks: must be a mapping of lifecycle event to a list of scripts (the `- Event: function` list form is for Lambda and ECS)",
    ],
    [
      "a misspelled event",
      `${FILES}hooks:\n  AfterInstal:\n    - location: scripts/set_owner\n`,
      "appspec.yml:7: hooks.AfterInstal: unknown lifecycle event (did you mean AfterInstall?); events that run scripts: BeforeBlockTraffic,",
    ],
    [
      "an event in the wrong case",
      `${FILES}hooks:\n  afterinstall:\n    - location: scripts/set_owner\n`,
      "appspec.yml:7: hooks.afterinstall: unknown lifecycle event (did you mean AfterInstall?)",
    ],
    [
      "an ECS-only event",
      `${FILES}hooks:\n  AfterAllowTestTraffic:\n    - location: scripts/set_owner\n`,
      "appspec.yml:7: hooks.AfterAllowTestTraffic: AfterAllowTestTraffic is an Amazon ECS lifecycle event",
    ],
    [
      "an event with no scripts",
      `${FILES}hooks:\n  AfterInstall:\n`,
      "appspec.yml:7: hooks.AfterInstall: must be a list of scripts, e.g. - location: scripts/set_owner (got nothing)",
    ],
    // hooks: scripts
    [
      "a script without location",
      `${FILES}hooks:\n  AfterInstall:\n    - timeout: 5\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: is required: the script's path in the revision",
    ],
    [
      "a location with a leading / that is not in the revision",
      `${FILES}hooks:\n  AfterInstall:\n    - location: /opt/set_owner\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: /opt/set_owner is not in the revision: a leading / is the revision root, not the instance's (the agent runs <revision>/opt/set_owner)",
    ],
    [
      "a location that leaves the revision",
      `${FILES}hooks:\n  AfterInstall:\n    - location: ../set_owner\n`,
      'appspec.yml:8: hooks.AfterInstall[0].location: must be a path inside the revision, without .., e.g. scripts/set_owner (got "../set_owner")',
    ],
    [
      "a location that is the revision root",
      `${FILES}hooks:\n  AfterInstall:\n    - location: /\n`,
      'appspec.yml:8: hooks.AfterInstall[0].location: must be a path inside the revision, without .., e.g. scripts/set_owner (got "/")',
    ],
    [
      "a script that is not in the revision",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/missing\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: scripts/missing is not in the revision",
    ],
    [
      "a location that is a folder",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: scripts is a folder: name the script itself",
    ],
    [
      "a script that is not executable",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/plain\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: scripts/plain is not executable (mode 644): chmod +x it, and commit the mode (git update-index --chmod=+x scripts/plain)",
      { "scripts/plain": { content: BASH, mode: 0o644 } },
    ],
    [
      "a script without #! line (the tutorial's set_owner)",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/bare\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: scripts/bare has no #! line: start it with the interpreter, e.g. #!/bin/bash",
      { "scripts/bare": { content: 'echo "Running set_owner"\nchown -R ec2-user /var/www/html\n', mode: 0o755 } },
    ],
    [
      "a script with Windows line endings",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/crlf\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: scripts/crlf has Windows line endings (CRLF)",
      { "scripts/crlf": { content: "#!/bin/bash\r\necho hi\r\n", mode: 0o755 } },
    ],
    [
      "a timeout of 0",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 0\n`,
      "appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got 0)",
    ],
    [
      "a timeout over an hour",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 3601\n`,
      "appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got 3601)",
    ],
    [
      "a fractional timeout",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 1.5\n`,
      "appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got 1.5)",
    ],
    [
      "a timeout in words",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 5 minutes\n`,
      'appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got the string "5 minutes")',
    ],
    [
      "timeouts of one event adding up to more than an hour",
      `${FILES}hooks:\n  ValidateService:\n    - location: scripts/set_owner\n      timeout: 3000\n    - location: scripts/set_owner\n      timeout: 1000\n`,
      "appspec.yml:7: hooks.ValidateService: the 2 scripts' timeouts add up to 4000 s; all scripts of one event together may run at most 3600 s: lower their timeouts",
    ],
    [
      "two scripts of one event without timeouts (3600 s each by default)",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n    - location: scripts/set_owner\n`,
      "appspec.yml:7: hooks.AfterInstall: the 2 scripts' timeouts add up to 7200 s (a script without timeout counts as the default 3600 s)",
    ],
    [
      "a runas that is not a user name",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      runas: ec2 user\n`,
      'appspec.yml:9: hooks.AfterInstall[0].runas: must be a user name on the instance, e.g. root or ec2-user (got the string "ec2 user")',
    ],
    [
      "a misspelled script key",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timout: 5\n`,
      "appspec.yml:9: hooks.AfterInstall[0].timout: unknown key (did you mean timeout?); a hook script has: location, timeout, runas",
    ],
    // permissions
    ["a permission without object", `${FILES}permissions:\n  - mode: 644\n`, "appspec.yml:7: permissions[0].object: is required"],
    [
      "a relative object",
      `${FILES}permissions:\n  - object: html\n`,
      'appspec.yml:7: permissions[0].object: must be an absolute path on the instance, e.g. /var/www/html (got the string "html")',
    ],
    [
      "an object this deployment does not install",
      `${FILES}permissions:\n  - object: /etc/httpd\n`,
      "appspec.yml:7: permissions[0].object: /etc/httpd is not under any files destination (/var/www/html): permissions apply only to what this deployment installs",
    ],
    [
      "an unquoted mode with a leading zero",
      `${FILES}permissions:\n  - object: /var/www/html\n    mode: 0644\n`,
      'appspec.yml:8: permissions[0].mode: 0644 has a leading zero: the agent\'s YAML reads it as an octal number and applies the wrong mode; write "0644" (quoted) or 644',
    ],
    [
      "a mode with a digit over 7",
      `${FILES}permissions:\n  - object: /var/www/html\n    mode: 648\n`,
      'appspec.yml:8: permissions[0].mode: must be 1 to 4 octal digits (0-7), like 644 or "4755"; symbolic modes such as u+x are not supported (got "648")',
    ],
    [
      "a symbolic mode",
      `${FILES}permissions:\n  - object: /var/www/html\n    mode: u+x\n`,
      'permissions[0].mode: must be 1 to 4 octal digits (0-7), like 644 or "4755"; symbolic modes such as u+x are not supported (got "u+x")',
    ],
    [
      "a type that is not a list",
      `${FILES}permissions:\n  - object: /var/www/html\n    type: file\n`,
      'appspec.yml:8: permissions[0].type: must be a list of file and/or directory, e.g. [file] (got the string "file")',
    ],
    [
      "an unknown object type",
      `${FILES}permissions:\n  - object: /var/www/html\n    type:\n      - socket\n`,
      'appspec.yml:9: permissions[0].type[0]: must be file or directory (got "socket")',
    ],
    [
      "except that is not a list",
      `${FILES}permissions:\n  - object: /var/www/html\n    except: ReadMe.txt\n`,
      'appspec.yml:8: permissions[0].except: must be a list of names or globs, e.g. [my-file-3.txt] (got the string "ReadMe.txt")',
    ],
    [
      "an ACL base entry",
      `${FILES}permissions:\n  - object: /var/www/html\n    acls:\n      - u::rw\n`,
      'appspec.yml:9: permissions[0].acls[0]: sets a base entry (got "u::rw"): an ACL entry needs a user or group name, e.g. u:bob:rw; use mode for the owner, group and others',
    ],
    [
      "an ACL entry of an unknown kind",
      `${FILES}permissions:\n  - object: /var/www/html\n    acls: [x:bob:rw]\n`,
      'appspec.yml:8: permissions[0].acls[0]: is not a valid ACL entry (got "x:bob:rw")',
    ],
    [
      "an ACL entry with bad permissions",
      `${FILES}permissions:\n  - object: /var/www/html\n    acls: [u:bob:rwz]\n`,
      'appspec.yml:8: permissions[0].acls[0]: has invalid permission characters (got "u:bob:rwz")',
    ],
    [
      "a context without type",
      `${FILES}permissions:\n  - object: /var/www/html\n    context:\n      user: unconfined_u\n`,
      "appspec.yml:9: permissions[0].context.type: is required: the SELinux type to label the files with",
    ],
    [
      "a context range going down",
      `${FILES}permissions:\n  - object: /var/www/html\n    context:\n      type: httpd_sys_content_t\n      range: s1-s0\n`,
      'appspec.yml:10: permissions[0].context.range: is not a valid SELinux range (got "s1-s0")',
    ],
    [
      "a misspelled permission key",
      `${FILES}permissions:\n  - object: /var/www/html\n    owners: ec2-user\n`,
      "appspec.yml:8: permissions[0].owners: unknown key (did you mean owner?); a permissions entry has: object, pattern, except, owner, group, mode, acls, context, type",
    ],
  ];
  test.each(rejected.map(([name, appspec, expected, files]) => ({ name, appspec, expected, files })))("$name", ({ appspec, expected, files }) => {
    const result = validateAppSpec(revision(appspec, files));
    expect(result.ok).toBe(false);
    expect(result.spec).toBeUndefined();
    expect(formatProblems("appspec.yml", result.problems)).toContain(expected);
  });

  test.each(["Start", "DownloadBundle", "Install", "BlockTraffic", "AllowTraffic", "End"])("a hook on %s, which is reserved for the agent", (event) => {
    expect(report(revision(`${FILES}hooks:\n  ${event}:\n    - location: scripts/set_owner\n`))).toContain(
      `appspec.yml:7: hooks.${event}: ${event} is reserved for the CodeDeploy agent and cannot run scripts; events that run scripts: BeforeBlockTraffic, AfterBlockTraffic, ApplicationStop, BeforeInstall, AfterInstall, ApplicationStart, ValidateService, BeforeAllowTraffic, AfterAllowTraffic`,
    );
  });

  it("a revision without appspec.yml", () => {
    const dir = mkdtempSync(join(tmpdir(), "appspec-test-"));
    made.push(dir);
    const result = validateAppSpec(dir);
    expect(result.problems).toEqual([
      { line: 0, field: "appspec.yml", value: undefined, message: `no appspec.yml in ${dir}: the AppSpec file must be at the root of the revision` },
    ]);
  });

  // The CodeDeploy user guide: the AppSpec file of an EC2/On-Premises deployment must be named
  // appspec.yml (appspec.yaml only in a local deployment); the agent's hook executor reads appspec.yml.
  it("an appspec.yaml, which the CodeDeploy agent does not read: rename it to appspec.yml", () => {
    const dir = revision(TUTORIAL, {}, "appspec.yaml");
    const result = validateAppSpec(dir);
    expect(result.ok).toBe(false);
    expect(result.file).toBe(join(dir, "appspec.yaml"));
    expect(result.problems).toEqual([
      {
        line: 0,
        field: "appspec.yaml",
        value: "appspec.yaml",
        message: `the CodeDeploy agent reads appspec.yml, not appspec.yaml (that name only works in local deployments): rename it to appspec.yml (git mv ${join(dir, "appspec.yaml")} ${join(dir, "appspec.yml")})`,
      },
    ]);
  });

  it("a revision with both appspec.yml and appspec.yaml: the .yaml one is never read", () => {
    const text = report(revision(TUTORIAL, { "appspec.yaml": TUTORIAL }));
    expect(text).toContain("appspec.yml: appspec.yaml: the CodeDeploy agent reads appspec.yml, not appspec.yaml");
    expect(text).toContain("delete appspec.yaml, or merge it into appspec.yml");
  });

  it("a revision with both, and a problem in appspec.yml: both are reported", () => {
    const text = report(revision(`${FILES}hooks:\n  AfterInstal:\n    - location: scripts/set_owner\n`, { "appspec.yaml": TUTORIAL }));
    expect(text).toContain("appspec.yml: appspec.yaml: the CodeDeploy agent reads appspec.yml");
    expect(text).toContain("appspec.yml:7: hooks.AfterInstal: unknown lifecycle event");
  });

  it("an empty appspec.yml", () => {
    expect(report(revision(""))).toBe("appspec.yml: (file): the AppSpec must be a mapping with version, os, files and hooks (got nothing)");
  });
});

describe("validateAppSpec reports every problem at once", () => {
  it("in the bad-appspec fixture, in file order, each with its line", () => {
    const result = validateAppSpec(join(ROOT, "__tests__/fixtures/revisions/bad-appspec"));
    expect(result.problems.map((p) => `${p.line} ${p.field}`)).toEqual([
      "2 version",
      "3 os",
      "5 files[0].source",
      "6 files[0].destination",
      "7 files[0].file_exists_behavior",
      "10 permissions[0].mode",
      "11 permissions[0].type",
      "13 hooks.Install",
      "16 hooks.AfterInstall[0].location",
      "17 hooks.AfterInstall[0].timeout",
      "18 hooks.AfterInstall[1].location",
      "20 hooks.ValidateServce",
      "21 hooks.ValidateServce[0].location",
    ]);
  });

  it("with the offending value in each problem", () => {
    const byField = new Map(validateAppSpec(join(ROOT, "__tests__/fixtures/revisions/bad-appspec")).problems.map((p) => [p.field, p.value]));
    expect(byField.get("version")).toBe("0.0");
    expect(byField.get("hooks.AfterInstall[0].timeout")).toBe(5000);
    expect(byField.get("permissions[0].mode")).toBe("0644");
    expect(byField.get("hooks.ValidateServce")).toBe("ValidateServce");
  });
});

describe("formatProblems", () => {
  it("writes one problem per line as file:line: field: message, in line order", () => {
    const problems: AppSpecProblem[] = [
      { line: 12, field: "hooks.Install", value: "Install", message: "Install is reserved" },
      { line: 2, field: "os", value: "windows", message: "must be linux" },
      { line: 0, field: "appspec.yml", value: undefined, message: "file-level" },
    ];
    expect(formatProblems("app/appspec.yml", problems)).toBe(
      ["app/appspec.yml: appspec.yml: file-level", "app/appspec.yml:2: os: must be linux", "app/appspec.yml:12: hooks.Install: Install is reserved"].join("\n"),
    );
  });
});
