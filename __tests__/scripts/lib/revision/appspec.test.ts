import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { formatProblems, SCRIPT_LIFECYCLE_EVENTS, validateAppSpec, type AppSpecProblem } from "../../../../scripts/lib/revision/appspec";

const ROOT = resolve(__dirname, "../../../..");
const BASH = "#!/bin/bash\nset -euo pipefail\necho hook\n";

/** A file's text (mode 644), a file with its mode, or a symlink to `link` (as written; $REVISION is the revision folder). */
type RevisionFile = string | { content: string; mode: number } | { link: string };
const made: string[] = [];

/**
 * A revision folder like app/: appspec.yml, a page in public/ (and one at the root), plus the
 * files it names (scripts default to executable bash). A path ending in / is a folder.
 */
function revision(appspec: string, files: Record<string, RevisionFile> = {}, appspecName = "appspec.yml"): string {
  const dir = mkdtempSync(join(tmpdir(), "appspec-test-"));
  made.push(dir);
  const all: Record<string, RevisionFile> = {
    "index.html": "<!DOCTYPE html><title>t</title>",
    "public/index.html": "<!DOCTYPE html><title>t</title>",
    "scripts/set_owner": { content: BASH, mode: 0o755 },
    ...files,
    [appspecName]: appspec,
  };
  for (const [path, f] of Object.entries(all)) {
    const file = join(dir, path);
    mkdirSync(path.endsWith("/") ? file : dirname(file), { recursive: true });
    if (path.endsWith("/")) continue;
    if (typeof f === "object" && "link" in f) symlinkSync(f.link.replace("$REVISION", dir), file);
    else {
      writeFileSync(file, typeof f === "string" ? f : f.content);
      chmodSync(file, typeof f === "string" ? 0o644 : f.mode);
    }
  }
  return dir;
}

afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * The tutorial's appspec (lines 1-10): the whole revision to the web root, which serves
 * appspec.yml and the hook scripts, so the validator refuses it.
 */
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
/** The tutorial's appspec as app/ writes it (lines 1-10): only public/ reaches the web root. The base most cases change one thing of. */
const SAMPLE = TUTORIAL.replace("source: /", "source: public");
const HEAD = "version: 0.0\nos: linux\n"; // lines 1-2
const FILES = `${HEAD}files:\n  - source: public\n    destination: /var/www/html\n`; // lines 1-5

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
    ["the tutorial's appspec, with only public/ under the web root", SAMPLE],
    ["file_exists_behavior at the top level", `${SAMPLE}file_exists_behavior: OVERWRITE\n`],
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
      // The user guide's example as the agent reads it: except holds names inside object (not
      // paths), and the SELinux user is context.name (context_info.rb), not context.user.
      "the user guide's permissions example, written as the agent reads it",
      `${HEAD}files:\n  - source: WordPress\n    destination: /var/www/html/WordPress\npermissions:
  - object: /var/www/html/WordPress
    pattern: "**"
    except: [ReadMe.txt]
    owner: bob
    group: writers
    mode: 644
    acls:
      - u:mary:rw
      - u:sam:rw
      - m::rw
    context:
      name: unconfined_u
      type: httpd_sys_content_t
      range: s0
    type:
      - file
`,
      { "WordPress/index.php": "<?php echo 1;", "WordPress/ReadMe.txt": "read me" },
    ],
    [
      "a quoted mode with a leading zero, and setuid modes on other files",
      `${FILES}permissions:\n  - object: /var/www/html\n    pattern: "*.html"\n    mode: "0644"\n    type: [file]\n  - object: /var/www/html/cgi-bin\n    mode: 4755\n    type: [file, directory]\n`,
      { "public/cgi-bin/run": { content: BASH, mode: 0o755 } },
    ],
    [
      "default ACL entries on folders only, and MLS ranges with categories",
      `${FILES}permissions:\n  - object: /var/www/html\n    acls: [d:u:bob:rwx, default:g:web:5, d:o::r]\n    type: [directory]\n    context:\n      type: httpd_sys_content_t\n      range: s0-s1:c0.c10,c12\n`,
      { "public/assets/logo.svg": "<svg/>" },
    ],
    ["a sudo flag on a script (the agent prefixes sudo)", `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      sudo: true\n`],
    ["a symlink to a file inside the revision", FILES, { "public/home.html": { link: "index.html" } }],
    ["a symlink to a folder inside the revision", FILES, { "assets/logo.svg": "<svg/>", "public/assets": { link: "../assets" } }],
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
      files: [{ source: "public", destination: "/var/www/html" }],
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
    [
      "a key given twice, which the agent's YAML takes silently (the last one wins)",
      `${HEAD}os: linux\n`,
      "appspec.yml:3: os: is set twice (first on line 2): the agent's YAML parser keeps the last one without a word; keep one",
    ],
    [
      "a YAML alias, which the agent's YAML.load refuses",
      `${HEAD}files:\n  - source: /\n    destination: &root /var/www/html\npermissions:\n  - object: *root\n`,
      "appspec.yml:7: permissions[0].object: is a YAML alias (*root): the agent's YAML.load (Psych 4 and later, Ruby 3.1+ as on Amazon Linux 2023) refuses aliases",
    ],
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
      `${HEAD}files:\n  - source: site\n    destination: /var/www/html\n`,
      'appspec.yml:4: files[0].source: "site" is not in the revision: sources are relative to appspec.yml',
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
      `${HEAD}files:\n  - source: public\n    destination: /var/www/html\n    file_exists_behavior: OVERWRITE\n`,
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
      "appspec.yml:7: hooks.AfterInstal: unknown lifecycle event (did you mean AfterInstall?): the agent accepts any name and never runs it; events that run scripts: BeforeBlockTraffic,",
    ],
    [
      "an event in the wrong case",
      `${FILES}hooks:\n  afterinstall:\n    - location: scripts/set_owner\n`,
      "appspec.yml:7: hooks.afterinstall: unknown lifecycle event (did you mean AfterInstall?): the agent accepts any name and never runs it",
    ],
    [
      "an ECS-only event",
      `${FILES}hooks:\n  AfterAllowTestTraffic:\n    - location: scripts/set_owner\n`,
      "appspec.yml:7: hooks.AfterAllowTestTraffic: AfterAllowTestTraffic is an Amazon ECS lifecycle event",
    ],
    [
      "an event given as one script instead of a list",
      `${FILES}hooks:\n  AfterInstall:\n    location: scripts/set_owner\n`,
      "appspec.yml:8: hooks.AfterInstall: must be a list of scripts, e.g. - location: scripts/set_owner (got a mapping)",
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
      "a script without #! line (the tutorial's set_owner)",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/bare\n`,
      "appspec.yml:8: hooks.AfterInstall[0].location: scripts/bare has no #! line: start it with the interpreter, e.g. #!/bin/bash (the agent would run it with /bin/sh: Ruby falls back to sh when a script has no #!)",
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
      "appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got 0): the agent refuses 0 and less (script_info.rb)",
    ],
    [
      "a timeout over an hour",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 3601\n`,
      "appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got 3601): the user guide's limit for all scripts of one event",
    ],
    [
      "a fractional timeout",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 1.5\n`,
      "appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got 1.5): the agent would cut it to 1 s (Ruby's to_i)",
    ],
    [
      "a timeout in words",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 5 minutes\n`,
      'appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got the string "5 minutes"): the agent would read it as 5 s (Ruby\'s to_i keeps the leading digits)',
    ],
    [
      "an unquoted timeout in base 60, which the agent's YAML 1.1 reads as seconds",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 1:30\n`,
      'appspec.yml:9: hooks.AfterInstall[0].timeout: must be a whole number of seconds from 1 to 3600 (got the string "1:30"): the agent\'s YAML (1.1) reads 1:30 in base 60, as 90 s: write 90',
    ],
    [
      "timeouts of one event adding up to more than an hour",
      `${FILES}hooks:\n  ValidateService:\n    - location: scripts/set_owner\n      timeout: 3000\n    - location: scripts/set_owner\n      timeout: 1000\n`,
      "appspec.yml:7: hooks.ValidateService: the timeouts written for its 2 scripts add up to 4000 s; the user guide allows all scripts of one event at most 3600 s together: lower them",
    ],
    [
      "a runas that is not a user name",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      runas: ec2 user\n`,
      'appspec.yml:9: hooks.AfterInstall[0].runas: must be a user name on the instance, e.g. root or ec2-user (got the string "ec2 user")',
    ],
    [
      "a misspelled script key",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timout: 5\n`,
      "appspec.yml:9: hooks.AfterInstall[0].timout: unknown key (did you mean timeout?): the agent ignores it; a hook script has: location, timeout, runas, sudo",
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
      'appspec.yml:8: permissions[0].mode: 0644 has a leading zero: the agent\'s YAML (1.1) reads it as an octal number, 420, and applies mode 420; write "0644" (quoted) or 644',
    ],
    [
      "an unquoted 0755, which the agent's YAML reads as 493",
      `${FILES}permissions:\n  - object: /var/www/html\n    mode: 0755\n`,
      "appspec.yml:8: permissions[0].mode: 0755 has a leading zero: the agent's YAML (1.1) reads it as an octal number, 493, and fails the deployment on it (mode_info.rb: not an octal digit)",
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
      `${FILES}permissions:\n  - object: /var/www/html\n    context:\n      name: unconfined_u\n`,
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
      "appspec.yml:8: permissions[0].owners: unknown key (did you mean owner?): the agent ignores it; a permissions entry has: object, pattern, except, owner, group, mode, acls, context, type",
    ],
    [
      "the user guide's context.user, which the agent ignores (it reads name)",
      `${FILES}permissions:\n  - object: /var/www/html\n    context:\n      user: unconfined_u\n      type: httpd_sys_content_t\n      range: s0\n`,
      "appspec.yml:9: permissions[0].context.user: the agent ignores context.user and reads the SELinux user from context.name (context_info.rb): rename it to name",
    ],
    [
      "an except entry that is a path, which never matches",
      `${FILES}permissions:\n  - object: /var/www/html\n    except: [/var/www/html/index.html]\n`,
      'appspec.yml:8: permissions[0].except[0]: "/var/www/html/index.html" has a /, and never matches: the agent matches except against the names right inside object (linux_permission_info.rb); write index.html',
    ],
    [
      "a permission that applies to nothing the deployment installs",
      `${HEAD}files:\n  - source: index.html\n    destination: /var/www/html\npermissions:\n  - object: /var/www/html\n    type: [directory]\n    mode: 755\n`,
      "appspec.yml:7: permissions[0].object: applies to nothing this deployment installs (no folder below /var/www/html; a permission never applies to its object folder itself): the agent skips it without a word",
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
      `appspec.yml:7: hooks.${event}: ${event} is reserved for the CodeDeploy agent and never runs scripts (the agent accepts the hook and ignores it); events that run scripts: BeforeBlockTraffic, AfterBlockTraffic, ApplicationStop, BeforeInstall, AfterInstall, ApplicationStart, ValidateService, BeforeAllowTraffic, AfterAllowTraffic`,
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
    const dir = revision(SAMPLE, {}, "appspec.yaml");
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
    const text = report(revision(SAMPLE, { "appspec.yaml": SAMPLE }));
    expect(text).toContain("appspec.yml: appspec.yaml: the CodeDeploy agent reads appspec.yml, not appspec.yaml");
    expect(text).toContain("delete appspec.yaml, or merge it into appspec.yml");
  });

  it("a revision with both, and a problem in appspec.yml: both are reported", () => {
    const text = report(revision(`${FILES}hooks:\n  AfterInstal:\n    - location: scripts/set_owner\n`, { "appspec.yaml": SAMPLE }));
    expect(text).toContain("appspec.yml: appspec.yaml: the CodeDeploy agent reads appspec.yml");
    expect(text).toContain("appspec.yml:7: hooks.AfterInstal: unknown lifecycle event");
  });

  it("an empty appspec.yml", () => {
    expect(report(revision(""))).toBe("appspec.yml: (file): the AppSpec must be a mapping with version, os, files and hooks (got nothing)");
  });
});

/**
 * The CodeDeploy agent (aws-codedeploy-agent: application_specification/*.rb parse the AppSpec,
 * installer.rb and install_instruction.rb run Install, hook_executor.rb runs the scripts) is the
 * judge: what it fails on, the validator refuses, naming the agent's rule; what it runs, the
 * validator accepts. One row per class of disagreement found between them.
 */
describe("the validator agrees with the CodeDeploy agent", () => {
  interface Row {
    name: string;
    agent: "fails" | "runs";
    appspec: string;
    files?: Record<string, RevisionFile>;
    /** What the validator says (agent: fails). */
    problem?: string;
  }
  const BOM = "\uFEFF";
  const rows: Row[] = [
    // The agent fails; the validator used to accept.
    {
      name: "a byte-order mark in front of the first key",
      agent: "fails",
      appspec: `${BOM}${SAMPLE}`,
      problem: "appspec.yml:1: (file): starts with a byte-order mark (BOM): the agent's YAML parser (Ruby's Psych on libyaml) fails on it",
    },
    {
      name: "a byte-order mark in front of ---",
      agent: "fails",
      appspec: `${BOM}---\n${SAMPLE}`,
      problem: "appspec.yml:1: (file): starts with a byte-order mark (BOM)",
    },
    {
      name: "a default ACL on what includes files",
      agent: "fails",
      appspec: `${FILES}permissions:\n  - object: /var/www/html\n    acls: [d:u:bob:rwx]\n`,
      files: { "public/about.html": "<p>about</p>", "public/assets/logo.svg": "<svg/>" },
      problem:
        "appspec.yml:8: permissions[0].acls: default ACL entries (d:u:bob:rwx) are for folders, and this entry also applies to files (/var/www/html/about.html and 2 more): the agent fails the Install step (linux_permission_info.rb, validate_file_acl); add type: [directory]",
    },
    {
      name: "a pattern on a file",
      agent: "fails",
      appspec: `${FILES}permissions:\n  - object: /var/www/html/index.html\n    pattern: "*.html"\n`,
      problem:
        "appspec.yml:8: permissions[0].pattern: /var/www/html/index.html is a file this deployment installs, and pattern and except pick files inside a folder: the agent fails the Install step (linux_permission_info.rb, validate_file_permission); remove pattern, or make the folder the object",
    },
    {
      name: "an except on a file",
      agent: "fails",
      appspec: `${FILES}permissions:\n  - object: /var/www/html/index.html\n    except: [other.html]\n`,
      problem:
        "appspec.yml:8: permissions[0].except: /var/www/html/index.html is a file this deployment installs, and pattern and except pick files inside a folder",
    },
    {
      name: "two permission entries for the same files",
      agent: "fails",
      appspec: `${FILES}permissions:\n  - object: /var/www/html\n    mode: 644\n  - object: /var/www/html\n    owner: ec2-user\n`,
      files: { "public/about.html": "<p>about</p>", "public/assets/logo.svg": "<svg/>" },
      problem:
        "appspec.yml:9: permissions[1].object: applies to /var/www/html/about.html (and 3 more) that permissions[0] already sets: the agent sets each file's permissions once and fails the Install step on the second (install_instruction.rb, set_permissions); split them with pattern, except or type",
    },
    {
      name: "a permission entry for a folder inside another one's object",
      agent: "fails",
      appspec: `${FILES}permissions:\n  - object: /var/www/html\n    mode: 644\n  - object: /var/www/html/assets\n    mode: 755\n`,
      files: { "public/assets/logo.svg": "<svg/>" },
      problem: "appspec.yml:9: permissions[1].object: applies to /var/www/html/assets/logo.svg that permissions[0] already sets",
    },
    {
      name: "an SELinux context without range",
      agent: "fails",
      appspec: `${FILES}permissions:\n  - object: /var/www/html\n    context:\n      type: httpd_sys_content_t\n`,
      problem:
        "appspec.yml:9: permissions[0].context.range: is required by the agent, though the user guide says optional: without it the Install step fails (install_instruction.rb reads the range of every context it applies); add range: s0",
    },
    {
      name: "two files entries that copy onto the same destination",
      agent: "fails",
      appspec: `${FILES}  - source: public/index.html\n    destination: /var/www/html\n`,
      problem:
        "appspec.yml:6: files[1]: copies public/index.html to /var/www/html/index.html, where files[0] already copies public/index.html: the agent fails the Install step on two sources for one destination (install_instruction.rb); copy each file once",
    },
    {
      name: "a folder and its own subfolder copied onto the same place",
      agent: "fails",
      appspec: `${FILES}  - source: public/assets\n    destination: /var/www/html/assets\n`,
      files: { "public/assets/logo.svg": "<svg/>" },
      problem: "appspec.yml:6: files[1]: copies public/assets/logo.svg to /var/www/html/assets/logo.svg, where files[0] already copies public/assets/logo.svg",
    },
    {
      name: "a script location with a space",
      agent: "fails",
      appspec: `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set owner\n`,
      files: { "scripts/set owner": { content: BASH, mode: 0o755 } },
      problem:
        'appspec.yml:8: hooks.AfterInstall[0].location: "scripts/set owner" has a space or a shell character: the agent runs the location as an unquoted command line (linux_util.rb, prepare_script_command), so it would run scripts/set; rename the script',
    },
    {
      name: "a value that YAML reads as a date",
      agent: "fails",
      appspec: `${HEAD}files:\n  - source: 2025-05-01\n    destination: /var/www/html\n`,
      files: { "2025-05-01/index.html": "<p>may</p>" },
      problem:
        'appspec.yml:4: files[0].source: 2025-05-01 is a date to the agent\'s YAML (Ruby\'s Psych reads YAML 1.1), and its YAML.load refuses dates ("Tried to load unspecified class: Date"): quote it, "2025-05-01"',
    },
    {
      name: "a value that YAML reads as a time",
      agent: "fails",
      appspec: `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      runas: 2025-05-01 10:00:00\n`,
      problem: "appspec.yml:9: hooks.AfterInstall[0].runas: 2025-05-01 10:00:00 is a time to the agent's YAML",
    },
    // The agent runs it; the validator used to refuse.
    {
      name: "an event with several scripts where one has no timeout (only written timeouts count towards the event's 3600 s)",
      agent: "runs",
      appspec: `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: 3000\n    - location: scripts/set_owner\n`,
    },
    {
      name: "context.name, the key the agent reads the SELinux user from",
      agent: "runs",
      appspec: `${FILES}permissions:\n  - object: /var/www/html\n    context:\n      name: system_u\n      type: httpd_sys_content_t\n      range: s0\n`,
    },
    { name: "an event with no scripts", agent: "runs", appspec: `${FILES}hooks:\n  AfterInstall:\n  ValidateService: []\n` },
    { name: "acls: [] (the base entries from mode only)", agent: "runs", appspec: `${FILES}permissions:\n  - object: /var/www/html\n    acls: []\n` },
    {
      name: 'timeout: "300", which the agent reads with to_i',
      agent: "runs",
      appspec: `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: "300"\n`,
    },
    { name: "an empty file_exists_behavior (the default)", agent: "runs", appspec: `${FILES}file_exists_behavior:\n` },
    {
      name: "a script without its execute bit (the agent sets it)",
      agent: "runs",
      appspec: `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/plain\n`,
      files: { "scripts/plain": { content: BASH, mode: 0o644 } },
    },
  ];
  test.each(rows)("$name: the agent $agent", ({ agent, appspec, files, problem }) => {
    const result = validateAppSpec(revision(appspec, files));
    if (agent === "runs") {
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
    } else {
      expect(result.ok).toBe(false);
      expect(formatProblems("appspec.yml", result.problems)).toContain(problem);
    }
  });

  it("returns what the agent would run: a quoted timeout as a number, an event with no scripts left out", () => {
    const result = validateAppSpec(
      revision(
        `${FILES}hooks:\n  BeforeInstall: []\n  AfterInstall:\n    - location: scripts/set_owner\n      timeout: "300"\n    - location: scripts/set_owner\n`,
      ),
    );
    expect(result.spec?.hooks).toEqual({ AfterInstall: [{ location: "scripts/set_owner", timeout: 300 }, { location: "scripts/set_owner" }] });
  });

  it("still reads the rest of a file with a byte-order mark, and reports it with the rest", () => {
    const text = report(revision(`\uFEFF${HEAD}hooks:\n  AfterInstal:\n    - location: scripts/set_owner\n`));
    expect(text.split("\n")).toEqual([
      "appspec.yml:1: (file): starts with a byte-order mark (BOM): the agent's YAML parser (Ruby's Psych on libyaml) fails on it (\"did not find expected <document start>\"): save appspec.yml as UTF-8 without BOM",
      expect.stringContaining("appspec.yml:4: hooks.AfterInstal: unknown lifecycle event"),
    ]);
  });
});

describe("symlinks in the revision", () => {
  const outside: [name: string, files: Record<string, RevisionFile>, problem: string][] = [
    [
      "a link to a file outside (/etc/passwd)",
      { "secrets.txt": { link: "/etc/passwd" } },
      "appspec.yml: secrets.txt: is a symlink to /etc/passwd, outside the revision: the bundle would not carry what it points to, and the instance's Apache would follow it; copy the file into the revision, or delete the link",
    ],
    [
      "a link to a folder outside",
      { etc: { link: "../../../../../../../etc" } },
      "appspec.yml: etc: is a symlink to ../../../../../../../etc, outside the revision",
    ],
    [
      "a link that points nowhere",
      { "old.html": { link: "gone.html" } },
      "appspec.yml: old.html: is a symlink to gone.html, which does not exist: delete the link, or restore what it points to",
    ],
    [
      "a link to a folder that contains it",
      { "public/": "", "public/again": { link: ".." } },
      "appspec.yml: public/again: is a symlink to .., a folder that contains it: copying it would never end; delete the link",
    ],
    [
      "an absolute link, even into the revision",
      { "home.html": { link: "$REVISION/index.html" } },
      "appspec.yml: home.html: is a symlink to $REVISION/index.html, an absolute path: it means something else on every machine; make it relative to the link",
    ],
  ];
  test.each(outside.map(([name, files, problem]) => ({ name, files, problem })))("refuses $name, naming the link and its target", ({ files, problem }) => {
    const dir = revision(FILES, files);
    const result = validateAppSpec(dir);
    expect(result.ok).toBe(false);
    expect(formatProblems("appspec.yml", result.problems)).toContain(problem.replace("$REVISION", dir));
  });
});

/**
 * The AMI's Apache refuses only /appspec.yml; anything else the files section installs under the
 * web root is served. The agent runs hooks from its own copy of the revision, so appspec.yml and
 * the hook scripts never need to be there.
 */
describe("nothing private under the web root", () => {
  const served = (what: string) =>
    `${what}, under the web root (/var/www/html), where the instance's Apache serves them to anyone: appspec.yml and the hook scripts run from the agent's own copy of the revision and need not be installed; install only the public folder there, e.g. source: public`;

  it("refuses the whole-revision-served fixture (source: / to the web root), naming each file and where it would land", () => {
    const result = validateAppSpec(join(ROOT, "__tests__/fixtures/revisions/whole-revision-served"));
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      {
        line: 6,
        field: "files[0]",
        value: { source: "/", destination: "/var/www/html" },
        message: served("installs appspec.yml to /var/www/html/appspec.yml and scripts/set_owner to /var/www/html/scripts/set_owner"),
      },
    ]);
  });

  const refused: [name: string, appspec: string, expected: string, files?: Record<string, RevisionFile>][] = [
    [
      "the tutorial's appspec (source: /)",
      TUTORIAL,
      `appspec.yml:4: files[0]: ${served("installs appspec.yml to /var/www/html/appspec.yml and scripts/set_owner to /var/www/html/scripts/set_owner")}`,
    ],
    [
      "appspec.yml alone, with no hooks",
      `${HEAD}files:\n  - source: /\n    destination: /var/www/html/site\n`,
      `appspec.yml:4: files[0]: ${served("installs appspec.yml to /var/www/html/site/appspec.yml")}`,
    ],
    [
      "the hook scripts' folder, on its own entry",
      `${FILES}  - source: scripts\n    destination: /var/www/html/scripts\nhooks:\n  AfterInstall:\n    - location: scripts/set_owner\n`,
      `appspec.yml:6: files[1]: ${served("installs scripts/set_owner to /var/www/html/scripts/set_owner")}`,
    ],
    [
      "a web root's parent as destination",
      `${HEAD}files:\n  - source: site\n    destination: /var/www\nhooks:\n  AfterInstall:\n    - location: site/html/setup\n`,
      `appspec.yml:4: files[0]: ${served("installs site/html/setup to /var/www/html/setup")}`,
      { "site/html/index.html": "<p>hi</p>", "site/html/setup": { content: BASH, mode: 0o755 } },
    ],
    [
      "a link in public/ to a hook script (it is installed as a copy of the script)",
      `${SAMPLE}`,
      `appspec.yml:4: files[0]: ${served("installs public/owner.txt to /var/www/html/owner.txt")}`,
      { "public/owner.txt": { link: "../scripts/set_owner" } },
    ],
  ];
  test.each(refused.map(([name, appspec, expected, files]) => ({ name, appspec, expected, files })))("refuses $name", ({ appspec, expected, files }) => {
    const result = validateAppSpec(revision(appspec, files));
    expect(result.ok).toBe(false);
    expect(formatProblems("appspec.yml", result.problems)).toContain(expected);
  });

  const accepted: [name: string, appspec: string, files?: Record<string, RevisionFile>][] = [
    ["only public/ under the web root, the hooks run from the revision", SAMPLE],
    [
      "the whole revision somewhere Apache does not serve",
      `${HEAD}files:\n  - source: /\n    destination: /opt/site\nhooks:\n  AfterInstall:\n    - location: scripts/set_owner\n`,
    ],
    ["a folder beside the web root whose name starts like it", `${HEAD}files:\n  - source: /\n    destination: /var/www/html-tools\n`],
    [
      "a script under the web root that no hook runs (a page's helper is the author's call)",
      `${FILES}hooks:\n  AfterInstall:\n    - location: scripts/set_owner\n`,
      { "public/tools/build.sh": { content: BASH, mode: 0o755 } },
    ],
  ];
  test.each(accepted.map(([name, appspec, files]) => ({ name, appspec, files })))("accepts $name", ({ appspec, files }) => {
    const result = validateAppSpec(revision(appspec, files));
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
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
